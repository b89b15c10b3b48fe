// The proxy agent against a scripted discovery server and CA: it fetches its certificate,
// applies a consistent configuration to a real proxy, NACKs a resource the proxy cannot
// decode while the proxy keeps serving the previous configuration, and rotates its
// certificate on demand.

#include "mesh/agent/agent.h"

#include <atomic>
#include <mutex>
#include <thread>

#include "gtest/gtest.h"
#include "mesh/ca/ca.h"
#include "mesh/common/strings.h"
#include "mesh/config/emit.h"
#include "mesh/config/yaml_loader.h"
#include "mesh/xds/server.h"
#include "tests/common/test_util.h"

namespace mesh::agent {
namespace {

using mesh::testing::Eventually;

using config::Node;
using namespace std::chrono_literals;

// A listener on `port` answering every request with `body`; `bad` adds a field the
// proxy's decoder refuses.
Node Listener(int port, const std::string& body, bool bad) {
  std::string yaml = common::StrCat(
      "'@type': ", xds::type_url::kListener, "\nname: test\naddress:\n  socket_address: {address: 127.0.0.1, port_value: ",
      port,
      "}\nfilter_chains:\n- filters:\n  - name: envoy.filters.network.http_connection_manager\n    typed_config:\n"
      "      '@type': type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3."
      "HttpConnectionManager\n      stat_prefix: test\n",
      bad ? "      no_such_field: 1\n" : "",
      "      route_config:\n        name: r\n        virtual_hosts:\n        - name: all\n          domains: ['*']\n"
      "          routes:\n          - match: {prefix: /}\n            direct_response: {status: 200, body: {inline_string: ",
      body,
      "}}\n      http_filters:\n      - name: envoy.filters.http.router\n        typed_config:\n"
      "          '@type': type.googleapis.com/envoy.extensions.filters.http.router.v3.Router\n");
  return config::ParseYamlNode(yaml, "listener").value();
}

class ScriptedSource : public xds::ResourceSource {
 public:
  explicit ScriptedSource(int port) : port_(port) {}
  xds::ResourceList Generate(const xds::ProxyNode&, const std::string& type_url) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (type_url == xds::type_url::kListener) {
      return xds::MakeResourceList({Listener(port_, body_, bad_)});
    }
    return xds::MakeResourceList({});
  }
  void OnNack(const xds::ProxyNode&, const std::string&, const std::string& error) override {
    std::lock_guard<std::mutex> lock(mu_);
    nacks_.push_back(error);
  }
  void Set(std::string body, bool bad) {
    std::lock_guard<std::mutex> lock(mu_);
    body_ = std::move(body);
    bad_ = bad;
  }
  std::vector<std::string> nacks() {
    std::lock_guard<std::mutex> lock(mu_);
    return nacks_;
  }

 private:
  std::mutex mu_;
  int port_;
  std::string body_ = "v1";
  bool bad_ = false;
  std::vector<std::string> nacks_;
};

TEST(ProxyAgent, AppliesConfigNacksBadResourcesAndRotates) {
  testing::TempDir dir;
  auto ca = ca::OpenLocalCa({dir.path() + "/ca"});
  ASSERT_TRUE(ca.ok());
  int signed_count = 0;
  std::mutex ca_mu;
  int port = testing::FreeLoopbackPort();
  auto source = std::make_shared<ScriptedSource>(port);
  xds::XdsServerOptions so;
  so.port = 0;
  so.extra_http = [&](xds::HttpExchange& ex) {
    if (ex.target != "/v1/certificate" || ex.authorization != "Bearer good-token") {
      ex.status = 401;
      return;
    }
    auto body = config::ParseYamlNode(ex.body, "req").value();
    std::lock_guard<std::mutex> lock(ca_mu);
    auto cert = (*ca)->Sign(body["csr"].Str(), {"cluster.local", "test", "app"}, std::chrono::hours(1));
    ASSERT_TRUE(cert.ok());
    ++signed_count;
    ex.status = 200;
    ex.response = common::StrCat("{\"certChain\": ", config::JsonQuote(cert->chain_pem),
                                 ", \"rootCert\": ", config::JsonQuote(cert->root_cert_pem), "}");
  };
  auto server = xds::StartXdsServer(so, source);
  ASSERT_TRUE(server.ok());

  proxy::ProxyOptions po;
  po.admin_port = 0;
  po.health_port = 0;
  po.stats_port = 0;
  auto created = proxy::CreateProxy(po);
  ASSERT_TRUE(created.ok());
  std::shared_ptr<proxy::Proxy> proxy(std::move(*created));
  ASSERT_TRUE(proxy->Start().ok());

  AgentOptions ao;
  ao.control_plane_port = (*server)->port();
  ao.node.id = "sidecar~test";
  ao.identity = {"cluster.local", "test", "app"};
  ao.token = "wrong-token";
  auto refused = StartProxyAgent(ao, proxy, {}, 2s);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnauthenticated);

