#include <algorithm>

#include "mesh/analyze/analyzer.h"
#include "mesh/analyze/analyzers/groups.h"

namespace mesh::analyze {
namespace {

std::vector<AnalyzerPtr>* Sorted(std::vector<AnalyzerPtr>* list) {
  std::sort(list->begin(), list->end(),
            [](const AnalyzerPtr& a, const AnalyzerPtr& b) { return a->Metadata().name < b->Metadata().name; });
  return list;
}

}  // namespace

const std::vector<AnalyzerPtr>& AllAnalyzers() {
  static const std::vector<AnalyzerPtr>* kAll = [] {
    auto* list = new std::vector<AnalyzerPtr>();
    RegisterSchemaAnalyzers(*list);
    RegisterNetworkingAnalyzers(*list);
    RegisterWorkloadAnalyzers(*list);
    return Sorted(list);
  }();
  return *kAll;
}

const std::vector<AnalyzerPtr>& ExtraAnalyzers() {
  static const std::vector<AnalyzerPtr>* kExtra = [] {
    auto* list = new std::vector<AnalyzerPtr>();
    RegisterExtraAnalyzers(*list);
    return Sorted(list);
  }();
  return *kExtra;
}

const Analyzer* FindAnalyzer(std::string_view name) {
  for (const auto* list : {&AllAnalyzers(), &ExtraAnalyzers()}) {
    for (const AnalyzerPtr& a : *list) {
      if (a->Metadata().name == name) {
        return a.get();
      }
    }
  }
  return nullptr;
}

}  // namespace mesh::analyze
