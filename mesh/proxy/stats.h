#pragma once

// Metrics kept per worker (one uncontended mutex each) and merged when scraped:
// Istio's standard metrics for Prometheus (:15090/stats/prometheus) and Envoy-style
// counters for the admin /stats page.

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace mesh::proxy {

// Renders `a="x",b="y"` with Prometheus escaping.
std::string RenderLabels(const std::vector<std::pair<std::string, std::string>>& labels);

// Label sets are interned once per snapshot so the per-request key is a small integer.
uint32_t InternLabels(const std::string& rendered);
std::string LabelsById(uint32_t id);
// The same label set with request_protocol="grpc" and grpc_response_status=`status`
// (istio_requests_total for gRPC requests); interned and cached.
uint32_t GrpcLabels(uint32_t labels, std::string_view grpc_status);

// Peer metadata exchange, reduced to the caller's identity: a caller's proxy names its
// workload in this request header ("<namespace>/<workload>") on requests through
// outbound clusters, and the serving proxy reads and removes it, so its destination-side metrics
// can name the source (Istio fills source_workload the same way, from its own exchange).
inline constexpr std::string_view kPeerWorkloadHeader = "x-meshctl-peer-workload";
// The destination label set `labels` with source_workload and source_workload_namespace
// taken from a kPeerWorkloadHeader value; `labels` unchanged when the value is not a
// valid "<namespace>/<workload>" or too many distinct callers were seen already (the
// header comes from the network: it must not grow the label sets without bound).
uint32_t SourceWorkloadLabels(uint32_t labels, std::string_view peer);

struct Histogram {
  std::vector<uint64_t> buckets;  // cumulative counts are computed when rendering
  double sum = 0;
  uint64_t count = 0;
  void Observe(const std::vector<double>& bounds, double value);
};

class WorkerStats {
 public:
  // `labels` is an InternLabels() id for the label set without response_code and
  // response_flags, which are added here.
  void RecordRequest(uint32_t labels, int response_code, std::string_view response_flags, double duration_ms,
                     uint64_t request_bytes, uint64_t response_bytes);
  void RecordTcpOpen(const std::string& labels);
  void RecordTcpClose(const std::string& labels, uint64_t sent, uint64_t received);
  void Add(const std::string& counter, uint64_t n = 1);

  struct RequestSeries {
    uint64_t total = 0;
    Histogram duration, request_bytes, response_bytes;
  };
  struct TcpSeries {
    uint64_t opened = 0, closed = 0, sent = 0, received = 0;
  };

 private:
  friend class StatsRenderer;
  std::mutex mu_;
  struct RequestKey {
    uint32_t labels;
    int code;
    std::string flags;
    bool operator==(const RequestKey& o) const { return labels == o.labels && code == o.code && flags == o.flags; }
  };
  struct RequestKeyHash {
    size_t operator()(const RequestKey& k) const {
      return std::hash<uint64_t>()((uint64_t{k.labels} << 32) ^ static_cast<uint32_t>(k.code)) ^
             std::hash<std::string>()(k.flags);
    }
  };
  std::unordered_map<RequestKey, RequestSeries, RequestKeyHash> requests_;
  std::unordered_map<std::string, TcpSeries> tcp_;
  std::unordered_map<std::string, uint64_t> counters_;
};

class StatsRenderer {
 public:
  explicit StatsRenderer(std::vector<WorkerStats*> workers) : workers_(std::move(workers)) {}
  // Prometheus text format 0.0.4; `gauges` are extra series (name -> value).
  // `counters` are Envoy-style counters kept outside the workers.
  std::string Prometheus(const std::map<std::string, double>& gauges,
                         const std::map<std::string, uint64_t>& counters = {}) const;
  // "name: value" lines, sorted (Envoy's /stats).
  std::string EnvoyText(const std::map<std::string, double>& gauges,
                        const std::map<std::string, uint64_t>& counters = {}) const;

 private:
  std::vector<WorkerStats*> workers_;
};

}  // namespace mesh::proxy
