// TLS end to end with curl and openssl s_client: SIMPLE and MUTUAL termination, SNI
// certificate selection, TLS passthrough by SNI, upstream origination with SPIFFE SAN
// checks, TLS >= 1.2, and certificate replacement at runtime.

#include <thread>

#include "gtest/gtest.h"
#include "mesh/common/strings.h"
#include "tests/common/test_util.h"
#include "tests/proxy/proxy_test_util.h"

namespace mesh::proxy::testing {
namespace {

using common::StrCat;

class TlsProxyTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new mesh::testing::TempDir();
    const std::string d = dir_->path();
    std::string script = StrCat("set -e; cd ", d, R"(
key() { openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout $1.key -out $1.csr -subj /CN=$1 2>/dev/null; }
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.pem -subj /CN=test-ca -days 2 \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
sign() { printf 'subjectAltName=%s\n' "$2" > $1.ext; openssl x509 -req -in $1.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out $1.pem -days 2 -extfile $1.ext 2>/dev/null; }
key a; sign a 'DNS:a.test,DNS:pass.test,URI:spiffe://cluster.local/ns/default/sa/server'
key b; sign b 'DNS:b.test,DNS:a.test'
key client; sign client 'URI:spiffe://cluster.local/ns/default/sa/client'
key stranger; sign stranger 'URI:spiffe://other.domain/ns/x/sa/y'
)");
    auto r = mesh::testing::RunCommand(script);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static void TearDownTestSuite() { delete dir_; }

  static std::string F(const std::string& name) { return dir_->path() + "/" + name; }

