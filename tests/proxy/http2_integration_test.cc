// HTTP/2 end to end: curl --http2 over TLS (ALPN), --http2-prior-knowledge and the h2c
// upgrade (curl --http2 on http://) cleartext, HTTP/1.1 on the same ports, h2load through
// the proxy, an HTTP/2 upstream (a second proxy speaking h2c) with multiplexed pooled
// connections, route features on HTTP/2 streams (CORS, mirroring, hash policies,
// per-try timeouts, circuit breakers), and raw nghttp2 clients: rapid reset (HEADERS +
// RST_STREAM in a loop) must get GOAWAY, so must idle connections and drain.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <functional>
#include <regex>
#include <set>
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

// The upstream.py instance that answered (its JSON echo names it).
std::string UpstreamOf(const std::string& echo) {
  size_t at = echo.find("\"upstream\": \"");
  return at == std::string::npos ? "?" : echo.substr(at + 13, 1);
}

// A counter from the admin /stats text, 0 when absent.
int64_t StatValue(int admin_port, const std::string& name) {
  std::string stats = Curl(StrCat("http://127.0.0.1:", admin_port, "/stats"));
  std::smatch m;
  if (std::regex_search(stats, m, std::regex(StrCat("(^|\n)", std::regex_replace(name, std::regex("\\."), "\\."),
                                                    ": ([0-9]+)")))) {
    return std::stoll(m[2]);
  }
  return 0;
}

// A raw HTTP/2 client (nghttp2) that sends its preface and SETTINGS, runs `then` once the
// proxy's first frames arrived (the connection is being served), and reads until the
// proxy closes the connection or `timeout_ms` passes.
struct GoawayWatch {
  bool goaway = false;
  uint32_t error = 0xffffffff;
  int32_t last_stream_id = -1;
  bool closed = false;
};

// A TCP connection to 127.0.0.1:port; -1 when it cannot connect.
int ConnectLoopback(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// A client session with its SETTINGS queued, recording any GOAWAY in `watch`.
nghttp2_session* NewGoawayWatchingSession(GoawayWatch* watch) {
  nghttp2_session_callbacks* cbs;
  nghttp2_session_callbacks_new(&cbs);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, [](nghttp2_session*, const nghttp2_frame* f, void* u) {
    if (f->hd.type == NGHTTP2_GOAWAY) {
      auto* w = static_cast<GoawayWatch*>(u);
      w->goaway = true;
      w->error = f->goaway.error_code;
      w->last_stream_id = f->goaway.last_stream_id;
    }
    return 0;
  });
  nghttp2_session* session;
  nghttp2_session_client_new(&session, cbs, watch);
  nghttp2_session_callbacks_del(cbs);
  nghttp2_submit_settings(session, NGHTTP2_FLAG_NONE, nullptr, 0);
  return session;
}

