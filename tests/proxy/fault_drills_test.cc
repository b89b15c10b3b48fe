// Fault drills against the proxy with real peers: upstreams that close mid-response or
// never answer, slowloris clients, 10k idle downstream connections, malformed TLS
// handshakes. Each drill checks the proxy answers correctly, does not crash and keeps
// serving other clients.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <future>
#include <sstream>
#include <thread>

#include "gtest/gtest.h"
#include "mesh/common/strings.h"
#include "tests/common/test_util.h"
#include "tests/proxy/proxy_test_util.h"

namespace mesh::proxy::testing {
namespace {

using common::StrCat;

std::string Cluster(const std::string& name, int port) {
  return StrCat("  - name: ", name, "\n    connect_timeout: 0.5s\n    load_assignment:\n      cluster_name: ", name,
                "\n      endpoints:\n      - lb_endpoints:\n        - endpoint: {address: {socket_address: {address: "
                "127.0.0.1, port_value: ",
                port, "}}}\n");
}

// One HTTP listener "http" with ROUTES (list items indented 14) to cluster "u"; TLS is an
// optional transport_socket block for the filter chain.
std::string Config(const std::string& routes, int upstream_port, const std::string& log_path,
                   const std::string& hcm_extra = "", const std::string& tls = "") {
  return Expand(R"(
static_resources:
  listeners:
  - name: http
    address: {socket_address: {address: 127.0.0.1, port_value: 0}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          stat_prefix: drill
${HCM}
          access_log:
          - name: envoy.access_loggers.file
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
              path: ${LOG}
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
${ROUTES}
${TLS}
  clusters:
${CLUSTERS}
)",
                {{"HCM", hcm_extra}, {"LOG", log_path}, {"ROUTES", routes}, {"TLS", tls},
                 {"CLUSTERS", Cluster("u", upstream_port)}});
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int Connect(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// True when the peer closed (EOF or reset) within timeout_ms; data read is discarded.
bool ClosedWithin(int fd, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    int left = static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count());
    if (left <= 0) {
      return false;
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, left) <= 0) {
      return false;
    }
    char buf[4096];
    if (::recv(fd, buf, sizeof(buf), 0) <= 0) {
      return true;
    }
  }
}

long RssKb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      return std::stol(line.substr(6));
    }
  }
  return -1;
}

class FaultDrillTest : public ::testing::Test {
 protected:
  std::string log_path() const { return dir_.path() + "/access.log"; }
  static std::string Url(TestProxy& p, const std::string& path) {
    return StrCat("http://127.0.0.1:", p.port("http"), path);
  }
  mesh::testing::TempDir dir_;
};

TEST_F(FaultDrillTest, UpstreamClosingMidResponseResetsTheDownstreamOnly) {
  Upstream up("u");
  TestProxy p(Config("              - {match: {prefix: /}, route: {cluster: u}}", up.port(), log_path()));
  ASSERT_TRUE(p.ok()) << p.status();
  // Headers already went out: the client must see a truncated body, not a complete one.
  auto r = mesh::testing::RunCommand(StrCat("curl -s --max-time 10 -o /dev/null -w '%{http_code} %{size_download}' ",
                                            Url(p, "/close-mid")));
  // Either the headers had gone out (truncated 200 that curl rejects) or the close was
  // seen before the proxy wrote anything (the proxy writes headers together with the
  // first body bytes), in which case the client gets a clean 503. Never a complete 200.
  if (r.out.rfind("503 ", 0) != 0) {
    EXPECT_NE(r.exit_code, 0) << "curl accepted a truncated body: " << r.out;
    EXPECT_EQ(r.out.rfind("200 ", 0), 0u) << r.out;
  }
  EXPECT_NE(r.out, "200 100000");
  // Closed before any response header: 503 UC.
  EXPECT_EQ(Get(Url(p, "/close-early")), "503");
  // The proxy is fine and the next requests on the same cluster succeed.
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(Get(Url(p, "/fine")), "200");
  }
  std::string log = ReadFile(log_path());
  // The log records what the client got: 200 UC (truncated) or 503 UC (nothing sent yet).
  const std::string mid_status = r.out.rfind("503 ", 0) == 0 ? "503" : "200";
  EXPECT_NE(log.find("\"GET /close-mid HTTP/1.1\" " + mid_status + " UC "), std::string::npos) << log;
  EXPECT_NE(log.find("\"GET /close-early HTTP/1.1\" 503 UC "), std::string::npos) << log;
}

