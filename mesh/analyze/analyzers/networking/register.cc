#include "mesh/analyze/analyzers/groups.h"
#include "mesh/analyze/analyzers/networking/analyzers.h"

namespace mesh::analyze {

void RegisterNetworkingAnalyzers(std::vector<AnalyzerPtr>& out) {
  out.push_back(networking::NewGatewayCertificateAnalyzer());
  out.push_back(networking::NewConflictingGatewayAnalyzer());
  out.push_back(networking::NewIngressGatewayPortAnalyzer());
  out.push_back(networking::NewGatewaySecretAnalyzer());
  out.push_back(networking::NewConflictingMeshGatewayHostsAnalyzer());
  out.push_back(networking::NewDestinationHostAnalyzer());
  out.push_back(networking::NewVirtualServiceDestinationRuleAnalyzer());
  out.push_back(networking::NewVirtualServiceGatewayAnalyzer());
  out.push_back(networking::NewJwtClaimRouteAnalyzer());
  out.push_back(networking::NewCaCertificateAnalyzer());
  out.push_back(networking::NewSubsetSelectPodAnalyzer());
  out.push_back(networking::NewServiceEntryAddressesAnalyzer());
  out.push_back(networking::NewConflictingServiceEntryProtocolAnalyzer());
  out.push_back(networking::NewSidecarSelectorAnalyzer());
  out.push_back(networking::NewK8sGatewaySelectorAnalyzer());
  out.push_back(networking::NewGatewayApiCrdVersionAnalyzer());
  out.push_back(networking::NewMultiClusterServiceAnalyzer());
}

}  // namespace mesh::analyze