  ao.token = "good-token";
  auto agent = StartProxyAgent(ao, proxy, {}, 5s);
  ASSERT_TRUE(agent.ok()) << agent.status();
  std::string url = "http://127.0.0.1:" + std::to_string(port) + "/";
  ASSERT_TRUE(Eventually([&] { return testing::RunCommand("curl -s " + url).out == "v1"; }));
  EXPECT_TRUE((*agent)->Status().has_certificate);

  // A resource the proxy cannot decode: NACKed with the decoder's error, old config kept.
  source->Set("v2", /*bad=*/true);
  (*server)->PushAll();
  ASSERT_TRUE(Eventually([&] { return !source->nacks().empty(); }));
  EXPECT_NE(source->nacks()[0].find("no_such_field"), std::string::npos) << source->nacks()[0];
  EXPECT_EQ(testing::RunCommand("curl -s " + url).out, "v1");
  EXPECT_EQ((*agent)->Status().rejected, 1u);
  auto snap = (*server)->Snapshot();
  ASSERT_EQ(snap.size(), 1u);
  EXPECT_EQ(snap[0].types[xds::type_url::kListener].status, xds::SyncStatus::kNacked);

  // A good one again is applied.
  source->Set("v3", /*bad=*/false);
  (*server)->PushAll();
  ASSERT_TRUE(Eventually([&] { return testing::RunCommand("curl -s " + url).out == "v3"; }));

  // Rotation: a new key and certificate, traffic unaffected.
  ASSERT_TRUE((*agent)->RotateNow().ok());
  EXPECT_EQ((*agent)->Status().rotations, 1u);
  {
    std::lock_guard<std::mutex> lock(ca_mu);
    EXPECT_EQ(signed_count, 2);
  }
  EXPECT_EQ(testing::RunCommand("curl -s " + url).out, "v3");

  (*agent)->Stop();
  proxy->Stop();
  (*server)->Stop();
}

// Kubernetes mode: the projected service-account token in --token-file rotates; the agent
// reads the file again before each certificate request.
TEST(ProxyAgent, ReReadsTheTokenFileBeforeEachCertificateRequest) {
  testing::TempDir dir;
  auto ca = ca::OpenLocalCa({dir.path() + "/ca"});
  ASSERT_TRUE(ca.ok());
  std::mutex mu;
  std::vector<std::string> seen;
  auto source = std::make_shared<ScriptedSource>(testing::FreeLoopbackPort());
  xds::XdsServerOptions so;
  so.port = 0;
  so.extra_http = [&](xds::HttpExchange& ex) {
    std::lock_guard<std::mutex> lock(mu);
    seen.push_back(ex.authorization);
    if (ex.target != "/v1/certificate" || (ex.authorization != "Bearer first" && ex.authorization != "Bearer second")) {
      ex.status = 401;
      return;
    }
    auto body = config::ParseYamlNode(ex.body, "req").value();
    auto cert = (*ca)->Sign(body["csr"].Str(), {"cluster.local", "test", "app"}, std::chrono::hours(1));
    ex.status = 200;
    ex.response = common::StrCat("{\"certChain\": ", config::JsonQuote(cert->chain_pem),
                                 ", \"rootCert\": ", config::JsonQuote(cert->root_cert_pem), "}");
  };
  auto server = xds::StartXdsServer(so, source);
  ASSERT_TRUE(server.ok());
  proxy::ProxyOptions po;
  po.admin_port = 0;
  po.health_port = 0;
  po.stats_port = 0;
  auto created = proxy::CreateProxy(po);
  ASSERT_TRUE(created.ok());
  std::shared_ptr<proxy::Proxy> proxy(std::move(*created));
  ASSERT_TRUE(proxy->Start().ok());

  std::string token_file = dir.Write("istio-token", "first\n");
  AgentOptions ao;
  ao.control_plane_port = (*server)->port();
  ao.node.id = "sidecar~test";
  ao.identity = {"cluster.local", "test", "app"};
  ao.token = "first";
  ao.token_file = token_file;
  auto agent = StartProxyAgent(ao, proxy, {}, 5s);
  ASSERT_TRUE(agent.ok()) << agent.status();
  dir.Write("istio-token", "second\n");  // the kubelet replaced the token
  ASSERT_TRUE((*agent)->RotateNow().ok());
  {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_NE(std::find(seen.begin(), seen.end(), "Bearer second"), seen.end());
  }
  dir.Write("istio-token", "revoked\n");
  EXPECT_EQ((*agent)->RotateNow().code(), absl::StatusCode::kUnauthenticated);
  (*agent)->Stop();
  proxy->Stop();
  (*server)->Stop();
}


