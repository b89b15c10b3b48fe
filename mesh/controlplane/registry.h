#pragma once

// Workloads that registered by connecting their proxy (like WorkloadEntry
// auto-registration). A proxy that disconnects is kept for a grace period, so a quick
// reconnect (or a control plane restart) does not drop its endpoints. Pure logic: time
// is passed in; the control plane serializes calls.

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "mesh/pilot/push_context.h"
#include "mesh/xds/protocol.h"

namespace mesh::controlplane {

// What a proxy says about itself in its node metadata.
struct ProxyIdentity {
  std::string type;  // "sidecar" or "router"
  pilot::WorkloadInstance workload;
  uint32_t outbound_port = 0;  // sidecars: the HTTP proxy port the app uses
  uint32_t app_port = 0;       // sidecars: where the application listens
  std::map<uint32_t, uint32_t> gateway_ports;  // routers: service port -> local listen port
};

// Reads PROXY_TYPE, NAMESPACE, SERVICE_ACCOUNT, WORKLOAD_NAME, LABELS, INSTANCE_IP,
// SERVICES, INBOUND_PORT, OUTBOUND_PORT, APP_PORT, GATEWAY_PORTS from the node metadata.
absl::StatusOr<ProxyIdentity> ParseProxyIdentity(const xds::ProxyNode& node);

class WorkloadRegistry {
 public:
  using Clock = std::chrono::steady_clock;
  explicit WorkloadRegistry(std::chrono::milliseconds grace) : grace_(grace) {}

  // Returns true when the set of registered workloads changed.
  bool Connect(const std::string& proxy_id, const ProxyIdentity& identity);
  bool Disconnect(const std::string& proxy_id, Clock::time_point now);
  // Drops workloads whose grace period ended; true when something was removed.
  bool Expire(Clock::time_point now);

  std::vector<pilot::WorkloadInstance> Workloads() const;
  const ProxyIdentity* Find(const std::string& proxy_id) const;

 private:
  struct Entry {
    ProxyIdentity identity;
    bool connected = true;
    Clock::time_point disconnected_at;
  };
  std::chrono::milliseconds grace_;
  std::map<std::string, Entry> entries_;
};

}  // namespace mesh::controlplane
