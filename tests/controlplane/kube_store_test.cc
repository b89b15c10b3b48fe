// The Kubernetes config source against an in-process API server: list then watch,
// bookmarks, 410 Gone relist without lost updates, reconnects, filtering and validation;
// the EndpointSlice/Pod registry; the RBAC the rendered ClusterRole must grant.

#include "mesh/kubestore/kube_store.h"

#include <functional>
#include <thread>

#include "gtest/gtest.h"
#include "mesh/common/file_util.h"
#include "mesh/common/strings.h"
#include "mesh/config/yaml_loader.h"
#include "mesh/inject/injector.h"
#include "mesh/inject/webhook_server.h"
#include "mesh/kubestore/workloads.h"
#include "tests/common/test_util.h"
#include "tests/controlplane/fake_kube.h"

namespace mesh::kubestore {
namespace {

using mesh::testing::Eventually;

using namespace std::chrono_literals;
using common::StrCat;

const char kVirtualService[] = R"(
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: hw, namespace: devops}
spec:
  hosts: [helloworldsvc]
  http:
  - route:
    - destination: {host: helloworldsvc, subset: V}
)";

class KubeStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* ns : {"devops", "istio-system", "kube-system"}) {
      kube_.Apply(StrCat("{apiVersion: v1, kind: Namespace, metadata: {name: ", ns, "}}"));
    }
    kube_.Apply("{apiVersion: v1, kind: Service, metadata: {name: helloworldsvc, namespace: devops}, spec: {ports: [{name: http, port: 80}]}}");
    kube_.Apply(kVirtualService);
  }
  void Start() {
    kube::RestConfig rc;
    rc.server = kube_.server();
    auto client = kube::NewKubeClient(rc);
    ASSERT_TRUE(client.ok()) << client.status();
    KubeStoreOptions o;
    o.client = std::shared_ptr<kube::KubeClient>(std::move(*client));
    o.page_size = 2;  // exercise continue tokens
    o.backoff_initial = 20ms;
    o.backoff_max = 100ms;
    o.log = [this](const std::string& line) {
      std::lock_guard<std::mutex> lock(log_mu_);
      log_.push_back(line);
    };
    auto store = KubeStore::Start(o);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    ASSERT_TRUE(store_->WaitForSync(10s).ok());
  }
  void TearDown() override {
    if (store_) {
      store_->Stop();
    }
    kube_.Stop();
  }
  std::optional<store::StoredObject> Find(const std::string& group, const std::string& kind, const std::string& ns,
                                          const std::string& name) {
    auto got = store_->Get({group, kind, ns, name});
    return got.ok() ? *got : std::nullopt;
  }
  std::string Subset() {
    auto vs = Find("networking.istio.io", "VirtualService", "devops", "hw");
    return vs ? vs->object.At({"spec", "http"}).items()[0]["route"].items()[0].At({"destination", "subset"}).Str()
              : "";
  }
  std::string Log() {
    std::lock_guard<std::mutex> lock(log_mu_);
    return common::Join(log_, "\n");
  }

  mesh::testing::FakeKube kube_;
  std::unique_ptr<KubeStore> store_;
  std::mutex log_mu_;
  std::vector<std::string> log_;
};

TEST_F(KubeStoreTest, ListsThenFollowsWatchEvents) {
  Start();
  auto svc = Find("", "Service", "devops", "helloworldsvc");
  ASSERT_TRUE(svc.has_value());
  // List items come without a type; the store fills it in for the shared config model.
  EXPECT_EQ(svc->object["apiVersion"].Str(), "v1");
  EXPECT_EQ(svc->object["kind"].Str(), "Service");
  EXPECT_EQ(Subset(), "V");
  EXPECT_TRUE(Find("", "Namespace", "", "devops").has_value());
  EXPECT_GE(kube_.CountRequests("continue="), 1);  // paged

  int64_t generation = store_->Generation().value();
  std::string vs = kVirtualService;
  kube_.Apply(vs.replace(vs.find("subset: V"), 9, "subset: W"));
  ASSERT_TRUE(Eventually([&] { return Subset() == "W"; })) << Log();
  EXPECT_GT(store_->Generation().value(), generation);

  kube_.Delete("v1", "Service", "devops", "helloworldsvc");
  ASSERT_TRUE(Eventually([&] { return !Find("", "Service", "devops", "helloworldsvc").has_value(); }));
  // Writes go to the API server, not to this store.
  EXPECT_EQ(store_->Apply(svc->object).status().code(), absl::StatusCode::kFailedPrecondition);
  // Kinds whose CRD is not installed (the fake serves no Sidecar) do not block the sync.
  auto stats = store_->Stats();
  EXPECT_TRUE(stats["networking.istio.io/Sidecar"].synced);
  EXPECT_EQ(stats["networking.istio.io/Sidecar"].api_version, "");
  EXPECT_EQ(stats["networking.istio.io/VirtualService"].api_version, "networking.istio.io/v1");
}

