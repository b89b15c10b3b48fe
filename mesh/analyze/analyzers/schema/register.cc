#include "mesh/analyze/analyzers/groups.h"
#include "mesh/analyze/analyzers/schema/schema_analyzers.h"

namespace mesh::analyze {

void RegisterSchemaAnalyzers(std::vector<AnalyzerPtr>& out) {
  for (const KindRef* kind :
       {&kinds::kAuthorizationPolicy, &kinds::kDestinationRule, &kinds::kEnvoyFilter, &kinds::kGateway,
        &kinds::kPeerAuthentication, &kinds::kProxyConfig, &kinds::kRequestAuthentication, &kinds::kServiceEntry,
        &kinds::kSidecar, &kinds::kTelemetry, &kinds::kTrafficExtension, &kinds::kVirtualService,
        &kinds::kWasmPlugin, &kinds::kWorkloadEntry, &kinds::kWorkloadGroup}) {
    out.push_back(schema::NewResourceValidationAnalyzer(*kind));
  }
  out.push_back(schema::NewMeshNetworksValidationAnalyzer());
  out.push_back(schema::NewMeshConfigValidationAnalyzer());
}

}  // namespace mesh::analyze
