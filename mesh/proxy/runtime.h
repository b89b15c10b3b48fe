#pragma once

// Internal to mesh/proxy: the compiled form of a ConfigSnapshot that workers read, and
// the state shared across workers (circuit breakers, outlier detection). Beast-free so
// only proxy.cc pays for Beast headers; OpenSSL contexts are held as SSL_CTX.

#include <atomic>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "mesh/proxy/proxy.h"

typedef struct ssl_ctx_st SSL_CTX;

namespace mesh::proxy {

// Per upstream host, shared by all workers (Envoy keeps these on the main thread).
struct HostState {
  std::atomic<int64_t> active_requests{0};
  std::atomic<uint32_t> consecutive_5xx{0};
  std::atomic<uint32_t> consecutive_gateway{0};
  std::atomic<int64_t> ejected_until_ms{0};  // steady clock ms; 0 = not ejected
  std::atomic<int64_t> ejection_over_ms{0};  // the ejection time ends; the next sweep returns the host
  std::atomic<uint32_t> ejections{0};
  std::atomic<uint64_t> requests_total{0};
  std::atomic<uint64_t> requests_error{0};
  // Responses since the last outlier sweep (success-rate / failure-percentage detection);
  // counted only for clusters with outlier detection.
  std::atomic<uint64_t> interval_requests{0};
  std::atomic<uint64_t> interval_errors{0};
  std::atomic<bool> health_check_failed{false};
};

struct ClusterState {
  std::atomic<int64_t> active_requests{0};
  std::atomic<int64_t> active_connections{0};
  std::atomic<int64_t> pending_requests{0};
  std::atomic<int64_t> active_retries{0};
  std::atomic<uint64_t> round_robin{0};
  std::atomic<int64_t> next_outlier_sweep_ms{0};
};

struct SslCtxDeleter {
  void operator()(SSL_CTX* ctx) const;
};
using SslCtxPtr = std::shared_ptr<SSL_CTX>;

using Counter = std::shared_ptr<std::atomic<uint64_t>>;

// Envoy's outlier_detection.* counters of a cluster.
struct OutlierCounters {
  Counter ejections_enforced_total;
  Counter ejections_overflow;  // an ejection refused by max_ejection_percent
  Counter ejections_enforced_consecutive_5xx;
  Counter ejections_enforced_consecutive_gateway_failure;
  Counter ejections_detected_success_rate;
  Counter ejections_enforced_success_rate;
  Counter ejections_detected_failure_percentage;
  Counter ejections_enforced_failure_percentage;
};

struct HostRuntime {
  std::string address;  // IP or name
  uint16_t port = 0;
  std::string key;  // "address:port"
  std::string pool_key;  // "cluster|address:port"
  uint32_t weight = 1;
  bool configured_healthy = true;
  uint32_t priority = 0;
  std::shared_ptr<HostState> state;
};

// Host indexes (into ClusterRuntime::hosts) of one locality or priority level, with
// their round-robin sequence (indexes repeated by weight, interleaved).
struct HostSet {
  std::vector<uint32_t> hosts;
  std::vector<uint32_t> weighted_sequence;
};

struct LocalityRuntime {
  uint32_t weight = 0;  // LocalityLbEndpoints.load_balancing_weight
  HostSet set;
};

struct PriorityRuntime {
  HostSet set;
  std::vector<LocalityRuntime> localities;
};

struct ClusterRuntime {
  const proxyconfig::Cluster* cluster = nullptr;
  std::vector<HostRuntime> hosts;
  std::vector<PriorityRuntime> priorities;  // by level, 0 first; empty levels kept
  bool locality_weighted = false;  // common_lb_config.locality_weighted_lb_config
  std::vector<std::pair<uint64_t, uint32_t>> ring;  // ring hash: (point, host index), sorted
  std::vector<uint32_t> maglev;  // MAGLEV lookup table: host index per slot
  SslCtxPtr tls;  // upstream TLS origination
  std::string sni;
  std::shared_ptr<ClusterState> state;
  // Prometheus label sets by [reporter: 0 source, 1 destination][policy: none, mutual_tls, unknown].
  uint32_t labels[2][3];  // InternLabels ids
  std::string stat_prefix;  // "cluster.<name>."
  Counter rq_total;
  Counter rq_class[6];  // upstream_rq_1xx .. 5xx
  // Bumped by the load balancer; null (not counted) in clusters built by hand in tests.
  Counter lb_healthy_panic;  // upstream_rq_lb_healthy_panic
  OutlierCounters outlier;   // outlier_detection.*
};

struct LogSink {
  proxyconfig::AccessLog config;
  std::shared_ptr<FILE> file;  // null: stdout
};

struct ChainRuntime {
  const proxyconfig::FilterChain* chain = nullptr;
  const proxyconfig::HttpConnectionManager* hcm = nullptr;
  const proxyconfig::TcpProxy* tcp = nullptr;
  const proxyconfig::RouteConfiguration* routes = nullptr;
  SslCtxPtr tls;  // downstream termination
  std::vector<LogSink> logs;
  std::string stat_prefix;  // "http.<prefix>."
  Counter downstream_rq_total;
};

struct ListenerRuntime {
  const proxyconfig::Listener* listener = nullptr;
  std::vector<ChainRuntime> chains;
  bool inspect = false;  // chains differ by TLS/SNI: peek at the ClientHello
  int reporter = 0;      // 0 source (outbound, gateway), 1 destination (inbound)
  std::string stat_prefix;
};

struct Runtime {
  ConfigSnapshotPtr snapshot;
  std::unordered_map<std::string, ListenerRuntime> listeners;
  std::unordered_map<std::string, ClusterRuntime> clusters;
  uint32_t no_cluster_labels[2][3];
  std::string tcp_labels_unused;
  // This proxy's "<namespace>/<workload>" for kPeerWorkloadHeader; empty when unnamed.
  std::string peer_workload;
};
using RuntimePtr = std::shared_ptr<const Runtime>;

// Keeps host and cluster state alive across snapshots, by name.
class SharedStateRegistry {
 public:
  std::shared_ptr<ClusterState> Cluster(const std::string& name);
  std::shared_ptr<HostState> Host(const std::string& cluster, const std::string& host_key);
  // Envoy-style counters that survive snapshot swaps.
  Counter GetCounter(const std::string& name);
  std::map<std::string, uint64_t> Counters();

 private:
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<ClusterState>> clusters_;
  std::map<std::string, std::shared_ptr<HostState>> hosts_;
  std::map<std::string, Counter> counters_;
};

// Builds SSL contexts, resolves RDS/EDS/SDS names, precomputes labels.
absl::StatusOr<RuntimePtr> CompileRuntime(ConfigSnapshotPtr snapshot, SharedStateRegistry& registry);

// FNV-1a, used for consistent hashing.
uint64_t HashKey(std::string_view s);

// Maglev lookup table (Eisenbud et al., NSDI 2016; Envoy's MAGLEV): `table_size` (a
// prime) slots, each holding a host index. Every host walks its own permutation of the
// slots (offset and skip from two hashes of its key) and claims free slots in turns, in
// proportion to its weight, so a key -> slot -> host lookup is O(1) and removing a host
// moves few keys.
std::vector<uint32_t> BuildMaglevTable(const std::vector<std::string>& host_keys, const std::vector<uint32_t>& weights,
                                       uint64_t table_size);

}  // namespace mesh::proxy
