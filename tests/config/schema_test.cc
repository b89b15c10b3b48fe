#include "mesh/config/schema.h"

#include "gtest/gtest.h"
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
  ASSERT_EQ(issues.size(), 3u);
  EXPECT_EQ(issues[0].path, "spec.servers[0].port.number");
  EXPECT_EQ(issues[0].mark.line, 3);
  EXPECT_FALSE(issues[0].is_warning);
  EXPECT_EQ(issues[1].path, "spec.servers[0].tls.mode");
  EXPECT_NE(issues[1].message.find("SIMPLEX"), std::string::npos);
  EXPECT_EQ(issues[2].path, "spec.servers[0].hostz");
  EXPECT_TRUE(issues[2].is_warning);
}

TEST(Schema, RejectsBrokenTables) {
  EXPECT_FALSE(ParseSchemaDocument("kinds:\n- {kind: X, versions: [v1], spec: Missing}\n", "t").ok());
  EXPECT_FALSE(ParseSchemaDocument("kinds:\n- {kind: X}\n", "t").ok());
}

}  // namespace
}  // namespace mesh::config
