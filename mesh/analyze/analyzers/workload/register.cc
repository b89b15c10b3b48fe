#include "mesh/analyze/analyzers/groups.h"

namespace mesh::analyze {

void RegisterWorkloadAnalyzers(std::vector<AnalyzerPtr>& out) { (void)out; }
void RegisterExtraAnalyzers(std::vector<AnalyzerPtr>& out) { (void)out; }

}  // namespace mesh::analyze
