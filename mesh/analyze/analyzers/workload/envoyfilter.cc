// envoyfilter.EnvoyPatchAnalyzer: patch operations that Envoy ignores, and relative
// operations whose order is not pinned by a priority.

#include <set>
#include <string>

#include "mesh/analyze/analyzers/workload/workload.h"

namespace mesh::analyze::workload {
namespace {

// Identifies what a patch works on: the patch value's name, else the filter named in the
// listener match (Istio compares these across EnvoyFilters).
std::string InstanceName(const config::Node& patch, const config::Node& match) {
  const config::Node& value = patch["value"];
  if (!value.IsMap() || value.size() == 0) {
    return "";
  }
  if (const config::Node* name = value.Find("name"); name != nullptr) {
    return "value:" + name->Str();
  }
  if (match.At({"listener", "filterChain"}).Defined()) {
    return "value:" + match.At({"listener", "filterChain", "filter", "name"}).Str();
  }
  return "";
}

void AnalyzeEnvoyFilters(Context& context) {
  // Names patched by filters that pin a proxyVersion, in input order across filters.
  std::set<std::string> versioned_names;
  for (const config::Resource* ef : context.world().Of(kinds::kEnvoyFilter)) {
    bool has_priority = ef->spec()["priority"].Int().value_or(0) != 0;
    auto relative = [&](const std::string& instance) {
      if (has_priority) {
        return;
      }
      context.Report(MessageTypeNamed(versioned_names.count(instance) ? "EnvoyFilterUsesRelativeOperationWithProxyVersion"
                                                                      : "EnvoyFilterUsesRelativeOperation"),
                     ef, {});
    };
    for (const config::Node& cp : ef->spec()["configPatches"].items()) {
      const config::Node& patch = cp["patch"];
      if (!patch.IsMap()) {
        break;
      }
      const config::Node& match = cp["match"];
      std::string instance = InstanceName(patch, match);
      const std::string& op = patch["operation"].Str();
      const std::string& apply_to = cp["applyTo"].Str();
      bool route_level = apply_to == "ROUTE_CONFIGURATION" || apply_to == "HTTP_ROUTE";
      if (op == "ADD") {
        if (route_level) {
          context.Report(MessageTypeNamed("EnvoyFilterUsesAddOperationIncorrectly"), ef, {});
        }
      } else if (op == "REMOVE") {
        if (route_level) {
          context.Report(MessageTypeNamed("EnvoyFilterUsesRemoveOperationIncorrectly"), ef, {});
        } else {
          relative(instance);
        }
      } else if (op == "REPLACE") {
        if (apply_to != "NETWORK_FILTER" && apply_to != "HTTP_FILTER" && apply_to != "VIRTUAL_HOST") {
          context.Report(MessageTypeNamed("EnvoyFilterUsesReplaceOperationIncorrectly"), ef, {});
        } else {
          relative(instance);
        }
      } else if (op == "INSERT_BEFORE" || op == "INSERT_AFTER") {
        relative(instance);
      } else if (op == "MERGE") {
        // A merge only depends on order when another filter pinned to a proxy version
        // patches the same thing.
        if (!has_priority && versioned_names.count(instance)) {
          context.Report(MessageTypeNamed("EnvoyFilterUsesRelativeOperation"), ef, {});
        }
      }
      if (!match.At({"proxy", "proxyVersion"}).Str().empty()) {
        versioned_names.insert(instance);
      }
    }
  }
}

}  // namespace

AnalyzerPtr NewEnvoyPatchAnalyzer() {
  return MakeAnalyzer({"envoyfilter.EnvoyPatchAnalyzer", "Checks an envoyFilters ", {kinds::kEnvoyFilter}},
                      AnalyzeEnvoyFilters);
}

}  // namespace mesh::analyze::workload
