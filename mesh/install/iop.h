#pragma once

// Building the effective IstioOperator the way istioctl does, lowest precedence first:
//   profiles/default.yaml < profiles/<profile>.yaml < -f files (left to right) < --set
// then translating spec fields into values and layering the chart defaults:
//   manifests/values.yaml < manifests/helm-profiles/<values.profile>.yaml < IOP values.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "mesh/config/node.h"

namespace mesh::install {

using config::Node;

struct MergeInputs {
  std::string profile;                 // --profile (same as --set profile=...)
  std::vector<std::string> files;      // -f, in order; "-" reads stdin
  std::vector<Node> overlays;          // parsed IstioOperators applied after the files
  std::vector<std::string> set_flags;  // --set path=value, in order
  std::string revision;                // --revision (alias of --set revision=...)
  bool force = false;                  // validation errors become warnings
};

struct MergedConfig {
  std::string profile;     // the profile that was layered on default
  Node iop;                // the merged IstioOperator (apiVersion, kind, metadata, spec)
  Node user_values;        // spec.values after translation (hub, tag, meshConfig, ...)
  Node values;             // what templates see: chart defaults < helm profile < user_values
  std::vector<std::string> warnings;  // printed with "! " by the CLI
};

// Reads a built-in profile merged over default ("default" alone gives default).
absl::StatusOr<Node> LoadProfile(const std::string& name);

// Runs the whole merge; errors name the offending path (and file:line:col for files).
absl::StatusOr<MergedConfig> MergeInstallConfig(const MergeInputs& inputs);

// Whether a listed component is enabled (an absent `enabled` means true).
bool ComponentEnabled(const Node& component);

// Flattened "path=value" lines of a tree, as `profile dump -o flags` prints them.
std::vector<std::string> FlattenPaths(const Node& node, const std::string& prefix);

}  // namespace mesh::install
