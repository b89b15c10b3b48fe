#include "mesh/proxy/stats.h"

#include <algorithm>
#include <cstdio>

#include "mesh/common/strings.h"

namespace mesh::proxy {
namespace {

// Istio's bucket boundaries.
const std::vector<double>& DurationBounds() {
  static const std::vector<double> kBounds = {0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500,
                                              5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000};
  return kBounds;
}
const std::vector<double>& ByteBounds() {
  static const std::vector<double> kBounds = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000,
                                              100000000, 1000000000};
  return kBounds;
}

std::string FormatNumber(double v) {
  char buf[64];
  if (v == static_cast<double>(static_cast<int64_t>(v))) {
    std::snprintf(buf, sizeof(buf), "%lld", static_cast<long long>(v));
  } else {
    std::snprintf(buf, sizeof(buf), "%.6g", v);
  }
  return buf;
}

void Merge(Histogram& into, const Histogram& from) {
  if (into.buckets.size() < from.buckets.size()) {
    into.buckets.resize(from.buckets.size(), 0);
  }
  for (size_t i = 0; i < from.buckets.size(); ++i) {
    into.buckets[i] += from.buckets[i];
  }
  into.sum += from.sum;
  into.count += from.count;
}

void RenderHistogram(std::string& out, const std::string& name, const std::string& labels,
                     const Histogram& h, const std::vector<double>& bounds) {
  uint64_t cumulative = 0;
  for (size_t i = 0; i < bounds.size(); ++i) {
    cumulative += i < h.buckets.size() ? h.buckets[i] : 0;
    out += common::StrCat(name, "_bucket{", labels, ",le=\"", FormatNumber(bounds[i]), "\"} ", cumulative, "\n");
  }
  out += common::StrCat(name, "_bucket{", labels, ",le=\"+Inf\"} ", h.count, "\n");
  out += common::StrCat(name, "_sum{", labels, "} ", FormatNumber(h.sum), "\n");
  out += common::StrCat(name, "_count{", labels, "} ", h.count, "\n");
}

// Envoy stat names -> Prometheus names ("cluster.x.upstream_rq_total" -> envoy_cluster_upstream_rq_total{cluster_name="x"}).
std::string PromName(const std::string& s) {
  std::string out = "envoy_";
  for (char c : s) {
    out.push_back((std::isalnum(static_cast<unsigned char>(c)) != 0) ? c : '_');
  }
  return out;
}

}  // namespace

std::string RenderLabels(const std::vector<std::pair<std::string, std::string>>& labels) {
  std::string out;
  for (const auto& [k, v] : labels) {
    if (!out.empty()) {
      out.push_back(',');
    }
    out += k;
    out += "=\"";
    for (char c : v) {
      if (c == '\\' || c == '"') {
        out.push_back('\\');
        out.push_back(c);
      } else if (c == '\n') {
        out += "\\n";
      } else {
        out.push_back(c);
      }
    }
    out.push_back('"');
  }
  return out;
}

namespace {
std::mutex& InternMu() {
  static std::mutex* mu = new std::mutex();
  return *mu;
}
std::vector<std::string>& InternTable() {
  static auto* table = new std::vector<std::string>();
  return *table;
}
}  // namespace

uint32_t InternLabels(const std::string& rendered) {
  std::lock_guard<std::mutex> lock(InternMu());
  static auto* index = new std::unordered_map<std::string, uint32_t>();
  auto [it, inserted] = index->emplace(rendered, static_cast<uint32_t>(InternTable().size()));
  if (inserted) {
    InternTable().push_back(rendered);
  }
  return it->second;
}

std::string LabelsById(uint32_t id) {
  std::lock_guard<std::mutex> lock(InternMu());
  return id < InternTable().size() ? InternTable()[id] : std::string();
}

uint32_t GrpcLabels(uint32_t labels, std::string_view grpc_status) {
  static std::mutex mu;
  static auto* cache = new std::map<std::pair<uint32_t, std::string>, uint32_t>();
  std::pair<uint32_t, std::string> key(labels, std::string(grpc_status));
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = cache->find(key);
    if (it != cache->end()) {
      return it->second;
    }
  }
  std::string rendered = LabelsById(labels);
  static constexpr std::string_view kHttp = "request_protocol=\"http\",grpc_response_status=\"\"";
  auto pos = rendered.find(kHttp);
  if (pos != std::string::npos) {
    std::string status;
    for (char c : grpc_status) {
      if (c >= '0' && c <= '9') {
        status.push_back(c);  // digits only: no escaping needed
      }
    }
    rendered.replace(pos, kHttp.size(),
                     common::StrCat("request_protocol=\"grpc\",grpc_response_status=\"", status, "\""));
  }
  uint32_t id = InternLabels(rendered);
  std::lock_guard<std::mutex> lock(mu);
  cache->emplace(std::move(key), id);
  return id;
}

