// HttpGet and TcpRelay against a real HTTP server on loopback (port 0).

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "gtest/gtest.h"
#include "mesh/dashboard/http_get.h"
#include "mesh/dashboard/tcp_relay.h"

namespace mesh::dashboard {
namespace {

// Answers every connection with `answer` after reading the request head; `silent`
// accepts and never answers.
class TinyServer {
 public:
  explicit TinyServer(std::string answer, bool silent = false) : answer_(std::move(answer)), silent_(silent) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(::listen(fd_, 16), 0);
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] {
      while (true) {
        int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0 || stop_) {
          if (c >= 0) {
            ::close(c);
          }
          return;
        }
        std::string req;
        char buf[4096];
        while (req.find("\r\n\r\n") == std::string::npos) {
          ssize_t n = ::recv(c, buf, sizeof(buf), 0);
          if (n <= 0) {
            break;
          }
          req.append(buf, static_cast<size_t>(n));
        }
        last_request_ = req;
        if (silent_) {
          held_.push_back(c);
          continue;
        }
        (void)!::send(c, answer_.data(), answer_.size(), MSG_NOSIGNAL);
        ::close(c);
      }
    });
  }
  ~TinyServer() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    int c = ::socket(AF_INET, SOCK_STREAM, 0);  // wake accept()
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port_);
    ::connect(c, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    ::close(c);
    thread_.join();
    ::close(fd_);
    for (int h : held_) {
      ::close(h);
    }
  }
  uint16_t port() const { return port_; }
  std::string last_request_;

 private:
  std::string answer_;
  bool silent_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::vector<int> held_;
  std::thread thread_;
};

TEST(HttpGetTest, ReturnsTheBodyOfA200) {
  TinyServer server("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nistio_requests_total 3\n");
  auto body = HttpGet("127.0.0.1", server.port(), "/stats/prometheus");
  ASSERT_TRUE(body.ok()) << body.status();
  EXPECT_EQ(*body, "istio_requests_total 3\n");
  EXPECT_TRUE(server.last_request_.starts_with("GET /stats/prometheus HTTP/1.0\r\n")) << server.last_request_;
}

TEST(HttpGetTest, ErrorsAreStatuses) {
  TinyServer not_found("HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\nno");
  auto r = HttpGet("127.0.0.1", not_found.port(), "/stats/prometheus");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(std::string(r.status().message()).find("HTTP 404"), std::string::npos);

  TinyServer garbage("SSH-2.0-OpenSSH\r\n");
  EXPECT_FALSE(HttpGet("127.0.0.1", garbage.port(), "/").ok());

  TinyServer big("HTTP/1.1 200 OK\r\n\r\n" + std::string(100000, 'x'));
  r = HttpGet("127.0.0.1", big.port(), "/", {std::chrono::milliseconds(2000), 1000});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);

  TinyServer silent("", /*silent=*/true);
  r = HttpGet("127.0.0.1", silent.port(), "/", {std::chrono::milliseconds(200)});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded);

  r = HttpGet("no such host.invalid", 1, "/");
  EXPECT_FALSE(r.ok());
}

TEST(TcpRelayTest, PipesConnectionsToTheUpstream) {
  TinyServer upstream("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nfrom upstream");
  auto relay = StartTcpRelay({"127.0.0.1", 0, "127.0.0.1", upstream.port()});
  ASSERT_TRUE(relay.ok()) << relay.status();
  for (int i = 0; i < 3; ++i) {
    auto body = HttpGet("127.0.0.1", (*relay)->port(), "/dashboard/");
    ASSERT_TRUE(body.ok()) << body.status();
    EXPECT_EQ(*body, "from upstream");
  }
  (*relay)->Stop();
}

TEST(TcpRelayTest, UnreachableUpstreamAnswers502) {
  uint16_t dead_port;
  {
    TinyServer gone("");
    dead_port = gone.port();
  }
  auto relay = StartTcpRelay({"127.0.0.1", 0, "127.0.0.1", dead_port});
  ASSERT_TRUE(relay.ok());
  auto r = HttpGet("127.0.0.1", (*relay)->port(), "/");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(std::string(r.status().message()).find("502"), std::string::npos) << r.status();
  EXPECT_FALSE(StartTcpRelay({"not-an-ip", 0, "127.0.0.1", 1}).ok());
}

}  // namespace
}  // namespace mesh::dashboard