// The mesh config (`istio`) and the injector's settings (`istio-sidecar-injector`) of
// istio-system are watched; other ConfigMaps are not kept. Changes are followed.
TEST_F(KubeStoreTest, MeshAndInjectorConfigMapsAreWatched) {
  kube_.Apply(R"({apiVersion: v1, kind: ConfigMap, metadata: {name: istio, namespace: istio-system},
    data: {mesh: "trustDomain: example.org\noutboundTrafficPolicy: {mode: REGISTRY_ONLY}\nenableAutoMtls: true\n"}})");
  kube_.Apply(R"({apiVersion: v1, kind: ConfigMap, metadata: {name: istio-sidecar-injector, namespace: istio-system},
    data: {values: '{"global": {"hub": "registry.example/mesh", "tag": "0.1.0"}}'}})");
  kube_.Apply("{apiVersion: v1, kind: ConfigMap, metadata: {name: app-config, namespace: devops}, data: {a: b}}");
  kube_.Apply("{apiVersion: v1, kind: ConfigMap, metadata: {name: istio, namespace: devops}, data: {mesh: 'trustDomain: wrong'}}");
  kube_.Apply("{apiVersion: v1, kind: ConfigMap, metadata: {name: other, namespace: istio-system}, data: {a: b}}");
  Start();
  EXPECT_TRUE(Find("", "ConfigMap", "istio-system", "istio").has_value());
  EXPECT_TRUE(Find("", "ConfigMap", "istio-system", "istio-sidecar-injector").has_value());
  EXPECT_FALSE(Find("", "ConfigMap", "devops", "app-config").has_value());
  EXPECT_FALSE(Find("", "ConfigMap", "devops", "istio").has_value());
  EXPECT_FALSE(Find("", "ConfigMap", "istio-system", "other").has_value());

  auto mesh = [this](std::vector<std::string>* ignored) {
    std::vector<config::Resource> resources;
    auto objects = store_->List({});
    EXPECT_TRUE(objects.ok()) << objects.status();
    std::vector<store::StoredObject> listed = objects.ok() ? std::move(*objects) : std::vector<store::StoredObject>{};
    for (store::StoredObject& o : listed) {
      if (auto r = config::Resource::FromNode(std::move(o.object), {}); r.ok()) {
        resources.push_back(std::move(*r));
      }
    }
    return MeshSettingsFromResources(resources, pilot::MeshSettings{}, "istio-system", ignored);
  };
  std::vector<std::string> ignored;
  EXPECT_EQ(mesh(&ignored).trust_domain, "example.org");
  EXPECT_EQ(mesh(nullptr).root_namespace, "istio-system");
  EXPECT_EQ(ignored, (std::vector<std::string>{"outboundTrafficPolicy", "enableAutoMtls"}));
  auto settings = inject::SettingsFromStore(*store_, "istio-system");
  ASSERT_TRUE(settings.ok()) << settings.status();
  EXPECT_EQ(settings->image, "registry.example/mesh/meshctl:0.1.0");

  // Changes reach the store (and so the next rebuild and the next admission request).
  kube_.Apply(R"({apiVersion: v1, kind: ConfigMap, metadata: {name: istio, namespace: istio-system},
    data: {mesh: "trustDomain: new.example\nrootNamespace: mesh-root\n"}})");
  kube_.Apply(R"({apiVersion: v1, kind: ConfigMap, metadata: {name: istio-sidecar-injector, namespace: istio-system},
    data: {values: '{"global": {"hub": "registry.example/mesh", "tag": "0.2.0"}}', config: "policy: disabled\n"}})");
  EXPECT_TRUE(Eventually([&] { return mesh(nullptr).trust_domain == "new.example"; }));
  EXPECT_EQ(mesh(nullptr).root_namespace, "mesh-root");
  EXPECT_TRUE(Eventually([&] { return inject::SettingsFromStore(*store_, "istio-system")->image ==
                                      "registry.example/mesh/meshctl:0.2.0"; }));
  EXPECT_TRUE(settings->policy_enabled);
  auto disabled = inject::SettingsFromStore(*store_, "istio-system");
  ASSERT_TRUE(disabled.ok()) << disabled.status();
  EXPECT_FALSE(disabled->policy_enabled);
  // Policy disabled: a selected pod is injected only when it asks.
  auto pod = [](const std::string& labels) {
    return *config::ParseYamlNode("{metadata: {name: p, labels: {" + labels + "}}, spec: {containers: [{name: app, image: x, ports: [{containerPort: 8080}]}]}}", "pod");
  };
  config::Node plain = pod("app: a");
  auto outcome = inject::InjectPod(*plain.FindMutable("metadata"), *plain.FindMutable("spec"), {"devops", {}}, *disabled);
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_FALSE(outcome->injected);
  EXPECT_NE(outcome->reason.find("policy is disabled"), std::string::npos) << outcome->reason;
  config::Node asking = pod("app: a, sidecar.istio.io/inject: 'true'");
  outcome = inject::InjectPod(*asking.FindMutable("metadata"), *asking.FindMutable("spec"), {"devops", {}}, *disabled);
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_TRUE(outcome->injected) << outcome->reason;
  kube_.Delete("v1", "ConfigMap", "istio-system", "istio");
  EXPECT_TRUE(Eventually([&] { return mesh(nullptr).trust_domain == "cluster.local"; }));
}

