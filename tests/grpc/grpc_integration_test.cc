// gRPC through the mesh with real grpc++ on both ends:
//   grpc++ client -> gateway proxy (h2c) -> mTLS, ALPN h2 -> sidecar proxy -> h2c -> grpc++ server
// Unary, server streaming, bidirectional streaming (interleaved, so nothing may be
// buffered), a retried UNAVAILABLE, grpc-status in istio_requests_total and access logs.

#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <regex>
#include <sstream>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "echo.grpc.pb.h"
#include "gtest/gtest.h"
#include "mesh/common/strings.h"
#include "tests/common/test_util.h"
#include "tests/proxy/proxy_test_util.h"

namespace mesh::proxy::testing {
namespace {

using common::StrCat;

class EchoService final : public meshtest::Echo::Service {
 public:
  grpc::Status Say(grpc::ServerContext* ctx, const meshtest::Msg* req, meshtest::Msg* resp) override {
    ++calls_;
    const std::string& t = req->text();
    if (t == "unavailable") {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "always unavailable");
    }
    if (t.rfind("fail-once:", 0) == 0) {
      std::lock_guard<std::mutex> lock(mu_);
      if (seen_[t]++ == 0) {
        return grpc::Status(grpc::StatusCode::UNAVAILABLE, "first attempt fails");
      }
    }
    auto md = ctx->client_metadata().find("x-forwarded-client-cert");
    std::string xfcc = md == ctx->client_metadata().end() ? "" : std::string(md->second.data(), md->second.size());
    resp->set_text(StrCat("echo:", t, " xfcc=", xfcc));
    resp->set_n(req->n());
    return grpc::Status::OK;
  }
  grpc::Status Count(grpc::ServerContext*, const meshtest::Msg* req,
                     grpc::ServerWriter<meshtest::Msg>* writer) override {
    for (int i = 0; i < req->n(); ++i) {
      meshtest::Msg m;
      m.set_n(i);
      m.set_text(std::string(1000, 'c'));
      writer->Write(m);
    }
    return grpc::Status::OK;
  }
  grpc::Status Chat(grpc::ServerContext*, grpc::ServerReaderWriter<meshtest::Msg, meshtest::Msg>* stream) override {
    meshtest::Msg m;
    while (stream->Read(&m)) {
      m.set_text("re:" + m.text());
      stream->Write(m);
    }
    return grpc::Status(grpc::StatusCode::OK, "");
  }
  int calls() const { return calls_.load(); }

 private:
  std::atomic<int> calls_{0};
  std::mutex mu_;
  std::map<std::string, int> seen_;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class GrpcMeshTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string d = dir_.path();
    auto r = mesh::testing::RunCommand(StrCat("set -e; cd ", d, R"(
key() { openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout $1.key -out $1.csr -subj /CN=$1 2>/dev/null; }
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.pem -subj /CN=mesh-ca -days 2 \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
sign() { printf 'subjectAltName=%s\n' "$2" > $1.ext; openssl x509 -req -in $1.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out $1.pem -days 2 -extfile $1.ext 2>/dev/null; }
key gateway; sign gateway 'URI:spiffe://cluster.local/ns/istio-system/sa/gateway'
key echo; sign echo 'URI:spiffe://cluster.local/ns/default/sa/echo'
)"));
    ASSERT_EQ(r.exit_code, 0) << r.err;

    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &app_port_);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_TRUE(server_ != nullptr);
    ASSERT_GT(app_port_, 0);

    sidecar_ = std::make_unique<TestProxy>(Sidecar());
    ASSERT_TRUE(sidecar_->ok()) << sidecar_->status();
    gateway_ = std::make_unique<TestProxy>(Gateway(sidecar_->port("inbound")));
    ASSERT_TRUE(gateway_->ok()) << gateway_->status();
    channel_ = grpc::CreateChannel(StrCat("127.0.0.1:", gateway_->port("gateway")), grpc::InsecureChannelCredentials());
    stub_ = meshtest::Echo::NewStub(channel_);
  }
  void TearDown() override {
    stub_.reset();
    channel_.reset();
    gateway_.reset();
    sidecar_.reset();
    if (server_) {
      server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
    }
  }

