#include "mesh/install/inject.h"

#include "gtest/gtest.h"
#include "mesh/config/yaml_loader.h"
#include "mesh/install/installer.h"
#include "mesh/store/local_store.h"
#include "tests/common/test_util.h"

namespace mesh::install {
namespace {

struct Row {
  Labels ns;
  Labels pod;
  bool injected;
  std::string revision;
};

// Istio's webhook selector truth table (TestWebhookSelector), with revisions
// "default" and "canary" installed.
TEST(Injection, WebhookSelectorTable) {
  const std::vector<Row> rows = {
      {{}, {}, false, ""},
      {{{"istio-injection", "enabled"}}, {}, true, "default"},
      {{{"istio-injection", "disabled"}}, {}, false, ""},
      {{{"istio-injection", "disabled"}}, {{"sidecar.istio.io/inject", "true"}}, false, ""},
      {{{"istio-injection", "enabled"}}, {{"sidecar.istio.io/inject", "false"}}, false, ""},
      {{{"istio-injection", "enabled"}, {"istio.io/rev", "canary"}}, {}, true, "default"},  // legacy label wins
      {{{"istio-injection", "enabled"}}, {{"istio.io/rev", "canary"}}, true, "default"},
      {{{"istio.io/rev", "canary"}}, {}, true, "canary"},
      {{{"istio.io/rev", "canary"}}, {{"istio.io/rev", "default"}}, true, "canary"},  // namespace wins
      {{{"istio.io/rev", "canary"}}, {{"sidecar.istio.io/inject", "false"}}, false, ""},
      {{}, {{"sidecar.istio.io/inject", "true"}}, true, "default"},
      {{}, {{"istio.io/rev", "canary"}}, true, "canary"},
      {{}, {{"sidecar.istio.io/inject", "false"}}, false, ""},
      {{{"istio.io/rev", "missing"}}, {}, false, "missing"},  // no injector for that revision
  };
  for (size_t i = 0; i < rows.size(); ++i) {
    InjectionInput in;
    in.namespace_name = "apps";
    in.namespace_labels = rows[i].ns;
    in.pod_labels = rows[i].pod;
    in.installed_revisions = {"default", "canary"};
    InjectionDecision d = DecideInjection(in);
    EXPECT_EQ(d.injected, rows[i].injected) << "row " << i << ": " << d.reason;
    EXPECT_EQ(d.revision, rows[i].revision) << "row " << i;
    EXPECT_FALSE(d.reason.empty());
  }
}

TEST(Injection, SystemNamespacesHostNetworkAndDefaultOn) {
  InjectionInput in;
  in.namespace_name = "kube-system";
  in.pod_labels = {{"sidecar.istio.io/inject", "true"}};
  EXPECT_FALSE(DecideInjection(in).injected);
  in.namespace_name = "apps";
  in.host_network = true;
  EXPECT_FALSE(DecideInjection(in).injected);
  in.host_network = false;
  in.pod_labels = {};
  EXPECT_FALSE(DecideInjection(in).injected);
  in.enable_namespaces_by_default = true;
  EXPECT_TRUE(DecideInjection(in).injected);
}

TEST(Injection, ChecksWorkloadsInTheStore) {
  testing::TempDir dir;
  auto s = store::LocalStore::Open(dir.path());
  ASSERT_TRUE(s.ok());
  MergeInputs mi;
  mi.profile = "minimal";
  auto config = MergeInstallConfig(mi);
  auto manifest = RenderManifest(*config);
  auto plan = PlanInstall(**s, *manifest, *config);
  ASSERT_TRUE(ExecuteInstall(**s, *plan, nullptr).ok());
  auto load = config::LoadText(
      "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  labels: {istio-injection: enabled}\n---\n"
      "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\n"
      "spec:\n  template:\n    metadata:\n      labels: {app: web}\n---\n"
      "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: batch, namespace: shop}\n"
      "spec:\n  template:\n    metadata:\n      labels: {app: batch, sidecar.istio.io/inject: 'false'}\n---\n"
      "apiVersion: v1\nkind: Pod\nmetadata: {name: lone, namespace: other}\n",
      "w.yaml");
  ASSERT_TRUE(load.errors.empty());
  for (const auto& r : load.resources) {
    ASSERT_TRUE((*s)->Apply(r.root()).ok());
  }
  auto results = CheckInjection(**s, "", "");
  ASSERT_TRUE(results.ok()) << results.status();
  std::map<std::string, bool> injected;
  for (const auto& r : *results) {
    injected[r.workload.name] = r.decision.injected;
  }
  // istiod itself carries sidecar.istio.io/inject=false.
  EXPECT_EQ(injected,
            (std::map<std::string, bool>{{"web", true}, {"batch", false}, {"lone", false}, {"istiod", false}}));
}

}  // namespace
}  // namespace mesh::install