TEST_F(KubeStoreTest, BookmarksAdvanceTheResourceVersion) {
  Start();
  kube_.Apply("{apiVersion: v1, kind: Namespace, metadata: {name: other}}");  // not a VirtualService
  kube_.Bookmark();
  const std::string rv = kube_.resource_version();
  ASSERT_TRUE(Eventually([&] { return store_->Stats()["networking.istio.io/VirtualService"].resource_version == rv; }));
}

TEST_F(KubeStoreTest, GoneRelistsAndLosesNoUpdate) {
  Start();
  EXPECT_EQ(store_->Stats()["networking.istio.io/VirtualService"].relists_gone, 0u);
  // The watches break and cannot come back; meanwhile objects change and the server
  // compacts its history, so resuming from the last version gets 410 Gone.
  kube_.SetWatchUnavailable(true);
  kube_.EndWatches();
  ASSERT_TRUE(Eventually([&] { return store_->Stats()["networking.istio.io/VirtualService"].errors > 0; }));
  std::string vs = kVirtualService;
  kube_.Apply(vs.replace(vs.find("subset: V"), 9, "subset: X"));
  kube_.Delete("v1", "Service", "devops", "helloworldsvc");
  kube_.Compact();
  kube_.SetWatchUnavailable(false);
  ASSERT_TRUE(Eventually([&] { return Subset() == "X"; })) << Log();
  ASSERT_TRUE(Eventually([&] { return !Find("", "Service", "devops", "helloworldsvc").has_value(); }));
  EXPECT_GE(store_->Stats()["networking.istio.io/VirtualService"].relists_gone, 1u);
  EXPECT_GE(store_->Stats()["/Service"].relists_gone, 1u);
  // And it keeps watching after the relist.
  kube_.Apply(vs.replace(vs.find("subset: X"), 9, "subset: Y"));
  ASSERT_TRUE(Eventually([&] { return Subset() == "Y"; })) << Log();
}

