#pragma once

// Explicit registration (no static initializers): each group appends its analyzers.

#include <vector>

#include "mesh/analyze/analyzer.h"

namespace mesh::analyze {

// schema.ValidationAnalyzer.<Kind> for every Istio kind, MeshConfig and MeshNetworks.
void RegisterSchemaAnalyzers(std::vector<AnalyzerPtr>& out);
// gateway.*, virtualservice.*, destinationrule.*, serviceentry.*, sidecar.*, k8sgateway.*
void RegisterNetworkingAnalyzers(std::vector<AnalyzerPtr>& out);
// annotations, deployment, injection, service, webhook, auth*, telemetry, envoyfilter, ...
void RegisterWorkloadAnalyzers(std::vector<AnalyzerPtr>& out);
// Tested but not run by default (annotations.AlphaAnalyzer).
void RegisterExtraAnalyzers(std::vector<AnalyzerPtr>& out);

}  // namespace mesh::analyze
