#include "mesh/analyze/analyzers/groups.h"
#include "mesh/analyze/analyzers/workload/workload.h"

namespace mesh::analyze {

void RegisterWorkloadAnalyzers(std::vector<AnalyzerPtr>& out) {
  out.push_back(workload::NewK8sAnnotationsAnalyzer());
  out.push_back(workload::NewApplicationUidAnalyzer());
  out.push_back(workload::NewMultiServiceAnalyzer());
  out.push_back(workload::NewInjectionAnalyzer());
  out.push_back(workload::NewInjectionImageAnalyzer());
  out.push_back(workload::NewImageAutoAnalyzer());
  out.push_back(workload::NewPortNameAnalyzer());
  out.push_back(workload::NewWebhookAnalyzer());
  out.push_back(workload::NewExternalControlPlaneAnalyzer());
  out.push_back(workload::NewAuthorizationPoliciesAnalyzer());
  out.push_back(workload::NewBlockedCidrsAnalyzer());
  out.push_back(workload::NewConditionAnalyzer());
  out.push_back(workload::NewDeprecationAnalyzer());
  out.push_back(workload::NewEnvoyPatchAnalyzer());
  out.push_back(workload::NewTelemetryDefaultSelectorAnalyzer());
  out.push_back(workload::NewTelemetryLightstepAnalyzer());
  out.push_back(workload::NewTelemetryProviderAnalyzer());
  out.push_back(workload::NewTelemetrySelectorAnalyzer());
  out.push_back(workload::NewMeshNetworksAnalyzer());
}

void RegisterExtraAnalyzers(std::vector<AnalyzerPtr>& out) { out.push_back(workload::NewAlphaAnnotationsAnalyzer()); }

}  // namespace mesh::analyze
