#include "mesh/install/template.h"

#include "gtest/gtest.h"
#include "mesh/config/emit.h"
#include "mesh/config/yaml_loader.h"

namespace mesh::install {
namespace {

Node Parse(const std::string& yaml) {
  auto n = config::ParseYamlNode(yaml, "t");
  EXPECT_TRUE(n.ok()) << n.status();
  return *n;
}

const char* kContext =
    "name: gw\n"
    "on: true\n"
    "off: false\n"
    "port: 8080\n"
    "labels: {app: gw, istio: ingressgateway}\n"
    "env: [{name: A, value: '1'}, {name: B, value: '2'}]\n"
    "nested: {x: [1, 2]}\n";

std::string Render(const std::string& tmpl) {
  auto r = RenderTemplate(Parse(tmpl), Parse(kContext));
  EXPECT_TRUE(r.ok()) << r.status();
  if (!r.ok() || !r->has_value()) {
    return "<dropped>";
  }
  return config::EmitJson(**r, {.indent = 0});
}

TEST(Template, WholeScalarKeepsTypeAndNullRemoves) {
  EXPECT_EQ(Render("a: '{{ port }}'\nb: '{{ labels }}'\nc: '{{ missing }}'\nd: [x, '{{ missing }}']\n"),
            R"({"a":8080,"b":{"app":"gw","istio":"ingressgateway"},"d":["x"]})");
}

TEST(Template, InterpolationAndFilters) {
  EXPECT_EQ(Render("a: '{{ name }}-sds'\nb: pre{{ port }}\nc: '{{ port | string }}'\n"
                   "d: '{{ nested | json }}'\ne: '{{ labels | yaml }}'\n"),
            R"({"a":"gw-sds","b":"pre8080","c":"8080","d":"{\"x\":[1,2]}","e":"app: gw\nistio: ingressgateway"})");
}

TEST(Template, ConditionsMergeAndSplice) {
  EXPECT_EQ(Render("_if: on\nkeep: 1\n"), R"({"keep":1})");
  EXPECT_EQ(Render("_if: off\nkeep: 1\n"), "<dropped>");
  EXPECT_EQ(Render("_unless: on\nkeep: 1\n"), "<dropped>");
  EXPECT_EQ(Render("_if: missing\nkeep: 1\n"), "<dropped>");
  EXPECT_EQ(Render("items:\n- {_if: off, a: 1}\n- {_if: on, b: 2}\n"), R"({"items":[{"b":2}]})");
  EXPECT_EQ(Render("labels:\n  _merge: '{{ labels }}'\n  app: override\n  extra: x\n"),
            R"({"labels":{"app":"override","istio":"ingressgateway","extra":"x"}})");
  EXPECT_EQ(Render("env:\n- {name: FIRST, value: '0'}\n- _splice: '{{ env }}'\n"),
            R"({"env":[{"name":"FIRST","value":"0"},{"name":"A","value":"1"},{"name":"B","value":"2"}]})");
}

TEST(Template, MalformedExpressionsAreErrors) {
  EXPECT_FALSE(RenderTemplate(Parse("a: 'x{{ name'\n"), Parse(kContext)).ok());
  EXPECT_FALSE(RenderTemplate(Parse("a: '{{ name | bogus }}'\n"), Parse(kContext)).ok());
  EXPECT_FALSE(RenderTemplate(Parse("a: '{{  }}'\n"), Parse(kContext)).ok());
}

}  // namespace
}  // namespace mesh::install
