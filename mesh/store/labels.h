#pragma once

// kubectl's label semantics for `meshctl label`: "key=value" sets, "key-" removes, and
// changing an existing value needs --overwrite.

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "mesh/config/node.h"

namespace mesh::store {

struct LabelChange {
  std::string key;
  std::string value;
  bool remove = false;
};

// Parses "k=v" and "k-" arguments; validates keys ([prefix/]name) and values as
// Kubernetes does.
absl::StatusOr<std::vector<LabelChange>> ParseLabelArgs(const std::vector<std::string>& args);

// Applies the changes to metadata.labels. Without `overwrite`, changing an existing
// label to a different value fails with kubectl's message and nothing is changed.
// Returns whether the object changed.
absl::StatusOr<bool> ApplyLabelChanges(config::Node& object, const std::vector<LabelChange>& changes,
                                       bool overwrite);

// Validation helpers (also used for namespace names).
absl::Status ValidateLabelKey(const std::string& key);
absl::Status ValidateLabelValue(const std::string& value);
bool IsDns1123Label(const std::string& s);
bool IsDns1123Subdomain(const std::string& s);

}  // namespace mesh::store
