#include "tests/proxy/proxy_test_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "mesh/proxyconfig/decode.h"
#include "tests/common/test_util.h"

namespace mesh::proxy::testing {

int FreePort() { return mesh::testing::FreeLoopbackPort(); }

Upstream::Upstream(const std::string& name, bool fail) {
  int in[2], out[2];
  if (::pipe(in) != 0 || ::pipe(out) != 0) {
    return;
  }
  std::string script = mesh::testing::SourceDir() + "/tests/proxy/upstream.py";
  pid_ = ::fork();
  if (pid_ == 0) {
    ::dup2(in[0], 0);
    ::dup2(out[1], 1);
    ::close(in[1]);
    ::close(out[0]);
    if (fail) {
      ::execlp("python3", "python3", script.c_str(), "--name", name.c_str(), "--fail", nullptr);
    } else {
      ::execlp("python3", "python3", script.c_str(), "--name", name.c_str(), nullptr);
    }
    ::_exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  stdin_fd_ = in[1];
  std::string line;
  char c;
  while (::read(out[0], &c, 1) == 1 && c != '\n') {
    line.push_back(c);
  }
  ::close(out[0]);
  port_ = line.empty() ? 0 : std::stoi(line);
}

Upstream::~Upstream() {
  if (stdin_fd_ >= 0) {
    ::close(stdin_fd_);
  }
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
  }
}

std::string Upstream::Requests() const {
  return Curl("http://127.0.0.1:" + std::to_string(port_) + "/__requests");
}

std::string Expand(std::string text, const std::map<std::string, std::string>& vars) {
  for (const auto& [k, v] : vars) {
    std::string key = "${" + k + "}";
    for (size_t pos = text.find(key); pos != std::string::npos; pos = text.find(key, pos + v.size())) {
      text.replace(pos, key.size(), v);
    }
  }
  return text;
}

TestProxy::TestProxy(const std::string& bootstrap_yaml, int concurrency) {
  ProxyOptions options;
  options.concurrency = concurrency;
  options.admin_port = admin_port_ = FreePort();
  options.health_port = health_port_ = FreePort();
  options.stats_port = stats_port_ = FreePort();
  options.health_address = options.stats_address = "127.0.0.1";
  options.drain_timeout = std::chrono::milliseconds(3000);
  auto p = CreateProxy(options);
  if (!p.ok()) {
    status_ = p.status();
    return;
  }
  proxy_ = std::move(*p);
  status_ = proxy_->Start();
  if (status_.ok() && !bootstrap_yaml.empty()) {
    status_ = Update(bootstrap_yaml);
  }
}

TestProxy::~TestProxy() {
  if (proxy_) {
    proxy_->Stop();
  }
}

absl::Status TestProxy::Update(const std::string& bootstrap_yaml) {
  auto b = proxyconfig::LoadBootstrapText(bootstrap_yaml, "test.yaml");
  if (!b.ok()) {
    return b.status();
  }
  auto snap = std::make_shared<ConfigSnapshot>();
  snap->bootstrap = *b;
  snap->resources = b->static_resources;
  return proxy_->UpdateConfig(snap);
}

int TestProxy::port(const std::string& listener) const {
  for (const auto& [name, port] : proxy_->ListenerPorts()) {
    if (name == listener) {
      return port;
    }
  }
  return 0;
}

std::string RawRequest(int port, const std::string& bytes, int timeout_ms) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return "";
  }
  ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    int left = static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count());
    if (left <= 0) {
      break;
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, left) <= 0) {
      break;
    }
    char buf[4096];
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) {
      break;
    }
    out.append(buf, n);
  }
  ::close(fd);
  return out;
}

std::string Curl(const std::string& args) {
  return mesh::testing::RunCommand("curl -s --max-time 20 " + args).out;
}

std::string Get(const std::string& url_and_args) {
  return Curl("-o /dev/null -w '%{http_code}' " + url_and_args);
}

}  // namespace mesh::proxy::testing
