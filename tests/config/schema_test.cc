#include "mesh/config/schema.h"

#include <fstream>
#include <set>
#include <sstream>

#include "gtest/gtest.h"
#include "tests/common/test_util.h"
#include "mesh/config/yaml_loader.h"

namespace mesh::config {
namespace {

TEST(Schema, BuiltinTableLoadsAndFindsKinds) {
  ASSERT_FALSE(AllKinds().empty());
  const KindSchema* gw = FindKind("networking.istio.io", "Gateway");
  ASSERT_NE(gw, nullptr);
  EXPECT_TRUE(gw->istio);
  EXPECT_EQ(gw->ApiVersion(), "networking.istio.io/v1");
  ASSERT_NE(gw->spec, nullptr);
  EXPECT_EQ(FindKindByAnyName("svc")->kind, "Service");
  EXPECT_EQ(FindKindByAnyName("gateways.gateway.networking.k8s.io")->group, "gateway.networking.k8s.io");
  EXPECT_EQ(FindKindByAnyName("nonsense"), nullptr);
}

TEST(Schema, ValidationReportsPathsAndPositions) {
  auto node = ParseYamlNode(
      "servers:\n"
      "- port:\n"
      "    number: eighty\n"
      "    protocol: HTTPS\n"
      "  tls:\n"
      "    mode: SIMPLEX\n"
      "  hostz: [a]\n",
      "gw.yaml");
  ASSERT_TRUE(node.ok());
  std::vector<FieldIssue> issues;
  ValidateNode(*node, *FindKind("networking.istio.io", "Gateway")->spec, "spec", {}, issues);
  // Type errors and unknown fields in document order, then required fields missing from
  // each object once it has been read.
  ASSERT_EQ(issues.size(), 5u);
  EXPECT_EQ(issues[0].path, "spec.servers[0].port.number");
  EXPECT_EQ(issues[0].mark.line, 3);
  EXPECT_FALSE(issues[0].is_warning);
  EXPECT_EQ(issues[1].message, "spec.servers[0].port.name is required");
  EXPECT_EQ(issues[2].path, "spec.servers[0].tls.mode");
  EXPECT_NE(issues[2].message.find("SIMPLEX"), std::string::npos);
  EXPECT_EQ(issues[3].path, "spec.servers[0].hostz");
  EXPECT_TRUE(issues[3].is_warning);
  EXPECT_EQ(issues[4].message, "spec.servers[0].hosts is required");
}

TEST(Schema, EveryIstioKindHasASpecType) {
  int istio_kinds = 0;
  for (const KindSchema& k : AllKinds()) {
    if (!k.istio) {
      continue;
    }
    ++istio_kinds;
    ASSERT_NE(k.spec, nullptr) << k.kind;
    EXPECT_EQ(k.spec->type, FieldType::kStruct) << k.kind;
    EXPECT_FALSE(k.spec->fields.empty()) << k.kind;
  }
  EXPECT_EQ(istio_kinds, 15);
}

TEST(Schema, TypesFollowTheIstioApi) {
  const TypeSchema& vs = *FindKind("networking.istio.io", "VirtualService")->spec;
  const TypeSchema& http = *vs.FindField("http")->type->element;
  EXPECT_EQ(http.struct_name, "HTTPRoute");
  EXPECT_EQ(http.FindField("timeout")->type->type, FieldType::kDuration);
  EXPECT_EQ(http.FindField("retries")->type->FindField("perTryTimeout")->type->type, FieldType::kDuration);
  const TypeSchema& match = *http.FindField("match")->type->element;
  EXPECT_EQ(match.FindField("headers")->type->Describe(), "map[string]StringMatch");
  EXPECT_EQ(match.FindField("port")->type->type, FieldType::kUInt32);
  EXPECT_EQ(match.FindField("source_labels")->type->Describe(), "map[string]string");  // proto names work too
  const TypeSchema& dest = *http.FindField("route")->type->element->FindField("destination")->type;
  EXPECT_TRUE(dest.FindField("host")->required);
  const TypeSchema& dr = *FindKind("networking.istio.io", "DestinationRule")->spec;
  const TypeSchema& tls = *dr.FindField("trafficPolicy")->type->FindField("tls")->type;
  EXPECT_EQ(tls.FindField("mode")->type->enum_values,
            (std::vector<std::string>{"DISABLE", "SIMPLE", "MUTUAL", "ISTIO_MUTUAL"}));
  const TypeSchema& ap = *FindKind("security.istio.io", "AuthorizationPolicy")->spec;
  EXPECT_EQ(ap.FindField("action")->type->enum_values,
            (std::vector<std::string>{"ALLOW", "DENY", "AUDIT", "CUSTOM"}));
  const TypeSchema& se = *FindKind("networking.istio.io", "ServiceEntry")->spec;
  EXPECT_EQ(se.FindField("ports")->type->element->FindField("number")->type->type, FieldType::kUInt32);
}

TEST(Schema, ValidDocumentsHaveNoFieldIssues) {
  std::ifstream in(mesh::testing::SourceDir() + "/tests/testdata/config/valid-istio-resources.yaml");
  ASSERT_TRUE(in.good());
  std::stringstream text;
  text << in.rdbuf();
  LoadResult loaded = LoadText(text.str(), "valid.yaml");
  ASSERT_TRUE(loaded.errors.empty());
  std::set<std::string> kinds;
  for (const Resource& r : loaded.resources) {
    const KindSchema* k = FindKind(r.gvk().group, r.kind());
    ASSERT_NE(k, nullptr);
    std::vector<FieldIssue> issues;
    ValidateNode(r.spec(), *k->spec, "spec", {}, issues);
    for (const FieldIssue& i : issues) {
      ADD_FAILURE() << r.FriendlyName() << ": " << i.message;
    }
    kinds.insert(r.kind());
  }
  EXPECT_EQ(kinds.size(), 15u);  // every Istio kind is covered
}

TEST(Schema, TypicalMistakesAreReportedWithPathAndLine) {
  auto node = ParseYamlNode(
      "hosts: reviews\n"                      // 1: a string where a list is expected
      "http:\n"                               // 2
      "- timeout: 5 seconds\n"                // 3: not a duration
      "  route:\n"                            // 4
      "  - destination:\n"                    // 5
      "      host: reviews\n"                 // 6
      "      port: {number: \"9080x\"}\n"     // 7: not a number
      "    weight: [50]\n"                    // 8: a list where a number is expected
      "  match:\n"                            // 9
      "  - sourceLabels: {app: [a, b]}\n"     // 10: map values must be strings
      "  corsPolicy: {unmatchedPreflights: DROP}\n",  // 11: not an enum value
      "vs.yaml");
  ASSERT_TRUE(node.ok());
  std::vector<FieldIssue> issues;
  ValidateNode(*node, *FindKind("networking.istio.io", "VirtualService")->spec, "spec", {}, issues);
  std::vector<std::pair<std::string, int>> got;
  for (const FieldIssue& i : issues) {
    EXPECT_FALSE(i.is_warning) << i.message;
    got.emplace_back(i.path, i.mark.line);
  }
  EXPECT_EQ(got, (std::vector<std::pair<std::string, int>>{
                     {"spec.hosts", 1},
                     {"spec.http[0].timeout", 3},
                     {"spec.http[0].route[0].destination.port.number", 7},
                     {"spec.http[0].route[0].weight", 8},
                     {"spec.http[0].match[0].sourceLabels.app", 10},
                     {"spec.http[0].corsPolicy.unmatchedPreflights", 11}}));
}

TEST(Schema, UnquotedNumbersAndBooleansAreNotStrings) {
  auto node = ParseYamlNode(
      "host: reviews\n"
      "subsets:\n"
      "- name: v1\n"
      "  labels: {version: 1, canary: true, build: \"2\", tag: 1a, semver: 1.2.3}\n",
      "dr.yaml");
  ASSERT_TRUE(node.ok());
  std::vector<FieldIssue> issues;
  ValidateNode(*node, *FindKind("networking.istio.io", "DestinationRule")->spec, "spec", {}, issues);
  ASSERT_EQ(issues.size(), 2u);
  EXPECT_EQ(issues[0].message, "spec.subsets[0].labels.version: expected a string, got number 1 (quote it: \"1\")");
  EXPECT_EQ(issues[0].mark.line, 4);
  EXPECT_EQ(issues[1].message,
            "spec.subsets[0].labels.canary: expected a string, got boolean true (quote it: \"true\")");
}

TEST(Schema, RejectsBrokenTables) {
  EXPECT_FALSE(ParseSchemaDocument("kinds:\n- {kind: X, versions: [v1], spec: Missing}\n", "t").ok());
  EXPECT_FALSE(ParseSchemaDocument("kinds:\n- {kind: X}\n", "t").ok());
}

}  // namespace
}  // namespace mesh::config