TEST_F(FaultDrillTest, UpstreamThatNeverAnswersIsBoundedByRouteOrStreamIdleTimeout) {
  Upstream up("u");
  TestProxy p(Config("              - {match: {prefix: /hang/route}, route: {cluster: u, timeout: 0.3s}}\n"
                     "              - {match: {prefix: /}, route: {cluster: u, timeout: 0s}}",
                     up.port(), log_path(), "          stream_idle_timeout: 0.6s"));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(Get(Url(p, "/hang/route")), "504");
  // No route timeout: the stream idle timeout still ends the wait (before curl's 20 s).
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(Get(Url(p, "/hang/none")), "504");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_EQ(Get(Url(p, "/fine")), "200");
  std::string log = ReadFile(log_path());
  EXPECT_NE(log.find("\"GET /hang/route HTTP/1.1\" 504 UT "), std::string::npos) << log;
  EXPECT_NE(log.find("\"GET /hang/none HTTP/1.1\" 504 SI "), std::string::npos) << log;
}

TEST_F(FaultDrillTest, SlowlorisClientIsCutByHeaderTimeoutOthersUnaffected) {
  Upstream up("u");
  TestProxy p(Config("              - {match: {prefix: /}, route: {cluster: u}}", up.port(), log_path(),
                     "          request_headers_timeout: 1s"));
  ASSERT_TRUE(p.ok()) << p.status();
  int port = p.port("http");
  // Three slowloris clients trickle a header line every 200 ms, forever.
  std::vector<std::future<double>> loris;
  for (int i = 0; i < 3; ++i) {
    loris.push_back(std::async(std::launch::async, [port] {
      int fd = Connect(port);
      if (fd < 0) {
        return -1.0;
      }
      auto start = std::chrono::steady_clock::now();
      std::string first = "GET / HTTP/1.1\r\nHost: a\r\n";
      ::send(fd, first.data(), first.size(), MSG_NOSIGNAL);
      double closed_after = -1;
      for (int n = 0; n < 75; ++n) {  // up to 15 s
        if (ClosedWithin(fd, 200)) {
          closed_after = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
          break;
        }
        std::string line = StrCat("x-slow-", n, ": y\r\n");
        if (::send(fd, line.data(), line.size(), MSG_NOSIGNAL) < 0) {
          closed_after = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
          break;
        }
      }
      ::close(fd);
      return closed_after;
    }));
  }
  // Meanwhile normal clients are served promptly.
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(Get(Url(p, "/fine")), "200");
  }
  for (auto& f : loris) {
    double closed_after = f.get();
    EXPECT_GT(closed_after, 0.5) << "never closed, or closed before the timeout";
    EXPECT_LT(closed_after, 8.0);
  }
  EXPECT_EQ(up.Requests().find("x-slow"), std::string::npos);
  EXPECT_EQ(Get(Url(p, "/after")), "200");
}

