#pragma once

// The data plane runtime. Config arrives as an immutable snapshot from anywhere (a
// bootstrap file, SIGHUP reload, or discovery) through UpdateConfig(); each worker thread
// (one io_context each) picks it up for new requests while in-flight ones finish on the
// snapshot they started with.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "mesh/proxyconfig/types.h"

namespace mesh::proxy {

struct ProxyOptions {
  int concurrency = 1;
  // Admin (/config_dump, /clusters, /stats, /ready, /healthz, /quitquitquit); port 0
  // disables a server; address "" uses 127.0.0.1 for admin and 0.0.0.0 for the others.
  std::string admin_address = "127.0.0.1";
  int admin_port = 15000;
  std::string health_address = "0.0.0.0";
  int health_port = 15021;  // /healthz/ready
  std::string stats_address = "0.0.0.0";
  int stats_port = 15090;   // /stats/prometheus
  std::chrono::milliseconds drain_timeout{5000};
  // Called (on the admin thread) for POST /quitquitquit; the default wakes Wait().
  std::function<void()> on_quit;
};

// What the proxy runs: the resources plus who it is (for metric labels and dumps).
struct ConfigSnapshot {
  proxyconfig::Bootstrap bootstrap;     // node identity, admin; static_resources as loaded
  proxyconfig::Resources resources;     // what is active (static or from discovery)
};
using ConfigSnapshotPtr = std::shared_ptr<const ConfigSnapshot>;

class Proxy {
 public:
  virtual ~Proxy() = default;

  // Binds the admin/health/stats ports and starts the workers. Listeners come with the
  // first UpdateConfig().
  virtual absl::Status Start() = 0;
  // Validates the snapshot, opens new listeners (an error leaves the old config active),
  // closes removed ones, and hands the snapshot to every worker.
  virtual absl::Status UpdateConfig(ConfigSnapshotPtr snapshot) = 0;
  // Stops accepting, lets in-flight requests finish up to the drain timeout, then stops.
  virtual void Drain() = 0;
  // Immediate stop; joins threads. Idempotent.
  virtual void Stop() = 0;
  // Blocks until Stop()/Drain() completed or /quitquitquit was called.
  virtual void Wait() = 0;

  virtual bool Ready() const = 0;
  // Bound listener ports by listener name (resolves port 0).
  virtual std::vector<std::pair<std::string, int>> ListenerPorts() const = 0;
};

absl::StatusOr<std::unique_ptr<Proxy>> CreateProxy(const ProxyOptions& options);

}  // namespace mesh::proxy
