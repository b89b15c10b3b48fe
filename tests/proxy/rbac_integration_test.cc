// RBAC filters end to end: curl -> in-process proxy -> upstream.py. Denied requests get
// 403 "RBAC: access denied", never reach the upstream, show in the access log with their
// response code details and in istio_requests_total; a denied TCP connection is closed.

#include <fstream>
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

constexpr char kHttpRbac[] = R"(
node:
  id: test
  metadata: {WORKLOAD_NAME: helloworld, NAMESPACE: devops}
static_resources:
  listeners:
  - name: http
    address: {socket_address: {address: 127.0.0.1, port_value: 0}}
    traffic_direction: INBOUND
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: inbound
          access_log:
          - name: envoy.access_loggers.file
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
              path: ${LOG}
              log_format: {text_format_source: {inline_string: "%RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %REQ(:PATH)%\n"}}
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - {match: {prefix: /}, route: {cluster: "inbound|80||"}}
          http_filters:
          - name: envoy.filters.http.rbac
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC
              rules:
                action: DENY
                policies:
                  ns[devops]-policy[deny-blocked]-rule[0]:
                    permissions: [{url_path: {path: {prefix: /blocked}}}]
                    principals: [{any: true}]
          - name: envoy.filters.http.rbac
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC
              rules:
                policies:
                  ns[devops]-policy[need-header]-rule[0]:
                    permissions: [{header: {name: x-allowed, string_match: {exact: "yes"}}}]
                    principals: [{direct_remote_ip: {address_prefix: 127.0.0.0, prefix_len: 8}}]
          - name: envoy.filters.http.router
  clusters:
  - name: "inbound|80||"
    connect_timeout: 0.5s
    load_assignment:
      cluster_name: "inbound|80||"
      endpoints:
      - lb_endpoints:
        - endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: ${UP}}}}
)";

TEST(RbacIntegration, HttpDeniedRequestsGet403AndAreLoggedAndCounted) {
  Upstream up("app");
  mesh::testing::TempDir dir;
  std::string log = dir.path() + "/access.log";
  TestProxy p(Expand(kHttpRbac, {{"LOG", log}, {"UP", std::to_string(up.port())}}));
  ASSERT_TRUE(p.ok()) << p.status();
  std::string base = StrCat("http://127.0.0.1:", p.port("http"));
  // Admitted by the ALLOW filter, not denied by the DENY filter.
  EXPECT_EQ(Get(base + "/ok -H 'x-allowed: yes'"), "200");
  // DENY matches first, whatever the ALLOW filter would say.
  std::string denied = Curl(base + "/blocked/x -H 'x-allowed: yes' -w ' %{http_code}'");
  EXPECT_EQ(denied, "RBAC: access denied 403");
  // No ALLOW policy matches.
  EXPECT_EQ(Get(base + "/ok"), "403");
  EXPECT_EQ(Get(base + "/ok -H 'x-allowed: no'"), "403");

  std::string seen = up.Requests();
  EXPECT_NE(seen.find("/ok"), std::string::npos) << seen;
  EXPECT_EQ(seen.find("/blocked"), std::string::npos) << seen;

  std::string lines = ReadFile(log);
  EXPECT_NE(lines.find("200 - via_upstream /ok\n"), std::string::npos) << lines;
  EXPECT_NE(lines.find("403 RBAC rbac_access_denied_matched_policy[ns[devops]-policy[deny-blocked]-rule[0]] /blocked/x\n"),
            std::string::npos)
      << lines;
  EXPECT_NE(lines.find("403 RBAC rbac_access_denied_matched_policy[none] /ok\n"), std::string::npos) << lines;

  std::string prom = Curl(StrCat("http://127.0.0.1:", p.stats_port(), "/stats/prometheus"));
  EXPECT_NE(prom.find("response_code=\"403\",response_flags=\"RBAC\"} 3"), std::string::npos) << prom;
  std::string stats = Curl(StrCat("http://127.0.0.1:", p.admin_port(), "/stats"));
  EXPECT_NE(stats.find("http.inbound.rbac.denied: 3"), std::string::npos) << stats;
}

constexpr char kTcpRbac[] = R"(
static_resources:
  listeners:
  - name: tcp
    address: {socket_address: {address: 127.0.0.1, port_value: 0}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.rbac
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC
          stat_prefix: tcp.
          rules:
            action: ${ACTION}
            policies:
              loopback:
                permissions: [{any: true}]
                principals: [{direct_remote_ip: {address_prefix: 127.0.0.0, prefix_len: 8}}]
      - name: envoy.filters.network.tcp_proxy
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
          stat_prefix: tcp
          cluster: backend
  clusters:
  - name: backend
    connect_timeout: 0.5s
    load_assignment:
      cluster_name: backend
      endpoints:
      - lb_endpoints:
        - endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: ${UP}}}}
)";

// HTTP/2 streams go through the same filters (curl with prior knowledge, cleartext).
TEST(RbacIntegration, Http2StreamsAreAuthorizedLikeHttp1) {
  Upstream up("app");
  mesh::testing::TempDir dir;
  TestProxy p(Expand(kHttpRbac, {{"LOG", dir.path() + "/access.log"}, {"UP", std::to_string(up.port())}}));
  ASSERT_TRUE(p.ok()) << p.status();
  std::string base = StrCat("--http2-prior-knowledge http://127.0.0.1:", p.port("http"));
  EXPECT_EQ(Curl(base + "/ok-h2 -H 'x-allowed: yes' -o /dev/null -w '%{http_version} %{http_code}'"), "2 200");
  EXPECT_EQ(Curl(base + "/blocked-h2 -H 'x-allowed: yes' -w ' %{http_version} %{http_code}'"),
            "RBAC: access denied 2 403");
  EXPECT_EQ(Curl(base + "/no-header-h2 -o /dev/null -w '%{http_code}'"), "403");
  std::string seen = up.Requests();
  EXPECT_NE(seen.find("/ok-h2"), std::string::npos) << seen;
  EXPECT_EQ(seen.find("/blocked-h2"), std::string::npos) << seen;
  EXPECT_EQ(seen.find("/no-header-h2"), std::string::npos) << seen;
}

TEST(RbacIntegration, NetworkFilterClosesDeniedConnections) {
  Upstream up("tcp-backend");
  TestProxy p(Expand(kTcpRbac, {{"ACTION", "ALLOW"}, {"UP", std::to_string(up.port())}}));
  ASSERT_TRUE(p.ok()) << p.status();
  std::string url = StrCat("http://127.0.0.1:", p.port("tcp"), "/through-tcp");
  EXPECT_NE(Curl(url).find("\"path\": \"/through-tcp\""), std::string::npos);
  ASSERT_TRUE(p.Update(Expand(kTcpRbac, {{"ACTION", "DENY"}, {"UP", std::to_string(up.port())}})).ok());
  // Closed without a byte: curl reports status 000.
  EXPECT_EQ(Get(url), "000");
  std::string stats = Curl(StrCat("http://127.0.0.1:", p.admin_port(), "/stats"));
  EXPECT_NE(stats.find("rbac.denied: 1"), std::string::npos) << stats;
}

}  // namespace
}  // namespace mesh::proxy::testing
