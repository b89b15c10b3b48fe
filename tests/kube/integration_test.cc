// Runs against a real cluster when MESH_TEST_KUBECONFIG names a kubeconfig; skipped
// otherwise. Written for a kube-apiserver 1.24+ with etcd and no nodes (nothing ever
// becomes Ready there, and there may be no controller-manager either). Creates and deletes
// its own namespaces; the install test installs the demo profile into istio-system and
// removes it with uninstall --purge.
//
// To try it without a cluster: build/tests/fake_apiserver KUBECONFIG_OUT & then
// MESH_TEST_KUBECONFIG=KUBECONFIG_OUT build/tests/kube_integration_test.

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "gtest/gtest.h"
#include "mesh/common/file_util.h"
#include "mesh/common/strings.h"
#include "mesh/config/yaml_loader.h"
#include "mesh/kube/client.h"
#include "mesh/kube/leader_election.h"
#include "mesh/config/schema.h"
#include "mesh/install/crd.h"
#include "mesh/kubestore/kube_store.h"
#include "tests/common/test_util.h"

namespace mesh::kube {
namespace {

using common::StrCat;

config::Node Json(const std::string& text) { return *config::ParseYamlNode(text, "test"); }

const char* TestKubeconfig() {
  const char* kubeconfig = std::getenv("MESH_TEST_KUBECONFIG");
  return kubeconfig == nullptr || *kubeconfig == '\0' ? nullptr : kubeconfig;
}

std::unique_ptr<KubeClient> ClientFor(const char* kubeconfig) {
  KubeconfigOptions opts;
  opts.kubeconfig_path = kubeconfig;
  auto rc = LoadRestConfig(opts);
  EXPECT_TRUE(rc.ok()) << rc.status();
  if (!rc.ok()) {
    return nullptr;
  }
  auto client = NewKubeClient(*rc);
  EXPECT_TRUE(client.ok()) << client.status();
  return client.ok() ? std::move(*client) : nullptr;
}

TEST(KubeIntegrationTest, DiscoveryApplyReadWatchDelete) {
  const char* kubeconfig = TestKubeconfig();
  if (kubeconfig == nullptr) {
    GTEST_SKIP() << "MESH_TEST_KUBECONFIG is not set";
  }
  auto client = ClientFor(kubeconfig);
  ASSERT_NE(client, nullptr);

  auto all = client->DiscoverAll();
  ASSERT_TRUE(all.ok()) << all.status();
  bool has_ns = false, has_cm = false, has_crd = false;
  for (const auto& r : *all) {
    has_ns = has_ns || (r.kind == "Namespace" && r.group.empty() && !r.namespaced);
    has_cm = has_cm || (r.kind == "ConfigMap" && r.resource == "configmaps" && r.namespaced);
    has_crd = has_crd || (r.kind == "CustomResourceDefinition" && r.group == "apiextensions.k8s.io");
  }
  EXPECT_TRUE(has_ns && has_cm && has_crd);

  const std::string ns = StrCat("meshctl-kube-it-", ::getpid());
  auto applied_ns = client->Apply(
      Json(StrCat(R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":")", ns, R"(","labels":{"app.kubernetes.io/managed-by":"meshctl"}}})")),
      {});
  ASSERT_TRUE(applied_ns.ok()) << applied_ns.status();
  auto cm = client->Apply(Json(StrCat(R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cfg","namespace":")",
                                      ns, R"("},"data":{"greeting":"hello"}})")),
                          {.force = true});
  ASSERT_TRUE(cm.ok()) << cm.status();
  auto read = client->Get({"v1", "ConfigMap", ns, "cfg"});
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->At({"data", "greeting"}).Str(), "hello");
  bool managed_by_meshctl = false;
  for (const auto& mf : read->At({"metadata", "managedFields"}).items()) {
    managed_by_meshctl = managed_by_meshctl || (mf["manager"].Str() == "meshctl" && mf["operation"].Str() == "Apply");
  }
  EXPECT_TRUE(managed_by_meshctl);
  const std::string rv = read->At({"metadata", "resourceVersion"}).Str();

  auto patched = client->MergePatch({"v1", "ConfigMap", ns, "cfg"}, Json(R"({"data":{"greeting":"bye"}})"));
  ASSERT_TRUE(patched.ok()) << patched.status();

  // Watching from the old resourceVersion replays the change.
  std::string seen;
  auto st = client->Watch({"v1", "ConfigMap", ns, ""}, {.resource_version = rv, .timeout_seconds = 20},
                          [&](const WatchEvent& ev) {
                            if (ev.type == "MODIFIED") {
                              seen = ev.object.At({"data", "greeting"}).Str();
                              return false;
                            }
                            return true;
                          });
  EXPECT_TRUE(st.ok()) << st;
  EXPECT_EQ(seen, "bye");

  auto list = client->ListAll({"v1", "ConfigMap", ns, ""}, {.limit = 1});
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_GE(list->items.size(), 1u);

  ASSERT_TRUE(client->Delete({"v1", "ConfigMap", ns, "cfg"}, {"Background"}).ok());
  EXPECT_EQ(client->Get({"v1", "ConfigMap", ns, "cfg"}).status().code(), absl::StatusCode::kNotFound);
  // Background: a cluster without a garbage collector would keep a Foreground delete pending.
  EXPECT_TRUE(client->Delete({"v1", "Namespace", "", ns}, {"Background"}).ok());
  auto again = client->Delete({"v1", "ConfigMap", ns, "cfg"}, {});
  EXPECT_EQ(again.code(), absl::StatusCode::kNotFound) << again;
}

