// Istio's own `manifest generate` test inputs (../shared/reference/install/golden/input),
// when present: each renders, and the behaviours Istio's tests assert hold here too.

#include <filesystem>
#include <map>

#include "gtest/gtest.h"
#include "mesh/install/render.h"
#include "tests/common/test_util.h"

namespace mesh::install {
namespace {

std::string InputDir() {
  std::string shared = testing::SharedDir();
  return shared.empty() ? "" : shared + "/reference/install/golden/input";
}

absl::StatusOr<Manifest> RenderFiles(std::vector<std::string> files, std::vector<std::string> sets = {}) {
  MergeInputs in;
  in.files = std::move(files);
  in.set_flags = std::move(sets);
  auto c = MergeInstallConfig(in);
  if (!c.ok()) {
    return c.status();
  }
  return RenderManifest(*c);
}

const Node* Find(const Manifest& m, const std::string& kind, const std::string& name) {
  for (const auto& o : m.objects) {
    if (o.kind == kind && o.name == name) {
      return &o.object;
    }
  }
  return nullptr;
}

TEST(ReferenceInputs, EveryInputRendersExceptUnsupportedComponents) {
  std::string dir = InputDir();
  if (dir.empty()) {
    GTEST_SKIP() << "../shared not present";
  }
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    std::string name = e.path().filename().string();
    auto m = RenderFiles({e.path().string()});
    if (name == "istio-cni.yaml" || name == "component_hub_tag.yaml") {
      ASSERT_FALSE(m.ok()) << name;  // CNI / ztunnel are not supported
      EXPECT_NE(std::string(m.status().message()).find("not supported"), std::string::npos);
      continue;
    }
    EXPECT_TRUE(m.ok()) << name << ": " << m.status();
  }
}

TEST(ReferenceInputs, AllOffRendersNothing) {
  std::string dir = InputDir();
  if (dir.empty()) {
    GTEST_SKIP() << "../shared not present";
  }
  auto m = RenderFiles({dir + "/all_off.yaml"});
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(m->objects.empty());
}

// TestMultiICPSFiles: -f all_off.yaml -f helm_values_enablement.yaml == the second alone
// over the empty profile, i.e. only the force-enabled egress gateway.
TEST(ReferenceInputs, FilesOverlayLeftToRight) {
  std::string dir = InputDir();
  if (dir.empty()) {
    GTEST_SKIP() << "../shared not present";
  }
  auto both = RenderFiles({dir + "/all_off.yaml", dir + "/helm_values_enablement.yaml"});
  ASSERT_TRUE(both.ok()) << both.status();
  auto single = RenderFiles({dir + "/helm_values_enablement.yaml"}, {"profile=empty"});
  ASSERT_TRUE(single.ok()) << single.status();
  EXPECT_EQ(ManifestToYaml(both->objects), ManifestToYaml(single->objects));
  EXPECT_NE(Find(*both, "Deployment", "istio-egressgateway"), nullptr);
  EXPECT_NE(Find(*both, "Service", "istio-egressgateway"), nullptr);
  EXPECT_EQ(Find(*both, "Deployment", "istiod"), nullptr);
}

TEST(ReferenceInputs, PilotOverlays) {
  std::string dir = InputDir();
  if (dir.empty()) {
    GTEST_SKIP() << "../shared not present";
  }
  auto m = RenderFiles({dir + "/pilot_override_kubernetes.yaml"});
  ASSERT_TRUE(m.ok()) << m.status();
  const Node* dep = Find(*m, "Deployment", "istiod");
  ASSERT_NE(dep, nullptr);
  EXPECT_EQ((*dep)["metadata"]["namespace"].Str(), "istio-control");
  const Node& c = (*dep)["spec"]["template"]["spec"]["containers"].items()[0];
  bool found_60m = false;
  for (const Node& a : c["args"].items()) {
    EXPECT_NE(a.Str(), "30m");
    found_60m |= a.Str() == "60m";
  }
  EXPECT_TRUE(found_60m);
  EXPECT_EQ(c["ports"].items()[0]["containerPort"].Str(), "1234");
  for (const Node& env : c["env"].items()) {
    EXPECT_NE(env["name"].Str(), "REVISION");
    if (env["name"].Str() == "POD_NAMESPACE") {
      EXPECT_EQ(env["valueFrom"]["fieldRef"]["fieldPath"].Str(), "metadata.myPath");
    }
  }
  EXPECT_FALSE(c["securityContext"].Defined());
  const Node* svc = Find(*m, "Service", "istiod");
  EXPECT_EQ((*svc)["spec"]["ports"].items()[1]["port"].Str(), "11111");
  const Node* mwc = Find(*m, "MutatingWebhookConfiguration", "istio-sidecar-injector-istio-control");
  ASSERT_NE(mwc, nullptr);
  bool patched = false;
  for (const Node& w : (*mwc)["webhooks"].items()) {
    if (w["name"].Str() == "namespace.sidecar-injector.istio.io") {
      patched = w["clientConfig"]["service"]["name"].Str() == "foo";
    }
  }
  EXPECT_TRUE(patched);
  // The input patches spec.automountServiceAccountToken (sic) on the ServiceAccount.
  EXPECT_EQ((*Find(*m, "ServiceAccount", "istio-reader-service-account"))["spec"]["automountServiceAccountToken"].Str(),
            "false");
}

// The multi-gateway input with istioctl's test flags.
TEST(ReferenceInputs, MultipleGateways) {
  std::string dir = InputDir();
  if (dir.empty()) {
    GTEST_SKIP() << "../shared not present";
  }
  auto m = RenderFiles({dir + "/gateways.yaml"},
                       {"components.ingressGateways.[0].k8s.resources.requests.memory=999Mi",
                        "components.ingressGateways.[name:user-ingressgateway].k8s.resources.requests.cpu=555m",
                        "values.gateways.istio-ingressgateway.autoscaleMin=2"});
  ASSERT_TRUE(m.ok()) << m.status();
  std::map<std::string, int> kinds;
  for (const auto& o : m->objects) {
    ++kinds[o.kind];
  }
  EXPECT_EQ(kinds, (std::map<std::string, int>{{"Deployment", 3}, {"HorizontalPodAutoscaler", 3},
                                               {"PodDisruptionBudget", 3}, {"Role", 3}, {"RoleBinding", 3},
                                               {"Service", 3}, {"ServiceAccount", 3}}));
  for (const auto& o : m->objects) {
    if (o.kind == "Service") {
      EXPECT_EQ(o.object["metadata"]["labels"]["istio"].Str(), "ingressgateway") << o.name;
    }
  }
  auto resources = [&](const std::string& name) {
    return (*Find(*m, "Deployment", name))["spec"]["template"]["spec"]["containers"].items()[0]["resources"]["requests"];
  };
  EXPECT_EQ(resources("istio-ingressgateway")["memory"].Str(), "999Mi");
  EXPECT_EQ(resources("istio-ingressgateway")["cpu"].Str(), "111m");
  EXPECT_EQ(resources("user-ingressgateway")["cpu"].Str(), "555m");
  EXPECT_EQ(resources("ilb-gateway")["cpu"].Str(), "333m");
  const Node* ilb = Find(*m, "Deployment", "ilb-gateway");
  EXPECT_EQ((*ilb)["metadata"]["namespace"].Str(), "user-ingressgateway-ns");
  EXPECT_EQ((*Find(*m, "Deployment", "user-ingressgateway"))["metadata"]["labels"]["ccc"].Str(), "ccc-val");
  for (const Node& env : (*ilb)["spec"]["template"]["spec"]["containers"].items()[0]["env"].items()) {
    if (env["name"].Str() == "PILOT_CERT_PROVIDER") {
      EXPECT_EQ(env["value"].Str(), "foobar");
    }
  }
}

}  // namespace
}  // namespace mesh::install

