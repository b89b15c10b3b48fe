#pragma once

// Encodes the structs of types.h back to Envoy v3 proto3 JSON shape (snake_case field
// names, "@type" on Any values) as mesh::config::Node: used by the admin /config_dump and
// by the control plane's discovery responses.

#include "mesh/config/node.h"
#include "mesh/proxyconfig/types.h"

namespace mesh::proxyconfig {

config::Node EncodeListener(const Listener& listener);
config::Node EncodeRouteConfiguration(const RouteConfiguration& route_config);
// One element of a route configuration's "virtual_hosts" (the control plane caches them
// one by one).
config::Node EncodeVirtualHost(const VirtualHost& virtual_host);
config::Node EncodeCluster(const Cluster& cluster);
config::Node EncodeClusterLoadAssignment(const ClusterLoadAssignment& cla);
// Inline key material is replaced by "[redacted]" unless `redact_inline` is false (only
// for discovery responses, which must carry it).
config::Node EncodeSecret(const Secret& secret, bool redact_inline = true);
config::Node EncodeBootstrap(const Bootstrap& bootstrap);

// Envoy-like /config_dump: {"configs": [BootstrapConfigDump, ListenersConfigDump, ...]}.
config::Node EncodeConfigDump(const Bootstrap& bootstrap, const Resources& resources);

}  // namespace mesh::proxyconfig
