#include "mesh/dashboard/traffic.h"

#include <algorithm>

#include "mesh/common/strings.h"

namespace mesh::dashboard {

std::string ServiceNodeId(const std::string& fqdn) { return "svc:" + fqdn; }
std::string WorkloadNodeId(const std::string& ns, const std::string& workload) {
  return common::StrCat("wl:", ns, "/", workload);
}

void TrafficTotals::Add(const TrafficTotals& o) {
  requests += o.requests;
  errors += o.errors;
  mtls += o.mtls;
  plaintext += o.plaintext;
  source_mtls += o.source_mtls;
  source_plaintext += o.source_plaintext;
  connections += o.connections;
  bytes += o.bytes;
  for (size_t i = 0; i < kLatencyBuckets; ++i) {
    buckets[i] += o.buckets[i];
  }
}

double TrafficTotals::LatencyPercentile(double q) const {
  uint64_t total = 0;
  for (uint64_t b : buckets) {
    total += b;
  }
  if (total == 0) {
    return std::nan("");
  }
  double rank = q * static_cast<double>(total);
  uint64_t cumulative = 0;
  for (size_t i = 0; i < kLatencyBuckets; ++i) {
    if (buckets[i] == 0) {
      continue;
    }
    uint64_t before = cumulative;
    cumulative += buckets[i];
    if (static_cast<double>(cumulative) >= rank) {
      double lower = i == 0 ? 0 : kLatencyBounds[i - 1];
      double upper = kLatencyBounds[i];
      if (std::isinf(upper)) {
        return lower;  // as histogram_quantile does: the highest finite bound
      }
      return lower + (upper - lower) * (rank - static_cast<double>(before)) / static_cast<double>(buckets[i]);
    }
  }
  return kLatencyBounds[kLatencyBuckets - 2];
}

std::string TrafficTotals::MtlsMode() const {
  // The serving side's word first: it saw the connection arrive.
  uint64_t secure = mtls, plain = plaintext;
  if (secure + plain == 0) {
    secure = source_mtls;
    plain = source_plaintext;
  }
  if (secure + plain == 0) {
    return "unknown";
  }
  if (plain == 0) {
    return "mutual_tls";
  }
  return secure == 0 ? "none" : "partial";
}

TrafficMetrics::TrafficMetrics(TrafficOptions options) : options_(options) {
  if (options_.slot.count() <= 0) {
    options_.slot = std::chrono::milliseconds(1000);
  }
  if (options_.slots == 0) {
    options_.slots = 1;
  }
}

int64_t TrafficMetrics::SlotIndex(std::chrono::system_clock::time_point t) const {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  return ms / options_.slot.count();
}

TrafficMetrics::Slot& TrafficMetrics::SlotFor(const EdgeKey& key, int64_t index) {
  Edge& edge = edges_[key];
  if (edge.ring.empty()) {
    edge.ring.resize(options_.slots);
  }
  edge.last_active = std::max(edge.last_active, index);
  Slot& slot = edge.ring[static_cast<size_t>(index) % options_.slots];
  if (slot.index != index) {
    slot = Slot{};
    slot.index = index;
  }
  return slot;
}

void TrafficMetrics::Evict() {
  while (edges_.size() > options_.max_edges) {
    auto oldest = edges_.begin();
    for (auto it = edges_.begin(); it != edges_.end(); ++it) {
      if (it->second.last_active < oldest->second.last_active) {
        oldest = it;
      }
    }
    edges_.erase(oldest);
  }
}

namespace {

bool Known(const std::string& v) { return !v.empty() && v != "unknown"; }

uint32_t Clamp(double d) {
  if (!(d > 0)) {
    return 0;
  }
  return d >= 4e9 ? 4000000000u : static_cast<uint32_t>(d + 0.5);
}

size_t BucketFor(double le) {
  for (size_t i = 0; i < kLatencyBuckets; ++i) {
    if (le <= kLatencyBounds[i] * 1.000001) {
      return i;
    }
  }
  return kLatencyBuckets - 1;
}

}  // namespace

void TrafficMetrics::Ingest(const ScrapeTarget& target, std::chrono::system_clock::time_point now,
                            const std::vector<MetricSample>& samples) {
  const int64_t index = SlotIndex(now);
  auto [base_it, first_scrape] = baselines_.try_emplace(target.proxy_id);
  std::unordered_map<std::string, double>& baseline = base_it->second;
  std::unordered_map<std::string, double> next;
  next.reserve(baseline.size());

  struct HistogramDelta {
    EdgeKey key;
    std::array<double, kLatencyBuckets> cumulative{};
  };
  std::map<std::string, HistogramDelta> histograms;  // by series without "le"

  for (const MetricSample& s : samples) {
    const bool is_total = s.name == "istio_requests_total";
    const bool is_bucket = s.name == "istio_request_duration_milliseconds_bucket";
    const bool is_tcp_opened = s.name == "istio_tcp_connections_opened_total";
    const bool is_tcp_bytes = s.name == "istio_tcp_sent_bytes_total" || s.name == "istio_tcp_received_bytes_total";
    if (!is_total && !is_bucket && !is_tcp_opened && !is_tcp_bytes) {
      continue;
    }
    std::string series = s.name;
    std::string series_without_le = s.name;
    double le = HUGE_VAL;
    for (const auto& [k, v] : s.labels) {
      series.append("\x1f").append(k).append("=").append(v);
      if (k == "le") {
        le = v == "+Inf" ? HUGE_VAL : std::strtod(v.c_str(), nullptr);
      } else {
        series_without_le.append("\x1f").append(k).append("=").append(v);
      }
    }
    double delta = 0;
    if (!first_scrape) {
      auto prev = baseline.find(series);
      delta = prev == baseline.end() || s.value < prev->second ? s.value : s.value - prev->second;
    }
    next[series] = s.value;
    if (!(delta > 0)) {
      continue;
    }

    EdgeKey key;
    EdgeKey caller;  // destination side: the caller -> service edge, when the series names it
    bool caller_known = false;
    const bool destination = s.Label("reporter") == "destination";
    const std::string& policy = s.Label("connection_security_policy");
    if (destination) {
      std::string svc = s.Label("destination_service");
      if (!Known(svc)) {
        if (target.services.empty()) {
          continue;
        }
        svc = target.services.front();
      }
      const std::string& wl = s.Label("destination_workload");
      const std::string& ns = s.Label("destination_workload_namespace");
      key = {ServiceNodeId(svc), WorkloadNodeId(Known(ns) ? ns : target.ns, Known(wl) ? wl : target.workload)};
      const std::string& src = s.Label("source_workload");
      const std::string& src_ns = s.Label("source_workload_namespace");
      caller_known = Known(src) && Known(src_ns);
      caller = {caller_known ? WorkloadNodeId(src_ns, src) : kUnknownCallerNodeId, ServiceNodeId(svc)};
    } else {
      const std::string& svc = s.Label("destination_service");
      if (!Known(svc)) {
        continue;
      }
      const std::string& wl = s.Label("source_workload");
      const std::string& ns = s.Label("source_workload_namespace");
      key = {WorkloadNodeId(Known(ns) ? ns : target.ns, Known(wl) ? wl : target.workload), ServiceNodeId(svc)};
    }

    const uint32_t n = Clamp(delta);
    // Who saw which policy: `counted` requests or connections on `slot`.
    auto count_policy = [&](Slot& slot, uint32_t counted, bool serving_side) {
      if (policy == "mutual_tls") {
        (serving_side ? slot.mtls : slot.source_mtls) += counted;
      } else if (policy == "none") {
        (serving_side ? slot.plaintext : slot.source_plaintext) += counted;
      }
    };
    if (is_total) {
      Slot& slot = SlotFor(key, index);
      const bool error = s.Label("response_code").starts_with("5");
      slot.requests += n;
      slot.errors += error ? n : 0;
      count_policy(slot, n, destination);
      if (destination) {
        Slot& c = SlotFor(caller, index);
        count_policy(c, n, true);
        if (!caller_known) {
          // Nobody else reports these requests: the unknown caller's edge carries them.
          c.requests += n;
          c.errors += error ? n : 0;
        }
      }
    } else if (is_tcp_opened) {
      Slot& slot = SlotFor(key, index);
      slot.connections += n;
      count_policy(slot, n, destination);
      if (destination && caller_known) {
        count_policy(SlotFor(caller, index), n, true);
      }
    } else if (is_tcp_bytes) {
      SlotFor(key, index).bytes += static_cast<uint64_t>(delta + 0.5);
    } else {
      HistogramDelta& h = histograms[series_without_le];
      h.key = key;
      size_t b = BucketFor(le);
      h.cumulative[b] = std::max(h.cumulative[b], delta);
    }
  }

  for (auto& [series, h] : histograms) {
    Slot& slot = SlotFor(h.key, index);
    double below = 0;
    for (size_t i = 0; i < kLatencyBuckets; ++i) {
      double cumulative = std::max(below, h.cumulative[i]);
      slot.buckets[i] += Clamp(cumulative - below);
      below = cumulative;
    }
  }
  baseline = std::move(next);

  // Forget edges idle for the whole history, then enforce the memory bound.
  for (auto it = edges_.begin(); it != edges_.end();) {
    it = it->second.last_active <= index - static_cast<int64_t>(options_.slots) ? edges_.erase(it) : std::next(it);
  }
  Evict();
}

void TrafficMetrics::ForgetProxy(const std::string& proxy_id) { baselines_.erase(proxy_id); }

TrafficTotals TrafficMetrics::Sum(const Edge& edge, int64_t first, int64_t last) const {
  TrafficTotals t;
  for (const Slot& s : edge.ring) {
    if (s.index < first || s.index > last) {
      continue;
    }
    t.requests += s.requests;
    t.errors += s.errors;
    t.mtls += s.mtls;
    t.plaintext += s.plaintext;
    t.source_mtls += s.source_mtls;
    t.source_plaintext += s.source_plaintext;
    t.connections += s.connections;
    t.bytes += s.bytes;
    for (size_t i = 0; i < kLatencyBuckets; ++i) {
      t.buckets[i] += s.buckets[i];
    }
  }
  return t;
}

namespace {
int64_t WindowSlots(std::chrono::milliseconds window, std::chrono::milliseconds slot) {
  return std::max<int64_t>(1, (window.count() + slot.count() - 1) / slot.count());
}
}  // namespace

std::vector<EdgeTraffic> TrafficMetrics::Edges(std::chrono::system_clock::time_point now,
                                               std::chrono::milliseconds window) const {
  const int64_t last = SlotIndex(now);
  const int64_t first = last - WindowSlots(window, options_.slot) + 1;
  std::vector<EdgeTraffic> out;
  for (const auto& [key, edge] : edges_) {
    TrafficTotals t = Sum(edge, first, last);
    if (!t.Empty()) {
      out.push_back({key.first, key.second, t});
    }
  }
  return out;
}

TrafficTotals TrafficMetrics::ServiceTotals(const std::string& fqdn, std::chrono::system_clock::time_point now,
                                            std::chrono::milliseconds window) const {
  const int64_t last = SlotIndex(now);
  const int64_t first = last - WindowSlots(window, options_.slot) + 1;
  const std::string id = ServiceNodeId(fqdn);
  TrafficTotals inbound, callers;
  for (auto it = edges_.lower_bound({id, ""}); it != edges_.end() && it->first.first == id; ++it) {
    inbound.Add(Sum(it->second, first, last));
  }
  for (const auto& [key, edge] : edges_) {
    if (key.second == id && key.first != kUnknownCallerNodeId) {
      callers.Add(Sum(edge, first, last));
    }
  }
  return inbound.Empty() ? callers : inbound;
}

std::vector<TrafficPoint> TrafficMetrics::ServiceHistory(const std::string& fqdn,
                                                         std::chrono::system_clock::time_point now) const {
  const int64_t last = SlotIndex(now);
  const int64_t first = last - static_cast<int64_t>(options_.slots) + 1;
  const std::string id = ServiceNodeId(fqdn);
  std::vector<const Edge*> inbound, callers;
  for (const auto& [key, edge] : edges_) {
    if (key.first == id) {
      inbound.push_back(&edge);
    } else if (key.second == id && key.first != kUnknownCallerNodeId) {
      callers.push_back(&edge);
    }
  }
  const std::vector<const Edge*>& use = inbound.empty() ? callers : inbound;
  std::vector<TrafficPoint> out;
  out.reserve(options_.slots);
  for (int64_t i = first; i <= last; ++i) {
    TrafficPoint p;
    p.start = std::chrono::system_clock::time_point(std::chrono::milliseconds(i * options_.slot.count()));
    for (const Edge* e : use) {
      const Slot& s = e->ring[static_cast<size_t>(i) % options_.slots];
      if (s.index == i) {
        p.totals.Add(Sum(*e, i, i));
      }
    }
    out.push_back(p);
  }
  return out;
}

}  // namespace mesh::dashboard
