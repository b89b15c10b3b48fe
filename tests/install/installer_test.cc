#include "mesh/install/installer.h"

#include "gtest/gtest.h"
#include "mesh/config/yaml_loader.h"
#include "mesh/store/local_store.h"
#include "tests/common/test_util.h"

namespace mesh::install {
namespace {

struct Rendered {
  MergedConfig config;
  Manifest manifest;
};

Rendered Render(std::vector<std::string> sets) {
  MergeInputs in;
  in.set_flags = std::move(sets);
  auto c = MergeInstallConfig(in);
  EXPECT_TRUE(c.ok()) << c.status();
  auto m = RenderManifest(*c);
  EXPECT_TRUE(m.ok()) << m.status();
  return Rendered{*c, *m};
}

InstallPlan Install(store::ConfigStore& s, const Rendered& r, std::vector<std::string>* done = nullptr) {
  auto plan = PlanInstall(s, r.manifest, r.config);
  EXPECT_TRUE(plan.ok()) << plan.status();
  auto st = ExecuteInstall(s, *plan, [&](const std::string& c) {
    if (done != nullptr) {
      done->push_back(c);
    }
  });
  EXPECT_TRUE(st.ok()) << st;
  return *plan;
}

int CountWithComponentLabel(const store::ConfigStore& s) {
  int n = 0;
  auto all = s.List({});
  EXPECT_TRUE(all.ok());
  for (const auto& o : *all) {
    n += o.object["metadata"]["labels"][kComponentLabel].Defined() ? 1 : 0;
  }
  return n;
}

TEST(Installer, InstallsInDependencyOrderAndIsIdempotent) {
  testing::TempDir dir;
  auto s = store::LocalStore::Open(dir.path());
  ASSERT_TRUE(s.ok());
  Rendered demo = Render({"profile=demo"});
  std::vector<std::string> done;
  InstallPlan first = Install(**s, demo, &done);
  EXPECT_EQ(done, (std::vector<std::string>{"Base", "Pilot", "IngressGateways", "EgressGateways"}));
  EXPECT_EQ(first.Count(ChangeAction::kCreate), 44);  // 42 objects + namespace + installed-state
  EXPECT_EQ(CountWithComponentLabel(**s), 42);
  auto ns = (*s)->Get({"", "Namespace", "", "istio-system"});
  EXPECT_TRUE(ns.ok() && ns->has_value());
  auto installed = (*s)->Get({"apps", "Deployment", "istio-system", "istiod"});
  ASSERT_TRUE(installed->has_value());
  EXPECT_EQ((*installed)->object["metadata"]["labels"][kManagedLabel].Str(), "Reconcile");
  int64_t generation = *(*s)->Generation();

  InstallPlan second = Install(**s, demo);
  EXPECT_TRUE(second.NoChanges());
  EXPECT_EQ(*(*s)->Generation(), generation);
  auto verify = VerifyInstall(**s, demo.manifest);
  ASSERT_TRUE(verify.ok());
  EXPECT_TRUE(verify->ok());
}

TEST(Installer, PrunesWhatTheNewRenderDropsButNeverCrds) {
  testing::TempDir dir;
  auto s = store::LocalStore::Open(dir.path());
  ASSERT_TRUE(s.ok());
  Install(**s, Render({"profile=demo"}));
  InstallPlan minimal = Install(**s, Render({"profile=minimal"}));
  EXPECT_EQ(minimal.Count(ChangeAction::kPrune), 10);  // both gateways, 5 objects each
  EXPECT_FALSE((*(*s)->Get({"apps", "Deployment", "istio-system", "istio-ingressgateway"})).has_value());
  EXPECT_TRUE((*(*s)->Get({"apps", "Deployment", "istio-system", "istiod"})).has_value());
  EXPECT_TRUE((*(*s)->Get({"apiextensions.k8s.io", "CustomResourceDefinition", "", "gateways.networking.istio.io"}))
                  .has_value());
  // Objects the user created without the installer's labels are never pruned.
  auto cm = config::ParseYamlNode("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: mine\n  namespace: istio-system\n", "t");
  ASSERT_TRUE((*s)->Apply(*cm).ok());
  InstallPlan empty = Install(**s, Render({"profile=empty"}));
  EXPECT_TRUE((*(*s)->Get({"", "ConfigMap", "istio-system", "mine"})).has_value());
  EXPECT_TRUE((*(*s)->Get({"apiextensions.k8s.io", "CustomResourceDefinition", "", "gateways.networking.istio.io"}))
                  .has_value());
  EXPECT_FALSE((*(*s)->Get({"apps", "Deployment", "istio-system", "istiod"})).has_value());
}

TEST(Installer, VerifyReportsDrift) {
  testing::TempDir dir;
  auto s = store::LocalStore::Open(dir.path());
  ASSERT_TRUE(s.ok());
  Rendered demo = Render({"profile=demo"});
  Install(**s, demo);
  auto dep = (*s)->Get({"apps", "Deployment", "istio-system", "istiod"});
  Node changed = (*dep)->object;
  changed.FindMutable("spec")->Set("replicas", Node::Scalar("3"));
  ASSERT_TRUE((*s)->Apply(changed).ok());
  ASSERT_TRUE(*(*s)->Delete({"", "Service", "istio-system", "istio-egressgateway"}));
  auto verify = VerifyInstall(**s, demo.manifest);
  ASSERT_TRUE(verify.ok());
  EXPECT_FALSE(verify->ok());
  std::vector<std::string> problems;
  for (const auto& item : verify->items) {
    if (!item.ok) {
      problems.push_back(item.key.ToString() + ": " + item.problem);
    }
  }
  EXPECT_EQ(problems, (std::vector<std::string>{"Deployment istio-system/istiod: spec.replicas: want \"1\", got \"3\"",
                                                "Service istio-system/istio-egressgateway: missing"}));
  // Installing again repairs the drift.
  Install(**s, demo);
  EXPECT_TRUE(VerifyInstall(**s, demo.manifest)->ok());
}

TEST(Installer, InstalledStateRoundTrips) {
  testing::TempDir dir;
  auto s = store::LocalStore::Open(dir.path());
  ASSERT_TRUE(s.ok());
  Rendered demo = Render({"profile=demo", "values.gateways.istio-ingressgateway.type=NodePort"});
  Install(**s, demo);
  auto iop = ReadInstalledState(**s);
  ASSERT_TRUE(iop.ok()) << iop.status();
  MergeInputs in;
  in.overlays.push_back(*iop);
  auto again = MergeInstallConfig(in);
  ASSERT_TRUE(again.ok()) << again.status();
  auto m = RenderManifest(*again);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(ManifestToYaml(m->objects), ManifestToYaml(demo.manifest.objects));
}

TEST(Installer, UninstallKeepsBaseUnlessPurge) {
  testing::TempDir dir;
  auto s = store::LocalStore::Open(dir.path());
  ASSERT_TRUE(s.ok());
  Install(**s, Render({"profile=demo"}));
  auto vs = config::ParseYamlNode(
      "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: r\n  namespace: default\n"
      "spec:\n  hosts: [r]\n", "t");
  ASSERT_TRUE((*s)->Apply(*vs).ok());

  auto plan = PlanUninstall(**s, /*purge=*/false, "default");
  ASSERT_TRUE(plan.ok());
  ASSERT_TRUE(ExecuteUninstall(**s, *plan, nullptr).ok());
  EXPECT_EQ(CountWithComponentLabel(**s), 16);  // Base: 15 CRDs + reader account
  EXPECT_TRUE((*(*s)->Get({"networking.istio.io", "VirtualService", "default", "r"})).has_value());

  plan = PlanUninstall(**s, /*purge=*/true, "default");
  ASSERT_TRUE(plan.ok());
  std::vector<std::string> removed;
  ASSERT_TRUE(ExecuteUninstall(**s, *plan, [&](const store::ObjectKey& k) { removed.push_back(k.ToString()); }).ok());
  EXPECT_EQ(CountWithComponentLabel(**s), 0);
  // Deleting the CRD deleted the config it held; the namespace stays.
  EXPECT_FALSE((*(*s)->Get({"networking.istio.io", "VirtualService", "default", "r"})).has_value());
  EXPECT_FALSE(ReadInstalledState(**s).ok());
  EXPECT_TRUE((*(*s)->Get({"", "Namespace", "", "istio-system"})).has_value());
}

TEST(Installer, RevisionsLiveSideBySide) {
  testing::TempDir dir;
  auto s = store::LocalStore::Open(dir.path());
  ASSERT_TRUE(s.ok());
  Rendered stable = Render({"profile=demo"});
  Install(**s, stable);
  Rendered canary = Render({"profile=minimal", "revision=canary"});
  InstallPlan plan = Install(**s, canary);
  EXPECT_EQ(plan.Count(ChangeAction::kPrune), 0);  // the default revision is not touched
  EXPECT_TRUE((*(*s)->Get({"apps", "Deployment", "istio-system", "istiod"})).has_value());
  EXPECT_TRUE((*(*s)->Get({"apps", "Deployment", "istio-system", "istiod-canary"})).has_value());
  EXPECT_TRUE(ReadInstalledState(**s, "istio-system", "canary").ok());
  EXPECT_TRUE(ReadInstalledState(**s).ok());

  auto un = PlanUninstall(**s, /*purge=*/false, "canary");
  ASSERT_TRUE(un.ok());
  ASSERT_TRUE(ExecuteUninstall(**s, *un, nullptr).ok());
  EXPECT_FALSE((*(*s)->Get({"apps", "Deployment", "istio-system", "istiod-canary"})).has_value());
  EXPECT_FALSE(ReadInstalledState(**s, "istio-system", "canary").ok());
  EXPECT_TRUE((*(*s)->Get({"apps", "Deployment", "istio-system", "istiod"})).has_value());
  EXPECT_TRUE(ReadInstalledState(**s).ok());
  // The shared Base was not relabelled by the canary install: the default revision verifies.
  EXPECT_TRUE(VerifyInstall(**s, stable.manifest)->ok());
}

TEST(Installer, FirstDifference) {
  auto a = config::ParseYamlNode("a: {b: [1, 2]}\nc: x\n", "a");
  auto b = config::ParseYamlNode("a: {b: [1, 3]}\nc: x\n", "b");
  EXPECT_EQ(FirstDifference(*a, *b), "a.b[1]: want \"2\", got \"3\"");
  EXPECT_EQ(FirstDifference(*a, *a), "");
  auto c = config::ParseYamlNode("a: {b: [1, 2]}\nc: x\nd: extra\n", "c");
  EXPECT_EQ(FirstDifference(*a, *c), "d: want <none>, got \"extra\"");
}

}  // namespace
}  // namespace mesh::install