TEST_F(FaultDrillTest, TenThousandIdleConnectionsKeepMemoryBoundedAndServing) {
  constexpr int kConnections = 10000;
  // The clients live in a child process; this process holds the proxy's side.
  rlimit lim{};
  ::getrlimit(RLIMIT_NOFILE, &lim);
  if (lim.rlim_max < kConnections + 1000) {
    GTEST_SKIP() << "hard RLIMIT_NOFILE " << lim.rlim_max << " too low";
  }
  lim.rlim_cur = lim.rlim_max;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &lim), 0);
  Upstream up("u");
  TestProxy p(Config("              - {match: {prefix: /}, route: {cluster: u}}", up.port(), log_path()));
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_EQ(Get(Url(p, "/warm")), "200");
  long before = RssKb();
  std::string script = dir_.Write("idle.py", StrCat(R"(
import resource, socket, sys
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
conns = []
for i in range()", kConnections, R"():
    conns.append(socket.create_connection(("127.0.0.1", )", p.port("http"), R"()))
print(len(conns), flush=True)
sys.stdin.read()
)"));
  // Holding the pipe open keeps the clients alive until the pipe closes.
  FILE* clients = ::popen(StrCat("python3 ", script, " > ", dir_.path(), "/idle.out").c_str(), "w");
  ASSERT_NE(clients, nullptr);
  std::string opened;
  for (int i = 0; i < 300 && opened.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    opened = ReadFile(dir_.path() + "/idle.out");
  }
  // Let the proxy accept the tail of the backlog.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  long with_idle = RssKb();
  std::string during = Get(Url(p, "/during"));
  ::pclose(clients);
  std::cout << "[ drill ] " << kConnections << " idle connections: RSS " << before / 1024 << " MB -> "
            << with_idle / 1024 << " MB (" << (with_idle - before) * 1024 / kConnections << " bytes per connection)\n";
  EXPECT_EQ(opened, StrCat(kConnections, "\n"));
  EXPECT_EQ(during, "200");
  EXPECT_LT(with_idle - before, 200 * 1024) << "RSS grew by more than 200 MB";
  EXPECT_EQ(Get(Url(p, "/after")), "200");
}