  std::string F(const std::string& name) const { return dir_.path() + "/" + name; }

  static std::string Hcm(const std::string& prefix, const std::string& log, const std::string& route) {
    return StrCat(R"(
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: )",
                  prefix, R"(
          access_log:
          - name: envoy.access_loggers.file
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
              path: )",
                  log, R"(
              log_format: {text_format_source: {inline_string: "%PROTOCOL% %REQ(:PATH)% %RESPONSE_CODE% %RESPONSE_FLAGS% grpc=%GRPC_STATUS% %UPSTREAM_HOST%\n"}}
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: {prefix: /}
                route: )",
                  route);
  }

  std::string Sidecar() const {
    return StrCat(R"(
node: {id: echo, metadata: {WORKLOAD_NAME: echo, NAMESPACE: default}}
static_resources:
  listeners:
  - name: inbound
    traffic_direction: INBOUND
    address: {socket_address: {address: 127.0.0.1, port_value: 0}}
    filter_chains:
    - transport_socket:
        name: envoy.transport_sockets.tls
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
          require_client_certificate: true
          common_tls_context:
            alpn_protocols: [h2, http/1.1]
            tls_certificates: [{certificate_chain: {filename: )",
                  F("echo.pem"), "}, private_key: {filename: ", F("echo.key"), R"(}}]
            validation_context:
              trusted_ca: {filename: )",
                  F("ca.pem"), R"(}
              match_typed_subject_alt_names: [{san_type: URI, matcher: {prefix: "spiffe://cluster.local/"}}]
      filters:)",
                  Hcm("inbound", F("sidecar.log"), "{cluster: \"inbound|9000||\", timeout: 0s}"), R"(
  clusters:
  - name: "inbound|9000||"
    connect_timeout: 1s
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config: {http2_protocol_options: {}}
    load_assignment:
      cluster_name: app
      endpoints:
      - lb_endpoints:
        - endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: )",
                  app_port_, "}}}\n");
  }

  std::string Gateway(int sidecar_port) const {
    return StrCat(R"(
node: {id: gw, metadata: {WORKLOAD_NAME: gateway, NAMESPACE: istio-system}}
static_resources:
  listeners:
  - name: gateway
    address: {socket_address: {address: 127.0.0.1, port_value: 0}}
    filter_chains:
    - filters:)",
                  Hcm("gateway", F("gateway.log"),
                      "{cluster: \"outbound|9000||echo.default.svc.cluster.local\", timeout: 20s, "
                      "retry_policy: {retry_on: \"unavailable,cancelled\", num_retries: 2}}"),
                  R"(
  clusters:
  - name: "outbound|9000||echo.default.svc.cluster.local"
    connect_timeout: 1s
    http2_protocol_options: {max_concurrent_streams: 100}
    transport_socket:
      name: envoy.transport_sockets.tls
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
        sni: outbound_.9000_._.echo.default.svc.cluster.local
        common_tls_context:
          tls_certificates: [{certificate_chain: {filename: )",
                  F("gateway.pem"), "}, private_key: {filename: ", F("gateway.key"), R"(}}]
          validation_context:
            trusted_ca: {filename: )",
                  F("ca.pem"), R"(}
            match_typed_subject_alt_names: [{san_type: URI, matcher: {exact: "spiffe://cluster.local/ns/default/sa/echo"}}]
    load_assignment:
      cluster_name: echo
      endpoints:
      - lb_endpoints:
        - endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: )",
                  sidecar_port, "}}}\n");
  }

  std::string GatewayMetrics() {
    return Curl(StrCat("http://127.0.0.1:", gateway_->stats_port(), "/stats/prometheus"));
  }

  mesh::testing::TempDir dir_;
  EchoService service_;
  int app_port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<TestProxy> sidecar_, gateway_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<meshtest::Echo::Stub> stub_;
};

