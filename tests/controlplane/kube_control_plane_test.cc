// The control plane in Kubernetes mode end to end against the in-process API server:
// config and endpoints from list+watch reach a connected proxy's routes and endpoints,
// and identity comes from TokenReview (the CA signs only for the reviewed service account).

#include <condition_variable>
#include <mutex>

#include "gtest/gtest.h"
#include "mesh/common/file_util.h"
#include "mesh/config/emit.h"
#include "mesh/config/yaml_loader.h"
#include "mesh/controlplane/control_plane.h"
#include "mesh/kubestore/kube_store.h"
#include "mesh/kubestore/token_review.h"
#include "mesh/kubestore/workloads.h"
#include "mesh/pilot/generator.h"
#include "tests/common/test_util.h"
#include "tests/controlplane/fake_kube.h"

namespace mesh::kubestore {
namespace {

using namespace std::chrono_literals;
using config::Node;

xds::ResourceList Generate(const controlplane::ProxyIdentity& id, const pilot::PushContext& push,
                           const std::string& type_url) {
  pilot::ProxyRole role;
  role.type = id.type == "router" ? pilot::ProxyRole::Type::kRouter : pilot::ProxyRole::Type::kSidecar;
  role.workload = id.workload;
  role.app_port = id.app_port;
  role.outbound_port = id.outbound_port;
  role.gateway_ports = id.gateway_ports;
  return xds::MakeResourceList(pilot::GenerateType(role, push, type_url));
}

// Keeps the latest response of each type (state of the world: the full set) as JSON text.
class Recorder : public xds::XdsClientCallbacks {
 public:
  absl::Status OnResources(const std::string& type_url, const std::string&, const std::vector<Node>& resources) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::string text;
    for (const Node& r : resources) {
      text += config::EmitJson(r, {.indent = 0});
    }
    latest_[type_url] = text;
    cv_.notify_all();
    return absl::OkStatus();
  }
  bool WaitFor(const std::string& type_url, const std::function<bool(const std::string&)>& pred) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, 10s, [&] { return pred(latest_[type_url]); });
  }
  std::string Latest(const std::string& type_url) {
    std::lock_guard<std::mutex> lock(mu_);
    return latest_[type_url];
  }
  size_t Types() {
    std::lock_guard<std::mutex> lock(mu_);
    return latest_.size();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::string> latest_;
};

bool Has(const std::string& text, const std::string& what) { return text.find(what) != std::string::npos; }

std::string Slice(const std::string& address) {
  return R"({apiVersion: discovery.k8s.io/v1, kind: EndpointSlice, addressType: IPv4,
    metadata: {name: helloworldsvc-a, namespace: devops, labels: {kubernetes.io/service-name: helloworldsvc}},
    ports: [{name: http, port: 5000}],
    endpoints: [{addresses: [")" + address + R"("], conditions: {ready: true}, targetRef: {kind: Pod, name: hw-1, namespace: devops}}]})";
}

class KubeControlPlaneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    kube_.Apply("{apiVersion: v1, kind: Namespace, metadata: {name: devops}}");
    kube_.Apply("{apiVersion: v1, kind: Service, metadata: {name: helloworldsvc, namespace: devops}, spec: {selector: {app: helloworld}, ports: [{name: http, port: 80, targetPort: 5000}]}}");
    kube_.Apply(R"({apiVersion: v1, kind: Pod, metadata: {name: hw-1, namespace: devops, labels: {app: helloworld, version: v1},
        annotations: {sidecar.istio.io/status: '{}'}}, spec: {serviceAccountName: helloworld, containers: [{name: app}]}})");
    kube_.Apply(Slice("10.1.0.5"));
    kube_.Apply("{apiVersion: v1, kind: Secret, type: kubernetes.io/tls, metadata: {name: tls-secret, namespace: istio-system}, data: {tls.crt: QQ==, tls.key: QQ==}}");
    kube_.AddToken("tok-hw", "system:serviceaccount:devops:helloworld", {"istio-ca"});
    kube_.AddToken("tok-other-audience", "system:serviceaccount:devops:helloworld", {"https://kubernetes.default.svc"});

    kube::RestConfig rc;
    rc.server = kube_.server();
    auto client = kube::NewKubeClient(rc);
    ASSERT_TRUE(client.ok()) << client.status();
    std::shared_ptr<kube::KubeClient> shared(std::move(*client));
    KubeStoreOptions so;
    so.client = shared;
    so.backoff_initial = 20ms;
    auto store = KubeStore::Start(so);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    ASSERT_TRUE(store_->WaitForSync(10s).ok());

    authenticator_ = std::make_shared<TokenReviewAuthenticator>(TokenReviewOptions{.client = shared});
    controlplane::ControlPlaneOptions o;
    o.store = store_;
    o.authenticator = authenticator_;
    o.workload_discovery = [](const std::vector<config::Resource>& rs, const pilot::MeshSettings& mesh) {
      return WorkloadsFromEndpointSlices(rs, mesh);
    };
    o.ca_dir = dir_.path() + "/ca";
    o.port = 0;
    o.debounce_quiet = 20ms;
    o.debounce_max = 200ms;
    o.store_poll = 20ms;
    o.generator = Generate;
    auto cp = controlplane::StartControlPlane(o);
    ASSERT_TRUE(cp.ok()) << cp.status();
    cp_ = std::move(*cp);
  }
  void TearDown() override {
    if (cp_) {
      cp_->Stop();
    }
    if (store_) {
      store_->Stop();
    }
    kube_.Stop();
  }

  xds::XdsClientOptions Client(const std::string& token, const std::string& sa = "helloworld",
                               const std::string& pod = "hw-1") {
    xds::XdsClientOptions o;
    o.port = cp_->port();
    o.node.id = "sidecar~10.1.0.5~" + pod + ".devops~devops.svc.cluster.local";
    o.node.metadata = config::ParseYamlNode("{NAMESPACE: devops, SERVICE_ACCOUNT: " + sa +
                                                ", WORKLOAD_NAME: hw-1, LABELS: {app: helloworld, version: v1}, "
                                                "INBOUND_PORT: 15006, OUTBOUND_PORT: 15001, APP_PORT: 5000}",
                                            "m")
                          .value();
    o.node.authorization = "Bearer " + token;
    o.reconnect_base = 20ms;
    return o;
  }

  // POST /v1/certificate with curl; returns the HTTP code and body.
  std::pair<std::string, std::string> RequestCertificate(const std::string& token, const std::string& sa) {
    auto kc = ca::GenerateKeyAndCsr({"cluster.local", "devops", sa});
    std::string body = dir_.Write("req-" + sa + ".json", controlplane::EncodeCertificateRequest({kc->csr_pem}));
    std::string out = dir_.path() + "/reply-" + sa + ".json";
    auto r = mesh::testing::RunCommand("curl -s -o " + out + " -w '%{http_code}' -X POST -H 'Authorization: Bearer " +
                                       token + "' --data-binary @" + body + " http://127.0.0.1:" +
                                       std::to_string(cp_->port()) + "/v1/certificate");
    auto text = common::ReadFile(out);
    return {r.out, text.ok() ? *text : ""};
  }

  mesh::testing::TempDir dir_;
  mesh::testing::FakeKube kube_;
  std::shared_ptr<KubeStore> store_;
  std::shared_ptr<TokenReviewAuthenticator> authenticator_;
  std::unique_ptr<controlplane::ControlPlane> cp_;
};

TEST_F(KubeControlPlaneTest, WatchedChangesReachAConnectedProxy) {
  auto rec = std::make_shared<Recorder>();
  auto client = xds::StartXdsClient(Client("tok-hw"), rec);
  const std::string default_cluster = "outbound|80||helloworldsvc.devops.svc.cluster.local";
  // Endpoints from the EndpointSlice, at the pod's port, with the pod's SPIFFE identity.
  ASSERT_TRUE(rec->WaitFor(xds::type_url::kEndpoint, [](const std::string& t) { return Has(t, "10.1.0.5"); }));
  EXPECT_TRUE(Has(rec->Latest(xds::type_url::kEndpoint), "5000"));
  ASSERT_TRUE(rec->WaitFor(xds::type_url::kCluster,
                           [](const std::string& t) { return Has(t, "spiffe://cluster.local/ns/devops/sa/helloworld"); }))
      << rec->Latest(xds::type_url::kCluster);
  ASSERT_TRUE(rec->WaitFor(xds::type_url::kRoute, [&](const std::string& t) { return Has(t, default_cluster); }));
  EXPECT_FALSE(Has(rec->Latest(xds::type_url::kRoute), "outbound|80|v1|"));

  // A VirtualService applied to the cluster changes the proxy's routes.
  kube_.Apply(R"({apiVersion: networking.istio.io/v1, kind: DestinationRule, metadata: {name: hw, namespace: devops},
      spec: {host: helloworldsvc, subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]}})");
  kube_.Apply(R"({apiVersion: networking.istio.io/v1, kind: VirtualService, metadata: {name: hw, namespace: devops},
      spec: {hosts: [helloworldsvc], http: [{route: [{destination: {host: helloworldsvc, subset: v1}}]}]}})");
  const std::string v1_cluster = "outbound|80|v1|helloworldsvc.devops.svc.cluster.local";
  ASSERT_TRUE(rec->WaitFor(xds::type_url::kRoute, [&](const std::string& t) { return Has(t, v1_cluster); }))
      << rec->Latest(xds::type_url::kRoute);
  // The snapshot's configuration is on /debug/configz (without Secrets).
  auto configz = mesh::testing::RunCommand("curl -s http://127.0.0.1:" + std::to_string(cp_->port()) + "/debug/configz");
  EXPECT_TRUE(Has(configz.out, "\"VirtualService\"") && Has(configz.out, "\"EndpointSlice\"")) << configz.out;
  EXPECT_FALSE(Has(configz.out, "\"Secret\""));
  ASSERT_TRUE(rec->WaitFor(xds::type_url::kEndpoint,
                           [&](const std::string& t) { return Has(t, v1_cluster) && Has(t, "10.1.0.5"); }))
      << rec->Latest(xds::type_url::kEndpoint);

  // An EndpointSlice change moves the endpoints.
  kube_.Apply(Slice("10.1.0.6"));
  ASSERT_TRUE(rec->WaitFor(xds::type_url::kEndpoint,
                           [](const std::string& t) { return Has(t, "10.1.0.6") && !Has(t, "10.1.0.5"); }))
      << rec->Latest(xds::type_url::kEndpoint);

  // After a 410 Gone the relist still delivers the change made while disconnected.
  kube_.SetWatchUnavailable(true);
  kube_.EndWatches();
  kube_.Apply(Slice("10.1.0.7"));
  kube_.Compact();
  kube_.SetWatchUnavailable(false);
  ASSERT_TRUE(rec->WaitFor(xds::type_url::kEndpoint,
                           [](const std::string& t) { return Has(t, "10.1.0.7") && !Has(t, "10.1.0.6"); }))
      << rec->Latest(xds::type_url::kEndpoint);
  client->Stop();
}

