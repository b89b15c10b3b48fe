// The analysis framework with a scripted analyzer: ordering, de-duplication, formats,
// suppression and namespace filtering, independent of the real analyzers.

#include <algorithm>

#include "gtest/gtest.h"
#include "mesh/analyze/analysis.h"
#include "mesh/analyze/format.h"
#include "mesh/common/strings.h"
#include "mesh/config/yaml_loader.h"
#include "tests/common/test_util.h"

namespace mesh::analyze {
namespace {

// Reports, for every VirtualService, IST0101 about its first gateway (at the line of the
// gateways entry) and IST0132 about its hosts: enough to exercise every formatter path.
class ScriptedAnalyzer : public Analyzer {
 public:
  const AnalyzerMetadata& Metadata() const override { return metadata_; }
  void Analyze(Context& ctx) const override {
    for (const config::Resource* vs : ctx.world().Of(kinds::kVirtualService)) {
      const config::Node& gw = vs->spec()["gateways"];
      if (gw.IsSequence() && !gw.items().empty()) {
        ctx.Report(MessageTypeNamed("ReferencedResourceNotFound"), vs, {"gateway", gw.items()[0].Str()},
                   gw.items()[0].mark().line);
      }
      ctx.Report(MessageTypeNamed("VirtualServiceHostNotFoundInGateway"), vs,
                 {common::GoList(vs->spec()["hosts"].StringList()), vs->FullName(), "x/y"});
      ctx.Report(MessageTypeNamed("NamespaceNotInjected"), nullptr, {"a", "a"});
    }
  }

 private:
  AnalyzerMetadata metadata_{"test.Scripted", "scripted", {kinds::kVirtualService}};
};

World WorldFrom(const std::string& yaml, const std::string& file = "vs.yaml") {
  World w;
  for (config::Resource& r : config::LoadText(yaml, file).resources) {
    w.Add(std::move(r));
  }
  return w;
}

constexpr char kTwoServices[] =
    "apiVersion: networking.istio.io/v1\n"
    "kind: VirtualService\n"
    "metadata:\n"
    "  name: zeta\n"
    "  namespace: b\n"
    "spec:\n"
    "  hosts: [\"x<y\"]\n"
    "  gateways:\n"
    "  - gw-one\n"
    "---\n"
    "apiVersion: networking.istio.io/v1\n"
    "kind: VirtualService\n"
    "metadata:\n"
    "  name: alpha\n"
    "  namespace: a\n"
    "spec:\n"
    "  hosts: [h1, h2]\n";

TEST(FormatTemplate, GoVerbs) {
  EXPECT_EQ(FormatTemplate("Referenced %s not found: %q", {"gateway", "a\"b"}),
            "Referenced gateway not found: \"a\\\"b\"");
  EXPECT_EQ(FormatTemplate("%v and %d%%", {"[a b]", "3"}), "[a b] and 3%");
  EXPECT_EQ(FormatTemplate("%s %s", {"only"}), "only %!s(MISSING)");
}

TEST(Catalog, HasAllMessagesWithValidLevels) {
  EXPECT_EQ(AllMessageTypes().size(), 68u);
  const MessageType* t = FindMessageType("IST0101");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->name, "ReferencedResourceNotFound");
  EXPECT_EQ(t->level, Level::kError);
  EXPECT_EQ(FindMessageType("SchemaWarning")->level, Level::kWarning);
}

TEST(RunAnalyzers, SortsByLevelCodeThenKindNameNamespace) {
  World w = WorldFrom(kTwoServices);
  ScriptedAnalyzer a;
  std::vector<Message> msgs = RunAnalyzers(w, {&a});
  std::vector<std::string> lines;
  for (const Message& m : msgs) {
    lines.push_back(m.LogLine());
  }
  // The resource-less IST0102 is reported twice with the same text: kept once.
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0], "Error [IST0101] (VirtualService b/zeta vs.yaml:9) Referenced gateway not found: \"gw-one\"");
  EXPECT_EQ(lines[1],
            "Warning [IST0132] (VirtualService a/alpha vs.yaml:11) one or more host [h1 h2] defined in "
            "VirtualService a/alpha not found in Gateway x/y.");
  EXPECT_EQ(lines[2].substr(0, 51), "Warning [IST0132] (VirtualService b/zeta vs.yaml:1)");
  EXPECT_EQ(lines[3].substr(0, 24), "Info [IST0102] The names");
}

TEST(Formats, GoldenFiles) {
  World w = WorldFrom(kTwoServices);
  ScriptedAnalyzer a;
  std::vector<Message> msgs = RunAnalyzers(w, {&a});
  EXPECT_EQ(testing::CompareGolden("analyze/format.log", FormatLog(msgs, false)), "");
  EXPECT_EQ(testing::CompareGolden("analyze/format.color.log", FormatLog(msgs, true)), "");
  EXPECT_EQ(testing::CompareGolden("analyze/format.json", FormatJson(msgs) + "\n"), "");
  EXPECT_EQ(testing::CompareGolden("analyze/format.yaml", FormatYaml(msgs)), "");
  EXPECT_EQ(testing::CompareGolden("analyze/format.sarif", FormatSarif(msgs)), "");
}

TEST(Formats, EmptyOutputsMatchIstioctl) {
  EXPECT_EQ(FormatLog({}, false), "\n");
  EXPECT_EQ(FormatJson({}), "[]");
  EXPECT_EQ(FormatYaml({}), "[]\n");
}

TEST(Formats, JsonEscapesHtmlLikeGo) {
  World w = WorldFrom(kTwoServices);
  ScriptedAnalyzer a;
  std::string json = FormatJson(RunAnalyzers(w, {&a}));
  EXPECT_NE(json.find("x\\u003cy"), std::string::npos);
  EXPECT_EQ(json.find("x<y"), std::string::npos);
}

TEST(Origin, ReferenceOmitsLineForJsonFiles) {
  Origin o{"Gateway", "ns", "gw", "in.json", 12};
  EXPECT_EQ(o.Reference(), "in.json");
  o.file = "in.yaml";
  EXPECT_EQ(o.Reference(), "in.yaml:12");
  EXPECT_EQ(o.FriendlyName(), "Gateway ns/gw");
  o.ns.clear();
  EXPECT_EQ(o.FriendlyName(), "Gateway gw");
}

}  // namespace
}  // namespace mesh::analyze