TEST_F(KubeStoreTest, KeepsCredentialSecretsAndValidIstioConfigOnly) {
  kube_.Apply("{apiVersion: v1, kind: Secret, type: kubernetes.io/tls, metadata: {name: tls-secret, namespace: istio-system}, data: {tls.crt: QQ==, tls.key: QQ==}}");
  kube_.Apply("{apiVersion: v1, kind: Secret, type: Opaque, metadata: {name: tls-secret-cacert, namespace: istio-system}, data: {cacert: QQ==}}");
  kube_.Apply("{apiVersion: v1, kind: Secret, type: kubernetes.io/service-account-token, metadata: {name: sa-token, namespace: devops}, data: {token: QQ==, ca.crt: QQ==}}");
  kube_.Apply("{apiVersion: v1, kind: Secret, type: Opaque, metadata: {name: db-password, namespace: devops}, data: {password: QQ==}}");
  // No servers: Istio's validation refuses it.
  kube_.Apply("{apiVersion: networking.istio.io/v1, kind: Gateway, metadata: {name: broken, namespace: devops}, spec: {selector: {istio: ingressgateway}}}");
  Start();
  EXPECT_TRUE(Find("", "Secret", "istio-system", "tls-secret").has_value());
  EXPECT_TRUE(Find("", "Secret", "istio-system", "tls-secret-cacert").has_value());
  EXPECT_FALSE(Find("", "Secret", "devops", "sa-token").has_value());
  EXPECT_FALSE(Find("", "Secret", "devops", "db-password").has_value());
  EXPECT_FALSE(Find("networking.istio.io", "Gateway", "devops", "broken").has_value());
  EXPECT_TRUE(Find("networking.istio.io", "VirtualService", "devops", "hw").has_value());
  EXPECT_GE(store_->Stats()["networking.istio.io/Gateway"].rejected, 1u);
  EXPECT_NE(Log().find("broken"), std::string::npos);
}

TEST_F(KubeStoreTest, ReconnectsWhenTheApiServerRefusesWatches) {
  Start();
  kube_.SetWatchUnavailable(true);
  kube_.EndWatches();
  ASSERT_TRUE(Eventually([&] { return store_->Stats()["/Service"].errors >= 2; }));  // retried with backoff
  kube_.SetWatchUnavailable(false);
  kube_.Apply("{apiVersion: v1, kind: Service, metadata: {name: second, namespace: devops}, spec: {ports: [{name: http, port: 80}]}}");
  ASSERT_TRUE(Eventually([&] { return Find("", "Service", "devops", "second").has_value(); })) << Log();
}

config::Resource Res(const std::string& yaml) {
  return config::Resource::FromNode(config::ParseYamlNode(yaml, "t").value(), {}).value();
}

