#pragma once

// RFC 6902 JSON Patch between two documents, as the mutating webhook answers, and its
// application (tests and tools check that a patch turns the request into the result).

#include "absl/status/statusor.h"
#include "mesh/config/node.h"

namespace mesh::inject {

// Operations that turn `before` into `after`: maps are compared key by key (add /
// remove / recurse); any other difference replaces the value whole (lists included,
// which keeps the patch valid whatever moved inside them).
config::Node CreateJsonPatch(const config::Node& before, const config::Node& after);

// Applies add / remove / replace operations (paths with ~0 ~1 escapes, "-" to append,
// array indexes). Errors name the failing operation.
absl::StatusOr<config::Node> ApplyJsonPatch(config::Node document, const config::Node& patch);

}  // namespace mesh::inject