  static std::string Tls(const std::string& cert, bool mutual, const std::string& san_prefix) {
    std::string v = mutual ? StrCat(R"(
            validation_context:
              trusted_ca: {filename: )", F("ca.pem"), R"(}
              match_typed_subject_alt_names: [{san_type: URI, matcher: {prefix: ")", san_prefix, R"("}}])")
                           : "";
    return StrCat(R"(
      transport_socket:
        name: envoy.transport_sockets.tls
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
          require_client_certificate: )", mutual ? "true" : "false", R"(
          common_tls_context:
            tls_certificates: [{certificate_chain: {filename: )", F(cert + ".pem"), "}, private_key: {filename: ",
                  F(cert + ".key"), "}}]", v);
  }

  static std::string Hcm(const std::string& routes) {
    return StrCat(R"(
      filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          stat_prefix: s
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
)", routes);
  }

  std::string Config(const std::string& a_cert) {
    return StrCat(R"(
static_resources:
  listeners:
  - name: sni
    address: {socket_address: {address: 127.0.0.1, port_value: )", sni_port_, R"(}}
    listener_filters: [{name: envoy.filters.listener.tls_inspector}]
    filter_chains:
    - filter_chain_match: {server_names: [a.test]})",
                  Hcm("              - {match: {prefix: /}, direct_response: {status: 200, body: {inline_string: a}}}"),
                  Tls(a_cert, false, ""), R"(
    - filter_chain_match: {server_names: ["*.b.test", b.test]})",
                  Hcm("              - {match: {prefix: /}, direct_response: {status: 200, body: {inline_string: b}}}"),
                  Tls("b", false, ""), R"(
    - filter_chain_match: {server_names: [pass.test]}
      filters:
      - name: envoy.filters.network.tcp_proxy
        typed_config: {stat_prefix: pass, cluster: mtls-listener}
  - name: mtls
    address: {socket_address: {address: 127.0.0.1, port_value: )", mtls_port_, R"(}}
    traffic_direction: INBOUND
    filter_chains:
    -)", Hcm("              - {match: {prefix: /}, route: {cluster: echo}}"),
                  Tls("a", true, "spiffe://cluster.local/"), R"(
  - name: origin
    address: {socket_address: {address: 127.0.0.1, port_value: 0}}
    filter_chains:
    -)", Hcm("              - {match: {prefix: /wrong}, route: {cluster: wrong-san}}\n"
             "              - {match: {prefix: /}, route: {cluster: mtls-upstream}}"), R"(
  clusters:
  - name: echo
    load_assignment: {cluster_name: echo, endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: )",
                  echo_->port(), R"(}}}}]}]}
  - name: mtls-listener
    load_assignment: {cluster_name: x, endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: )",
                  mtls_port_, R"(}}}}]}]}
)", UpstreamCluster("mtls-upstream", "spiffe://cluster.local/ns/default/sa/server"),
                  UpstreamCluster("wrong-san", "spiffe://cluster.local/ns/default/sa/someone-else"));
  }

  std::string UpstreamCluster(const std::string& name, const std::string& san) {
    return StrCat("  - name: ", name, R"(
    load_assignment: {cluster_name: x, endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: )",
                  mtls_port_, R"(}}}}]}]}
    transport_socket:
      name: envoy.transport_sockets.tls
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
        sni: a.test
        common_tls_context:
          tls_certificates: [{certificate_chain: {filename: )", F("client.pem"), "}, private_key: {filename: ",
                  F("client.key"), R"(}}]
          validation_context:
            trusted_ca: {filename: )", F("ca.pem"), R"(}
            match_typed_subject_alt_names: [{san_type: URI, matcher: {exact: ")", san, R"("}}]
)");
  }

  void SetUp() override {
    echo_ = std::make_unique<Upstream>("echo");
    sni_port_ = FreePort();
    mtls_port_ = FreePort();
    proxy_ = std::make_unique<TestProxy>(Config("a"));
    if (!proxy_->ok()) { std::cerr << Config("a"); }
    ASSERT_TRUE(proxy_->ok()) << proxy_->status();
  }

  std::string Https(const std::string& host, int port, const std::string& path, const std::string& extra = "") {
    return StrCat("--cacert ", F("ca.pem"), " --resolve ", host, ":", port, ":127.0.0.1 ", extra, " https://", host, ":",
                  port, path);
  }
  std::string ClientCert(const std::string& name = "client") {
    return StrCat("--cert ", F(name + ".pem"), " --key ", F(name + ".key"));
  }

  static mesh::testing::TempDir* dir_;
  std::unique_ptr<Upstream> echo_;
  int sni_port_ = 0, mtls_port_ = 0;
  std::unique_ptr<TestProxy> proxy_;
};
mesh::testing::TempDir* TlsProxyTest::dir_ = nullptr;

std::string Subject(int port, const std::string& sni, const std::string& extra = "") {
  return mesh::testing::RunCommand(StrCat("openssl s_client -connect 127.0.0.1:", port, " -servername ", sni, " ", extra,
                                          " </dev/null 2>&1 | grep -m1 '^subject='"))
      .out;
}

TEST_F(TlsProxyTest, SimpleTerminationSelectsCertificateBySni) {
  EXPECT_EQ(Curl(Https("a.test", sni_port_, "/")), "a");
  EXPECT_EQ(Curl(Https("b.test", sni_port_, "/")), "b");
  EXPECT_EQ(Curl(Https("x.b.test", sni_port_, "/", "-k")), "b");
  EXPECT_NE(Subject(sni_port_, "a.test").find("CN = a"), std::string::npos);
  EXPECT_NE(Subject(sni_port_, "b.test").find("CN = b"), std::string::npos);
  // Unknown SNI: no filter chain, the connection is closed.
  EXPECT_EQ(Get(Https("unknown.test", sni_port_, "/", "-k")), "000");
}

TEST_F(TlsProxyTest, RejectsTlsBelow12) {
  EXPECT_EQ(Get(Https("a.test", sni_port_, "/", "--tlsv1.0 --tls-max 1.1")), "000");
  auto r = mesh::testing::RunCommand(
      StrCat("openssl s_client -connect 127.0.0.1:", sni_port_, " -servername a.test -tls1_1 </dev/null 2>&1"));
  EXPECT_NE(r.exit_code, 0) << r.out;
  EXPECT_EQ(Get(Https("a.test", sni_port_, "/", "--tlsv1.2 --tls-max 1.2")), "200");
}

TEST_F(TlsProxyTest, MutualTlsRequiresAndVerifiesClientCertificate) {
  EXPECT_EQ(Get(Https("a.test", mtls_port_, "/")), "000");  // no client certificate
  EXPECT_EQ(Get(Https("a.test", mtls_port_, "/", ClientCert("stranger"))), "000");  // SAN not allowed
  std::string out = Curl(Https("a.test", mtls_port_, "/hello", ClientCert()));
  EXPECT_NE(out.find("\"x-forwarded-client-cert\": \"URI=spiffe://cluster.local/ns/default/sa/client\""),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("\"x-forwarded-proto\": \"https\""), std::string::npos) << out;
  std::string prom = Curl(StrCat("http://127.0.0.1:", proxy_->stats_port(), "/stats/prometheus"));
  EXPECT_NE(prom.find("reporter=\"destination\""), std::string::npos);
  EXPECT_NE(prom.find("connection_security_policy=\"mutual_tls\",response_code=\"200\""), std::string::npos) << prom;
}

TEST_F(TlsProxyTest, PassthroughBySniReachesTheBackendsTls) {
  // pass.test is not terminated by the sni listener: the mtls listener behind it answers,
  // so the client certificate is checked there.
  std::string out = Curl(Https("pass.test", sni_port_, "/through", ClientCert()));
  EXPECT_NE(out.find("\"path\": \"/through\""), std::string::npos) << out;
  EXPECT_EQ(Get(Https("pass.test", sni_port_, "/through")), "000");
}

TEST_F(TlsProxyTest, UpstreamOriginationVerifiesSpiffeSan) {
  std::string origin = StrCat("http://127.0.0.1:", proxy_->port("origin"));
  std::string out = Curl(origin + "/via-mtls");
  EXPECT_NE(out.find("\"x-forwarded-client-cert\": \"URI=spiffe://cluster.local/ns/default/sa/client\""),
            std::string::npos)
      << out;
  EXPECT_EQ(Get(origin + "/wrong"), "503");
}

TEST_F(TlsProxyTest, CertificateReplacedAtRuntimeWithoutDroppingConnections) {
  EXPECT_NE(Subject(sni_port_, "a.test").find("CN = a"), std::string::npos);
  std::string slow;
  std::thread t([&] { slow = Get(Https("a.test", mtls_port_, "/delay/700", ClientCert())); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ASSERT_TRUE(proxy_->Update(Config("b")).ok());
  t.join();
  EXPECT_EQ(slow, "200");
  EXPECT_NE(Subject(sni_port_, "a.test").find("CN = b"), std::string::npos);
  EXPECT_EQ(Curl(Https("a.test", sni_port_, "/")), "a");
}

}  // namespace
}  // namespace mesh::proxy::testing