// The issue's flow through the meshctl binary: install demo, label a namespace, apply the
// talk's Gateway and VirtualService, read them back, watch them change, uninstall --purge.
TEST(KubeIntegrationTest, InstallLabelApplyWatchUninstall) {
  const char* kubeconfig = TestKubeconfig();
  if (kubeconfig == nullptr) {
    GTEST_SKIP() << "MESH_TEST_KUBECONFIG is not set";
  }
  std::string bin = testing::MeshctlBinary();
  ASSERT_TRUE(std::filesystem::exists(bin)) << bin;
  auto client = ClientFor(kubeconfig);
  ASSERT_NE(client, nullptr);
  auto meshctl = [&](const std::string& args) {
    auto r = testing::RunCommand(StrCat(bin, " ", args, " --kubeconfig ", kubeconfig));
    std::cerr << "$ meshctl " << args << "\n" << r.out << r.err;
    return r;
  };

  // A short readiness timeout: with no nodes it must expire with a clear message; on a
  // cluster that can run pods the install may also just succeed.
  auto r = meshctl("install --profile demo -y --readiness-timeout 5s");
  if (r.exit_code == 0) {
    EXPECT_NE(r.out.find("\u2714 Installation complete"), std::string::npos);
  } else {
    EXPECT_NE(r.out.find("\u2718 Installation failed: Istiod is not ready after 5s (--readiness-timeout): "
                         "Deployment/istio-system/istiod: "),
              std::string::npos);
  }
  for (const char* crd : {"gateways.networking.istio.io", "virtualservices.networking.istio.io"}) {
    auto got = client->Get({"apiextensions.k8s.io/v1", "CustomResourceDefinition", "", crd});
    ASSERT_TRUE(got.ok()) << got.status();
    bool established = false;
    for (const auto& c : got->At({"status", "conditions"}).items()) {
      established = established || (c["type"].Str() == "Established" && c["status"].Str() == "True");
    }
    EXPECT_TRUE(established) << crd;
  }
  auto istiod = client->Get({"apps/v1", "Deployment", "istio-system", "istiod"});
  ASSERT_TRUE(istiod.ok()) << istiod.status();
  EXPECT_EQ(istiod->At({"metadata", "labels", "operator.istio.io/component"}).Str(), "Pilot");
  // --wait=false returns once applied (and a repeated install changes nothing).
  std::string rv_before = istiod->At({"metadata", "resourceVersion"}).Str();
  r = meshctl("install --profile demo -y --wait=false");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ((*client->Get({"apps/v1", "Deployment", "istio-system", "istiod"})).At({"metadata", "resourceVersion"}).Str(),
            rv_before);

  const std::string ns = StrCat("meshctl-it-", ::getpid());
  EXPECT_EQ(meshctl("create namespace " + ns).exit_code, 0);
  r = meshctl(StrCat("label namespace ", ns, " istio-injection=enabled"));
  EXPECT_EQ(r.out, StrCat("namespace/", ns, " labeled\n"));
  auto ns_obj = client->Get({"v1", "Namespace", "", ns});
  ASSERT_TRUE(ns_obj.ok()) << ns_obj.status();
  EXPECT_EQ(ns_obj->At({"metadata", "labels", "istio-injection"}).Str(), "enabled");

  // The talk's Gateway and VirtualService, moved into the test namespace.
  testing::TempDir dir;
  for (const char* f : {"gateway.yaml", "virtualservice.yaml"}) {
    auto text = common::ReadFile(StrCat(testing::SourceDir(), "/examples/helloworld/", f));
    ASSERT_TRUE(text.ok()) << text.status();
    std::string t = *text;
    t.replace(t.find("namespace: devops"), 17, "namespace: " + ns);
    dir.Write(f, t);
  }
  r = meshctl("apply -f " + dir.path());
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("gateway.networking.istio.io/mobifingw created"), std::string::npos);
  EXPECT_NE(r.out.find("virtualservice.networking.istio.io/helloworldvs created"), std::string::npos);
  r = meshctl(StrCat("get gateway mobifingw -n ", ns, " -o yaml"));
  ASSERT_EQ(r.exit_code, 0);
  auto gw = config::ParseYamlNode(r.out, "gateway");
  ASSERT_TRUE(gw.ok()) << gw.status();
  EXPECT_EQ((*gw)["spec"]["servers"].items()[0]["tls"]["credentialName"].Str(), "tls-secret");
  auto vs = client->Get({"networking.istio.io/v1alpha3", "VirtualService", ns, "helloworldvs"});
  ASSERT_TRUE(vs.ok()) << vs.status();
  std::string rv = vs->At({"metadata", "resourceVersion"}).Str();

  // Change the VirtualService through meshctl and see the change on a watch.
  auto text = common::ReadFile(dir.path() + "/virtualservice.yaml");
  ASSERT_TRUE(text.ok());
  std::string changed = *text;
  changed.replace(changed.find("number: 80"), 10, "number: 8080");
  dir.Write("virtualservice.yaml", changed);
  r = meshctl("apply -f " + dir.path() + "/virtualservice.yaml");
  EXPECT_NE(r.out.find("virtualservice.networking.istio.io/helloworldvs configured"), std::string::npos);
  std::string seen_port;
  auto st = client->Watch({"networking.istio.io/v1alpha3", "VirtualService", ns, ""},
                          {.resource_version = rv, .timeout_seconds = 20}, [&](const WatchEvent& ev) {
                            if (ev.type == "MODIFIED") {
                              seen_port = ev.object.At({"spec", "http"}).items()[0]["route"].items()[0]["destination"]
                                              ["port"]["number"].Str();
                              return false;
                            }
                            return true;
                          });
  EXPECT_TRUE(st.ok()) << st;
  EXPECT_EQ(seen_port, "8080");

  r = meshctl("uninstall --purge -y");
  EXPECT_EQ(r.exit_code, 0);
  // Nothing of ours is left (CRD deletion finishes asynchronously: poll for a minute).
  std::vector<std::pair<std::string, std::string>> kinds = {
      {"apiextensions.k8s.io/v1", "CustomResourceDefinition"}, {"apps/v1", "Deployment"}, {"v1", "Service"},
      {"v1", "ConfigMap"}, {"v1", "ServiceAccount"}, {"rbac.authorization.k8s.io/v1", "ClusterRole"},
      {"rbac.authorization.k8s.io/v1", "ClusterRoleBinding"}, {"rbac.authorization.k8s.io/v1", "Role"},
      {"rbac.authorization.k8s.io/v1", "RoleBinding"},
      {"admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration"},
      {"admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration"}};
  std::vector<std::string> left;
  for (int attempt = 0; attempt < 60; ++attempt) {
    left.clear();
    for (const auto& [api_version, kind] : kinds) {
      for (const char* selector : {"operator.istio.io/component", "install.meshctl.io/installed-state"}) {
        auto list = client->ListAll({api_version, kind, "", ""}, {.label_selector = selector});
        ASSERT_TRUE(list.ok()) << list.status();
        for (const auto& item : list->items) {
          left.push_back(StrCat(kind, " ", item.At({"metadata", "name"}).Str()));
        }
      }
    }
    if (left.empty()) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  EXPECT_TRUE(left.empty()) << common::Join(left, ", ");
  EXPECT_EQ(client->Get({"networking.istio.io/v1alpha3", "VirtualService", ns, "helloworldvs"}).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE(client->Delete({"v1", "Namespace", "", ns}, {"Background"}).ok());
}

// The control plane's Kubernetes source against the real API server: it syncs, and a
// VirtualService applied afterwards (through the API server) shows up in its snapshot.
// Registers the VirtualService CRD (rendered like `meshctl install` does) when the cluster
// has none, and removes it again at the end.
TEST(KubeIntegrationTest, ControlPlaneSourceSeesAppliedVirtualService) {
  const char* kubeconfig = std::getenv("MESH_TEST_KUBECONFIG");
  if (kubeconfig == nullptr || *kubeconfig == '\0') {
    GTEST_SKIP() << "MESH_TEST_KUBECONFIG is not set";
  }
  KubeconfigOptions opts;
  opts.kubeconfig_path = kubeconfig;
  auto rc = LoadRestConfig(opts);
  ASSERT_TRUE(rc.ok()) << rc.status();
  auto client_or = NewKubeClient(*rc);
  ASSERT_TRUE(client_or.ok()) << client_or.status();
  std::shared_ptr<KubeClient> client(std::move(*client_or));
  bool created_crd = false;
  if (!client->Resolve("networking.istio.io/v1beta1", "VirtualService").ok()) {
    const config::KindSchema* kind = config::FindKind("networking.istio.io", "VirtualService");
    ASSERT_NE(kind, nullptr);
    auto crd = client->Apply(install::BuildCrd(*kind), {.force = true});
    ASSERT_TRUE(crd.ok()) << crd.status();
    created_crd = true;
    bool served = false;
    for (int i = 0; i < 600 && !served; ++i) {  // until Established and in discovery
      client->InvalidateDiscovery();
      served = client->Resolve("networking.istio.io/v1beta1", "VirtualService").ok();
      if (!served) {
        ::usleep(100 * 1000);
      }
    }
    ASSERT_TRUE(served) << "the VirtualService CRD never became served";
  }
  kubestore::KubeStoreOptions so;
  so.client = client;
  auto store = kubestore::KubeStore::Start(so);
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE((*store)->WaitForSync(std::chrono::seconds(60)).ok());

  const std::string ns = StrCat("meshctl-kubecp-it-", ::getpid());
  ASSERT_TRUE(client->Apply(Json(StrCat(R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":")", ns, R"("}})")), {})
                  .ok());
  auto vs = client->Apply(
      Json(StrCat(R"({"apiVersion":"networking.istio.io/v1beta1","kind":"VirtualService","metadata":{"name":"hw","namespace":")",
                  ns, R"("},"spec":{"hosts":["helloworldsvc"],"http":[{"route":[{"destination":{"host":"helloworldsvc"}}]}]}})")),
      {.force = true});
  ASSERT_TRUE(vs.ok()) << vs.status();
  bool seen = false;
  for (int i = 0; i < 300 && !seen; ++i) {
    auto got = (*store)->Get({"networking.istio.io", "VirtualService", ns, "hw"});
    seen = got.ok() && got->has_value();
    if (!seen) {
      ::usleep(100 * 1000);
    }
  }
  EXPECT_TRUE(seen) << "VirtualService " << ns << "/hw never reached the control plane's snapshot";
  EXPECT_TRUE((*store)->Get({"", "Namespace", "", ns}).value().has_value());
  (*store)->Stop();
  // Background: without kube-controller-manager the namespace stays Terminating anyway.
  EXPECT_TRUE(client->Delete({"v1", "Namespace", "", ns}, {"Background"}).ok());
  if (created_crd) {
    EXPECT_TRUE(client->Delete({"apiextensions.k8s.io/v1", "CustomResourceDefinition", "",
                                "virtualservices.networking.istio.io"},
                               {"Background"})
                    .ok());
  }
}