TEST_F(FaultDrillTest, MalformedTlsHandshakesDoNotAffectOtherConnections) {
  const std::string d = dir_.path();
  auto gen = mesh::testing::RunCommand(StrCat(
      "cd ", d,
      " && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout s.key -out s.pem "
      "-subj /CN=s.test -addext subjectAltName=DNS:s.test -days 2 2>&1"));
  ASSERT_EQ(gen.exit_code, 0) << gen.out;
  std::string tls = StrCat(R"(
      transport_socket:
        name: envoy.transport_sockets.tls
        typed_config:
          common_tls_context:
            tls_certificates: [{certificate_chain: {filename: )", d, "/s.pem}, private_key: {filename: ", d,
                           "/s.key}}]");
  Upstream up("u");
  TestProxy p(Config("              - {match: {prefix: /}, route: {cluster: u}}", up.port(), log_path(), "", tls));
  ASSERT_TRUE(p.ok()) << p.status();
  int port = p.port("http");
  auto https = [&](const std::string& path) {
    return Get(StrCat("--cacert ", d, "/s.pem --resolve s.test:", port, ":127.0.0.1 https://s.test:", port, path));
  };
  ASSERT_EQ(https("/first"), "200");
  // A stalled, truncated ClientHello stays open while others handshake.
  std::string truncated("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11);
  int stalled = Connect(port);
  ASSERT_GE(stalled, 0);
  ::send(stalled, truncated.data(), truncated.size(), MSG_NOSIGNAL);
  // Garbage, a truncated hello then EOF, plaintext HTTP, an oversized record length.
  std::string garbage;
  for (int i = 0; i < 4096; ++i) {
    garbage.push_back(static_cast<char>((i * 131 + 7) & 0xff));
  }
  EXPECT_EQ(RawRequest(port, garbage, 3000).find("HTTP/1.1 200"), std::string::npos);
  EXPECT_EQ(RawRequest(port, truncated, 500), "");
  std::string plain = RawRequest(port, "GET / HTTP/1.1\r\nHost: s.test\r\n\r\n", 3000);
  EXPECT_EQ(plain.find("HTTP/1.1 200"), std::string::npos) << plain;
  EXPECT_EQ(RawRequest(port, std::string("\x16\x03\x03\xff\xff", 5) + std::string(64, 'A'), 3000).find("200"),
            std::string::npos);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(https("/others"), "200");
  }
  ::close(stalled);
  EXPECT_EQ(https("/last"), "200");
  // Only the real HTTPS requests reached the upstream (not the plaintext "GET /").
  std::string seen = up.Requests();
  EXPECT_EQ(seen.find(" /\""), std::string::npos) << seen;
  EXPECT_NE(seen.find(" /last\""), std::string::npos) << seen;
}


// Peer certificates at a MUTUAL inbound expecting spiffe://cluster.local/ns/default/sa/*:
// signed by the mesh CA but expired, or with another identity, are refused.
TEST_F(FaultDrillTest, ExpiredOrWrongIdentityPeerCertificatesAreRefused) {
  const std::string d = dir_.path();
  std::string gen = dir_.Write("gen.py", R"(
import datetime, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
now = datetime.datetime.now(datetime.timezone.utc)
day = datetime.timedelta(days=1)
def write(name, key, cert):
    open(name + ".key", "wb").write(key.private_bytes(serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    open(name + ".pem", "wb").write(cert.public_bytes(serialization.Encoding.PEM))
ca_key = ec.generate_private_key(ec.SECP256R1())
ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mesh-ca")])
ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
      .serial_number(1).not_valid_before(now - 10 * day).not_valid_after(now + 10 * day)
      .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(ca_key, hashes.SHA256()))
write("ca", ca_key, ca)
def leaf(name, san, before, after):
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(before).not_valid_after(after)
            .add_extension(x509.SubjectAlternativeName([san]), critical=False).sign(ca_key, hashes.SHA256()))
    write(name, key, cert)
leaf("server", x509.DNSName("s.test"), now - day, now + day)
leaf("client", x509.UniformResourceIdentifier("spiffe://cluster.local/ns/default/sa/client"), now - day, now + day)
leaf("expired", x509.UniformResourceIdentifier("spiffe://cluster.local/ns/default/sa/client"), now - 3 * day, now - day)
leaf("future", x509.UniformResourceIdentifier("spiffe://cluster.local/ns/default/sa/client"), now + day, now + 3 * day)
leaf("other", x509.UniformResourceIdentifier("spiffe://cluster.local/ns/other/sa/client"), now - day, now + day)
)");
  auto r = mesh::testing::RunCommand(StrCat("cd ", d, " && python3 ", gen, " 2>&1"));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  std::string tls = StrCat(R"(
      transport_socket:
        name: envoy.transport_sockets.tls
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
          require_client_certificate: true
          common_tls_context:
            tls_certificates: [{certificate_chain: {filename: )", d, "/server.pem}, private_key: {filename: ", d,
                           R"(/server.key}}]
            validation_context:
              trusted_ca: {filename: )", d, R"(/ca.pem}
              match_typed_subject_alt_names: [{san_type: URI, matcher: {prefix: "spiffe://cluster.local/ns/default/"}}])");
  Upstream up("u");
  TestProxy p(Config("              - {match: {prefix: /}, route: {cluster: u}}", up.port(), log_path(), "", tls));
  ASSERT_TRUE(p.ok()) << p.status();
  int port = p.port("http");
  auto with = [&](const std::string& who) {
    std::string cert = who.empty() ? "" : StrCat("--cert ", d, "/", who, ".pem --key ", d, "/", who, ".key ");
    return Get(StrCat(cert, "--cacert ", d, "/ca.pem --resolve s.test:", port, ":127.0.0.1 https://s.test:", port,
                      "/", who.empty() ? "none" : who));
  };
  EXPECT_EQ(with("client"), "200");
  EXPECT_EQ(with("expired"), "000");
  EXPECT_EQ(with("future"), "000");
  EXPECT_EQ(with("other"), "000");
  EXPECT_EQ(with(""), "000");
  EXPECT_EQ(with("client"), "200");
  std::string seen = up.Requests();
  EXPECT_EQ(seen.find("/expired"), std::string::npos) << seen;
  EXPECT_EQ(seen.find("/other"), std::string::npos) << seen;
}

// Oversized bodies (envoy.filters.http.buffer max_request_bytes): a Content-Length over
// the limit gets 413 before any body byte is read or anything reaches the upstream; a
// chunked body gets 413 when its running total crosses the limit (the upstream request,
// already started, is cut); bodies up to the limit pass. Per-route BufferPerRoute
// overrides or disables the limit.
TEST_F(FaultDrillTest, OversizedRequestBodiesGet413ChunkedOrNot) {
  Upstream up("u");
  const std::string buffer_filter = R"(          http_filters:
          - name: envoy.filters.http.buffer
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.buffer.v3.Buffer
              max_request_bytes: 100000
          - name: envoy.filters.http.router)";
  const std::string routes = R"(              - match: {prefix: /unlimited}
                route: {cluster: u}
                typed_per_filter_config:
                  envoy.filters.http.buffer:
                    "@type": type.googleapis.com/envoy.extensions.filters.http.buffer.v3.BufferPerRoute
                    disabled: true
              - match: {prefix: /small}
                route: {cluster: u}
                typed_per_filter_config:
                  envoy.filters.http.buffer: {buffer: {max_request_bytes: 1000}}
              - match: {prefix: /}
                route: {cluster: u, retry_policy: {retry_on: 5xx, num_retries: 1}})";
  TestProxy p(Config(routes, up.port(), log_path(), buffer_filter));
  ASSERT_TRUE(p.ok()) << p.status();
  auto body_file = [&](size_t size) {
    std::string path = StrCat(dir_.path(), "/body-", size);
    std::ofstream(path) << std::string(size, 'b');
    return path;
  };
  // -> "<status> <curl exit code>"
  auto post = [&](const std::string& path, size_t size, bool chunked) {
    auto r = mesh::testing::RunCommand(StrCat("curl -s --max-time 20 -o /dev/null -w '%{http_code}' ",
                                              chunked ? "-H 'Transfer-Encoding: chunked' " : "", "--data-binary @",
                                              body_file(size), " ", Url(p, path)));
    return StrCat(r.out, " ", r.exit_code);
  };
  // At and just under the limit: through (the retry policy makes the 64 KiB-or-less
  // bodies buffered for replay; 100000 bytes stream).
  EXPECT_EQ(post("/cl-at-limit", 100000, false), "200 0");
  EXPECT_EQ(post("/chunked-under", 99999, true), "200 0");
  EXPECT_EQ(post("/cl-small", 60000, false), "200 0");
  // Over: 413, with a known length or chunked; a 3 MB body (curl sends Expect:
  // 100-continue) is refused before the client sends it.
  EXPECT_EQ(post("/cl-over", 100001, false), "413 0");
  EXPECT_EQ(post("/chunked-over", 300000, true), "413 0");
  EXPECT_EQ(post("/chunked-over-by-one", 100001, true), "413 0");
  EXPECT_EQ(post("/cl-huge", 3000000, false), "413 0");
  // Per-route: the limit disabled, or lowered.
  EXPECT_EQ(post("/unlimited", 300000, true), "200 0");
  EXPECT_EQ(post("/small/ok", 1000, false), "200 0");
  EXPECT_EQ(post("/small/over", 1001, false), "413 0");
  EXPECT_EQ(post("/small/over-chunked", 5000, true), "413 0");
  // The proxy keeps serving.
  EXPECT_EQ(Get(Url(p, "/after")), "200");

  std::string seen = up.Requests();
  for (const char* passed : {"/cl-at-limit", "/chunked-under", "/cl-small", "/unlimited", "/small/ok", "/after"}) {
    EXPECT_NE(seen.find(passed), std::string::npos) << passed << " in " << seen;
  }
  // The upstream never got a complete oversized request (it records a request once its
  // body is read whole).
  for (const char* refused : {"/cl-over", "/chunked-over", "/cl-huge", "/small/over"}) {
    EXPECT_EQ(seen.find(refused), std::string::npos) << refused << " in " << seen;
  }
  std::string log = ReadFile(log_path());
  for (const char* refused : {"/cl-over", "/chunked-over", "/chunked-over-by-one", "/cl-huge", "/small/over",
                              "/small/over-chunked"}) {
    EXPECT_NE(log.find(StrCat("\"POST ", refused, " HTTP/1.1\" 413 ")), std::string::npos) << refused << "\n" << log;
  }
  EXPECT_NE(log.find("\"POST /unlimited HTTP/1.1\" 200 "), std::string::npos) << log;
  std::string stats = Curl(StrCat("http://127.0.0.1:", p.admin_port(), "/stats"));
  EXPECT_NE(stats.find("http.drill.downstream_rq_too_large: 6\n"), std::string::npos) << stats;
  std::string prom = Curl(StrCat("http://127.0.0.1:", p.stats_port(), "/stats/prometheus"));
  EXPECT_NE(prom.find("response_code=\"413\""), std::string::npos);
}

}  // namespace
}  // namespace mesh::proxy::testing
