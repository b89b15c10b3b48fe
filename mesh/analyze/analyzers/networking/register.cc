#include "mesh/analyze/analyzers/groups.h"
#include "mesh/analyze/analyzers/networking/analyzers.h"

namespace mesh::analyze {

void RegisterNetworkingAnalyzers(std::vector<AnalyzerPtr>& out) {
  using namespace networking;  // NOLINT(build/namespaces): the factory list reads better unqualified
  out.push_back(NewGatewayCertificateAnalyzer());
  out.push_back(NewConflictingGatewayAnalyzer());
  out.push_back(NewIngressGatewayPortAnalyzer());
  out.push_back(NewGatewaySecretAnalyzer());
  out.push_back(NewConflictingMeshGatewayHostsAnalyzer());
  out.push_back(NewDestinationHostAnalyzer());
  out.push_back(NewVirtualServiceDestinationRuleAnalyzer());
  out.push_back(NewVirtualServiceGatewayAnalyzer());
  out.push_back(NewJwtClaimRouteAnalyzer());
  out.push_back(NewCaCertificateAnalyzer());
  out.push_back(NewSubsetSelectPodAnalyzer());
  out.push_back(NewServiceEntryAddressesAnalyzer());
  out.push_back(NewConflictingServiceEntryProtocolAnalyzer());
  out.push_back(NewSidecarSelectorAnalyzer());
  out.push_back(NewK8sGatewaySelectorAnalyzer());
  out.push_back(NewGatewayApiCrdVersionAnalyzer());
  out.push_back(NewMultiClusterServiceAnalyzer());
}

}  // namespace mesh::analyze
