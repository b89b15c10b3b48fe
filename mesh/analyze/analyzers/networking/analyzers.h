#pragma once

// Factories for the networking analyzers (Istio's gateway.*, virtualservice.*,
// destinationrule.*, serviceentry.*, sidecar.*, k8sgateway.* and services.*).

#include "mesh/analyze/analyzer.h"

namespace mesh::analyze::networking {

// gateway.cc
AnalyzerPtr NewGatewayCertificateAnalyzer();
AnalyzerPtr NewConflictingGatewayAnalyzer();
AnalyzerPtr NewIngressGatewayPortAnalyzer();
AnalyzerPtr NewGatewaySecretAnalyzer();

// virtualservice.cc
AnalyzerPtr NewConflictingMeshGatewayHostsAnalyzer();
AnalyzerPtr NewDestinationHostAnalyzer();
AnalyzerPtr NewVirtualServiceDestinationRuleAnalyzer();
AnalyzerPtr NewVirtualServiceGatewayAnalyzer();
AnalyzerPtr NewJwtClaimRouteAnalyzer();

// destinationrule.cc
AnalyzerPtr NewCaCertificateAnalyzer();
AnalyzerPtr NewSubsetSelectPodAnalyzer();

// serviceentry.cc
AnalyzerPtr NewServiceEntryAddressesAnalyzer();
AnalyzerPtr NewConflictingServiceEntryProtocolAnalyzer();

// sidecar.cc
AnalyzerPtr NewSidecarSelectorAnalyzer();

// k8sgateway.cc
AnalyzerPtr NewK8sGatewaySelectorAnalyzer();
AnalyzerPtr NewGatewayApiCrdVersionAnalyzer();

// multicluster.cc
AnalyzerPtr NewMultiClusterServiceAnalyzer();

}  // namespace mesh::analyze::networking
