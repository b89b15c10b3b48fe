// HttpGet and TcpRelay against a real HTTP server on loopback (port 0).

#include "gtest/gtest.h"
#include "mesh/dashboard/http_get.h"
#include "mesh/dashboard/tcp_relay.h"
#include "tests/dashboard/tiny_server.h"

namespace mesh::dashboard {
namespace {

using testdata::TinyServer;

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
