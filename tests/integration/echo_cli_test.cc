// `meshctl x echo` with curl as the client.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <regex>
#include <thread>

#include "gtest/gtest.h"
#include "tests/common/test_util.h"

namespace mesh::testing {
namespace {

// Starts `meshctl x echo --port 0` and reads the chosen port from its first line.
class EchoProcess {
 public:
  explicit EchoProcess(const std::string& name) {
    out_ = dir_.path() + "/out";
    pid_ = fork();
    if (pid_ == 0) {
      FILE* f = freopen(out_.c_str(), "w", stdout);
      (void)f;
      execl(MeshctlBinary().c_str(), "meshctl", "x", "echo", "--port", "0", "--name", name.c_str(), "--version",
            "v2", nullptr);
      _exit(127);
    }
    for (int i = 0; i < 200 && port_ == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      std::ifstream in(out_);
      std::string line;
      std::getline(in, line);
      std::smatch m;
      if (std::regex_search(line, m, std::regex(":(\\d+)$"))) {
        port_ = std::stoi(m[1]);
      }
    }
  }
  ~EchoProcess() { Stop(); }
  int Stop() {
    if (pid_ <= 0) {
      return -1;
    }
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  int port() const { return port_; }

 private:
  TempDir dir_;
  std::string out_;
  pid_t pid_ = 0;
  int port_ = 0;
};

TEST(EchoCli, AnswersWithNameVersionAndRequest) {
  EchoProcess echo("helloworld-1");
  ASSERT_NE(echo.port(), 0);
  std::string url = "http://127.0.0.1:" + std::to_string(echo.port());
  CommandResult r = RunCommand("curl -s -H 'X-Test: yes' '" + url + "/hello?x=1'");
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("Hostname=helloworld-1\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ServiceVersion=v2\n"), std::string::npos);
  EXPECT_NE(r.out.find("URL=/hello?x=1\n"), std::string::npos);
  EXPECT_NE(r.out.find("RequestHeader=X-Test:yes\n"), std::string::npos);
  CommandResult status = RunCommand("curl -s -o /dev/null -w '%{http_code}' '" + url + "/?status=503'");
  EXPECT_EQ(status.out, "503");
  CommandResult health = RunCommand("curl -s " + url + "/healthz");
  EXPECT_EQ(health.out, "ok\n");
  // Keep-alive: two requests on one connection.
  CommandResult two = RunCommand("curl -s -v " + url + "/a " + url + "/b 2>&1");
  EXPECT_NE(two.out.find("Re-using existing connection"), std::string::npos) << two.out;
  EXPECT_EQ(echo.Stop(), 0);  // SIGTERM is a clean exit
}

}  // namespace
}  // namespace mesh::testing
