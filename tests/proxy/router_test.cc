#include "mesh/proxy/router.h"

#include "gtest/gtest.h"
#include "mesh/proxy/access_log.h"
#include "mesh/proxy/runtime.h"
#include "mesh/proxy/stats.h"
#include "mesh/proxy/tls_inspector.h"
#include "mesh/proxyconfig/decode.h"

namespace mesh::proxy {
namespace {

using namespace proxyconfig;

RouteConfiguration Routes() {
  constexpr char kText[] = R"(
static_resources:
  listeners:
  - name: l
    address: {socket_address: {port_value: 1}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          route_config:
            virtual_hosts:
            - name: exact
              domains: ["api.example.com", "api.example.com:8080"]
              routes:
              - {name: exact-path, match: {path: /v1/users}, direct_response: {status: 200}}
              - {name: regex, match: {safe_regex: {regex: "/v1/items/[0-9]+"}}, direct_response: {status: 200}}
              - name: header
                match:
                  prefix: /v1/
                  headers:
                  - {name: x-version, string_match: {exact: "2"}}
                  - {name: ":method", string_match: {exact: POST}}
                direct_response: {status: 200}
              - name: present-inverted
                match:
                  prefix: /v1/
                  headers: [{name: x-debug, present_match: true, invert_match: true}]
                direct_response: {status: 200}
              - name: query
                match:
                  prefix: /
                  query_parameters: [{name: user, string_match: {prefix: "adm"}}]
                direct_response: {status: 200}
              - {name: ci, match: {prefix: /CASE, case_sensitive: false}, direct_response: {status: 200}}
              - {name: fallback, match: {prefix: /}, direct_response: {status: 200}}
            - {name: suffix, domains: ["*.example.com"], routes: [{match: {prefix: /}, direct_response: {status: 200}}]}
            - {name: prefix, domains: ["api.*"], routes: [{match: {prefix: /}, direct_response: {status: 200}}]}
            - {name: any, domains: ["*"], routes: [{match: {prefix: /}, direct_response: {status: 200}}]}
)";
  auto b = LoadBootstrapText(kText, "r.yaml");
  EXPECT_TRUE(b.ok()) << b.status();
  return *std::get<HttpConnectionManager>(b->static_resources.listeners[0].filter_chains[0].filter).route_config;
}

TEST(Router, VirtualHostSelection) {
  RouteConfiguration rc = Routes();
  struct Case {
    const char* authority;
    const char* vhost;
  } cases[] = {
      {"api.example.com", "exact"},     {"API.Example.com", "exact"},     {"api.example.com:8080", "exact"},
      {"api.example.com:9999", "exact"}, {"www.example.com", "suffix"},    {"api.other.org", "prefix"},
      {"other.org", "any"},             {"example.com", "any"},
  };
  for (const auto& c : cases) {
    const VirtualHost* vh = SelectVirtualHost(rc, c.authority);
    ASSERT_NE(vh, nullptr) << c.authority;
    EXPECT_EQ(vh->name, c.vhost) << c.authority;
  }
}

TEST(Router, RouteSelection) {
  RouteConfiguration rc = Routes();
  const VirtualHost& vh = rc.virtual_hosts[0];
  struct Case {
    const char* method;
    const char* path;
    std::vector<std::pair<std::string, std::string>> headers;
    const char* route;
  } cases[] = {
      {"GET", "/v1/users", {}, "exact-path"},
      {"GET", "/v1/users?x=1", {}, "exact-path"},
      {"GET", "/v1/users/1", {}, "present-inverted"},
      {"GET", "/v1/items/42", {}, "regex"},
      {"GET", "/v1/items/4a", {}, "present-inverted"},
      {"POST", "/v1/x", {{"x-version", "2"}}, "header"},
      {"GET", "/v1/x", {{"x-version", "2"}}, "present-inverted"},
      {"GET", "/v1/x", {{"x-debug", "1"}}, "fallback"},
      {"GET", "/other?user=admin", {}, "query"},
      {"GET", "/other?user=bob", {}, "fallback"},
      {"GET", "/case/x", {}, "ci"},
  };
  for (const auto& c : cases) {
    RequestView view{c.method, c.path, "api.example.com", [&](std::string_view name) -> std::optional<std::string_view> {
                       for (const auto& [k, v] : c.headers) {
                         if (k == name) {
                           return v;
                         }
                       }
                       return std::nullopt;
                     }};
    const Route* r = SelectRoute(vh, view);
    ASSERT_NE(r, nullptr) << c.path;
    EXPECT_EQ(r->name, c.route) << c.method << " " << c.path;
  }
}

TEST(Router, RewritesAndRedirects) {
  RouteMatch prefix;
  prefix.path = "/api/";
  EXPECT_EQ(RewritePrefix("/api/users?x=1", prefix, "/"), "/users?x=1");
  EXPECT_EQ(RewritePrefix("/api/users", prefix, "/v2/"), "/v2/users");
  RedirectAction r;
  r.scheme_redirect = "https";
  EXPECT_EQ(RedirectLocation(r, prefix, "http", "a.com:80", "/x?y=1"), "https://a.com/x?y=1");
  r = RedirectAction();
  r.host_redirect = "b.com";
  r.path_redirect = "/new";
  r.strip_query = true;
  EXPECT_EQ(RedirectLocation(r, prefix, "http", "a.com:8080", "/x?y=1"), "http://b.com:8080/new");
  r = RedirectAction();
  r.prefix_rewrite = "/v2/";
  EXPECT_EQ(RedirectLocation(r, prefix, "http", "a.com", "/api/z"), "http://a.com/v2/z");
}

TEST(Router, WeightedClustersFollowWeights) {
  std::vector<WeightedCluster> clusters = {{"a", 25}, {"b", 75}};
  int a = 0;
  for (uint64_t i = 0; i < 100; ++i) {
    a += PickWeightedCluster(clusters, i) == "a" ? 1 : 0;
  }
  EXPECT_EQ(a, 25);
  EXPECT_EQ(QueryParameter("/p?a=1&b=&c", "b"), "");
  EXPECT_EQ(QueryParameter("/p?a=1&b=&c", "a"), "1");
  EXPECT_FALSE(QueryParameter("/p?a=1", "z").has_value());
}

TEST(TlsInspector, ReadsSniFromClientHello) {
  // A minimal ClientHello with SNI "api.example.com".
  std::string host = "api.example.com";
  std::string ext;
  auto u16 = [](std::string& s, size_t v) {
    s.push_back(static_cast<char>(v >> 8));
    s.push_back(static_cast<char>(v & 0xff));
  };
  std::string sni_list;
  sni_list.push_back(0);
  u16(sni_list, host.size());
  sni_list += host;
  std::string sni_ext;
  u16(sni_ext, sni_list.size());
  sni_ext += sni_list;
  u16(ext, 0);
  u16(ext, sni_ext.size());
  ext += sni_ext;
  std::string body;
  body += "\x03\x03";
  body += std::string(32, 'r');
  body.push_back(0);  // session id
  u16(body, 2);
  body += "\x13\x01";
  body += "\x01";
  body.push_back(0);
  u16(body, ext.size());
  body += ext;
  std::string hs = "\x01";
  hs.push_back(0);
  u16(hs, body.size());
  hs += body;
  std::string record = "\x16\x03\x01";
  u16(record, hs.size());
  record += hs;
  std::string sni;
  EXPECT_EQ(InspectClientHello(record.substr(0, 10), sni), ClientHelloResult::kNeedMoreData);
  EXPECT_EQ(InspectClientHello(record, sni), ClientHelloResult::kTls);
  EXPECT_EQ(sni, host);
  EXPECT_EQ(InspectClientHello("GET / HTTP/1.1\r\n", sni), ClientHelloResult::kNotTls);
  EXPECT_TRUE(ServerNameMatches("*.example.com", "api.example.com"));
  EXPECT_FALSE(ServerNameMatches("*.example.com", "example.com"));
}

TEST(AccessLog, TextAndJson) {
  AccessLogRecord r;
  r.response_code = 503;
  r.response_flags = "UF,URX";
  r.bytes_sent = 12;
  r.upstream_cluster = "web";
  r.request_header = [](std::string_view name) -> std::optional<std::string> {
    if (name == ":method") {
      return "GET";
    }
    if (name == "user-agent") {
      return "curl";
    }
    return std::nullopt;
  };
  EXPECT_EQ(FormatAccessLog("%REQ(:METHOD)% %RESPONSE_CODE% %RESPONSE_FLAGS% %REQ(X-MISSING)% %REQ(USER-AGENT):2%", r),
            "GET 503 UF,URX - cu");
  EXPECT_EQ(FormatJsonAccessLog({{"code", "%RESPONSE_CODE%"}, {"flags", "%RESPONSE_FLAGS%"}, {"c", "%UPSTREAM_CLUSTER%"},
                                 {"host", "%UPSTREAM_HOST%"}},
                                r),
            "{\"code\":503,\"flags\":\"UF,URX\",\"c\":\"web\",\"host\":null}\n");
}

TEST(Stats, PrometheusHistogramIsCumulative) {
  WorkerStats a, b;
  uint32_t id = InternLabels("reporter=\"source\"");
  EXPECT_EQ(InternLabels("reporter=\"source\""), id);
  a.RecordRequest(id, 200, "", 3, 10, 20);
  b.RecordRequest(id, 200, "", 700, 10, 20);
  std::string text = StatsRenderer({&a, &b}).Prometheus({});
  EXPECT_NE(text.find("istio_requests_total{reporter=\"source\",response_code=\"200\",response_flags=\"-\"} 2"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("istio_request_duration_milliseconds_bucket{reporter=\"source\",response_code=\"200\",response_flags=\"-\",le=\"5\"} 1"),
            std::string::npos);
  EXPECT_NE(text.find("le=\"1000\"} 2"), std::string::npos);
  EXPECT_NE(text.find("istio_request_duration_milliseconds_sum{reporter=\"source\",response_code=\"200\",response_flags=\"-\"} 703"),
            std::string::npos);
}

TEST(Maglev, TableFollowsWeightsAndMovesFewKeysWhenAHostGoes) {
  const uint64_t kSize = 65537;  // Envoy's default table size
  std::vector<uint32_t> table = BuildMaglevTable({"a:1", "b:1", "c:1"}, {1, 1, 2}, kSize);
  ASSERT_EQ(table.size(), kSize);
  size_t count[3] = {0, 0, 0};
  for (uint32_t host : table) {
    ASSERT_LT(host, 3u);
    ++count[host];
  }
  EXPECT_NEAR(static_cast<double>(count[0]), kSize / 4.0, 2);
  EXPECT_NEAR(static_cast<double>(count[1]), kSize / 4.0, 2);
  EXPECT_NEAR(static_cast<double>(count[2]), kSize / 2.0, 2);
  // Without b, the slots of a and c mostly keep their host (a ring of 3 -> 2 keeps
  // about 2/3 of all keys in place; Maglev's paper reports near-minimal disruption).
  std::vector<uint32_t> without_b = BuildMaglevTable({"a:1", "c:1"}, {1, 2}, kSize);
  size_t kept = 0, eligible = 0;
  for (size_t i = 0; i < kSize; ++i) {
    if (table[i] == 1) {
      continue;
    }
    ++eligible;
    uint32_t now = without_b[i] == 0 ? 0 : 2;
    kept += now == table[i] ? 1 : 0;
  }
  EXPECT_GT(static_cast<double>(kept), 0.9 * eligible);
  // Small prime tables work too; an empty host list gives an empty table.
  EXPECT_EQ(BuildMaglevTable({"x:1"}, {1}, 7), std::vector<uint32_t>(7, 0));
  EXPECT_TRUE(BuildMaglevTable({}, {}, kSize).empty());
}

}  // namespace
}  // namespace mesh::proxy