TEST(KubeWorkloadsTest, EndpointSlicesAndPodsBecomeWorkloads) {
  std::vector<config::Resource> rs;
  rs.push_back(Res("{apiVersion: v1, kind: Service, metadata: {name: web, namespace: devops}, spec: {ports: [{name: http, port: 80, targetPort: http-app}]}}"));
  rs.push_back(Res("{apiVersion: v1, kind: Service, metadata: {name: admin, namespace: devops}, spec: {ports: [{name: http-admin, port: 9000, targetPort: 9090}]}}"));
  rs.push_back(Res(R"({apiVersion: v1, kind: Pod, metadata: {name: web-1, namespace: devops, labels: {app: web, version: v1},
      annotations: {sidecar.istio.io/status: '{}'}}, spec: {serviceAccountName: web-sa, containers: [{name: app}]}})"));
  rs.push_back(Res(R"({apiVersion: v1, kind: Pod, metadata: {name: web-2, namespace: devops, labels: {app: web}},
      spec: {containers: [{name: app}, {name: istio-proxy}]}})"));
  rs.push_back(Res(R"({apiVersion: v1, kind: Pod, metadata: {name: web-3, namespace: devops, labels: {app: web}}, spec: {}})"));
  rs.push_back(Res(R"({apiVersion: discovery.k8s.io/v1, kind: EndpointSlice, addressType: IPv4,
      metadata: {name: web-abc, namespace: devops, labels: {kubernetes.io/service-name: web}},
      ports: [{name: http, port: 8080, protocol: TCP}],
      endpoints: [
        {addresses: [10.0.0.1], conditions: {ready: true}, targetRef: {kind: Pod, name: web-1, namespace: devops}},
        {addresses: [10.0.0.2], targetRef: {kind: Pod, name: web-2, namespace: devops}},
        {addresses: [10.0.0.3], conditions: {ready: false}, targetRef: {kind: Pod, name: web-3, namespace: devops}}]})"));
  rs.push_back(Res(R"({apiVersion: discovery.k8s.io/v1, kind: EndpointSlice, addressType: IPv4,
      metadata: {name: admin-xyz, namespace: devops, labels: {kubernetes.io/service-name: admin}},
      ports: [{name: http-admin, port: 9090}],
      endpoints: [{addresses: [10.0.0.1], targetRef: {kind: Pod, name: web-1, namespace: devops}}]})"));
  rs.push_back(Res(R"({apiVersion: discovery.k8s.io/v1, kind: EndpointSlice, addressType: FQDN,
      metadata: {name: ext, namespace: devops, labels: {kubernetes.io/service-name: web}},
      ports: [{name: http, port: 80}], endpoints: [{addresses: [example.com]}]})"));
  auto ws = WorkloadsFromEndpointSlices(rs);
  ASSERT_EQ(ws.size(), 2u);  // web-3 is not ready; the FQDN slice is not a workload
  const pilot::WorkloadInstance& w1 = ws[0];
  EXPECT_EQ(w1.name, "web-1");
  EXPECT_EQ(w1.address, "10.0.0.1");
  EXPECT_EQ(w1.service_account, "web-sa");
  EXPECT_EQ(w1.labels.at("version"), "v1");
  EXPECT_TRUE(w1.has_sidecar);
  EXPECT_EQ(w1.services, (std::vector<std::string>{"web", "admin"}));
  // A named targetPort is keyed by the service port (as pilot keys it), resolved to the
  // slice's port; a numeric one by its number.
  EXPECT_EQ(w1.EndpointPortFor(80), 8080u);
  EXPECT_EQ(w1.EndpointPortFor(9090), 9090u);
  const pilot::WorkloadInstance& w2 = ws[1];
  EXPECT_EQ(w2.name, "web-2");
  EXPECT_EQ(w2.service_account, "default");
  EXPECT_TRUE(w2.has_sidecar);  // an istio-proxy container

  // Through pilot: the Service's endpoints are exactly the ready pods.
  auto push = pilot::PushContext::Build(rs, ws);
  const pilot::Service* web = push->FindService("web.devops.svc.cluster.local");
  ASSERT_NE(web, nullptr);
  auto eps = push->EndpointsFor(*web, web->ports[0]);
  ASSERT_EQ(eps.size(), 2u);
  EXPECT_EQ(StrCat(eps[0].address, ":", eps[0].port), "10.0.0.1:8080");
  EXPECT_EQ(StrCat(eps[1].address, ":", eps[1].port), "10.0.0.2:8080");
}

// The ClusterRole `install` renders for the control plane must grant what the Kubernetes
// source uses (the install goldens are checked against the renderer by install_test).
TEST(KubeRbacTest, RenderedClusterRoleGrantsWhatTheControlPlaneNeeds) {
  auto text = common::ReadFile(mesh::testing::SourceDir() + "/tests/testdata/install/default.golden.yaml");
  ASSERT_TRUE(text.ok()) << text.status();
  auto docs = config::ParseYamlDocuments(*text, "default.golden.yaml");
  ASSERT_TRUE(docs.errors.empty());
  const config::Node* role = nullptr;
  for (const auto& d : docs.documents) {
    if (d.root["kind"].Str() == "ClusterRole" &&
        d.root.At({"metadata", "name"}).Str() == "istiod-clusterrole-istio-system") {
      role = &d.root;
    }
  }
  ASSERT_NE(role, nullptr);
  auto contains = [](const std::vector<std::string>& list, const std::string& v) {
    return std::find(list.begin(), list.end(), v) != list.end() ||
           std::find(list.begin(), list.end(), "*") != list.end();
  };
  for (const RequiredPermission& p : RequiredPermissions()) {
    for (const std::string& verb : p.verbs) {
      bool granted = false;
      for (const config::Node& rule : (*role)["rules"].items()) {
        granted = granted || (contains(rule["apiGroups"].StringList(), p.api_group) &&
                              contains(rule["resources"].StringList(), p.resource) &&
                              contains(rule["verbs"].StringList(), verb));
      }
      EXPECT_TRUE(granted) << verb << " " << p.api_group << "/" << p.resource;
    }
  }
}

}  // namespace
}  // namespace mesh::kubestore
