#pragma once

// schema.ValidationAnalyzer.<Kind>: Istio's ValidateConfig run as analyzers. Each error
// becomes IST0106 SchemaValidationError, each warning IST0133 SchemaWarning; the
// VirtualService rule analysis gives IST0130 / IST0131.

#include "mesh/analyze/analyzer.h"

namespace mesh::analyze::schema {

// Validates every resource of `kind` (one of the Istio kinds) with
// config::ValidateIstioResource.
AnalyzerPtr NewResourceValidationAnalyzer(const KindRef& kind);
// Validates the mesh config (origin `MeshConfig istio-system/meshconfig`).
AnalyzerPtr NewMeshConfigValidationAnalyzer();
// Validates the mesh networks (origin `MeshNetworks istio-system/meshnetworks`).
AnalyzerPtr NewMeshNetworksValidationAnalyzer();

}  // namespace mesh::analyze::schema