// Leader election on a real Lease: the API server validates the MicroTime fields and
// enforces the resourceVersion precondition of the merge patch. Expiry is judged on the
// candidates' clock, so an injected clock makes it deterministic here too.
class SteppedClock : public common::TimeSource {
 public:
  std::chrono::system_clock::time_point SystemNow() const override { return base_ + std::chrono::seconds(offset_); }
  std::chrono::steady_clock::time_point MonotonicNow() const override {
    return std::chrono::steady_clock::time_point(std::chrono::seconds(offset_));
  }
  void Advance(int seconds) { offset_ += seconds; }

 private:
  std::chrono::system_clock::time_point base_ = std::chrono::system_clock::now();
  int64_t offset_ = 0;
};

TEST(KubeIntegrationTest, LeaseElectionTakeOver) {
  const char* kubeconfig = TestKubeconfig();
  if (kubeconfig == nullptr) {
    GTEST_SKIP() << "MESH_TEST_KUBECONFIG is not set";
  }
  std::shared_ptr<KubeClient> client(ClientFor(kubeconfig));
  ASSERT_NE(client, nullptr);
  const std::string ns = StrCat("meshctl-lease-it-", ::getpid());
  ASSERT_TRUE(client->Apply(Json(StrCat(R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":")", ns, R"("}})")), {})
                  .ok());
  auto clock = std::make_shared<SteppedClock>();
  auto options = [&](const std::string& id) {
    LeaderElectionOptions o;
    o.client = client;
    o.ns = ns;
    o.identity = id;
    o.clock = clock;
    return o;
  };
  LeaderElector a(options("a")), b(options("b"));
  ASSERT_EQ(a.TryAcquireOrRenew().value_or(false), true);
  ASSERT_EQ(b.TryAcquireOrRenew().value_or(true), false);
  clock->Advance(10);
  ASSERT_EQ(a.TryAcquireOrRenew().value_or(false), true);
  ASSERT_EQ(b.TryAcquireOrRenew().value_or(true), false);
  clock->Advance(31);
  ASSERT_EQ(b.TryAcquireOrRenew().value_or(false), true);
  auto lease = client->Get({"coordination.k8s.io/v1", "Lease", ns, "meshctl-control-plane-leader"});
  ASSERT_TRUE(lease.ok()) << lease.status();
  EXPECT_EQ(lease->At({"spec", "holderIdentity"}).Str(), "b");
  EXPECT_EQ(lease->At({"spec", "leaseTransitions"}).Str(), "1");
  EXPECT_EQ(a.TryAcquireOrRenew().value_or(true), false);
  EXPECT_TRUE(client->Delete({"v1", "Namespace", "", ns}, {"Background"}).ok());
}

}  // namespace
}  // namespace mesh::kube
