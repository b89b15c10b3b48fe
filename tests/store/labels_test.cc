#include "mesh/store/labels.h"

#include "gtest/gtest.h"
#include "mesh/config/yaml_loader.h"

namespace mesh::store {
namespace {

config::Node Ns(const std::string& labels_yaml) {
  auto n = config::ParseYamlNode("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: demo\n" + labels_yaml, "t");
  EXPECT_TRUE(n.ok());
  return *n;
}

TEST(Labels, ParseArgs) {
  auto c = ParseLabelArgs({"istio-injection=enabled", "istio.io/rev-", "empty="});
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->size(), 3u);
  EXPECT_EQ((*c)[0].key, "istio-injection");
  EXPECT_EQ((*c)[0].value, "enabled");
  EXPECT_TRUE((*c)[1].remove);
  EXPECT_EQ((*c)[1].key, "istio.io/rev");
  EXPECT_EQ((*c)[2].value, "");
  EXPECT_FALSE(ParseLabelArgs({"novalue"}).ok());
  EXPECT_FALSE(ParseLabelArgs({"bad key=x"}).ok());
  EXPECT_FALSE(ParseLabelArgs({"k=bad value"}).ok());
  EXPECT_FALSE(ParseLabelArgs({"-k=v"}).ok());
  EXPECT_FALSE(ParseLabelArgs({"Bad_Prefix/k=v"}).ok());
  EXPECT_FALSE(ParseLabelArgs({"k=v", "k-"}).ok());
  EXPECT_FALSE(ParseLabelArgs({}).ok());
}

TEST(Labels, AddsAndRemoves) {
  config::Node ns = Ns("");
  auto changed = ApplyLabelChanges(ns, *ParseLabelArgs({"istio-injection=enabled"}), false);
  ASSERT_TRUE(changed.ok());
  EXPECT_TRUE(*changed);
  EXPECT_EQ(ns["metadata"]["labels"]["istio-injection"].Str(), "enabled");
  // Same value again: allowed without --overwrite, no change.
  changed = ApplyLabelChanges(ns, *ParseLabelArgs({"istio-injection=enabled"}), false);
  ASSERT_TRUE(changed.ok());
  EXPECT_FALSE(*changed);
  changed = ApplyLabelChanges(ns, *ParseLabelArgs({"istio-injection-"}), false);
  ASSERT_TRUE(changed.ok());
  EXPECT_TRUE(*changed);
  EXPECT_FALSE(ns["metadata"]["labels"].Defined());
  // Removing an absent label is not an error and changes nothing.
  changed = ApplyLabelChanges(ns, *ParseLabelArgs({"istio-injection-"}), false);
  ASSERT_TRUE(changed.ok());
  EXPECT_FALSE(*changed);
}

TEST(Labels, RefusesToChangeWithoutOverwrite) {
  config::Node ns = Ns("  labels:\n    istio-injection: enabled\n    team: a\n");
  auto changed = ApplyLabelChanges(ns, *ParseLabelArgs({"team=b", "istio-injection=disabled"}), false);
  ASSERT_FALSE(changed.ok());
  EXPECT_NE(std::string(changed.status().message()).find("'team' already has a value (a), and --overwrite is false"),
            std::string::npos);
  // Nothing was applied, not even the first change.
  EXPECT_EQ(ns["metadata"]["labels"]["team"].Str(), "a");
  EXPECT_EQ(ns["metadata"]["labels"]["istio-injection"].Str(), "enabled");

  changed = ApplyLabelChanges(ns, *ParseLabelArgs({"team=b", "istio-injection=disabled"}), true);
  ASSERT_TRUE(changed.ok());
  EXPECT_TRUE(*changed);
  EXPECT_EQ(ns["metadata"]["labels"]["team"].Str(), "b");
  EXPECT_EQ(ns["metadata"]["labels"]["istio-injection"].Str(), "disabled");
}

}  // namespace
}  // namespace mesh::store
