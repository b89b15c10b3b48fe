// Runs against a real cluster when MESH_TEST_KUBECONFIG names a kubeconfig; skipped
// otherwise. Creates and deletes its own namespace.

#include <unistd.h>

#include <cstdlib>

#include "gtest/gtest.h"
#include "mesh/common/strings.h"
#include "mesh/config/yaml_loader.h"
#include "mesh/kube/client.h"
#include "mesh/config/schema.h"
#include "mesh/install/crd.h"
#include "mesh/kubestore/kube_store.h"

namespace mesh::kube {
namespace {

using common::StrCat;

config::Node Json(const std::string& text) { return *config::ParseYamlNode(text, "test"); }

TEST(KubeIntegrationTest, DiscoveryApplyReadWatchDelete) {
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
  auto& client = *client_or;

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
  EXPECT_TRUE(client->Delete({"v1", "Namespace", "", ns}, {"Foreground"}).ok());
  auto again = client->Delete({"v1", "ConfigMap", ns, "cfg"}, {});
  EXPECT_EQ(again.code(), absl::StatusCode::kNotFound) << again;
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
  EXPECT_TRUE(client->Delete({"v1", "Namespace", "", ns}, {"Foreground"}).ok());
  if (created_crd) {
    EXPECT_TRUE(client->Delete({"apiextensions.k8s.io/v1", "CustomResourceDefinition", "",
                                "virtualservices.networking.istio.io"},
                               {"Background"})
                    .ok());
  }
}

}  // namespace
}  // namespace mesh::kube
