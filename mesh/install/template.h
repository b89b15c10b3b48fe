#pragma once

// A small template language over YAML trees (the manifests/templates/*.yaml files).
// Templates stay valid YAML; expressions live in scalars:
//   "{{ path }}"            the whole scalar is replaced by the value at `path` in the
//                           context (any type); a null value removes the field / item
//   "a-{{ path }}-b"        text interpolation (the value's scalar text)
//   "{{ path | string }}"   the value as a string scalar
//   "{{ path | json }}"     the value as compact JSON text
//   "{{ path | yaml }}"     the value as YAML text
// and in special map keys:
//   _if: path / _unless: path   keep the enclosing map only if the value is (not) truthy
//   _merge: "{{ path }}"        merge the entries of a map value into this map
//   - _splice: "{{ path }}"     (as a list item) insert the items of a list value

#include <optional>

#include "absl/status/statusor.h"
#include "mesh/config/node.h"

namespace mesh::install {

using config::Node;

// Renders `tmpl` against `context`. Returns nullopt when a top-level `_if`/`_unless`
// removes the whole document. Unknown context paths are null (not errors), so optional
// values simply disappear; a malformed expression is an error.
absl::StatusOr<std::optional<Node>> RenderTemplate(const Node& tmpl, const Node& context);

}  // namespace mesh::install
