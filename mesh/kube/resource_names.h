#pragma once

// kubectl's resource names on top of discovery: "vs", "virtualservices",
// "VirtualService", "gateways.networking.istio.io", "deploy", "ns" -> the served
// resource (group, version, plural, scope), so commands work for any kind the cluster
// serves, Istio CRDs included.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "mesh/kube/client.h"

namespace mesh::kube {

// The apiVersion to use in ObjectRefs for a resolved resource ("v1", "apps/v1").
std::string ApiVersionOf(const ResourceInfo& info);

// Known names (the schema table: kinds, plurals, short names) are resolved through
// discovery of their group; anything else is matched against every served resource by
// plural, singular (lower-case kind), kind or plural.group. NotFound says, as kubectl,
// `the server doesn't have a resource type "x"`.
absl::StatusOr<ResourceInfo> ResolveResourceName(KubeClient& client, const std::string& name);

}  // namespace mesh::kube

namespace mesh::kube {

// Every object, in every namespace, of every kind of the schema table the cluster serves
// (Istio kinds and the Kubernetes kinds the analyzers read), with apiVersion and kind
// set as in a single GET. Kinds the cluster does not serve are skipped.
absl::StatusOr<std::vector<config::Node>> ListKnownObjects(KubeClient& client);

}  // namespace mesh::kube
