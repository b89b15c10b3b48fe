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

}  // namespace
}  // namespace mesh::config