#include "mesh/config/yaml_loader.h"
#include "mesh/install/tree.h"

namespace mesh::install {
namespace {

// Objects of Istio's golden outputs whose field must equal ours exactly.
TEST(ReferenceInputs, FieldsEqualIstioGoldens) {
  std::string shared = testing::SharedDir();
  if (shared.empty()) {
    GTEST_SKIP() << "../shared not present";
  }
  std::string golden_dir = shared + "/reference/install/golden/output/";
  std::string input_dir = shared + "/reference/install/golden/input/";
  struct Case {
    std::string golden;
    std::vector<std::string> files;
    std::vector<std::string> sets;
    std::string kind;
    std::string name;
    std::string field;  // dotted path compared
  };
  const std::vector<Case> cases = {
      {"pilot_merge_meshconfig.golden.yaml", {input_dir + "pilot_merge_meshconfig.yaml"}, {}, "ConfigMap", "istio", "data"},
      {"ingressgateway_k8s_settings.golden.yaml", {input_dir + "ingressgateway_k8s_settings.yaml"}, {}, "Service",
       "istio-ingressgateway", "spec"},
      {"ingressgateway_k8s_settings.golden.yaml", {input_dir + "ingressgateway_k8s_settings.yaml"}, {}, "Service",
       "istio-ingressgateway-custom", "spec"},
      {"ingressgateway_k8s_settings.golden.yaml", {input_dir + "ingressgateway_k8s_settings.yaml"}, {}, "Service",
       "istio-ingressgateway", "metadata.annotations"},
      {"flag_values_enable_egressgateway.golden.yaml", {}, {"values.gateways.istio-egressgateway.enabled=true"},
       "Service", "istio-egressgateway", "spec"},
      {"helm_values_enablement.golden.yaml", {input_dir + "helm_values_enablement.yaml"}, {}, "Service",
       "istio-egressgateway", "spec"},
      {"gateway_hpa_pdb.golden.yaml", {input_dir + "gateway_hpa_pdb.yaml"}, {}, "HorizontalPodAutoscaler",
       "istio-ingressgateway", "spec"},
      {"pilot_k8s_settings.golden.yaml", {input_dir + "pilot_k8s_settings.yaml"}, {}, "HorizontalPodAutoscaler",
       "istiod", "spec"},
      {"pilot_override_values.golden.yaml", {input_dir + "pilot_override_values.yaml"}, {}, "HorizontalPodAutoscaler",
       "istiod", "spec"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.golden + " " + c.kind + "/" + c.name + " " + c.field);
    auto golden = config::LoadPaths({golden_dir + c.golden});
    ASSERT_TRUE(golden.ok());
    const Node* want = nullptr;
    for (const auto& r : golden->resources) {
      if (r.kind() == c.kind && r.name() == c.name) {
        want = &GetPath(r.root(), c.field);
      }
    }
    ASSERT_NE(want, nullptr);
    auto m = RenderFiles(c.files, c.sets);
    ASSERT_TRUE(m.ok()) << m.status();
    const Node* obj = Find(*m, c.kind, c.name);
    ASSERT_NE(obj, nullptr);
    EXPECT_EQ(SortedKeys(GetPath(*obj, c.field)), SortedKeys(*want));
  }
}

// istiod's container against Istio's golden for the same input: the same ports, probe,
// env, resources and security context. Expected, documented differences
// (docs/KUBERNETES.md "What the rendered Deployments run"): `args` (meshctl's
// control-plane command instead of pilot-discovery's), `image` (meshctl instead of
// pilot) and one added volume mount (the state directory).
TEST(ReferenceInputs, IstiodContainerDiffersOnlyInCommandImageAndStateVolume) {
  std::string shared = testing::SharedDir();
  if (shared.empty()) {
    GTEST_SKIP() << "../shared not present";
  }
  auto golden = config::LoadPaths({shared + "/reference/install/golden/output/pilot_default.golden.yaml"});
  ASSERT_TRUE(golden.ok());
  const Node* want = nullptr;
  for (const auto& r : golden->resources) {
    if (r.kind() == "Deployment" && r.name() == "istiod") {
      want = &r.root()["spec"]["template"]["spec"]["containers"].items()[0];
    }
  }
  ASSERT_NE(want, nullptr);
  auto m = RenderFiles({shared + "/reference/install/golden/input/pilot_default.yaml"});
  ASSERT_TRUE(m.ok()) << m.status();
  const Node* dep = Find(*m, "Deployment", "istiod");
  ASSERT_NE(dep, nullptr);
  const Node& got = (*dep)["spec"]["template"]["spec"]["containers"].items()[0];
  for (const char* field : {"name", "ports", "readinessProbe", "env", "resources", "securityContext"}) {
    EXPECT_EQ(SortedKeys(got[field]), SortedKeys((*want)[field])) << field;
  }
  EXPECT_NE(SortedKeys(got["args"]), SortedKeys((*want)["args"]));
  EXPECT_EQ(got["args"].items()[0].Str(), "control-plane");
  EXPECT_EQ(got["image"].Str(), "registry.istio.io/release/meshctl:1.1.4");
  Node mounts = Node::Sequence();
  for (const Node& mount : got["volumeMounts"].items()) {
    if (mount["name"].Str() != "meshctl-state") {
      mounts.Append(mount);
    }
  }
  EXPECT_EQ(SortedKeys(mounts), SortedKeys((*want)["volumeMounts"]));
}

}  // namespace
}  // namespace mesh::install