namespace {
// A DNS label or subdomain, as Kubernetes names are: no escaping is ever needed.
bool ValidName(std::string_view s, size_t max) {
  if (s.empty() || s.size() > max) {
    return false;
  }
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.')) {
      return false;
    }
  }
  return true;
}
}  // namespace

uint32_t SourceWorkloadLabels(uint32_t labels, std::string_view peer) {
  constexpr size_t kMaxSources = 4096;
  static std::mutex mu;
  static auto* cache = new std::map<std::pair<uint32_t, std::string>, uint32_t>();
  auto slash = peer.find('/');
  if (slash == std::string_view::npos || !ValidName(peer.substr(0, slash), 63) ||
      !ValidName(peer.substr(slash + 1), 253)) {
    return labels;
  }
  std::pair<uint32_t, std::string> key(labels, std::string(peer));
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = cache->find(key);
    if (it != cache->end()) {
      return it->second;
    }
    if (cache->size() >= kMaxSources) {
      return labels;
    }
  }
  std::string rendered = LabelsById(labels);
  static constexpr std::string_view kUnknownSource =
      "source_workload=\"unknown\",source_workload_namespace=\"unknown\"";
  auto pos = rendered.find(kUnknownSource);
  if (pos == std::string::npos) {
    return labels;
  }
  rendered.replace(pos, kUnknownSource.size(),
                   common::StrCat("source_workload=\"", peer.substr(slash + 1), "\",source_workload_namespace=\"",
                                  peer.substr(0, slash), "\""));
  uint32_t id = InternLabels(rendered);
  std::lock_guard<std::mutex> lock(mu);
  cache->emplace(std::move(key), id);
  return id;
}

void Histogram::Observe(const std::vector<double>& bounds, double value) {
  if (buckets.size() != bounds.size()) {
    buckets.assign(bounds.size(), 0);
  }
  auto it = std::lower_bound(bounds.begin(), bounds.end(), value);
  if (it != bounds.end()) {
    ++buckets[it - bounds.begin()];
  }
  sum += value;
  ++count;
}

void WorkerStats::RecordRequest(uint32_t labels, int response_code, std::string_view response_flags,
                                double duration_ms, uint64_t request_bytes, uint64_t response_bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  RequestSeries& s = requests_[RequestKey{labels, response_code, std::string(response_flags)}];
  ++s.total;
  s.duration.Observe(DurationBounds(), duration_ms);
  s.request_bytes.Observe(ByteBounds(), static_cast<double>(request_bytes));
  s.response_bytes.Observe(ByteBounds(), static_cast<double>(response_bytes));
}

void WorkerStats::RecordTcpOpen(const std::string& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  ++tcp_[labels].opened;
}

void WorkerStats::RecordTcpClose(const std::string& labels, uint64_t sent, uint64_t received) {
  std::lock_guard<std::mutex> lock(mu_);
  TcpSeries& s = tcp_[labels];
  ++s.closed;
  s.sent += sent;
  s.received += received;
}

void WorkerStats::Add(const std::string& counter, uint64_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  counters_[counter] += n;
}

