#include "mesh/analyze/analyzers/groups.h"

namespace mesh::analyze {

void RegisterNetworkingAnalyzers(std::vector<AnalyzerPtr>& out) { (void)out; }

}  // namespace mesh::analyze
