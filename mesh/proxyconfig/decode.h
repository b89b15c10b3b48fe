#pragma once

// Decoding of Envoy v3 resources (proto3 JSON or YAML, as mesh::config::Node) into the
// structs of types.h. Both Envoy spellings are accepted (snake_case and lowerCamelCase).
// Any field outside the supported subset is an error naming its path, e.g.
// "static_resources.clusters[0].dns_lookup_family: unsupported field".

#include <string>

#include "absl/status/statusor.h"
#include "mesh/config/node.h"
#include "mesh/proxyconfig/types.h"

namespace mesh::proxyconfig {

absl::StatusOr<Bootstrap> DecodeBootstrap(const config::Node& node);
absl::StatusOr<Listener> DecodeListener(const config::Node& node, const std::string& path);
absl::StatusOr<RouteConfiguration> DecodeRouteConfiguration(const config::Node& node,
                                                            const std::string& path);
absl::StatusOr<Cluster> DecodeCluster(const config::Node& node, const std::string& path);
absl::StatusOr<ClusterLoadAssignment> DecodeClusterLoadAssignment(const config::Node& node,
                                                                  const std::string& path);
absl::StatusOr<Secret> DecodeSecret(const config::Node& node, const std::string& path);

// Reads a bootstrap file (YAML or JSON); errors carry file:line:col where known.
absl::StatusOr<Bootstrap> LoadBootstrapFile(const std::string& file);
absl::StatusOr<Bootstrap> LoadBootstrapText(const std::string& text, const std::string& file);

// Checks cross references (routes -> clusters, RDS names, SDS secret names).
absl::Status ValidateResources(const Resources& resources);

// "1.5s" -> 1500 ms (proto3 JSON Duration).
absl::StatusOr<Duration> ParseDuration(const std::string& text);
std::string FormatDuration(Duration d);

}  // namespace mesh::proxyconfig
