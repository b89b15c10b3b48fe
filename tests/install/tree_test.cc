#include "mesh/install/tree.h"

#include "gtest/gtest.h"
#include "mesh/config/emit.h"
#include "mesh/config/yaml_loader.h"

namespace mesh::install {
namespace {

Node Parse(const std::string& yaml) {
  auto n = config::ParseYamlNode(yaml, "test");
  EXPECT_TRUE(n.ok()) << n.status();
  return *n;
}

std::string Json(const Node& n) { return config::EmitJson(n, {.indent = 0}); }

TEST(Merge, MapsMergeListsAndScalarsReplace) {
  Node base = Parse("a: {x: 1, y: 2}\nlist: [1, 2, 3]\ns: old\nkeep: k\n");
  MergeFrom(base, Parse("a: {y: 20, z: 30}\nlist: [9]\ns: new\n"));
  EXPECT_EQ(Json(base), R"({"a":{"x":1,"y":20,"z":30},"list":[9],"s":"new","keep":"k"})");
}

TEST(Merge, NullOverlayChangesNothing) {
  Node base = Parse("spec: {profile: demo}\n");
  MergeFrom(base, Parse("spec:\n"));
  EXPECT_EQ(Json(base), R"({"spec":{"profile":"demo"}})");
}

TEST(Merge, ListOfMapsIsReplacedNotMergedByName) {
  Node base = Parse("gws: [{name: a, enabled: true}, {name: b}]\n");
  MergeFrom(base, Parse("gws: [{name: a, enabled: false}]\n"));
  EXPECT_EQ(Json(base), R"({"gws":[{"name":"a","enabled":false}]})");
}

TEST(SplitPath, KeysIndexesSelectorsAndEscapes) {
  auto p = SplitPath("components.ingressGateways[0].k8s");
  ASSERT_TRUE(p.ok());
  ASSERT_EQ(p->size(), 4u);
  EXPECT_EQ((*p)[1].key, "ingressGateways");
  EXPECT_EQ((*p)[2].kind, PathElement::Kind::kIndex);
  EXPECT_EQ((*p)[2].index, 0u);
  p = SplitPath("components.ingressGateways.[name:user-gw].k8s");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ((*p)[2].kind, PathElement::Kind::kSelector);
  EXPECT_EQ((*p)[2].key, "name");
  EXPECT_EQ((*p)[2].value, "user-gw");
  p = SplitPath(R"(values.sidecarInjectorWebhook.injectedAnnotations.container\.apparmor\.security\.beta\.kubernetes\.io/istio-proxy)");
  ASSERT_TRUE(p.ok());
  ASSERT_EQ(p->size(), 4u);
  EXPECT_EQ((*p)[3].key, "container.apparmor.security.beta.kubernetes.io/istio-proxy");
  p = SplitPath("args.[30m]");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ((*p)[1].kind, PathElement::Kind::kValue);
  EXPECT_EQ((*p)[1].value, "30m");
  EXPECT_FALSE(SplitPath("a.[x").ok());
  EXPECT_FALSE(SplitPath("a.[-1]").ok());
  EXPECT_FALSE(SplitPath("a[99999999999999999999999]").ok());  // does not wrap to index 0
  EXPECT_FALSE(SplitPath("").ok());
}

TEST(SetPath, CreatesMapsIndexesAndAppends) {
  Node root = Parse("gws: [{name: a}, {name: b}]\n");
  ASSERT_TRUE(SetPath(root, "x.y.z", Node::Scalar("1")).ok());
  ASSERT_TRUE(SetPath(root, "gws[1].k8s.replicaCount", Node::Scalar("3")).ok());
  ASSERT_TRUE(SetPath(root, "gws.[name:a].enabled", BoolNode(false)).ok());
  // An index at or past the end appends.
  ASSERT_TRUE(SetPath(root, "gws[7].name", StringNode("c")).ok());
  EXPECT_EQ(Json(root),
            R"({"gws":[{"name":"a","enabled":false},{"name":"b","k8s":{"replicaCount":3}},{"name":"c"}],"x":{"y":{"z":1}}})");
  auto st = SetPath(root, "gws.[name:nope].enabled", BoolNode(true));
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(std::string(st.message()), "element [name:nope] not found");
  EXPECT_FALSE(SetPath(root, "x.y.z.w", Node::Scalar("1")).ok());  // z is a scalar
  Node args = Parse("args: [--a, 30m, --b]\n");
  ASSERT_TRUE(SetPath(args, "args.[30m]", StringNode("60m")).ok());
  EXPECT_EQ(Json(args), R"({"args":["--a","60m","--b"]})");
  EXPECT_FALSE(SetPath(args, "args.[30m]", StringNode("x")).ok());
  ASSERT_TRUE(*DeletePath(args, "args.[--a]"));
  EXPECT_EQ(Json(args), R"({"args":["60m","--b"]})");
}

TEST(ParseSetValue, IntThenFloatThenBoolThenString) {
  auto typed = [](const std::string& path, const std::string& v) { return Json(ParseSetValue(path, v)); };
  EXPECT_EQ(typed("values.pilot.replicaCount", "1"), "1");  // 1 and 0 are ints, not bools
  EXPECT_EQ(typed("x", "0"), "0");
  EXPECT_EQ(typed("x", "-5"), "-5");
  EXPECT_EQ(typed("x", "1.5"), "1.5");
  EXPECT_EQ(typed("x", "1e3"), "1e3");
  EXPECT_EQ(ParseSetValue("x", "NaN").quoted(), false);
  EXPECT_EQ(typed("x", "true"), "true");
  EXPECT_EQ(typed("x", "T"), "true");
  EXPECT_EQ(typed("x", "F"), "false");
  EXPECT_EQ(typed("x", "FALSE"), "false");
  EXPECT_EQ(typed("x", "NodePort"), "\"NodePort\"");
  EXPECT_EQ(typed("x", R"(a\,b)"), "\"a,b\"");
  EXPECT_EQ(typed("x", ""), "\"\"");
  // Paths that always stay strings.
  EXPECT_EQ(typed("tag", "1.20"), "\"1.20\"");
  EXPECT_EQ(typed("values.global.tag", "1"), "\"1\"");
  EXPECT_EQ(typed("compatibilityVersion", "1.24"), "\"1.24\"");
  EXPECT_EQ(typed("meshConfig.defaultConfig.proxyMetadata.ISTIO_META_DNS_CAPTURE", "true"), "\"true\"");
}

TEST(ParseSetFlag, OnlyTheFirstEqualsSplitsAndSpecPrefixIsOptional) {
  auto f = ParseSetFlag("spec.values.global.proxy.env=A=B");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->path, "values.global.proxy.env");
  EXPECT_EQ(f->value.Str(), "A=B");
  EXPECT_FALSE(ParseSetFlag("novalue").ok());
  EXPECT_FALSE(ParseSetFlag("=x").ok());
}

TEST(SortedKeys, SortsRecursively) {
  Node n = Parse("b: 1\na: {d: [ {z: 1, y: 2} ], c: 3}\n");
  EXPECT_EQ(Json(SortedKeys(n)), R"({"a":{"c":3,"d":[{"y":2,"z":1}]},"b":1})");
}

}  // namespace
}  // namespace mesh::install
