// Fuzz entry point: see fuzz/entry_points.h.
#include "fuzz/entry_points.h"

#include <cstdlib>

#include "mesh/config/emit.h"
#include "mesh/config/yaml_loader.h"
#include "mesh/install/tree.h"

namespace mesh::fuzz {

void FuzzInstallSet(std::string_view data) {
  absl::StatusOr<install::SetFlag> flag = install::ParseSetFlag(data);
  absl::StatusOr<std::vector<install::PathElement>> path = install::SplitPath(data);
  if (path.ok()) {
    (void)install::JoinPath(*path);
  }
  if (!flag.ok()) {
    return;
  }
  // Apply the path to a small tree with maps, lists and selectors to walk through.
  absl::StatusOr<config::Node> tree = config::ParseYamlNode(
      "components:\n  ingressGateways:\n  - name: a\n    enabled: true\n  - name: b\nvalues:\n  list: [x, 30m]\n",
      "tree.yaml");
  if (!tree.ok()) {
    std::abort();
  }
  config::Node root = *tree;
  (void)install::SetPath(root, flag->path, flag->value);
  (void)install::GetPath(root, flag->path);
  (void)install::DeletePath(root, flag->path);
  (void)config::EmitYaml(root);
}

}  // namespace mesh::fuzz
