#pragma once

// Workloads that registered by connecting their proxy (like WorkloadEntry
// auto-registration). A proxy that disconnects is kept for a grace period, so a quick
// reconnect does not drop its endpoints; the control plane saves the registry (Save) and
// a restarted one reads it back as just-disconnected proxies (RestoreDisconnected), so a
// restart does not drop them either. Pure logic: time is passed in; the control plane
// serializes calls.

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "mesh/config/node.h"
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

  // Returns true when the set of registered workloads changed. `metadata` is the node
  // metadata the identity was parsed from, kept for Save.
  bool Connect(const std::string& proxy_id, const ProxyIdentity& identity, config::Node metadata = {});
  bool Disconnect(const std::string& proxy_id, Clock::time_point now);
  // Drops workloads whose grace period ended; true when something was removed.
  bool Expire(Clock::time_point now);

  std::vector<pilot::WorkloadInstance> Workloads() const;
  const ProxyIdentity* Find(const std::string& proxy_id) const;

  // Moves whenever the saved form would change (a proxy added, removed or re-described).
  uint64_t version() const { return version_; }
  // The registered proxies as JSON: {"proxies": [{"id": ..., "metadata": {...}}]}.
  std::string Save() const;
  // Adds the proxies of a Save() as disconnected at `now`: their endpoints stay for the
  // grace period, and go unless the proxy reconnects. Entries already present win. An
  // unreadable text is an error and adds nothing.
  absl::Status RestoreDisconnected(std::string_view json, Clock::time_point now);

 private:
  struct Entry {
    ProxyIdentity identity;
    bool connected = true;
    Clock::time_point disconnected_at;
    config::Node metadata;
  };
  std::chrono::milliseconds grace_;
  std::map<std::string, Entry> entries_;
  uint64_t version_ = 0;
};

}  // namespace mesh::controlplane