TEST_F(KubeControlPlaneTest, ProxiesNeedAReviewedTokenForTheirServiceAccount) {
  // A valid token for another service account: refused (nothing is sent).
  auto rec = std::make_shared<Recorder>();
  auto other = xds::StartXdsClient(Client("tok-hw", "istiod", "pretender"), rec);
  auto wrong_audience = std::make_shared<Recorder>();
  auto aud = xds::StartXdsClient(Client("tok-other-audience", "helloworld", "hw-2"), wrong_audience);
  // The right one gets configuration (which also shows the others had time to be served).
  auto good = std::make_shared<Recorder>();
  auto client = xds::StartXdsClient(Client("tok-hw"), good);
  ASSERT_TRUE(good->WaitFor(xds::type_url::kEndpoint, [](const std::string& t) { return Has(t, "10.1.0.5"); }));
  std::this_thread::sleep_for(200ms);
  EXPECT_FALSE(Has(rec->Latest(xds::type_url::kEndpoint), "10.1.0.5"));
  EXPECT_FALSE(Has(wrong_audience->Latest(xds::type_url::kEndpoint), "10.1.0.5"));
  // Reusing the authenticated proxy's node id with a bad token gets nothing either.
  auto hijack = std::make_shared<Recorder>();
  auto hijacker = xds::StartXdsClient(Client("not-a-token"), hijack);
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(hijack->Latest(xds::type_url::kCluster), "");
  EXPECT_FALSE(Has(hijack->Latest(xds::type_url::kEndpoint), "10.1.0.5"));
  hijacker->Stop();
  other->Stop();
  aud->Stop();
  client->Stop();
}

TEST_F(KubeControlPlaneTest, CaSignsOnlyForTheReviewedServiceAccount) {
  auto [code, body] = RequestCertificate("tok-hw", "helloworld");
  ASSERT_EQ(code, "200") << body;
  auto reply = config::ParseYamlNode(body, "reply");
  ASSERT_TRUE(reply.ok()) << body;
  auto info = ca::InspectCertificate((*reply)["certChain"].Str());
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->uri_sans, (std::vector<std::string>{"spiffe://cluster.local/ns/devops/sa/helloworld"}));
  std::string root = dir_.Write("root.pem", (*reply)["rootCert"].Str());
  std::string leaf = dir_.Write("leaf.pem", (*reply)["certChain"].Str());
  EXPECT_EQ(mesh::testing::RunCommand("openssl verify -CAfile " + root + " " + leaf).exit_code, 0);

  // The token is helloworld's: a CSR for another service account is refused.
  EXPECT_EQ(RequestCertificate("tok-hw", "istiod").first, "403");
  // Unknown tokens and tokens for another audience are not authenticated.
  EXPECT_EQ(RequestCertificate("not-a-token", "helloworld").first, "401");
  EXPECT_EQ(RequestCertificate("tok-other-audience", "helloworld").first, "401");
  EXPECT_EQ(cp_->Stats().certificates, 1u);
  EXPECT_GE(kube_.CountRequests("/apis/authentication.k8s.io/v1/tokenreviews"), 3);
}

TEST(TokenReviewTest, OnlyServiceAccountUsers) {
  EXPECT_EQ(ParseServiceAccountUser("system:serviceaccount:devops:helloworld")->service_account, "helloworld");
  EXPECT_FALSE(ParseServiceAccountUser("kubernetes-admin").ok());
  EXPECT_FALSE(ParseServiceAccountUser("system:serviceaccount:devops").ok());
  EXPECT_FALSE(ParseServiceAccountUser("system:serviceaccount:devops:a:b").ok());
  EXPECT_FALSE(ParseServiceAccountUser("system:serviceaccount::sa").ok());
}

}  // namespace
}  // namespace mesh::kubestore

