#pragma once

// Writes Nodes back out as YAML (kubectl's layout) or JSON, keeping key order.

#include <string>

#include "mesh/config/node.h"

namespace mesh::config {

std::string EmitYaml(const Node& node);

struct JsonOptions {
  int indent = 2;  // 0: compact, one line
  bool escape_html = false;  // Go's encoding/json escapes <, >, & as \u003c ...
  bool tab_indent = false;   // Go's MarshalIndent(v, "", "\t")
};
std::string EmitJson(const Node& node, const JsonOptions& options = {});

// JSON string literal for `s` (with surrounding quotes).
std::string JsonQuote(std::string_view s, bool escape_html = false);

// Whether a scalar would be read back by YAML as something other than the same string.
bool YamlNeedsQuotes(std::string_view s);

}  // namespace mesh::config
