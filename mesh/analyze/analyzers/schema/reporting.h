#pragma once

// Turns a config::ValidationResult into analysis messages (shared by the resource and
// mesh-config validators).

#include <functional>

#include "mesh/analyze/analyzer.h"
#include "mesh/config/validation.h"

namespace mesh::analyze::schema {

// `report(type, args, line)` is called once per issue, in order.
using ReportFn = std::function<void(const MessageType&, std::vector<std::string>, int)>;
void ReportValidation(const config::ValidationResult& result, const ReportFn& report);

}  // namespace mesh::analyze::schema
