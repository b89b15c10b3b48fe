#include "mesh/config/emit.h"

#include "gtest/gtest.h"
#include "mesh/config/yaml_loader.h"

namespace mesh::config {
namespace {

TEST(Emit, YamlRoundTripsKubectlLayout) {
  const char* text =
      "apiVersion: v1\n"
      "kind: Service\n"
      "metadata:\n"
      "  name: x\n"
      "  annotations:\n"
      "    a: 'true'\n"
      "    b: ''\n"
      "spec:\n"
      "  ports:\n"
      "  - name: http\n"
      "    port: 80\n"
      "  - name: https\n"
      "    port: 443\n"
      "  selector: {}\n"
      "  list:\n"
      "  - a\n"
      "  - - b\n"
      "data:\n"
      "  cert: |\n"
      "    line1\n"
      "    line2\n";
  auto node = ParseYamlNode(text, "x");
  ASSERT_TRUE(node.ok());
  std::string out = EmitYaml(*node);
  EXPECT_EQ(out, text);
  auto again = ParseYamlNode(out, "y");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *node);
}

TEST(Emit, JsonTypesScalars) {
  auto node = ParseYamlNode("a: 1\nb: '1'\nc: true\nd: x<y\ne: ~\nf: [1.5, -2]\n", "x");
  ASSERT_TRUE(node.ok());
  EXPECT_EQ(EmitJson(*node, {.indent = 0}),
            "{\"a\":1,\"b\":\"1\",\"c\":true,\"d\":\"x<y\",\"e\":null,\"f\":[1.5,-2]}");
  EXPECT_EQ(EmitJson(*node, {.indent = 0, .escape_html = true}).find("x\\u003cy") != std::string::npos, true);
}

// YAML reads NEL (U+0085), LINE SEPARATOR (U+2028) and PARAGRAPH SEPARATOR (U+2029) as
// line breaks and DEL as non-printable; JSON allows them raw. What we emit must read back
// the same (found by the xds_protocol fuzzer: a key holding U+2029 broke the re-parse).
TEST(Emit, LineBreakingCharactersAreEscapedSoTextReadsBack) {
  const std::vector<std::string> texts = {"a\u2029b", "x\u2028", "\u0085lead", "del\x7f", "mix \u2028\u2029\u0085 end",
                                          "snowman \u2603 stays"};
  for (const std::string& text : texts) {
    Node map = Node::Map();
    map.Set(text, Node::Scalar(text));
    std::string json = EmitJson(map);
    for (const char* raw : {"\u2028", "\u2029", "\u0085", "\x7f"}) {
      EXPECT_EQ(json.find(raw), std::string::npos) << json;
    }
    auto from_json = ParseYamlNode(json, "emitted.json");
    ASSERT_TRUE(from_json.ok()) << from_json.status() << "\n" << json;
    EXPECT_EQ((*from_json)[text].Str(), text) << json;
    std::string yaml = EmitYaml(map);
    auto from_yaml = ParseYamlNode(yaml, "emitted.yaml");
    ASSERT_TRUE(from_yaml.ok()) << from_yaml.status() << "\n" << yaml;
    EXPECT_EQ((*from_yaml)[text].Str(), text) << yaml;
  }
  EXPECT_EQ(JsonQuote("a\u2029b"), "\"a\\u2029b\"");
  EXPECT_EQ(JsonQuote("\u2603"), "\"\u2603\"");  // other non-ASCII text stays raw UTF-8
}

}  // namespace
}  // namespace mesh::config
