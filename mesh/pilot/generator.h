#pragma once

// Translation (Istio's Pilot): one proxy + the PushContext -> the proxy's Envoy-subset
// resources (mesh::proxyconfig structs, encoded to proto3 JSON for discovery).
//
// Gateways (routers): Gateway servers become listeners on the gateway's local ports,
// TLS SIMPLE/MUTUAL termination with credentialName secrets (sent over SDS as
// "kubernetes://<name>"), PASSTHROUGH by SNI; the VirtualServices bound to the Gateway
// become route configurations.
// Sidecars: an inbound listener on the workload's inbound port (mTLS per
// PeerAuthentication: STRICT, PERMISSIVE with TLS detection, DISABLE) forwarding to the
// application, and an outbound listener the application uses as its HTTP proxy, with one
// virtual host per visible service and mesh-bound VirtualServices applied.
// Clusters: outbound|<port>|<subset>|<host> with endpoints from the registry,
// DestinationRule traffic policy (load balancer, connection pool, outlier detection, TLS
// modes) and ISTIO_MUTUAL to meshed destinations (auto mTLS). Workload certificates are
// named "default" and "ROOTCA"; the proxy's agent supplies them locally.

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "mesh/config/node.h"
#include "mesh/pilot/push_context.h"
#include "mesh/proxyconfig/types.h"
#include "mesh/xds/protocol.h"

namespace mesh::pilot {

struct ProxyRole {
  enum class Type { kSidecar, kRouter };
  Type type = Type::kSidecar;
  WorkloadInstance workload;
  uint32_t app_port = 0;       // sidecars: where the application listens (127.0.0.1)
  uint32_t outbound_port = 0;  // sidecars: the HTTP proxy port the application uses
  std::map<uint32_t, uint32_t> gateway_ports;  // routers: Gateway server port -> local port
  std::string bind_address = "127.0.0.1";
};

inline constexpr char kWorkloadCertSecret[] = "default";
inline constexpr char kRootCertSecret[] = "ROOTCA";

// Everything a proxy should run.
proxyconfig::Resources GenerateResources(const ProxyRole& proxy, const PushContext& push);
// One discovery type of it, encoded (the xDS server's unit).
std::vector<config::Node> GenerateType(const ProxyRole& proxy, const PushContext& push, const std::string& type_url);

// Every discovery type for a proxy from one translation.
std::map<std::string, std::vector<config::Node>> GenerateAllTypes(const ProxyRole& proxy, const PushContext& push);

// Generation for the discovery server, shared between proxies and across snapshots.
//
// Sidecars that see the same outbound configuration (same namespace, same Sidecar
// resource, same outbound port: their "scope", see ScopeKey) share it: the outbound
// clusters, endpoints, route configuration and listener are translated and serialized
// once per scope and snapshot, and every proxy of the scope gets the same immutable bytes
// (xds::ResourceChunk). Within a scope each cluster, endpoint assignment and virtual host
// is kept across snapshots with a fingerprint of what it was built from, so a change to
// one service re-encodes only that service's resources. The per-proxy parts (inbound
// listener, route and cluster; all of a gateway's configuration) are translated per proxy
// and are small. One translation per proxy and snapshot serves all five types.
// Thread-safe.
class GenerationCache {
 public:
  GenerationCache();
  ~GenerationCache();
  xds::ResourceList Get(const ProxyRole& proxy, const PushContext& push, const std::string& type_url);

  struct Stats {
    uint64_t scope_builds = 0;       // scope translations (one per scope and snapshot)
    uint64_t proxy_builds = 0;       // per-proxy translations
    uint64_t shared_encoded = 0;     // scope resources serialized (clusters, endpoints, virtual hosts, ...)
    uint64_t shared_reused = 0;      // scope resources reused from an earlier snapshot
    size_t scopes = 0;               // scopes currently held
  };
  Stats stats() const;

  // What a sidecar's outbound configuration depends on besides the snapshot.
  static std::string ScopeKey(const ProxyRole& proxy, const PushContext& push);

 private:
  struct Scope;
  struct ProxyEntry;
  std::shared_ptr<const Scope> ScopeFor(const ProxyRole& proxy, const PushContext& push);

  mutable std::mutex mu_;
  uint64_t latest_version_ = 0;
  uint64_t previous_version_ = 0;
  std::map<std::string, std::shared_ptr<Scope>> scopes_;
  std::map<std::pair<uint64_t, std::string>, std::map<std::string, xds::ResourceList>> proxies_;
  Stats stats_;
};

// "outbound|80|v1|reviews.default.svc.cluster.local"
std::string OutboundClusterName(uint32_t port, std::string_view subset, std::string_view host);
// The SPIFFE identity of a workload.
std::string SpiffeIdentity(const MeshSettings& mesh, std::string_view ns, std::string_view service_account);

}  // namespace mesh::pilot
