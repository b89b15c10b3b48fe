#include "mesh/analyze/analyzers/groups.h"
#include "mesh/analyze/analyzers/workload/workload.h"

namespace mesh::analyze {

void RegisterWorkloadAnalyzers(std::vector<AnalyzerPtr>& out) {
  using namespace workload;  // NOLINT: the factories of this group
  out.push_back(NewK8sAnnotationsAnalyzer());
  out.push_back(NewApplicationUidAnalyzer());
  out.push_back(NewMultiServiceAnalyzer());
  out.push_back(NewInjectionAnalyzer());
  out.push_back(NewInjectionImageAnalyzer());
  out.push_back(NewImageAutoAnalyzer());
  out.push_back(NewPortNameAnalyzer());
  out.push_back(NewWebhookAnalyzer());
  out.push_back(NewExternalControlPlaneAnalyzer());
  out.push_back(NewAuthorizationPoliciesAnalyzer());
  out.push_back(NewBlockedCidrsAnalyzer());
  out.push_back(NewConditionAnalyzer());
  out.push_back(NewDeprecationAnalyzer());
  out.push_back(NewEnvoyPatchAnalyzer());
  out.push_back(NewTelemetryDefaultSelectorAnalyzer());
  out.push_back(NewTelemetryLightstepAnalyzer());
  out.push_back(NewTelemetryProviderAnalyzer());
  out.push_back(NewTelemetrySelectorAnalyzer());
  out.push_back(NewMeshNetworksAnalyzer());
}

void RegisterExtraAnalyzers(std::vector<AnalyzerPtr>& out) { out.push_back(workload::NewAlphaAnnotationsAnalyzer()); }

}  // namespace mesh::analyze