// Fault drill: the wall clock jumps (suspend/resume, NTP step) past the rotation point,
// then past the certificate's expiry. The agent notices within its clock check interval
// and rotates each time, so the proxy's certificate is valid at the (new) current time.
class JumpingClock : public common::TimeSource {
 public:
  std::chrono::system_clock::time_point SystemNow() const override {
    return std::chrono::system_clock::now() + offset_.load();
  }
  std::chrono::steady_clock::time_point MonotonicNow() const override { return std::chrono::steady_clock::now(); }
  void Jump(std::chrono::seconds by) { offset_ = offset_.load() + by; }

 private:
  std::atomic<std::chrono::seconds> offset_{std::chrono::seconds(0)};
};

TEST(ProxyAgent, ClockJumpsPastRenewalAndExpiryTriggerRotation) {
  testing::TempDir dir;
  auto ca = ca::OpenLocalCa({dir.path() + "/ca"});
  ASSERT_TRUE(ca.ok());
  auto clock = std::make_shared<JumpingClock>();
  std::mutex ca_mu;
  xds::XdsServerOptions so;
  so.port = 0;
  so.extra_http = [&](xds::HttpExchange& ex) {
    auto body = config::ParseYamlNode(ex.body, "req").value();
    std::lock_guard<std::mutex> lock(ca_mu);
    // The CA shares the jumped clock: one hour from the agent's "now".
    auto ttl = std::chrono::duration_cast<std::chrono::seconds>(clock->SystemNow() - std::chrono::system_clock::now()) +
               std::chrono::hours(1);
    auto cert = (*ca)->Sign(body["csr"].Str(), {"cluster.local", "test", "app"}, ttl);
    ASSERT_TRUE(cert.ok());
    ex.status = 200;
    ex.response = common::StrCat("{\"certChain\": ", config::JsonQuote(cert->chain_pem),
                                 ", \"rootCert\": ", config::JsonQuote(cert->root_cert_pem), "}");
  };
  auto source = std::make_shared<ScriptedSource>(testing::FreeLoopbackPort());
  auto server = xds::StartXdsServer(so, source);
  ASSERT_TRUE(server.ok());
  proxy::ProxyOptions po;
  po.admin_port = po.health_port = po.stats_port = 0;
  auto created = proxy::CreateProxy(po);
  ASSERT_TRUE(created.ok());
  std::shared_ptr<proxy::Proxy> proxy(std::move(*created));
  ASSERT_TRUE(proxy->Start().ok());

  AgentOptions ao;
  ao.control_plane_port = (*server)->port();
  ao.node.id = "sidecar~test";
  ao.identity = {"cluster.local", "test", "app"};
  ao.token = "t";
  ao.time_source = clock;
  ao.clock_check_interval = 50ms;
  auto agent = StartProxyAgent(ao, proxy, {}, 5s);
  ASSERT_TRUE(agent.ok()) << agent.status();
  auto valid_now = [&] {
    // not_after (RFC 3339, UTC) is later than the jumped clock's now.
    std::string not_after = (*agent)->Status().certificate_serial_hint;
    time_t now = std::chrono::system_clock::to_time_t(clock->SystemNow());
    struct tm tm {};
    gmtime_r(&now, &tm);
    char buf[32];
    std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return not_after > std::string(buf);
  };
  ASSERT_TRUE(valid_now());
  std::string first = (*agent)->Status().certificate_serial_hint;

  // Before the rotation point (80 % of 1 h = 48 min): nothing happens.
  clock->Jump(std::chrono::minutes(30));
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ((*agent)->Status().rotations, 0u);
  // Past the rotation point: rotated.
  clock->Jump(std::chrono::minutes(20));
  ASSERT_TRUE(Eventually([&] { return (*agent)->Status().rotations == 1; }));
  EXPECT_NE((*agent)->Status().certificate_serial_hint, first);
  EXPECT_TRUE(valid_now());
  // Past the current certificate's expiry (3 h ahead): rotated again, valid again.
  clock->Jump(std::chrono::hours(3));
  ASSERT_TRUE(Eventually([&] { return (*agent)->Status().rotations == 2; }));
  EXPECT_TRUE(valid_now()) << (*agent)->Status().certificate_serial_hint;
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ((*agent)->Status().rotations, 2u) << "rotates in a loop";

  (*agent)->Stop();
  proxy->Stop();
  (*server)->Stop();
}

}  // namespace
}  // namespace mesh::agent
