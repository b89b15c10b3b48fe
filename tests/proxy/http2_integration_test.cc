// HTTP/2 end to end: curl --http2 over TLS (ALPN) and --http2-prior-knowledge cleartext,
// HTTP/1.1 on the same ports, h2load through the proxy, an HTTP/2 upstream (a second
// proxy speaking h2c) with multiplexed pooled connections, and a raw nghttp2 client
// doing rapid reset (HEADERS + RST_STREAM in a loop) that must get GOAWAY.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "gtest/gtest.h"
#include "mesh/common/strings.h"
#include "tests/common/test_util.h"
#include "tests/proxy/proxy_test_util.h"

namespace mesh::proxy::testing {
namespace {

using common::StrCat;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class Http2ProxyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto r = mesh::testing::RunCommand(StrCat(
        "cd ", dir_.path(),
        " && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout srv.key -out srv.pem"
        " -subj /CN=h2.test -addext subjectAltName=DNS:h2.test -days 2 2>/dev/null"));
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  // Listener "h2c" (cleartext, HTTP/1.1 or prior-knowledge HTTP/2) and "h2tls" (TLS,
  // ALPN h2 or http/1.1), both routing to `cluster`.
  // `local` is the prefix answered by the proxy itself (direct_response 202).
  std::string Bootstrap(const std::string& clusters, const std::string& route_extra = "",
                        const std::string& hcm_extra = "", const std::string& local = "/local") {
    auto hcm = [&](const std::string& prefix) {
      return StrCat(R"(
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: )",
                    prefix, hcm_extra, R"(
          access_log:
          - name: envoy.access_loggers.file
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
              path: )",
                    dir_.path(), "/access.log", R"(
              log_format: {text_format_source: {inline_string: "%PROTOCOL% %REQ(:METHOD)% %REQ(:PATH)% %RESPONSE_CODE% %RESPONSE_FLAGS% %GRPC_STATUS% %BYTES_RECEIVED% %BYTES_SENT%\n"}}
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - {match: {prefix: )",
                    local, R"(}, direct_response: {status: 202, body: {inline_string: local-reply}}}
              - match: {prefix: /}
                route: {cluster: up)",
                    route_extra, "}");
    };
    return StrCat(R"(
node: {id: test, metadata: {WORKLOAD_NAME: gw, NAMESPACE: ns}}
static_resources:
  listeners:
  - name: h2c
    address: {socket_address: {address: 127.0.0.1, port_value: 0}}
    filter_chains:
    - filters:)",
                  hcm("plain"), R"(
  - name: h2tls
    address: {socket_address: {address: 127.0.0.1, port_value: 0}}
    filter_chains:
    - transport_socket:
        name: envoy.transport_sockets.tls
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
          common_tls_context:
            tls_certificates: [{certificate_chain: {filename: )",
                  dir_.path(), "/srv.pem}, private_key: {filename: ", dir_.path(), R"(/srv.key}}]
      filters:)",
                  hcm("tls"), R"(
  clusters:
)",
                  clusters);
  }

  static std::string Cluster(int port, const std::string& extra = "") {
    return StrCat("  - name: up\n    connect_timeout: 1s\n", extra,
                  "    load_assignment:\n      cluster_name: up\n      endpoints:\n      - lb_endpoints:\n"
                  "        - endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: ",
                  port, "}}}\n");
  }

  std::string Tls(TestProxy& p) { return StrCat("--cacert ", dir_.path(), "/srv.pem --resolve h2.test:", p.port("h2tls"), ":127.0.0.1 https://h2.test:", p.port("h2tls")); }
  std::string Plain(TestProxy& p) { return StrCat("http://127.0.0.1:", p.port("h2c")); }

  mesh::testing::TempDir dir_;
};