std::string StatsRenderer::Prometheus(const std::map<std::string, double>& gauges,
                                      const std::map<std::string, uint64_t>& extra_counters) const {
  std::map<std::string, WorkerStats::RequestSeries> requests;
  std::map<std::string, WorkerStats::TcpSeries> tcp;
  std::map<std::string, uint64_t> counters(extra_counters.begin(), extra_counters.end());
  std::map<uint32_t, std::string> labels_cache;
  for (WorkerStats* w : workers_) {
    std::lock_guard<std::mutex> lock(w->mu_);
    for (const auto& [key, s] : w->requests_) {
      auto cached = labels_cache.find(key.labels);
      if (cached == labels_cache.end()) {
        cached = labels_cache.emplace(key.labels, LabelsById(key.labels)).first;
      }
      std::string k = common::StrCat(cached->second, ",response_code=\"", key.code, "\",response_flags=\"",
                                     key.flags.empty() ? std::string("-") : key.flags, "\"");
      auto& into = requests[k];
      into.total += s.total;
      Merge(into.duration, s.duration);
      Merge(into.request_bytes, s.request_bytes);
      Merge(into.response_bytes, s.response_bytes);
    }
    for (const auto& [k, s] : w->tcp_) {
      auto& into = tcp[k];
      into.opened += s.opened;
      into.closed += s.closed;
      into.sent += s.sent;
      into.received += s.received;
    }
    for (const auto& [k, v] : w->counters_) {
      counters[k] += v;
    }
  }
  std::string out;
  out += "# HELP istio_requests_total Total number of requests handled by the proxy.\n";
  out += "# TYPE istio_requests_total counter\n";
  for (const auto& [k, s] : requests) {
    out += common::StrCat("istio_requests_total{", k, "} ", s.total, "\n");
  }
  struct H {
    const char* name;
    const char* help;
    Histogram WorkerStats::RequestSeries::*field;
    const std::vector<double>& bounds;
  };
  const H histograms[] = {
      {"istio_request_duration_milliseconds", "Request duration in milliseconds.",
       &WorkerStats::RequestSeries::duration, DurationBounds()},
      {"istio_request_bytes", "Request body size in bytes.", &WorkerStats::RequestSeries::request_bytes,
       ByteBounds()},
      {"istio_response_bytes", "Response body size in bytes.", &WorkerStats::RequestSeries::response_bytes,
       ByteBounds()},
  };
  for (const auto& h : histograms) {
    out += common::StrCat("# HELP ", h.name, " ", h.help, "\n# TYPE ", h.name, " histogram\n");
    for (const auto& [k, s] : requests) {
      RenderHistogram(out, h.name, k, s.*(h.field), h.bounds);
    }
  }
  struct T {
    const char* name;
    const char* help;
    uint64_t WorkerStats::TcpSeries::*field;
  };
  const T tcp_metrics[] = {
      {"istio_tcp_connections_opened_total", "TCP connections opened.", &WorkerStats::TcpSeries::opened},
      {"istio_tcp_connections_closed_total", "TCP connections closed.", &WorkerStats::TcpSeries::closed},
      {"istio_tcp_sent_bytes_total", "Bytes sent to the downstream in TCP connections.", &WorkerStats::TcpSeries::sent},
      {"istio_tcp_received_bytes_total", "Bytes received from the downstream in TCP connections.",
       &WorkerStats::TcpSeries::received},
  };
  for (const auto& t : tcp_metrics) {
    out += common::StrCat("# HELP ", t.name, " ", t.help, "\n# TYPE ", t.name, " counter\n");
    for (const auto& [k, s] : tcp) {
      out += common::StrCat(t.name, "{", k, "} ", s.*(t.field), "\n");
    }
  }
  // Envoy-style counters: group by metric name so each gets one TYPE line.
  std::map<std::string, std::vector<std::pair<std::string, uint64_t>>> grouped;
  for (const auto& [k, v] : counters) {
    // "cluster.<name>.<stat>" and "listener.<name>.<stat>" carry the name as a label.
    auto parts = common::Split(k, '.');
    if (parts.size() >= 3 && (parts[0] == "cluster" || parts[0] == "listener" || parts[0] == "http")) {
      std::string name = parts.back();
      std::vector<std::string> middle(parts.begin() + 1, parts.end() - 1);
      std::string label = parts[0] == "cluster" ? "cluster_name" : parts[0] == "listener" ? "listener" : "stat_prefix";
      grouped[PromName(parts[0] + "_" + name)].emplace_back(
          RenderLabels({{label, common::Join(middle, ".")}}), v);
    } else {
      grouped[PromName(k)].emplace_back("", v);
    }
  }
  for (const auto& [raw_name, series] : grouped) {
    std::string_view rn = raw_name;
    std::string name = common::ConsumeSuffix(rn, "_total") ? raw_name : raw_name + "_total";
    out += common::StrCat("# HELP ", name, " Envoy-style counter.\n# TYPE ", name, " counter\n");
    for (const auto& [labels, v] : series) {
      out += labels.empty() ? common::StrCat(name, " ", v, "\n") : common::StrCat(name, "{", labels, "} ", v, "\n");
    }
  }
  for (const auto& [k, v] : gauges) {
    std::string name = PromName(k);
    out += common::StrCat("# HELP ", name, " Proxy state.\n# TYPE ", name, " gauge\n", name, " ", FormatNumber(v), "\n");
  }
  return out;
}

std::string StatsRenderer::EnvoyText(const std::map<std::string, double>& gauges,
                                     const std::map<std::string, uint64_t>& counters) const {
  std::map<std::string, double> all(gauges.begin(), gauges.end());
  for (const auto& [k, v] : counters) {
    all[k] += static_cast<double>(v);
  }
  for (WorkerStats* w : workers_) {
    std::lock_guard<std::mutex> lock(w->mu_);
    for (const auto& [k, v] : w->counters_) {
      all[k] += static_cast<double>(v);
    }
  }
  std::string out;
  for (const auto& [k, v] : all) {
    out += common::StrCat(k, ": ", FormatNumber(v), "\n");
  }
  return out;
}

}  // namespace mesh::proxy
