#pragma once

// Istio's semantic validation of its resources (the rules of Istio's ValidateConfig):
// required fields, host names, ports, TLS settings, route shapes, ... plus field type
// errors from the schema table. Used by analyze's schema.ValidationAnalyzer.<Kind> and by
// `meshctl apply`. Pure functions over parsed Nodes: no I/O, no state.

#include <string>
#include <string_view>
#include <vector>

#include "mesh/config/node.h"
#include "mesh/config/resource.h"

namespace mesh::config {

enum class IssueSeverity { kError, kWarning };

// Findings of the VirtualService rule analysis that istioctl reports with their own codes.
enum class RuleFinding {
  kNone,
  kUnreachableRule,   // IST0130 VirtualServiceUnreachableRule: params {rule, reason}
  kIneffectiveMatch,  // IST0131 VirtualServiceIneffectiveMatch: params {rule, match, duplicate-of}
};

struct ValidationIssue {
  IssueSeverity severity = IssueSeverity::kError;
  std::string message;
  int line = 0;  // line of the offending field; 0 when the issue is about the whole object
  RuleFinding finding = RuleFinding::kNone;
  std::vector<std::string> params;  // for findings
  bool unknown_field = false;       // a field the schema does not know (Istio drops it)
};

struct ValidationResult {
  std::vector<ValidationIssue> issues;  // in document order, per rule family

  bool HasErrors() const;
  size_t ErrorCount() const;
  size_t WarningCount() const;
  // "error: msg" / "warning: msg" lines, for tests and CLI summaries.
  std::vector<std::string> Describe() const;
};

struct IstioValidationOptions {
  // Report spec fields the schema does not know as warnings (Istio ignores them).
  bool report_unknown_fields = true;
};

// Validates one Istio resource (any of the 15 Istio kinds; other kinds give an empty
// result). Field type errors (a list where a string is expected, ...) are errors.
ValidationResult ValidateIstioResource(const Resource& resource, const IstioValidationOptions& options = {});

// Validates a mesh config (the `mesh` key of the istio ConfigMap, as a map).
ValidationResult ValidateMeshConfig(const Node& mesh_config);
// Validates mesh networks (`networks:` map).
ValidationResult ValidateMeshNetworks(const Node& mesh_networks);

// Helpers shared with other validators (exposed for tests).
bool IsDns1123Label(std::string_view s);
// Empty string when valid, else Istio's error text.
std::string CheckWildcardDomain(std::string_view domain);
std::string CheckFqdn(std::string_view domain);
// Go-style duration ("1h2m3.5s", "100ms") in nanoseconds; false when malformed.
bool ParseGoDuration(std::string_view text, int64_t& nanos);

}  // namespace mesh::config
