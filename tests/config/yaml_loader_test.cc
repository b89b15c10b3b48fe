#include "mesh/config/yaml_loader.h"

#include "gtest/gtest.h"
#include "tests/common/test_util.h"

namespace mesh::config {
namespace {

TEST(ParseYamlDocuments, KeepsLinesAcrossDocuments) {
  const char* text =
      "apiVersion: v1\n"
      "kind: Namespace\n"
      "metadata:\n"
      "  name: a\n"
      "---\n"
      "# comment\n"
      "apiVersion: v1\n"
      "kind: Service\n"
      "metadata:\n"
      "  name: b\n"
      "  namespace: ns\n";
  ParseResult r = ParseYamlDocuments(text, "f.yaml");
  ASSERT_TRUE(r.errors.empty());
  ASSERT_EQ(r.documents.size(), 2u);
  EXPECT_EQ(r.documents[0].start_line, 1);
  EXPECT_EQ(r.documents[1].start_line, 7);
  const Node& ns = r.documents[1].root.At({"metadata", "namespace"});
  EXPECT_EQ(ns.Str(), "ns");
  EXPECT_EQ(ns.mark().line, 11);
  EXPECT_EQ(ns.mark().column, 14);
  EXPECT_EQ(ns.key_mark().line, 11);
  EXPECT_EQ(ns.key_mark().column, 3);
}

TEST(ParseYamlDocuments, OneBadDocumentDoesNotHideTheOthers) {
  const char* text =
      "apiVersion: v1\n"
      "kind: A\n"
      "metadata:\n"
      "  name: x\n"
      "   http: [\n"
      "---\n"
      "apiVersion: v1\n"
      "kind: B\n";
  ParseResult r = ParseYamlDocuments(text, "bad.yaml");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].document, 0);
  EXPECT_GE(r.errors[0].mark.line, 4);
  EXPECT_LE(r.errors[0].mark.line, 6);
  EXPECT_NE(r.errors[0].ToString().find("bad.yaml:"), std::string::npos);
  ASSERT_EQ(r.documents.size(), 1u);
  EXPECT_EQ(r.documents[0].root["kind"].Str(), "B");
}

TEST(ParseYamlDocuments, QuotedScalarsStayStrings) {
  ParseResult r = ParseYamlDocuments("a: \"80\"\nb: 80\nc: 'true'\n", "q.yaml");
  ASSERT_EQ(r.documents.size(), 1u);
  const Node& root = r.documents[0].root;
  EXPECT_TRUE(root["a"].quoted());
  EXPECT_FALSE(root["a"].LooksNumeric());
  EXPECT_TRUE(root["b"].LooksNumeric());
  EXPECT_EQ(root["b"].Int(), 80);
  EXPECT_FALSE(root["c"].LooksBool());
}

TEST(ParseYamlDocuments, GarbageNeverCrashes) {
  for (const char* text : {"{", "[", "a: b: c", "- a\nb: c", "\t\tx", "key: &a [*a]", "!!binary ~", "?"}) {
    ParseResult r = ParseYamlDocuments(text, "g.yaml");
    EXPECT_LE(r.documents.size() + r.errors.size(), 1u) << text;
  }
}

TEST(LoadText, BuildsResourcesWithIdentity) {
  LoadResult r = LoadText(
      "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata:\n  name: gw\n  namespace: devops\n"
      "  labels:\n    app: x\nspec:\n  selector:\n    istio: ingressgateway\n",
      "gw.yaml");
  ASSERT_TRUE(r.errors.empty());
  ASSERT_EQ(r.resources.size(), 1u);
  const Resource& gw = r.resources[0];
  EXPECT_EQ(gw.gvk().group, "networking.istio.io");
  EXPECT_EQ(gw.gvk().version, "v1");
  EXPECT_EQ(gw.FriendlyName(), "Gateway devops/gw");
  EXPECT_EQ(gw.labels().at("app"), "x");
  EXPECT_EQ(gw.spec().At({"selector", "istio"}).Str(), "ingressgateway");
  EXPECT_EQ(gw.source().file, "gw.yaml");
  EXPECT_EQ(gw.source().line, 1);
}

TEST(LoadText, DocumentWithoutKindIsAnError) {
  LoadResult r = LoadText("metadata:\n  name: x\n", "k.yaml");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].ToString(), "k.yaml:1:1: unable to parse resource with no group, version and kind");
}

TEST(LoadText, ExpandsLists) {
  LoadResult r = LoadText(
      "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Namespace\n  metadata: {name: a}\n"
      "- apiVersion: v1\n  kind: Namespace\n  metadata: {name: b}\n",
      "l.yaml");
  ASSERT_EQ(r.resources.size(), 2u);
  EXPECT_EQ(r.resources[1].name(), "b");
  EXPECT_EQ(r.resources[1].source().line, 7);
}

TEST(LoadPaths, WalksDirectoriesAndReportsMissingPaths) {
  testing::TempDir dir;
  dir.Write("a/one.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: one}\n");
  dir.Write("a/b/two.yml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: two}\n");
  dir.Write("a/readme.md", "not yaml");
  auto r = LoadPaths({dir.path() + "/a"});
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->resources.size(), 2u);
  auto missing = LoadPaths({dir.path() + "/nope.yaml"});
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  auto skipped = LoadPaths({dir.path() + "/a/readme.md"});
  ASSERT_TRUE(skipped.ok());
  EXPECT_EQ(skipped->skipped_files.size(), 1u);
}

}  // namespace
}  // namespace mesh::config

namespace mesh::config {
namespace {

TEST(ParseYamlDocuments, AliasBombsAndDeepNestingAreRefused) {
  std::string bomb = "a: &a [x,x,x,x,x,x,x,x,x]\n";
  for (char c = 'b'; c <= 'j'; ++c) {
    std::string prev(1, static_cast<char>(c - 1));
    bomb += std::string(1, c) + ": &" + std::string(1, c) + " [";
    for (int i = 0; i < 9; ++i) {
      bomb += (i ? ",*" : "*") + prev;
    }
    bomb += "]\n";
  }
  ParseResult r = ParseYamlDocuments(bomb, "bomb.yaml");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_NE(r.errors[0].message.find("too many nodes"), std::string::npos);

  std::string deep(1000, '[');
  ParseResult d = ParseYamlDocuments(deep, "deep.yaml");
  ASSERT_EQ(d.errors.size(), 1u);

  ParseResult rec = ParseYamlDocuments("a: &x [*x]\n", "rec.yaml");
  ASSERT_EQ(rec.errors.size(), 1u);
  EXPECT_EQ(rec.errors[0].ToString(), "rec.yaml:1:8: alias refers to an unknown anchor (or to its own, which is recursive)");
}

TEST(ParseYamlDocuments, AliasesExpandToCopies) {
  ParseResult r = ParseYamlDocuments("base: &b {x: 1}\nuse: *b\n", "a.yaml");
  ASSERT_TRUE(r.errors.empty());
  EXPECT_EQ(r.documents[0].root.At({"use", "x"}).Int(), 1);
}

}  // namespace
}  // namespace mesh::config