GoawayWatch WatchForGoaway(int port, int timeout_ms, const std::function<void()>& then = nullptr) {
  GoawayWatch state;
  int fd = ConnectLoopback(port);
  if (fd < 0) {
    return state;
  }
  nghttp2_session* session = NewGoawayWatchingSession(&state);
  const uint8_t* data;
  ssize_t n;
  while ((n = nghttp2_session_mem_send(session, &data)) > 0) {
    (void)::send(fd, data, static_cast<size_t>(n), MSG_NOSIGNAL);
  }
  bool served = false;
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < until) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) {
      continue;
    }
    char buf[16384];
    ssize_t got = ::recv(fd, buf, sizeof(buf), 0);
    if (got <= 0) {
      state.closed = true;
      break;
    }
    nghttp2_session_mem_recv(session, reinterpret_cast<uint8_t*>(buf), static_cast<size_t>(got));
    if (!served && then) {
      then();
    }
    served = true;
  }
  nghttp2_session_del(session);
  ::close(fd);
  return state;
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

  // Cluster "up" with one endpoint per port, plus any other cluster YAML in `more`.
  static std::string Clusters(const std::vector<int>& ports, const std::string& extra = "",
                              const std::string& more = "") {
    std::string eps;
    for (int p : ports) {
      eps += StrCat("        - endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: ", p, "}}}\n");
    }
    return StrCat("  - name: up\n    connect_timeout: 1s\n", extra,
                  "    load_assignment:\n      cluster_name: up\n      endpoints:\n      - lb_endpoints:\n", eps, more);
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
  int fd = ConnectLoopback(proxy.port("h2c"));
  ASSERT_GE(fd, 0);

  GoawayWatch state;
  nghttp2_session* session = NewGoawayWatchingSession(&state);
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
  EXPECT_EQ(state.error, static_cast<uint32_t>(NGHTTP2_ENHANCE_YOUR_CALM));
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

// RFC 7540 3.2: curl --http2 on an http:// URL asks for h2c with its first request; the
// proxy answers 101 and serves it (and what follows) as HTTP/2.
TEST_F(Http2ProxyTest, H2cUpgradeFromHttp11) {
  Upstream up("u1");
  TestProxy proxy(Bootstrap(Cluster(up.port())));
  ASSERT_TRUE(proxy.ok()) << proxy.status();

  auto r = mesh::testing::RunCommand(StrCat("curl -sv --http2 -w '\\n%{http_version} %{http_code}\\n' ",
                                            Plain(proxy), "/h2c-first ", Plain(proxy), "/second 2>&1"));
  EXPECT_NE(r.out.find("HTTP/1.1 101"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"path\": \"/h2c-first\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"path\": \"/second\""), std::string::npos) << r.out;
  // Both answers came over HTTP/2 (the second on stream 3 of the same connection).
  size_t first = r.out.find("\n2 200\n");
  ASSERT_NE(first, std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\n2 200\n", first + 1), std::string::npos) << r.out;
  // The upgrade headers never reach the upstream (its JSON echo lists what it got).
  std::string lower = common::ToLower(r.out);
  EXPECT_EQ(lower.find("\"upgrade\": "), std::string::npos) << r.out;
  EXPECT_EQ(lower.find("\"http2-settings\": "), std::string::npos) << r.out;

  // A request with a body is answered over HTTP/1.1 (upgrade ignored), as is one whose
  // HTTP2-Settings is not base64url; neither passes the upgrade upstream.
  std::string raw = RawRequest(proxy.port("h2c"),
                               "POST /with-body HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings, close\r\n"
                               "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\nContent-Length: 5\r\n\r\nhello",
                               3000);
  EXPECT_EQ(raw.rfind("HTTP/1.1 200", 0), 0u) << raw;
  EXPECT_NE(raw.find("\"body_length\": 5"), std::string::npos) << raw;
  EXPECT_EQ(raw.find("h2c"), std::string::npos) << raw;
  raw = RawRequest(proxy.port("h2c"),
                   "GET /bad-settings HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings, close\r\n"
                   "Upgrade: h2c\r\nHTTP2-Settings: not*base64\r\n\r\n",
                   3000);
  EXPECT_EQ(raw.rfind("HTTP/1.1 200", 0), 0u) << raw;

  // WebSocket upgrades still go to the upstream.
  std::string ws = RawRequest(proxy.port("h2c"),
                              "GET /upgrade HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
                              "hello-raw-bytes",
                              1500);
  EXPECT_EQ(ws.rfind("HTTP/1.1 101", 0), 0u) << ws;
  EXPECT_NE(ws.find("hello-raw-bytes"), std::string::npos) << ws;

  std::string log = ReadFile(dir_.path() + "/access.log");
  EXPECT_NE(log.find("HTTP/2 GET /h2c-first 200"), std::string::npos) << log;
  EXPECT_NE(log.find("HTTP/2 GET /second 200"), std::string::npos) << log;
  EXPECT_NE(log.find("HTTP/1.1 POST /with-body 200"), std::string::npos) << log;
}

// CORS, request mirroring and hash policies (header, cookie, source IP; ring hash and
// maglev) on HTTP/2 streams, with the same results as on HTTP/1.1.
// The buffer filter's limit on HTTP/2 streams: a content-length over max_request_bytes
// gets 413 and nothing reaches the upstream; a body within it passes.
TEST_F(Http2ProxyTest, DeclaredBodyOverTheBufferLimitGets413) {
  Upstream up("u");
  const std::string buffer_filter = R"(
          http_filters:
          - name: envoy.filters.http.buffer
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.buffer.v3.Buffer
              max_request_bytes: 1000
          - name: envoy.filters.http.router)";
  TestProxy proxy(Bootstrap(Cluster(up.port()), "", buffer_filter));
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  std::string big = dir_.Write("big.bin", std::string(2000, 'b'));
  std::string small = dir_.Write("small.bin", std::string(1000, 's'));
  auto run = mesh::testing::RunCommand(
      StrCat("curl -sS --max-time 20 --http2-prior-knowledge -i --data-binary @", big, " ", Plain(proxy), "/upload-big"));
  std::string refused = run.out;
  EXPECT_EQ(refused.rfind("HTTP/2 413", 0), 0u) << refused << run.err;
  std::string tls_refused = Curl(StrCat("--http2 -k -i --data-binary @", big, " https://127.0.0.1:",
                                        proxy.port("h2tls"), "/upload-big-tls"));
  EXPECT_EQ(tls_refused.rfind("HTTP/2 413", 0), 0u) << tls_refused;
  // A large declared body is refused with RST_STREAM(NO_ERROR) once the 413 is out; the
  // client still gets the complete response first (nghttp: curl 7.88 reports that reset
  // as an error while it is still uploading).
  std::string huge = dir_.Write("huge.bin", std::string(300000, 'h'));
  auto nghttp = mesh::testing::RunCommand(
      StrCat("timeout 20 nghttp -v -d ", huge, " ", Plain(proxy), "/upload-huge"));
  EXPECT_NE(nghttp.out.find(":status: 413"), std::string::npos) << nghttp.out << nghttp.err;
  EXPECT_NE(nghttp.out.find("Payload Too Large"), std::string::npos) << nghttp.out;
  EXPECT_NE(nghttp.out.find("recv RST_STREAM"), std::string::npos) << nghttp.out;
  EXPECT_LT(nghttp.out.find(":status: 413"), nghttp.out.find("recv RST_STREAM")) << nghttp.out;
  std::string passed = Curl(StrCat("--http2-prior-knowledge -i --data-binary @", small, " ", Plain(proxy), "/upload-small"));
  EXPECT_EQ(passed.rfind("HTTP/2 200", 0), 0u) << passed;
  EXPECT_EQ(up.Requests().find("/upload-big"), std::string::npos) << up.Requests();
  EXPECT_EQ(up.Requests().find("/upload-huge"), std::string::npos) << up.Requests();
  EXPECT_NE(up.Requests().find("/upload-small"), std::string::npos) << up.Requests();
  EXPECT_NE(ReadFile(StrCat(dir_.path(), "/access.log")).find("HTTP/2 POST /upload-big 413"), std::string::npos)
      << ReadFile(StrCat(dir_.path(), "/access.log"));
}

TEST_F(Http2ProxyTest, CorsMirroringAndHashPoliciesOnHttp2Streams) {
  Upstream a("a"), b("b"), c("c"), shadow("s");
  std::string route = StrCat(
      ", hash_policy: [{header: {header_name: x-user}}, {cookie: {name: session}}, ",
      "{connection_properties: {source_ip: true}}], request_mirror_policies: [{cluster: shadow}], ",
      "cors: {allow_origin_string_match: [{exact: \"https://app.test\"}], allow_methods: \"GET,POST\", max_age: \"600\"}");
  std::string shadow_cluster = StrCat(
      "  - name: shadow\n    connect_timeout: 1s\n    load_assignment:\n      cluster_name: shadow\n      endpoints:\n"
      "      - lb_endpoints:\n        - endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: ",
      shadow.port(), "}}}\n");
  TestProxy proxy(Bootstrap(Clusters({a.port(), b.port(), c.port()}, "    lb_policy: RING_HASH\n", shadow_cluster), route));
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  const std::string h2 = "--http2-prior-knowledge ";

  // CORS: the preflight is answered by the proxy; allowed origins get the header on
  // upstream responses, other origins do not.
  std::string pre = Curl(StrCat(h2, "-i -X OPTIONS -H 'Origin: https://app.test' -H 'Access-Control-Request-Method: POST' ",
                                Plain(proxy), "/preflight-only"));
  EXPECT_EQ(pre.rfind("HTTP/2 200", 0), 0u) << pre;
  EXPECT_NE(pre.find("access-control-allow-origin: https://app.test"), std::string::npos) << pre;
  EXPECT_NE(pre.find("access-control-allow-methods: GET,POST"), std::string::npos) << pre;
  EXPECT_NE(pre.find("access-control-max-age: 600"), std::string::npos) << pre;
  std::string simple = Curl(StrCat(h2, "-i -H 'Origin: https://app.test' ", Plain(proxy), "/cors"));
  EXPECT_NE(simple.find("access-control-allow-origin: https://app.test"), std::string::npos) << simple;
  EXPECT_NE(simple.find("x-upstream: "), std::string::npos) << simple;
  std::string evil = Curl(StrCat(h2, "-i -H 'Origin: https://evil.test' ", Plain(proxy), "/cors"));
  EXPECT_EQ(evil.find("access-control-allow-origin"), std::string::npos) << evil;
  for (Upstream* u : {&a, &b, &c}) {
    EXPECT_EQ(u->Requests().find("/preflight-only"), std::string::npos) << u->Requests();
  }

  // Hash on a header: one user always lands on the same host, many users spread.
  std::set<std::string> alice, users, sessions, cookie_users, no_key;
  for (int i = 0; i < 6; ++i) {
    alice.insert(UpstreamOf(Curl(StrCat(h2, "-H 'x-user: alice' ", Plain(proxy), "/h"))));
    sessions.insert(UpstreamOf(Curl(StrCat(h2, "-H 'cookie: theme=dark' -H 'cookie: session=s-42' ", Plain(proxy), "/c"))));
    no_key.insert(UpstreamOf(Curl(StrCat(h2, Plain(proxy), "/ip"))));
  }
  for (int i = 0; i < 24; ++i) {
    users.insert(UpstreamOf(Curl(StrCat(h2, "-H 'x-user: user", i, "' ", Plain(proxy), "/h"))));
    cookie_users.insert(UpstreamOf(Curl(StrCat(h2, "-H 'cookie: session=s", i, "' ", Plain(proxy), "/c"))));
  }
  EXPECT_EQ(alice.size(), 1u);
  EXPECT_EQ(alice.count("?"), 0u);
  EXPECT_GE(users.size(), 2u);
  EXPECT_EQ(sessions.size(), 1u);  // the session cookie, found in the second cookie field
  EXPECT_GE(cookie_users.size(), 2u);
  EXPECT_EQ(no_key.size(), 1u);  // source IP: always 127.0.0.1

  // The same header policy on a maglev cluster.
  TestProxy maglev(Bootstrap(Clusters({a.port(), b.port(), c.port()}, "    lb_policy: MAGLEV\n"),
                             ", hash_policy: [{header: {header_name: x-user}}]"));
  ASSERT_TRUE(maglev.ok()) << maglev.status();
  std::set<std::string> maglev_bob, maglev_users;
  for (int i = 0; i < 6; ++i) {
    maglev_bob.insert(UpstreamOf(Curl(StrCat(h2, "-H 'x-user: bob' ", Plain(maglev), "/m"))));
  }
  for (int i = 0; i < 24; ++i) {
    maglev_users.insert(UpstreamOf(Curl(StrCat(h2, "-H 'x-user: user", i, "' ", Plain(maglev), "/m"))));
  }
  EXPECT_EQ(maglev_bob.size(), 1u);
  EXPECT_EQ(maglev_bob.count("?"), 0u);
  EXPECT_GE(maglev_users.size(), 2u);

  // Mirroring: the shadow cluster gets a copy with the authority suffixed -shadow.
  EXPECT_EQ(Curl(StrCat(h2, "-o /dev/null -w '%{http_code}' -H 'Host: app.test' ", Plain(proxy), "/mirror/1")), "200");
  std::string seen;
  for (int i = 0; i < 100 && seen.find("/mirror/1") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    seen = shadow.Requests();
  }
  EXPECT_NE(seen.find("app.test-shadow /mirror/1"), std::string::npos) << seen;
}

// per_try_timeout: each try that does not answer in time is a 504 that retry_on 5xx
// retries; the route timeout (longer) never fires.
TEST_F(Http2ProxyTest, PerTryTimeoutRetriesHttp2Streams) {
  Upstream up("u1");
  TestProxy proxy(Bootstrap(Cluster(up.port()),
                            ", timeout: 10s, retry_policy: {retry_on: 5xx, num_retries: 2, per_try_timeout: 0.2s}"));
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  EXPECT_EQ(Curl(StrCat("--http2-prior-knowledge -o /dev/null -w '%{http_version} %{http_code}' ", Plain(proxy),
                        "/delay/1500")),
            "2 504");
  std::string seen = up.Requests();
  size_t tries = 0;
  for (size_t at = seen.find("/delay/1500"); at != std::string::npos; at = seen.find("/delay/1500", at + 1)) {
    ++tries;
  }
  EXPECT_EQ(tries, 3u) << seen;
  EXPECT_EQ(StatValue(proxy.admin_port(), "cluster.up.upstream_rq_per_try_timeout"), 3);
  EXPECT_EQ(StatValue(proxy.admin_port(), "cluster.up.upstream_rq_retry"), 2);
  // Fast answers are not affected.
  EXPECT_EQ(Curl(StrCat("--http2-prior-knowledge -o /dev/null -w '%{http_code}' ", Plain(proxy), "/fast")), "200");
  std::string log = ReadFile(dir_.path() + "/access.log");
  EXPECT_NE(log.find("HTTP/2 GET /delay/1500 504 UT"), std::string::npos) << log;
}

// Circuit breakers on HTTP/2 streams: max_requests overflow is a 503 with UO (counted),
// and max_retries 0 lets no retry through (URX, counted).
TEST_F(Http2ProxyTest, CircuitBreakersApplyToHttp2Streams) {
  Upstream up("u1");
  TestProxy proxy(Bootstrap(
      Cluster(up.port(), "    circuit_breakers: {thresholds: [{max_requests: 1, max_connections: 1, "
                         "max_pending_requests: 1, max_retries: 0}]}\n"),
      ", retry_policy: {retry_on: 5xx, num_retries: 3}"));
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  std::string slow;
  std::thread t([&] {
    slow = Curl(StrCat("--http2-prior-knowledge -o /dev/null -w '%{http_code}' ", Plain(proxy), "/delay/1500"));
  });
  for (int i = 0; i < 100 && up.Requests().find("/delay/1500") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::string overflow = Curl(StrCat("--http2-prior-knowledge -w ' %{http_code}' ", Plain(proxy), "/fast"));
  EXPECT_EQ(overflow, "upstream connect error or disconnect/reset before headers. reset reason: overflow 503");
  t.join();
  EXPECT_EQ(slow, "200");
  EXPECT_EQ(Curl(StrCat("--http2-prior-knowledge -o /dev/null -w '%{http_code}' ", Plain(proxy), "/fast")), "200");
  EXPECT_GE(StatValue(proxy.admin_port(), "cluster.up.upstream_rq_pending_overflow"), 1);

  // A 503 from the upstream would be retried, but max_retries is 0.
  EXPECT_EQ(Curl(StrCat("--http2-prior-knowledge -o /dev/null -w '%{http_code}' ", Plain(proxy), "/status/503")),
            "503");
  std::string seen = up.Requests();
  EXPECT_EQ(seen.find("/status/503"), seen.rfind("/status/503")) << seen;  // exactly one try
  EXPECT_EQ(StatValue(proxy.admin_port(), "cluster.up.upstream_rq_retry_overflow"), 1);
  std::string log = ReadFile(dir_.path() + "/access.log");
  EXPECT_NE(log.find("HTTP/2 GET /fast 503 UO"), std::string::npos) << log;
  EXPECT_NE(log.find("HTTP/2 GET /status/503 503 URX"), std::string::npos) << log;
}

// max_connections on an HTTP/2 cluster: with one stream per connection and one connection
// allowed (none pending), a second concurrent stream would need a new connection: 503 UO.
TEST_F(Http2ProxyTest, CircuitBreakersLimitHttp2UpstreamConnections) {
  Upstream up("u1");
  TestProxy inner(Bootstrap(Cluster(up.port())));
  ASSERT_TRUE(inner.ok()) << inner.status();
  std::string opts = R"(    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config:
          http2_protocol_options: {max_concurrent_streams: 1}
    circuit_breakers: {thresholds: [{max_connections: 1, max_pending_requests: 0}]}
)";
  TestProxy outer(Bootstrap(Cluster(inner.port("h2c"), opts), "", "", "/outer-local"));
  ASSERT_TRUE(outer.ok()) << outer.status();
  std::string slow;
  std::thread t([&] {
    slow = Curl(StrCat("--http2-prior-knowledge -o /dev/null -w '%{http_code}' ", Plain(outer), "/delay/1500"));
  });
  for (int i = 0; i < 100 && up.Requests().find("/delay/1500") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(Curl(StrCat("--http2-prior-knowledge -o /dev/null -w '%{http_code}' ", Plain(outer), "/second")), "503");
  t.join();
  EXPECT_EQ(slow, "200");
  EXPECT_EQ(Curl(StrCat("--http2-prior-knowledge -o /dev/null -w '%{http_code}' ", Plain(outer), "/third")), "200");
  EXPECT_GE(StatValue(outer.admin_port(), "cluster.up.upstream_rq_pending_overflow"), 1);
  EXPECT_EQ(up.Requests().find("/second"), std::string::npos) << up.Requests();
  std::string log = ReadFile(dir_.path() + "/access.log");
  EXPECT_NE(log.find("HTTP/2 GET /second 503 UO"), std::string::npos) << log;
}

// idle_timeout applies to HTTP/2 connections: without streams for that long they get
// GOAWAY(NO_ERROR) and are closed; a stream longer than the idle timeout is not cut.
TEST_F(Http2ProxyTest, IdleHttp2ConnectionGetsGoawayAndIsClosed) {
  Upstream up("u1");
  TestProxy proxy(Bootstrap(Cluster(up.port()), "", "\n          common_http_protocol_options: {idle_timeout: 0.3s}"));
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  GoawayWatch idle = WatchForGoaway(proxy.port("h2c"), 5000);
  EXPECT_TRUE(idle.goaway);
  EXPECT_EQ(idle.error, static_cast<uint32_t>(NGHTTP2_NO_ERROR));
  EXPECT_TRUE(idle.closed);
  EXPECT_EQ(StatValue(proxy.admin_port(), "http.plain.downstream_cx_idle_timeout"), 1);
  EXPECT_EQ(Curl(StrCat("--http2-prior-knowledge -o /dev/null -w '%{http_version} %{http_code}' ", Plain(proxy),
                        "/delay/800")),
            "2 200");
}

// Drain sends GOAWAY(NO_ERROR) to idle HTTP/2 connections and closes them.
TEST_F(Http2ProxyTest, DrainSendsGoawayToIdleHttp2Connections) {
  Upstream up("u1");
  TestProxy proxy(Bootstrap(Cluster(up.port())));
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  std::thread drain;
  GoawayWatch w = WatchForGoaway(proxy.port("h2c"), 5000, [&] { drain = std::thread([&] { proxy.proxy().Drain(); }); });
  ASSERT_TRUE(drain.joinable());
  drain.join();
  EXPECT_TRUE(w.goaway);
  EXPECT_EQ(w.error, static_cast<uint32_t>(NGHTTP2_NO_ERROR));
  EXPECT_TRUE(w.closed);
}

}  // namespace
}  // namespace mesh::proxy::testing
