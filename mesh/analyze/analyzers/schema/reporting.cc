#include "mesh/analyze/analyzers/schema/reporting.h"

namespace mesh::analyze::schema {

void ReportValidation(const config::ValidationResult& result, const ReportFn& report) {
  static const MessageType& kError = MessageTypeNamed("SchemaValidationError");
  static const MessageType& kWarning = MessageTypeNamed("SchemaWarning");
  static const MessageType& kUnreachable = MessageTypeNamed("VirtualServiceUnreachableRule");
  static const MessageType& kIneffective = MessageTypeNamed("VirtualServiceIneffectiveMatch");
  for (const config::ValidationIssue& issue : result.issues) {
    switch (issue.finding) {
      case config::RuleFinding::kUnreachableRule:
        report(kUnreachable, issue.params, issue.line);
        continue;
      case config::RuleFinding::kIneffectiveMatch:
        report(kIneffective, issue.params, issue.line);
        continue;
      case config::RuleFinding::kNone:
        break;
    }
    report(issue.severity == config::IssueSeverity::kError ? kError : kWarning, {issue.message}, issue.line);
  }
}

}  // namespace mesh::analyze::schema
