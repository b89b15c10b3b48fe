// The meshctl proxy binary: config errors, SIGTERM drain, SIGHUP reload, /quitquitquit.

#include <signal.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "gtest/gtest.h"
#include "mesh/common/strings.h"
#include "tests/common/test_util.h"
#include "tests/proxy/proxy_test_util.h"

namespace mesh::proxy::testing {
namespace {

using common::StrCat;

// MESHCTL_BIN, else build/bin/meshctl next to this test binary's folder.
std::string Meshctl() {
  std::string bin = mesh::testing::MeshctlBinary();
  if (!bin.empty()) {
    return bin;
  }
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  auto guess = self.parent_path().parent_path() / "bin" / "meshctl";
  return std::filesystem::exists(guess, ec) ? guess.string() : "";
}

class ProxyBinary {
 public:
  ProxyBinary(const std::string& config, int admin, int health, int stats) {
    std::string bin = Meshctl();
    pid_ = ::fork();
    if (pid_ == 0) {
      std::string a = std::to_string(admin), h = std::to_string(health), s = std::to_string(stats);
      int null = ::open("/dev/null", O_WRONLY);
      ::dup2(null, 1);
      ::dup2(null, 2);
      ::execl(bin.c_str(), bin.c_str(), "proxy", "--config", config.c_str(), "--admin-port", a.c_str(),
              "--health-port", h.c_str(), "--health-address", "127.0.0.1", "--stats-port", s.c_str(),
              "--stats-address", "127.0.0.1", "--drain-timeout", "5", nullptr);
      ::_exit(127);
    }
  }
  ~ProxyBinary() {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  void Signal(int sig) { ::kill(pid_, sig); }
  // Exit status, or -1 if still running after timeout.
  int Wait(int timeout_ms) {
    for (int i = 0; i < timeout_ms / 20; ++i) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        exited_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return -1;
  }

 private:
  int pid_ = -1;
  bool exited_ = false;
};

std::string Config(int port, int upstream, const std::string& body) {
  return StrCat(R"(
static_resources:
  listeners:
  - name: http
    address: {socket_address: {address: 127.0.0.1, port_value: )", port, R"(}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          stat_prefix: s
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - {match: {prefix: /delay}, route: {cluster: u}}
              - {match: {prefix: /}, direct_response: {status: 200, body: {inline_string: )", body, R"(}}}
  clusters:
  - name: u
    load_assignment: {cluster_name: u, endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: )",
                upstream, "}}}}]}]}\n");
}

bool WaitReady(int health_port) {
  for (int i = 0; i < 100; ++i) {
    if (Get(StrCat("http://127.0.0.1:", health_port, "/healthz/ready")) == "200") {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

class LifecycleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (Meshctl().empty()) {
      GTEST_SKIP() << "MESHCTL_BIN not set";
    }
  }
  mesh::testing::TempDir dir_;
};

TEST_F(LifecycleTest, UnsupportedFieldIsAClearErrorWithExitCode65) {
  std::string config = Config(FreePort(), 1, "x");
  config.replace(config.find("  clusters:"), 11, "  clusters:\n  - name: v\n    upstream_bind_config: {}\n");
  std::string file = dir_.Write("bad.yaml", config);
  auto r = mesh::testing::RunCommand(StrCat(Meshctl(), " proxy --validate --config ", file));
  EXPECT_EQ(r.exit_code, 65);
  EXPECT_NE(r.err.find("bad.yaml:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("static_resources.clusters[0].upstream_bind_config: unsupported field"), std::string::npos)
      << r.err;
  std::string good = dir_.Write("good.yaml", Config(FreePort(), 1, "x"));
  r = mesh::testing::RunCommand(StrCat(Meshctl(), " proxy --validate --config ", good));
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST_F(LifecycleTest, SighupReloadsAndSigtermDrainsInflightRequests) {
  Upstream up("u");
  int port = FreePort(), admin = FreePort(), health = FreePort(), stats = FreePort();
  std::string file = dir_.Write("boot.yaml", Config(port, up.port(), "one"));
  ProxyBinary proxy(file, admin, health, stats);
  ASSERT_TRUE(WaitReady(health));
  std::string url = StrCat("http://127.0.0.1:", port);
  EXPECT_EQ(Curl(url + "/"), "one");

  // SIGHUP: the new snapshot serves new requests; an in-flight one finishes.
  std::string slow;
  std::thread t([&] { slow = Get(url + "/delay/600"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  dir_.Write("boot.yaml", Config(port, up.port(), "two"));
  proxy.Signal(SIGHUP);
  std::string body;
  for (int i = 0; i < 50 && body != "two"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    body = Curl(url + "/");
  }
  EXPECT_EQ(body, "two");
  t.join();
  EXPECT_EQ(slow, "200");

  // SIGTERM: the in-flight request completes, then the process exits 0 and stops listening.
  std::thread t2([&] { slow = Get(url + "/delay/800"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  proxy.Signal(SIGTERM);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(Get(url + "/"), "000");  // no longer accepting
  t2.join();
  EXPECT_EQ(slow, "200");
  EXPECT_EQ(proxy.Wait(5000), 0);
}

TEST_F(LifecycleTest, QuitQuitQuitStopsTheProxy) {
  int port = FreePort(), admin = FreePort(), health = FreePort(), stats = FreePort();
  std::string file = dir_.Write("boot.yaml", Config(port, 1, "x"));
  ProxyBinary proxy(file, admin, health, stats);
  ASSERT_TRUE(WaitReady(health));
  EXPECT_EQ(Get(StrCat("http://127.0.0.1:", admin, "/quitquitquit")), "405");
  EXPECT_EQ(Curl(StrCat("-X POST http://127.0.0.1:", admin, "/quitquitquit")), "OK\n");
  EXPECT_EQ(proxy.Wait(5000), 0);
}

}  // namespace
}  // namespace mesh::proxy::testing
