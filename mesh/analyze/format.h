#pragma once

// Output formats of `meshctl analyze`: istioctl's log, json and yaml, plus SARIF 2.1.0.

#include <string>
#include <vector>

#include "mesh/analyze/message.h"

namespace mesh::analyze {

// https://istio.io/v1.32/docs/reference/config/analysis/ist0101/?ref=istioctl-analyze
std::string DocumentationUrl(const MessageType& type);

// One line per message joined by '\n' plus a final '\n' (so no messages prints "\n").
std::string FormatLog(const std::vector<Message>& messages, bool color);
// Go's MarshalIndent(msgs, "", "\t") with sorted keys; "[]" when empty. No trailing newline.
std::string FormatJson(const std::vector<Message>& messages);
// sigs.k8s.io/yaml layout; "[]\n" when empty.
std::string FormatYaml(const std::vector<Message>& messages);
// SARIF 2.1.0 for code-scanning upload: one rule per message type used, results with
// file/line regions and the resource as a logical location.
std::string FormatSarif(const std::vector<Message>& messages);

// istioctl's order: level, code, then Kind/name/namespace, then the full text; then
// messages whose log lines are identical are dropped.
void SortAndDedup(std::vector<Message>& messages);

}  // namespace mesh::analyze