TEST_F(Http2ProxyTest, CurlHttp2PriorKnowledgeAndTlsAlpnWithHttp11OnTheSamePorts) {
  Upstream up("u1");
  TestProxy proxy(Bootstrap(Cluster(up.port())));
  ASSERT_TRUE(proxy.ok()) << proxy.status();

  // Cleartext HTTP/2 with prior knowledge, then HTTP/1.1 on the same port.
  std::string out = Curl(StrCat("--http2-prior-knowledge -w '\\n%{http_version} %{http_code}' ", Plain(proxy), "/hello"));
  EXPECT_NE(out.find("\"path\": \"/hello\""), std::string::npos) << out;
  EXPECT_NE(out.find("\n2 200"), std::string::npos) << out;
  out = Curl(StrCat("--http1.1 -o /dev/null -w '%{http_version} %{http_code}' ", Plain(proxy), "/hello"));
  EXPECT_EQ(out, "1.1 200");

  // TLS: ALPN picks h2 for curl --http2 and http/1.1 for --http1.1.
  out = Curl(StrCat("--http2 -o /dev/null -w '%{http_version} %{http_code}' ", Tls(proxy), "/hello"));
  EXPECT_EQ(out, "2 200");
  out = Curl(StrCat("--http1.1 -o /dev/null -w '%{http_version} %{http_code}' ", Tls(proxy), "/hello"));
  EXPECT_EQ(out, "1.1 200");

  // A body both ways (HTTP/2 downstream, HTTP/1.1 upstream: chunked when no length).
  std::string big(300000, 'b');
  std::ofstream(dir_.path() + "/body") << big;
  out = Curl(StrCat("--http2-prior-knowledge --data-binary @", dir_.path(), "/body -H 'content-type: text/plain' ",
                    Plain(proxy), "/post"));
  EXPECT_NE(out.find("\"body_length\": 300000"), std::string::npos) << out;
  out = Curl(StrCat("--http2 -o /dev/null -w '%{size_download} %{http_code}' ", Tls(proxy), "/bytes/1000000?chunked=1"));
  EXPECT_EQ(out, "1000000 200");

  // Local replies over HTTP/2.
  out = Curl(StrCat("--http2-prior-knowledge -w ' %{http_code}' ", Plain(proxy), "/local"));
  EXPECT_EQ(out, "local-reply 202");

  std::string log = ReadFile(dir_.path() + "/access.log");
  EXPECT_NE(log.find("HTTP/2 GET /hello 200 - - 0 "), std::string::npos) << log;
  EXPECT_NE(log.find("HTTP/1.1 GET /hello 200"), std::string::npos) << log;
  EXPECT_NE(log.find("HTTP/2 POST /post 200 - - 300000 "), std::string::npos) << log;
  EXPECT_NE(log.find("HTTP/2 GET /local 202"), std::string::npos) << log;
}

