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

// Per-proxy memo for one snapshot: discovery asks for five types in a row, and one
// translation produces all five. The key is everything the output depends on: the
// proxy's role (all of its fields) and the PushContext version (which identifies the
// whole snapshot). Entries of older snapshots are dropped when a newer one is seen.
// Thread-safe.
class GenerationCache {
 public:
  xds::ResourceList Get(const ProxyRole& proxy, const PushContext& push, const std::string& type_url);

 private:
  std::mutex mu_;
  uint64_t latest_version_ = 0;
  std::map<std::pair<uint64_t, std::string>, std::map<std::string, xds::ResourceList>> entries_;
};

// "outbound|80|v1|reviews.default.svc.cluster.local"
std::string OutboundClusterName(uint32_t port, std::string_view subset, std::string_view host);
// The SPIFFE identity of a workload.
std::string SpiffeIdentity(const MeshSettings& mesh, std::string_view ns, std::string_view service_account);

}  // namespace mesh::pilot
