#include "mesh/install/iop.h"

#include "gtest/gtest.h"
#include "mesh/config/emit.h"
#include "mesh/install/render.h"
#include "mesh/install/tree.h"
#include "tests/common/test_util.h"

namespace mesh::install {
namespace {

absl::StatusOr<MergedConfig> Merge(std::vector<std::string> sets, std::vector<std::string> files = {},
                                   std::string profile = "", bool force = false) {
  MergeInputs in;
  in.set_flags = std::move(sets);
  in.files = std::move(files);
  in.profile = std::move(profile);
  in.force = force;
  return MergeInstallConfig(in);
}


TEST(Profiles, EveryProfileLayersOnDefault) {
  for (const char* name : {"default", "demo", "minimal", "empty", "remote", "preview"}) {
    auto p = LoadProfile(name);
    ASSERT_TRUE(p.ok()) << name << ": " << p.status();
    EXPECT_EQ((*p)["spec"]["values"]["global"]["istioNamespace"].Str(), "istio-system") << name;
  }
  EXPECT_FALSE(LoadProfile("nope").ok());
  // demo's egressGateways list replaces default's (lists replace).
  auto demo = LoadProfile("demo");
  ASSERT_EQ((*demo)["spec"]["components"]["egressGateways"].size(), 1u);
  EXPECT_EQ((*demo)["spec"]["components"]["egressGateways"].items()[0]["enabled"].Str(), "true");
}

TEST(Merge, ProfileFromSetFlagOrProfileFlag) {
  auto c = Merge({"profile=demo"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->profile, "demo");
  EXPECT_EQ(c->values["profile"].Str(), "demo");
  // The helm profile layer applies: demo turns autoscaling off and adds ingress ports.
  EXPECT_EQ(c->values["pilot"]["autoscaleEnabled"].Str(), "false");
  EXPECT_EQ(c->values["gateways"]["istio-ingressgateway"]["ports"].size(), 5u);
  c = Merge({}, {}, "minimal");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->profile, "minimal");
  EXPECT_FALSE(ComponentEnabled(c->iop["spec"]["components"]["ingressGateways"].items()[0]));
  EXPECT_FALSE(Merge({"profile=nope"}).ok());
}

TEST(Merge, FilesLeftToRightThenSetInOrder) {
  testing::TempDir dir;
  std::string a = dir.Write("a.yaml",
                            "apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nspec:\n  hub: a.io\n"
                            "  values:\n    pilot:\n      traceSampling: 5\n      replicaCount: 2\n");
  std::string b = dir.Write("b.yaml",
                            "apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nspec:\n  hub: b.io\n"
                            "  values:\n    pilot:\n      traceSampling: 7\n");
  auto c = Merge({"values.pilot.traceSampling=9", "values.pilot.traceSampling=11"}, {a, b});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->values["global"]["hub"].Str(), "b.io");
  EXPECT_EQ(c->values["pilot"]["traceSampling"].Str(), "11");
  EXPECT_EQ(c->values["pilot"]["replicaCount"].Str(), "2");  // from a, untouched by b
  c = Merge({}, {b, a});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->values["global"]["hub"].Str(), "a.io");
}

TEST(Merge, UserListReplacesProfileList) {
  testing::TempDir dir;
  std::string f = dir.Write("gw.yaml",
                            "apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nspec:\n  components:\n"
                            "    ingressGateways:\n    - name: my-gw\n      label: {istio: my-gw}\n");
  auto c = Merge({}, {f});
  ASSERT_TRUE(c.ok()) << c.status();
  const Node& gws = c->iop["spec"]["components"]["ingressGateways"];
  ASSERT_EQ(gws.size(), 1u);
  EXPECT_EQ(gws.items()[0]["name"].Str(), "my-gw");
  auto m = RenderManifest(*c);
  ASSERT_TRUE(m.ok()) << m.status();
  bool found = false;
  for (const auto& o : m->objects) {
    EXPECT_NE(o.name, "istio-ingressgateway");
    found |= o.kind == "Deployment" && o.name == "my-gw";
  }
  EXPECT_TRUE(found);
}

TEST(Merge, SetAddressesProfileListElements) {
  auto c = Merge({"components.ingressGateways.[name:istio-ingressgateway].k8s.replicaCount=3",
                  "components.ingressGateways[0].k8s.resources.requests.memory=999Mi"});
  ASSERT_TRUE(c.ok()) << c.status();
  const Node& gw = c->iop["spec"]["components"]["ingressGateways"].items()[0];
  EXPECT_EQ(gw["name"].Str(), "istio-ingressgateway");
  EXPECT_EQ(gw["k8s"]["replicaCount"].Str(), "3");
  EXPECT_EQ(gw["k8s"]["resources"]["requests"]["memory"].Str(), "999Mi");
  auto bad = Merge({"components.ingressGateways.[name:nope].enabled=true"});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(std::string(bad.status().message()).find("element [name:nope] not found"), std::string::npos);
}

