// telemetry.DefaultSelectorAnalyzer, LightstepAnalyzer, ProviderAnalyzer and
// SelectorAnalyzer.

#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "mesh/analyze/analyzers/workload/workload.h"
#include "mesh/analyze/util.h"
#include "mesh/common/strings.h"

namespace mesh::analyze::workload {
namespace {

std::vector<std::string> Names(const std::vector<const config::Resource*>& list) {
  std::vector<std::string> out;
  for (const config::Resource* r : list) {
    out.push_back(r->name());
  }
  return out;
}


void AnalyzeDefaultSelectors(Context& context) {
  std::map<std::string, std::vector<const config::Resource*>> by_ns;
  for (const config::Resource* t : context.world().Of(kinds::kTelemetry)) {
    if (!t->spec()["selector"].Defined()) {
      by_ns[t->ns()].push_back(t);
    }
  }
  for (const auto& [ns, list] : by_ns) {
    if (list.size() < 2) {
      continue;
    }
    std::string names = common::GoList(Names(list));
    for (const config::Resource* t : list) {
      context.Report(MessageTypeNamed("MultipleTelemetriesWithoutWorkloadSelectors"), t, {names, ns});
    }
  }
}

void AnalyzeLightstep(Context& context) {
  std::set<std::string> lightstep;
  for (const config::Node& p : context.world().mesh_config()["extensionProviders"].items()) {
    if (p["lightstep"].Defined()) {
      lightstep.insert(p["name"].Str());
    }
  }
  if (lightstep.empty()) {
    return;
  }
  for (const config::Resource* t : context.world().Of(kinds::kTelemetry)) {
    for (const config::Node& tracing : t->spec()["tracing"].items()) {
      for (const config::Node& p : tracing["providers"].items()) {
        if (lightstep.count(p["name"].Str())) {
          context.Report(MessageTypeNamed("Deprecated"), t,
                         {common::StrCat("The Lightstep provider ", p["name"].Str(),
                                         " is deprecated, please migrate to OpenTelemetry provider.")});
        }
      }
    }
  }
}

void AnalyzeProviders(Context& context) {
  // With mesh-wide default access log providers an entry without providers uses them.
  if (context.world().mesh_config().At({"defaultProviders", "accessLogging"}).size() > 0) {
    return;
  }
  for (const config::Resource* t : context.world().Of(kinds::kTelemetry)) {
    for (const config::Node& logging : t->spec()["accessLogging"].items()) {
      if (logging["providers"].size() == 0 && !logging["disabled"].Bool().value_or(false)) {
        context.Report(MessageTypeNamed("InvalidTelemetryProvider"), t, {t->name(), t->ns()});
      }
    }
  }
}

void AnalyzeSelectors(Context& context) {
  const World& world = context.world();
  std::unordered_map<std::string, std::vector<const config::Resource*>> pods_by_ns;
  for (const config::Resource* pod : world.Of(kinds::kPod)) {
    pods_by_ns[pod->ns()].push_back(pod);
  }
  // pod -> telemetries selecting it, in input order of first selection.
  std::map<const config::Resource*, std::vector<const config::Resource*>> selected_by;
  std::vector<const config::Resource*> pod_order;
  for (const config::Resource* t : world.Of(kinds::kTelemetry)) {
    const config::Node& match_labels = t->spec().At({"selector", "matchLabels"});
    if (match_labels.size() == 0) {
      continue;
    }
    bool found = false;
    for (const config::Resource* pod : pods_by_ns[t->ns()]) {
      if (util::SelectorMatches(match_labels, pod->labels())) {
        found = true;
        if (!selected_by.count(pod)) {
          pod_order.push_back(pod);
        }
        selected_by[pod].push_back(t);
      }
    }
    if (!found) {
      context.Report(MessageTypeNamed("ReferencedResourceNotFound"), t,
                     {"selector", util::SelectorString(match_labels)}, util::LineOf(match_labels));
    }
  }
  for (const config::Resource* pod : pod_order) {
    const auto& list = selected_by[pod];
    if (list.size() < 2) {
      continue;
    }
    std::string names = common::GoList(Names(list));
    for (const config::Resource* t : list) {
      context.Report(MessageTypeNamed("ConflictingTelemetryWorkloadSelectors"), t, {names, pod->ns(), pod->name()});
    }
  }
}

}  // namespace

AnalyzerPtr NewTelemetryDefaultSelectorAnalyzer() {
  return MakeAnalyzer({"telemetry.DefaultSelectorAnalyzer",
                       "Validates that there aren't multiple telemetry resources that have no selector",
                       {kinds::kTelemetry}},
                      AnalyzeDefaultSelectors);
}

AnalyzerPtr NewTelemetryLightstepAnalyzer() {
  return MakeAnalyzer({"telemetry.LightstepAnalyzer", "Validates that lightstep provider is still used",
                       {kinds::kTelemetry, kinds::kMeshConfig}},
                      AnalyzeLightstep);
}

AnalyzerPtr NewTelemetryProviderAnalyzer() {
  return MakeAnalyzer({"telemetry.ProviderAnalyzer", "Validates that providers in telemetry resource is valid",
                       {kinds::kTelemetry, kinds::kMeshConfig}},
                      AnalyzeProviders);
}

AnalyzerPtr NewTelemetrySelectorAnalyzer() {
  return MakeAnalyzer({"telemetry.SelectorAnalyzer",
                       "Validates that telemetries that define a selector match at least one pod, and that there "
                       "aren't multiple telemetry resources that select overlapping pods",
                       {kinds::kTelemetry, kinds::kPod}},
                      AnalyzeSelectors);
}

}  // namespace mesh::analyze::workload
