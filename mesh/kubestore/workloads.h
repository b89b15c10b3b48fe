#pragma once

// The Kubernetes service registry: EndpointSlices (discovery.k8s.io/v1) and the Pods they
// point at become pilot WorkloadInstances, so that translation builds EDS endpoints and
// SPIFFE identities exactly as for locally registered workloads.
//
// Per endpoint: the first address (as the API asks), skipped unless ready (a missing
// `ready` condition counts as ready); the Service named by the
// `kubernetes.io/service-name` label; ports mapped from the Service port's targetPort to
// the EndpointSlice port of the same name; from the targetRef Pod: its name, labels,
// service account and whether it runs a sidecar (`sidecar.istio.io/status` annotation or
// an `istio-proxy` container). A pod in several Services is one instance that lists each.

#include <vector>

#include "mesh/config/resource.h"
#include "mesh/pilot/push_context.h"

namespace mesh::kubestore {

std::vector<pilot::WorkloadInstance> WorkloadsFromEndpointSlices(const std::vector<config::Resource>& resources,
                                                                  const pilot::MeshSettings& mesh = {});

}  // namespace mesh::kubestore
