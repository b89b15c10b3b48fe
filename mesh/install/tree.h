#pragma once

// Operations on configuration trees (IstioOperator specs, values) with istioctl's rules:
// maps merge key by key, lists and scalars are replaced wholesale; `--set` paths address
// map keys, list indexes ([0]) and list elements by key ([name:foo]).

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "mesh/config/node.h"

namespace mesh::install {

using config::Node;

// Merges `overlay` into `base`: maps recurse, everything else replaces. A null overlay
// value leaves the base untouched (so `spec:` with no value changes nothing).
void MergeFrom(Node& base, const Node& overlay);

// One step of a --set path.
struct PathElement {
  enum class Kind { kKey, kIndex, kSelector, kValue };
  Kind kind = Kind::kKey;
  std::string key;        // kKey: the map key; kSelector: the field name ("name")
  std::string value;      // kSelector: the wanted value ("foo"); kValue: the element itself
  size_t index = 0;       // kIndex
};

// Splits "a.b\.c.[0].d[name:x]" into elements; `\.` keeps a dot inside a key; "[30m]"
// selects the scalar list element equal to "30m".
absl::StatusOr<std::vector<PathElement>> SplitPath(std::string_view path);
std::string JoinPath(const std::vector<PathElement>& path);

// Sets the value at `path`, creating missing maps. An index at or past the end of a list
// appends. A [key:value] selector that matches no element is an error.
absl::Status SetPath(Node& root, std::string_view path, Node value);

// Removes the map key or list element at `path`; false when it was not there.
absl::StatusOr<bool> DeletePath(Node& root, std::string_view path);

// Reads the value at a dotted path (keys and [i] only); null when absent.
const Node& GetPath(const Node& root, std::string_view path);

// istioctl's value typing for --set: int, then float, then bool, otherwise a string
// (with "\," turned into ","). Paths that are always strings (tags, versions, proxy
// metadata) skip the typing.
Node ParseSetValue(std::string_view spec_path, std::string_view value);

// "path=value" (only the first '=' splits) -> (path, typed value). The path is relative
// to `spec` as in istioctl; the spec-relative path is returned.
struct SetFlag {
  std::string path;
  Node value;
};
absl::StatusOr<SetFlag> ParseSetFlag(std::string_view flag);

// Whether a node counts as "true" for template conditions: true bools, non-zero numbers,
// non-empty strings, maps and lists.
bool Truthy(const Node& n);

// A deep copy with map keys sorted (as Go's YAML/JSON marshalling prints them).
Node SortedKeys(const Node& n);

// Scalar helpers.
Node StringNode(std::string s);
Node IntNode(int64_t v);
Node BoolNode(bool v);

}  // namespace mesh::install
