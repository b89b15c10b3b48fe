#pragma once

// Turns the proxies' Istio metrics (istio_requests_total, the
// istio_request_duration_milliseconds histogram and the istio_tcp_* counters, scraped as
// cumulative counters) into recent traffic per graph edge: requests, 5xx errors, latency
// buckets, TCP connections and bytes, and how much arrived over mTLS, in a fixed ring of
// time slots per edge. Pure logic: the caller passes the time and serializes calls;
// nothing here touches the network.
//
// Edges of the graph:
//   workload -> service   from the source reporter (the caller's proxy: gateway or sidecar)
//   service  -> workload  from the destination reporter (the serving sidecar)
// The mTLS mark of a caller -> service edge comes from the destination reporter's
// series that name THAT caller (source_workload, source_workload_namespace), as Kiali
// reads it; without them, from the caller's own connection_security_policy when it is
// known (Istio's source reporter says "unknown"). Destination series of HTTP requests
// whose caller is unknown (a client without a proxy) make an edge from the node
// "wl:unknown/unknown".

#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "mesh/dashboard/prometheus_text.h"

namespace mesh::dashboard {

// Latency bucket upper bounds in ms (Istio's default buckets, +Inf last). Histograms
// with other bounds are folded into the first bound at or above theirs.
inline constexpr size_t kLatencyBuckets = 20;
inline constexpr std::array<double, kLatencyBuckets> kLatencyBounds = {
    0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000,
    HUGE_VAL};

// Who was scraped: the proxy's identity from its node metadata.
struct ScrapeTarget {
  std::string proxy_id;
  std::string type;  // "sidecar" or "router"
  std::string workload;
  std::string ns;
  std::vector<std::string> services;  // FQDNs of the services this workload serves
  std::string address;
  uint16_t stats_port = 0;  // 0: the proxy publishes no metrics
};

struct TrafficOptions {
  std::chrono::milliseconds slot{5000};  // the resolution of the history
  size_t slots = 60;                     // history length: slot * slots (5 minutes)
  size_t max_edges = 4000;               // memory bound: the least recently active edges go first
};

// Graph node ids: "svc:<fqdn>" and "wl:<namespace>/<workload>".
std::string ServiceNodeId(const std::string& fqdn);
std::string WorkloadNodeId(const std::string& ns, const std::string& workload);

// The caller of destination-side series without a known source.
inline constexpr const char* kUnknownCallerNodeId = "wl:unknown/unknown";

struct TrafficTotals {
  uint64_t requests = 0;
  uint64_t errors = 0;  // response_code 5xx
  // Requests (HTTP) or connections (TCP) by connection_security_policy as the serving
  // side reported it ("mutual_tls" / "none")...
  uint64_t mtls = 0;
  uint64_t plaintext = 0;
  // ... and as the calling side reported it, used only without the above.
  uint64_t source_mtls = 0;
  uint64_t source_plaintext = 0;
  uint64_t connections = 0;  // TCP connections opened (istio_tcp_connections_opened_total)
  uint64_t bytes = 0;        // TCP bytes both ways (istio_tcp_sent/received_bytes_total)
  std::array<uint64_t, kLatencyBuckets> buckets{};  // per bucket, not cumulative

  void Add(const TrafficTotals& o);
  // histogram_quantile-style estimate (linear within the bucket); NaN without data.
  double LatencyPercentile(double q) const;
  // "mutual_tls" (every request over mTLS), "none", "partial", or "unknown" (neither
  // side reported a policy).
  std::string MtlsMode() const;
  // "http" (requests only), "tcp" (TCP connections only) or "http+tcp" (both between
  // the same two nodes, e.g. a gateway with an HTTPS and a TCP route to one service).
  std::string Protocol() const {
    const bool tcp = connections > 0 || bytes > 0;
    return requests == 0 && tcp ? "tcp" : tcp ? "http+tcp" : "http";
  }
  bool Empty() const { return requests == 0 && connections == 0 && bytes == 0; }
};

struct EdgeTraffic {
  std::string from;  // node ids
  std::string to;
  TrafficTotals totals;
};

// One chart point: the traffic of one slot.
struct TrafficPoint {
  std::chrono::system_clock::time_point start;
  TrafficTotals totals;
};

class TrafficMetrics {
 public:
  explicit TrafficMetrics(TrafficOptions options = {});

  // Adds what changed since the proxy's previous scrape. The first scrape of a proxy is
  // its baseline (its counters hold traffic of unknown age); counter resets (a proxy
  // restart) count from zero.
  void Ingest(const ScrapeTarget& target, std::chrono::system_clock::time_point now,
              const std::vector<MetricSample>& samples);
  // Drops a proxy's baseline (it disconnected); its past traffic stays in the history.
  void ForgetProxy(const std::string& proxy_id);

  // Every edge with traffic in the `window` before `now`.
  std::vector<EdgeTraffic> Edges(std::chrono::system_clock::time_point now, std::chrono::milliseconds window) const;
  // A service's traffic per slot over the whole history, oldest first: what its
  // sidecars saw inbound, or what callers saw when it has no sidecar metrics.
  std::vector<TrafficPoint> ServiceHistory(const std::string& fqdn, std::chrono::system_clock::time_point now) const;
  // Inbound traffic of a service over the window (destination side when known).
  TrafficTotals ServiceTotals(const std::string& fqdn, std::chrono::system_clock::time_point now,
                              std::chrono::milliseconds window) const;

  size_t edge_count() const { return edges_.size(); }
  const TrafficOptions& options() const { return options_; }

 private:
  struct Slot {
    int64_t index = -1;
    uint32_t requests = 0, errors = 0, mtls = 0, plaintext = 0, source_mtls = 0, source_plaintext = 0;
    uint32_t connections = 0;
    uint64_t bytes = 0;
    std::array<uint32_t, kLatencyBuckets> buckets{};
  };
  struct Edge {
    std::vector<Slot> ring;
    int64_t last_active = 0;
  };
  using EdgeKey = std::pair<std::string, std::string>;  // from, to

  int64_t SlotIndex(std::chrono::system_clock::time_point t) const;
  Slot& SlotFor(const EdgeKey& key, int64_t index);
  void Evict();
  TrafficTotals Sum(const Edge& edge, int64_t first, int64_t last) const;

  TrafficOptions options_;
  std::map<EdgeKey, Edge> edges_;
  // Per proxy: the last value of every counter series it publishes (by its label text).
  std::unordered_map<std::string, std::unordered_map<std::string, double>> baselines_;
};

}  // namespace mesh::dashboard
