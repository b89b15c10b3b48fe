#include "mesh/analyze/analyzers/groups.h"

namespace mesh::analyze {

void RegisterSchemaAnalyzers(std::vector<AnalyzerPtr>& out) { (void)out; }

}  // namespace mesh::analyze