TEST_F(Http2ProxyTest, H2loadThroughTheProxy) {
  Upstream up("u1");
  TestProxy proxy(Bootstrap(Cluster(up.port())));
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  // Local replies, then requests forwarded to the HTTP/1.1 upstream (upstream.py's listen
  // backlog is 5, so at most 4 streams at once there).
  auto r = mesh::testing::RunCommand(StrCat("h2load -n 300 -c 3 -m 10 ", Plain(proxy), "/local 2>&1"));
  EXPECT_NE(r.out.find("300 succeeded, 0 failed, 0 errored"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("status codes: 300 2xx"), std::string::npos) << r.out;
  r = mesh::testing::RunCommand(StrCat("h2load -n 300 -c 2 -m 2 ", Plain(proxy), "/upstream 2>&1"));
  EXPECT_NE(r.out.find("300 succeeded, 0 failed, 0 errored"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("status codes: 300 2xx"), std::string::npos) << r.out;
}

// gateway-like proxy (h2 downstream) -> cluster with HTTP/2 protocol options -> a second
// proxy's h2c listener -> upstream.py. max_concurrent_streams 2 forces several pooled
// connections when h2load runs 20 streams at once.
TEST_F(Http2ProxyTest, Http2UpstreamMultiplexesWithinMaxConcurrentStreams) {
  Upstream up("u1");
  TestProxy inner(Bootstrap(Cluster(up.port())));
  ASSERT_TRUE(inner.ok()) << inner.status();
  std::string opts = R"(    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config:
          http2_protocol_options: {max_concurrent_streams: 2}
)";
  TestProxy outer(Bootstrap(Cluster(inner.port("h2c"), opts), "", "", "/outer-local"));
  ASSERT_TRUE(outer.ok()) << outer.status();

  // HTTP/2 both ways.
  std::string out = Curl(StrCat("--http2-prior-knowledge -w '\\n%{http_code}' ", Plain(outer), "/via-h2"));
  EXPECT_NE(out.find("\"path\": \"/via-h2\""), std::string::npos) << out;
  EXPECT_NE(out.find("\n200"), std::string::npos) << out;
  // HTTP/1.1 downstream -> HTTP/2 upstream (translated), with a request body, twice on
  // one keep-alive connection.
  std::ofstream(dir_.path() + "/body") << std::string(100000, 'q');
  out = Curl(StrCat("--http1.1 --data-binary @", dir_.path(), "/body -w '\\n%{http_version} %{http_code}\\n' ",
                    Plain(outer), "/h1-to-h2 ", Plain(outer), "/h1-to-h2-again"));
  EXPECT_NE(out.find("\"body_length\": 100000"), std::string::npos) << out;
  EXPECT_NE(out.find("\"path\": \"/h1-to-h2-again\""), std::string::npos) << out;
  EXPECT_NE(out.find("1.1 200"), std::string::npos) << out;

  // The inner proxy answers /local itself, so 20 concurrent streams are cheap there.
  auto r = mesh::testing::RunCommand(StrCat("h2load -n 400 -c 1 -m 20 ", Plain(outer), "/local 2>&1"));
  EXPECT_NE(r.out.find("400 succeeded, 0 failed, 0 errored"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("status codes: 400 2xx"), std::string::npos) << r.out;
  // The inner proxy saw several HTTP/2 connections from the outer one's pool.
  std::string stats = Curl(StrCat("http://127.0.0.1:", inner.admin_port(), "/stats"));
  std::smatch m;
  ASSERT_TRUE(std::regex_search(stats, m, std::regex("listener\\.127\\.0\\.0\\.1_0\\.downstream_cx_total: ([0-9]+)")))
      << stats;
  EXPECT_GE(std::stoi(m[1]), 3) << stats;  // 20 concurrent streams / 2 per connection
  std::string log = ReadFile(dir_.path() + "/access.log");
  EXPECT_NE(log.find("HTTP/2 GET /via-h2 200"), std::string::npos) << log;
}

// A raw client: HEADERS followed at once by RST_STREAM, repeatedly, on one connection.
TEST_F(Http2ProxyTest, RapidResetGetsGoaway) {
  Upstream up("u1");
  TestProxy proxy(Bootstrap(Cluster(up.port())));
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(proxy.port("h2c")));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);

  struct State {
    uint32_t goaway_error = 0xffffffff;
    int32_t last_stream_id = -1;
    bool goaway = false;
  } state;
  nghttp2_session_callbacks* cbs;
  nghttp2_session_callbacks_new(&cbs);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, [](nghttp2_session*, const nghttp2_frame* f, void* u) {
    if (f->hd.type == NGHTTP2_GOAWAY) {
      static_cast<State*>(u)->goaway = true;
      static_cast<State*>(u)->goaway_error = f->goaway.error_code;
      static_cast<State*>(u)->last_stream_id = f->goaway.last_stream_id;
    }
    return 0;
  });
  nghttp2_session* session;
  nghttp2_session_client_new(&session, cbs, &state);
  nghttp2_session_callbacks_del(cbs);
  nghttp2_submit_settings(session, NGHTTP2_FLAG_NONE, nullptr, 0);
  std::string path = "/delay/1000";
  nghttp2_nv nv[] = {
      {(uint8_t*)":method", (uint8_t*)"GET", 7, 3, 0},
      {(uint8_t*)":scheme", (uint8_t*)"http", 7, 4, 0},
      {(uint8_t*)":authority", (uint8_t*)"a", 10, 1, 0},
      {(uint8_t*)":path", (uint8_t*)path.data(), 5, path.size(), 0},
  };
  bool closed = false;
  int rounds = 0;
  for (; rounds < 5000 && !state.goaway && !closed; ++rounds) {
    auto flush = [&] {
      const uint8_t* data;
      ssize_t n;
      while ((n = nghttp2_session_mem_send(session, &data)) > 0) {
        if (::send(fd, data, static_cast<size_t>(n), MSG_NOSIGNAL) != n) {
          closed = true;
          break;
        }
      }
    };
    // HEADERS goes out before the reset (nghttp2 would drop a HEADERS not yet sent).
    int32_t id = nghttp2_submit_request(session, nullptr, nv, 4, nullptr, nullptr);
    flush();
    nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
    flush();
    pollfd p{fd, POLLIN, 0};
    while (::poll(&p, 1, 0) > 0) {
      char buf[16384];
      ssize_t got = ::recv(fd, buf, sizeof(buf), 0);
      if (got <= 0) {
        closed = true;
        break;
      }
      nghttp2_session_mem_recv(session, reinterpret_cast<uint8_t*>(buf), static_cast<size_t>(got));
    }
  }
  // Read what is left (the GOAWAY may still be in flight) until the proxy closes.
  for (int i = 0; i < 50 && !state.goaway; ++i) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) {
      continue;
    }
    char buf[16384];
    ssize_t got = ::recv(fd, buf, sizeof(buf), 0);
    if (got <= 0) {
      break;
    }
    nghttp2_session_mem_recv(session, reinterpret_cast<uint8_t*>(buf), static_cast<size_t>(got));
  }
  nghttp2_session_del(session);
  ::close(fd);
  EXPECT_TRUE(state.goaway) << "after " << rounds << " rounds";
  EXPECT_EQ(state.goaway_error, static_cast<uint32_t>(NGHTTP2_ENHANCE_YOUR_CALM));
  // The client may have sent more before it read the GOAWAY; what the proxy processed is
  // bounded by the limit (200 resets per 10 s): streams 1, 3, ... 401.
  EXPECT_GT(state.last_stream_id, 0);
  EXPECT_LE(state.last_stream_id, 2 * 201 - 1);
  // The proxy still serves other connections.
  EXPECT_EQ(Curl(StrCat("--http2-prior-knowledge -o /dev/null -w '%{http_code}' ", Plain(proxy), "/local")), "202");
}

// Drain: the HTTP/2 connection gets GOAWAY, the stream in flight still completes, new
// connections are refused.
TEST_F(Http2ProxyTest, DrainLetsTheStreamInFlightFinish) {
  Upstream up("u1");
  TestProxy proxy(Bootstrap(Cluster(up.port())));
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  std::string result;
  std::thread client([&] {
    result = Curl(StrCat("--http2-prior-knowledge -o /dev/null -w '%{http_version} %{http_code}' ", Plain(proxy),
                         "/delay/700"));
  });
  // Wait until the request is at the upstream, then drain.
  for (int i = 0; i < 100 && up.Requests().find("/delay/700") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  proxy.proxy().Drain();
  client.join();
  EXPECT_EQ(result, "2 200");
}

}  // namespace
}  // namespace mesh::proxy::testing