TEST(Merge, TagStaysStringAndSpecFieldsTranslateToValues) {
  auto c = Merge({"tag=1.20", "hub=my.registry/istio", "revision=canary", "meshConfig.accessLogFile=/dev/stdout"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->values["global"]["tag"].Str(), "1.20");
  EXPECT_TRUE(c->values["global"]["tag"].quoted());
  EXPECT_EQ(c->values["global"]["hub"].Str(), "my.registry/istio");
  EXPECT_EQ(c->values["revision"].Str(), "canary");
  EXPECT_EQ(c->values["meshConfig"]["accessLogFile"].Str(), "/dev/stdout");
  // Chart-default meshConfig keys survive the map merge.
  EXPECT_EQ(c->values["meshConfig"]["trustDomain"].Str(), "cluster.local");
  // An explicit values.global.hub beats spec.hub.
  c = Merge({"hub=spec.io", "values.global.hub=values.io"});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->values["global"]["hub"].Str(), "values.io");
}

TEST(Validation, UnknownKeysNameThePathAndForceDowngrades) {
  auto c = Merge({"values.pilot.notAField=1"});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(std::string(c.status().message()).find("spec.values.pilot.notAField"), std::string::npos)
      << c.status();
  c = Merge({"components.pilot.k8s.replicas=2"});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(std::string(c.status().message()).find("spec.components.pilot.k8s.replicas"), std::string::npos);
  c = Merge({"values.pilot.notAField=1"}, {}, "", /*force=*/true);
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_FALSE(c->warnings.empty());
  EXPECT_EQ(c->warnings.back(), "spec invalid; continuing because of --force");
}

TEST(Validation, WrongTypesAreErrors) {
  // 1 is an int, and autoscaleEnabled wants a bool.
  auto c = Merge({"values.pilot.autoscaleEnabled=1"});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(std::string(c.status().message()).find("spec.values.pilot.autoscaleEnabled"), std::string::npos);
  EXPECT_FALSE(Merge({"values.gateways.istio-ingressgateway.type=Bogus"}).ok());
  EXPECT_TRUE(Merge({"values.gateways.istio-ingressgateway.type=NodePort"}).ok());
}

TEST(Validation, FileErrorsCarryFileLineColumn) {
  testing::TempDir dir;
  std::string f = dir.Write("bad.yaml",
                            "apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nspec:\n  values:\n"
                            "    pilot:\n      autoscaleEnabeld: false\n");
  auto c = Merge({}, {f});
  ASSERT_FALSE(c.ok());
  std::string msg(c.status().message());
  EXPECT_NE(msg.find(f + ":6:7: unknown field \"spec.values.pilot.autoscaleEnabeld\""), std::string::npos) << msg;
}

TEST(Validation, OneIstioOperatorPerFile) {
  testing::TempDir dir;
  std::string f = dir.Write("two.yaml",
                            "apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\n---\n"
                            "apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\n");
  auto c = Merge({}, {f});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(std::string(c.status().message()).find("contains multiple IstioOperator CRs"), std::string::npos);
}

TEST(Validation, BareSpecIsAccepted) {
  testing::TempDir dir;
  std::string f = dir.Write("bare.yaml", "apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nspec:\n");
  auto c = Merge({}, {f});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->profile, "default");
}

TEST(Validation, RevisionAndPrivilegedPortsAndUnsupportedComponents) {
  EXPECT_FALSE(Merge({"revision=Not_Valid"}).ok());
  auto c = Merge({"values.gateways.istio-ingressgateway.ports[0].targetPort=80",
                  "values.gateways.istio-ingressgateway.ports[0].port=80",
                  "values.gateways.istio-ingressgateway.ports[0].name=http"});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(std::string(c.status().message()).find("privileged"), std::string::npos);
  EXPECT_TRUE(Merge({"values.gateways.istio-ingressgateway.ports[0].targetPort=80",
                     "values.gateways.istio-ingressgateway.ports[0].port=80",
                     "values.gateways.istio-ingressgateway.runAsRoot=true"})
                  .ok());
  EXPECT_FALSE(Merge({"components.cni.enabled=true"}).ok());
}

TEST(Flatten, FlagsFormat) {
  auto c = Merge({});
  ASSERT_TRUE(c.ok());
  auto lines = FlattenPaths(c->iop["spec"]["components"], "components");
  EXPECT_NE(std::find(lines.begin(), lines.end(), "components.base.enabled=true"), lines.end());
  EXPECT_NE(std::find(lines.begin(), lines.end(), "components.ingressGateways[0].name=\"istio-ingressgateway\""),
            lines.end());
}

}  // namespace
}  // namespace mesh::install
