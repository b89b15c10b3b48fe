#pragma once

// AuthorizationPolicy -> Envoy RBAC filters (Istio's semantics).
//
// Which policies apply to a workload: those in the root namespace (mesh-wide) and in the
// workload's namespace, narrowed by `selector.matchLabels` or by `targetRef(s)` naming a
// Service the workload serves. Per proxy, the DENY policies become one RBAC DENY filter
// and the ALLOW policies one RBAC ALLOW filter (DENY first); with no ALLOW policy there is
// no ALLOW filter (everything not denied is allowed). An ALLOW policy without rules
// (`spec: {}`) admits nothing; a rule `{}` admits everything.
//
// Sidecars get the filters on their inbound listener, gateways on every listener:
// HTTP chains get envoy.filters.http.rbac, TCP chains envoy.filters.network.rbac (where
// HTTP-only conditions cannot be evaluated: an ALLOW rule using them never matches, a
// DENY rule drops them, so both err on the side of denying).
//
// What cannot be enforced is reported (AuthorizationWarnings) and fails closed: AUDIT is
// ignored, CUSTOM denies the requests it selects (no ext_authz provider), request
// principals never match (no JWT authentication), unknown `when` keys never match in an
// ALLOW rule and always match in a DENY rule.

#include <string>
#include <vector>

#include "mesh/pilot/generator.h"
#include "mesh/pilot/push_context.h"
#include "mesh/proxyconfig/types.h"

namespace mesh::pilot {

// The policies that apply to a workload, in a stable order (namespace, name).
std::vector<const config::Resource*> AuthorizationPoliciesForWorkload(const PushContext& push,
                                                                      const WorkloadInstance& workload);

struct AuthorizationFilters {
  std::vector<proxyconfig::RbacConfig> http;     // DENY filter, then ALLOW filter (each only if needed)
  std::vector<proxyconfig::RbacConfig> network;  // the same for TCP chains
  bool empty() const { return http.empty(); }
};

// Compiles the policies that apply to the proxy's workload. Ports in policies are the
// workload's ports: for sidecars they map to the inbound listener's port (local mode's
// stand-in for the pod port); for gateways through the Gateway port map.
AuthorizationFilters BuildAuthorizationFilters(const ProxyRole& proxy, const PushContext& push);

// Adds the filters to generated resources: the sidecar's inbound listener, or every
// listener of a gateway. The hook GenerateResources calls.
void ApplyAuthorization(const ProxyRole& proxy, const PushContext& push, proxyconfig::Resources& out);

// What the snapshot's AuthorizationPolicies ask for that meshctl cannot enforce, one line
// per problem ("AuthorizationPolicy devops/name: ..."), for the control plane's log.
std::vector<std::string> AuthorizationWarnings(const PushContext& push);

}  // namespace mesh::pilot