TEST_F(GrpcMeshTest, UnaryServerStreamingAndMetrics) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  meshtest::Msg req, resp;
  req.set_text("hello");
  req.set_n(7);
  grpc::Status st = stub_->Say(&ctx, req, &resp);
  ASSERT_TRUE(st.ok()) << st.error_code() << " " << st.error_message();
  // The sidecar verified the gateway's certificate and passed its SPIFFE ID on.
  EXPECT_EQ(resp.text(), "echo:hello xfcc=URI=spiffe://cluster.local/ns/istio-system/sa/gateway");
  EXPECT_EQ(resp.n(), 7);

  grpc::ClientContext sctx;
  req.set_n(500);  // 500 KB in 500 messages, streamed through both proxies
  auto reader = stub_->Count(&sctx, req);
  meshtest::Msg m;
  int got = 0;
  while (reader->Read(&m)) {
    EXPECT_EQ(m.n(), got);
    ++got;
  }
  EXPECT_TRUE(reader->Finish().ok());
  EXPECT_EQ(got, 500);

  std::string metrics = GatewayMetrics();
  EXPECT_TRUE(std::regex_search(metrics, std::regex("istio_requests_total\\{[^}]*request_protocol=\"grpc\","
                                                    "grpc_response_status=\"0\"[^}]*response_code=\"200\"[^}]*\\} 2")))
      << metrics;
  std::string sidecar_log = ReadFile(F("sidecar.log"));
  EXPECT_NE(sidecar_log.find("HTTP/2 /meshtest.Echo/Say 200 - grpc=0"), std::string::npos) << sidecar_log;
  EXPECT_NE(sidecar_log.find("HTTP/2 /meshtest.Echo/Count 200 - grpc=0"), std::string::npos) << sidecar_log;
}

TEST_F(GrpcMeshTest, BidirectionalStreamIsNotBuffered) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  auto stream = stub_->Chat(&ctx);
  // Each reply must arrive before the next message is sent: a proxy that buffered the
  // request or the response would block here.
  for (int i = 0; i < 20; ++i) {
    meshtest::Msg m;
    m.set_text(StrCat("m", i));
    m.set_n(i);
    ASSERT_TRUE(stream->Write(m));
    meshtest::Msg reply;
    ASSERT_TRUE(stream->Read(&reply)) << i;
    EXPECT_EQ(reply.text(), StrCat("re:m", i));
  }
  stream->WritesDone();
  meshtest::Msg extra;
  EXPECT_FALSE(stream->Read(&extra));
  grpc::Status st = stream->Finish();
  EXPECT_TRUE(st.ok()) << st.error_message();
  std::string gateway_log = ReadFile(F("gateway.log"));
  EXPECT_NE(gateway_log.find("HTTP/2 /meshtest.Echo/Chat 200 - grpc=0"), std::string::npos) << gateway_log;
}

TEST_F(GrpcMeshTest, UnavailableIsRetriedByTheGateway) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  meshtest::Msg req, resp;
  req.set_text("fail-once:a");
  int before = service_.calls();
  grpc::Status st = stub_->Say(&ctx, req, &resp);
  ASSERT_TRUE(st.ok()) << st.error_code() << " " << st.error_message();
  EXPECT_EQ(service_.calls() - before, 2);  // first attempt UNAVAILABLE, retry OK

  // Always UNAVAILABLE: 1 + 2 retries, then the client sees UNAVAILABLE.
  grpc::ClientContext ctx2;
  ctx2.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  req.set_text("unavailable");
  before = service_.calls();
  st = stub_->Say(&ctx2, req, &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(st.error_message(), "always unavailable");
  EXPECT_EQ(service_.calls() - before, 3);
  std::string metrics = GatewayMetrics();
  EXPECT_TRUE(std::regex_search(metrics, std::regex("istio_requests_total\\{[^}]*grpc_response_status=\"14\"[^}]*"
                                                    "response_code=\"200\"[^}]*\\} 1")))
      << metrics;
  std::string gateway_log = ReadFile(F("gateway.log"));
  EXPECT_NE(gateway_log.find("HTTP/2 /meshtest.Echo/Say 200 URX grpc=14"), std::string::npos) << gateway_log;
}

}  // namespace
}  // namespace mesh::proxy::testing
