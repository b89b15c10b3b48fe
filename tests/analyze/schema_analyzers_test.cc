#include <filesystem>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mesh/analyze/analysis.h"
#include "mesh/analyze/analyzer.h"
#include "mesh/config/yaml_loader.h"
#include "tests/common/test_util.h"

namespace mesh::analyze {
namespace {

using ::testing::ElementsAreArray;
using ::testing::IsEmpty;

// "IST0106 Gateway ns/name: text" per message, sorted as analyze prints them.
std::vector<std::string> RunOne(const std::string& analyzer, const std::string& yaml, World* world_in = nullptr) {
  World own;
  World& world = world_in != nullptr ? *world_in : own;
  config::LoadResult loaded = config::LoadText(yaml, "in.yaml");
  EXPECT_TRUE(loaded.errors.empty());
  for (config::Resource& r : loaded.resources) {
    world.Add(std::move(r));
  }
  const Analyzer* a = FindAnalyzer(analyzer);
  EXPECT_NE(a, nullptr) << analyzer;
  if (a == nullptr) {
    return {};
  }
  std::vector<std::string> out;
  for (const Message& m : RunAnalyzers(world, {a})) {
    out.push_back(m.type->code + " " + m.origin.FriendlyName() + ": " + m.Text());
  }
  return out;
}

struct Case {
  std::string name;
  std::string analyzer;
  std::string yaml;
  std::vector<std::string> want;
};
void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class SchemaAnalyzerTest : public ::testing::TestWithParam<Case> {};

TEST_P(SchemaAnalyzerTest, Reports) {
  const Case& c = GetParam();
  EXPECT_THAT(RunOne(c.analyzer, c.yaml), ElementsAreArray(c.want));
}

INSTANTIATE_TEST_SUITE_P(
    Table, SchemaAnalyzerTest,
    ::testing::Values(
        Case{"GatewayHostsRequired", "schema.ValidationAnalyzer.Gateway",
             "apiVersion: networking.istio.io/v1alpha3\nkind: Gateway\nmetadata: {name: mobifingw, namespace: devops}\n"
             "spec:\n  selector: {istio: ingressgateway}\n  servers:\n  - port: {number: 443, name: https-443, protocol: HTTPS}\n"
             "    tls: {mode: SIMPLE, credentialName: tls-secret}\n    hosts:\n",
             {"IST0106 Gateway devops/mobifingw: Schema validation error: server config must contain at least one "
              "host"}},
        Case{"GatewayPortRequired", "schema.ValidationAnalyzer.Gateway",
             "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: gw}\nspec:\n  servers:\n  - hosts: ['*']\n",
             {"IST0106 Gateway gw: Schema validation error: port is required"}},
        Case{"VirtualServiceNoRoutes", "schema.ValidationAnalyzer.VirtualService",
             "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: reviews, namespace: default}\n"
             "spec:\n  hosts: [reviews]\nhttp:\n- route:\n  - destination: {host: reviews}\n",
             {"IST0106 VirtualService default/reviews: Schema validation error: http, tcp or tls must be provided in "
              "virtual service"}},
        Case{"VirtualServiceDuplicateMatch", "schema.ValidationAnalyzer.VirtualService",
             "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: dup}\nspec:\n  hosts: [a]\n"
             "  tcp:\n  - match: [{port: 80}]\n    route: [{destination: {host: a}}]\n"
             "  - match: [{port: 80}]\n    route: [{destination: {host: b}}]\n",
             {"IST0130 VirtualService dup: VirtualService rule #1 not used (all matches used by prior rules).",
              "IST0131 VirtualService dup: VirtualService rule #1 match #0 is not used (duplicate/overlapping match "
              "in rule #0)."}},
        Case{"DestinationRuleWarningAndError", "schema.ValidationAnalyzer.DestinationRule",
             "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: r, namespace: ns}\nspec:\n"
             "  host: reviews\n  trafficPolicy:\n    outlierDetection: {consecutiveErrors: 5}\n  subsets:\n  - labels: {a: b}\n",
             {"IST0106 DestinationRule ns/r: Schema validation error: subset name cannot be empty",
              "IST0133 DestinationRule ns/r: Schema validation warning: outlier detection consecutive errors is "
              "deprecated, use consecutiveGatewayErrors or consecutive5xxErrors instead"}},
        Case{"UnknownFieldIsAWarning", "schema.ValidationAnalyzer.ServiceEntry",
             "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: se}\nspec:\n  hosts: [a.example.com]\n"
             "  resolution: DNS\n  port:\n  - {number: 80, name: http}\n",
             {"IST0133 ServiceEntry se: Schema validation warning: unknown field \"spec.port\" is not part of the "
              "ServiceEntry API and is ignored"}},
        Case{"AuthorizationPolicyPrefix", "schema.ValidationAnalyzer.AuthorizationPolicy",
             "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: deny, namespace: foo}\n"
             "spec:\n  action: DENY\n",
             {"IST0106 AuthorizationPolicy foo/deny: Schema validation error: invalid policy deny.foo: DENY action "
              "without `rules` is meaningless as it will never be triggered, add an empty rule `{}` if you want it be "
              "triggered for every request"}},
        Case{"OnlyItsOwnKind", "schema.ValidationAnalyzer.Sidecar",
             "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: reviews}\nspec: {}\n", {}},
        Case{"TrafficExtensionNeedsCode", "schema.ValidationAnalyzer.TrafficExtension",
             "apiVersion: extensions.istio.io/v1alpha1\nkind: TrafficExtension\nmetadata: {name: t}\nspec:\n  phase: AUTHN\n",
             {"IST0106 TrafficExtension t: Schema validation error: exactly one of wasm or lua must be set"}}),
    [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

TEST(SchemaAnalyzers, AllSeventeenAreRegisteredWithIstioDescriptions) {
  int count = 0;
  for (const AnalyzerPtr& a : AllAnalyzers()) {
    const std::string& name = a->Metadata().name;
    if (name.rfind("schema.ValidationAnalyzer.", 0) != 0) {
      continue;
    }
    ++count;
    std::string kind = name.substr(std::string("schema.ValidationAnalyzer.").size());
    EXPECT_EQ(a->Metadata().description, "Runs schema validation as an analyzer on '" + kind + "' resources");
    ASSERT_EQ(a->Metadata().inputs.size(), 1u);
    EXPECT_EQ(a->Metadata().inputs[0].display, kind);
  }
  EXPECT_EQ(count, 17);
}

TEST(SchemaAnalyzers, FieldLinesPointAtTheField) {
  config::LoadResult loaded = config::LoadText(
      "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: r}\nspec:\n  host: reviews\n"
      "  trafficPolicy:\n    connectionPool:\n      tcp: {connectTimeout: 5 seconds}\n",
      "dr.yaml");
  World world;
  world.Add(std::move(loaded.resources.front()));
  std::vector<Message> messages = RunAnalyzers(world, {FindAnalyzer("schema.ValidationAnalyzer.DestinationRule")});
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].origin.line, 8);
  EXPECT_EQ(messages[0].LogLine(),
            "Error [IST0106] (DestinationRule r dr.yaml:8) Schema validation error: "
            "spec.trafficPolicy.connectionPool.tcp.connectTimeout: expected a duration such as \"5s\" or \"100ms\", "
            "got \"5 seconds\"");
}

TEST(SchemaAnalyzers, MeshConfigAndNetworksUseSyntheticOrigins) {
  World world;
  auto mesh = config::ParseYamlNode("ingressControllerMode: SOMETIMES\n", "mesh.yaml");
  ASSERT_TRUE(mesh.ok());
  world.set_mesh_config(*mesh);
  EXPECT_THAT(RunOne("schema.ValidationAnalyzer.MeshConfig", "", &world),
              ElementsAreArray({"IST0106 MeshConfig istio-system/meshconfig: Schema validation error: unknown "
                                "ingressControllerMode \"SOMETIMES\""}));
  // Istio's defaults are valid.
  World defaults;
  defaults.set_mesh_config(World::DefaultMeshConfig());
  EXPECT_THAT(RunOne("schema.ValidationAnalyzer.MeshConfig", "", &defaults), IsEmpty());

  auto networks = config::ParseYamlNode("networks:\n  n1:\n    gateways:\n    - {address: 1.2.3.4}\n", "nw.yaml");
  ASSERT_TRUE(networks.ok());
  World with_networks;
  with_networks.set_mesh_networks(*networks, "nw.yaml");
  EXPECT_THAT(RunOne("schema.ValidationAnalyzer.MeshNetworks", "", &with_networks),
              ElementsAreArray({"IST0106 MeshNetworks istio-system/meshnetworks: Schema validation error: invalid "
                                "network n1: port number 0 must be in the range 1..65535"}));
  EXPECT_THAT(RunOne("schema.ValidationAnalyzer.MeshNetworks", ""), IsEmpty());
}

// The seed-style inputs of the conformance corpus, when ../shared is present.
TEST(SchemaAnalyzers, SeedStyleMisindentedValidYaml) {
  std::string shared = mesh::testing::SharedDir();
  std::string file = shared + "/conformance/analyze/testdata/seedstyle/misindented-valid-yaml.yaml";
  if (shared.empty() || !std::filesystem::exists(file)) {
    GTEST_SKIP() << "../shared not present";
  }
  auto loaded = config::LoadPaths({file});
  ASSERT_TRUE(loaded.ok());
  World world;
  for (config::Resource& r : loaded->resources) {
    r.set_namespace("default");
    world.Add(std::move(r));
  }
  std::vector<Message> messages = RunAnalyzers(world, {FindAnalyzer("schema.ValidationAnalyzer.VirtualService")});
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].type->code, "IST0106");
  EXPECT_EQ(messages[0].origin.FriendlyName(), "VirtualService default/reviews");
  EXPECT_EQ(messages[0].origin.line, 1);
  EXPECT_EQ(messages[0].Text(), "Schema validation error: http, tcp or tls must be provided in virtual service");
}

}  // namespace
}  // namespace mesh::analyze
