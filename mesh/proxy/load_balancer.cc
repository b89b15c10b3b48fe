#include "mesh/proxy/load_balancer.h"

#include <algorithm>
#include <cmath>

namespace mesh::proxy {

using proxyconfig::Cluster;
using proxyconfig::OutlierDetection;

namespace {

// SplitMix64 steps: one random number from the caller seeds every choice of a pick.
struct Draws {
  uint64_t state;
  uint64_t operator()() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
};

std::vector<uint32_t> WeightedSequence(const std::vector<HostRuntime>& hosts, const std::vector<uint32_t>& members) {
  // Round by round (a,b,a,b,a) instead of a,a,a,b,b.
  std::vector<uint32_t> seq;
  uint32_t max_w = 0;
  for (uint32_t i : members) {
    max_w = std::max(max_w, std::min<uint32_t>(hosts[i].weight, 128));
  }
  for (uint32_t round = 0; round < max_w; ++round) {
    for (uint32_t i : members) {
      if (std::min<uint32_t>(hosts[i].weight, 128) > round) {
        seq.push_back(i);
      }
    }
  }
  return seq;
}

void Bump(const Counter& counter) {
  if (counter) {
    counter->fetch_add(1, std::memory_order_relaxed);
  }
}

// A level's (or locality's) health: Envoy's overprovisioned share and whether it is under
// the panic threshold (the plain healthy percentage below healthy_panic_threshold).
struct SetHealth {
  uint32_t scaled = 0;  // min(100, healthy % x overprovisioning)
  bool under_panic_threshold = false;
};

SetHealth HealthOf(const ClusterRuntime& c, const HostSet& set, int64_t now) {
  SetHealth out;
  const double threshold = c.cluster->healthy_panic_threshold;
  if (set.hosts.empty()) {
    out.under_panic_threshold = threshold > 0;
    return out;
  }
  uint64_t healthy = 0;
  for (uint32_t i : set.hosts) {
    healthy += HostAvailable(c.hosts[i], now) ? 1 : 0;
  }
  out.scaled = static_cast<uint32_t>(std::min<uint64_t>(100, healthy * kOverprovisioningPercent / set.hosts.size()));
  out.under_panic_threshold = threshold > 0 && 100.0 * static_cast<double>(healthy) / set.hosts.size() < threshold;
  return out;
}

uint32_t ScaledHealth(const ClusterRuntime& c, const HostSet& set, int64_t now) {
  return HealthOf(c, set, now).scaled;
}

// Levels below 100% spill to the next ones; when the sum is under 100 the loads are
// scaled up so that they still add to 100. All zero when nothing is healthy.
std::vector<uint32_t> LoadsFromHealth(const std::vector<uint32_t>& health) {
  std::vector<uint32_t> load(health.size(), 0);
  uint32_t total = 0;
  for (uint32_t h : health) {
    total += h;
  }
  if (total == 0) {
    return load;
  }
  uint32_t normalized = std::min<uint32_t>(100, total);
  uint32_t remaining = 100;
  for (size_t i = 0; i < health.size(); ++i) {
    load[i] = std::min(remaining, health[i] * 100 / normalized);
    remaining -= load[i];
  }
  for (size_t i = 0; i < health.size() && remaining > 0; ++i) {
    if (health[i] > 0) {
      load[i] += remaining;  // rounding leftovers
      remaining = 0;
    }
  }
  return load;
}

// `any_health`: panic mode, every host of the set is a candidate.
const HostRuntime* PickInSet(const ClusterRuntime& c, const HostSet& set, Draws& draw, const HostRuntime* avoid,
                             int64_t now, bool any_health) {
  using P = Cluster::LbPolicy;
  P policy = c.cluster->lb_policy;
  auto usable = [&](const HostRuntime& h) { return any_health || HostAvailable(h, now); };
  if (policy == P::kLeastRequest || policy == P::kRandom) {
    // Small sets: scan twice instead of allocating a candidate list.
    auto eligible = [&](const HostRuntime& h) { return usable(h) && (&h != avoid || set.hosts.size() == 1); };
    size_t n = 0;
    for (uint32_t i : set.hosts) {
      n += eligible(c.hosts[i]) ? 1 : 0;
    }
    if (n == 0) {
      return nullptr;
    }
    auto nth = [&](size_t k) -> const HostRuntime* {
      for (uint32_t i : set.hosts) {
        if (eligible(c.hosts[i]) && k-- == 0) {
          return &c.hosts[i];
        }
      }
      return nullptr;
    };
    size_t ia = draw() % n;
    const HostRuntime* a = nth(ia);
    if (policy == P::kRandom || n == 1) {
      return a;
    }
    // Power of two choices: a second, different candidate.
    const HostRuntime* b = nth((ia + 1 + draw() % (n - 1)) % n);
    return a->state->active_requests.load() <= b->state->active_requests.load() ? a : b;
  }
  const auto& seq = set.weighted_sequence;
  for (size_t n = 0; n < seq.size(); ++n) {
    uint64_t i = c.state->round_robin.fetch_add(1, std::memory_order_relaxed);
    const HostRuntime& h = c.hosts[seq[i % seq.size()]];
    if (usable(h) && (&h != avoid || n + 1 == seq.size())) {
      return &h;
    }
  }
  return nullptr;
}

// Ring hash and maglev: walk from the key's point to the first available host of the
// chosen level (Envoy keeps a table per level; one table filtered by level moves the
// same keys). In panic mode (`any_health`) the key's own host answers whatever its health.
const HostRuntime* PickHashed(const ClusterRuntime& c, uint64_t key, std::optional<uint32_t> level, int64_t now,
                              bool any_health) {
  auto fits = [&](const HostRuntime& h) {
    return (!level || h.priority == *level) && (any_health || HostAvailable(h, now));
  };
  if (c.cluster->lb_policy == Cluster::LbPolicy::kMaglev) {
    const size_t m = c.maglev.size();
    size_t slot = key % m;
    for (size_t n = 0; n < m; ++n, slot = slot + 1 == m ? 0 : slot + 1) {
      const HostRuntime& h = c.hosts[c.maglev[slot]];
      if (fits(h)) {
        return &h;
      }
    }
    return nullptr;
  }
  auto it = std::lower_bound(c.ring.begin(), c.ring.end(), std::make_pair(key, uint32_t{0}));
  for (size_t n = 0; n < c.ring.size(); ++n, ++it) {
    if (it == c.ring.end()) {
      it = c.ring.begin();
    }
    const HostRuntime& h = c.hosts[it->second];
    if (fits(h)) {
      return &h;
    }
  }
  return nullptr;
}

// Whether an ejection of this kind is enforced: with probability `percent`, drawn from the
// sweep time and the host so that tests with 0 or 100 are exact.
bool Enforced(uint32_t percent, int64_t now, size_t host_index, uint64_t kind) {
  if (percent >= 100) {
    return true;
  }
  if (percent == 0) {
    return false;
  }
  Draws draw{static_cast<uint64_t>(now) * 31 + host_index * 7 + kind};
  return draw() % 100 < percent;
}

enum class EjectReason { kConsecutive5xx, kConsecutiveGateway, kSuccessRate, kFailurePercentage };

// Ejects `h` unless ejected hosts would then exceed max_ejection_percent: for
// base_ejection_time x its ejection count, capped by max_ejection_time; the sweep after
// that returns it.
bool Eject(const ClusterRuntime& c, const HostRuntime& h, int64_t now, EjectReason reason) {
  const OutlierDetection& od = *c.cluster->outlier_detection;
  size_t ejected = 0;
  for (const auto& other : c.hosts) {
    if (other.state->ejected_until_ms.load() > now) {
      ++ejected;
    }
  }
  // Envoy: eject only while the ejected share stays within max_ejection_percent, but
  // always allow one host when the percentage rounds down to none.
  if (od.max_ejection_percent < 100 && (ejected + 1) * 100 > c.hosts.size() * od.max_ejection_percent &&
      !(ejected == 0 && od.max_ejection_percent > 0)) {
    Bump(c.outlier.ejections_overflow);
    return false;
  }
  uint32_t times = h.state->ejections.fetch_add(1) + 1;
  int64_t base = od.base_ejection_time.count();
  int64_t duration = std::max(base, std::min<int64_t>(base * times, od.max_ejection_time.count()));
  h.state->ejection_over_ms.store(now + duration);
  h.state->ejected_until_ms.store(kEjectedUntilSwept);
  h.state->consecutive_5xx.store(0);
  h.state->consecutive_gateway.store(0);
  Bump(c.outlier.ejections_enforced_total);
  switch (reason) {
    case EjectReason::kConsecutive5xx:
      Bump(c.outlier.ejections_enforced_consecutive_5xx);
      break;
    case EjectReason::kConsecutiveGateway:
      Bump(c.outlier.ejections_enforced_consecutive_gateway_failure);
      break;
    case EjectReason::kSuccessRate:
      Bump(c.outlier.ejections_enforced_success_rate);
      break;
    case EjectReason::kFailurePercentage:
      Bump(c.outlier.ejections_enforced_failure_percentage);
      break;
  }
  return true;
}

struct IntervalSample {
  size_t host;
  double success_rate;  // percent
};

// Success-rate and failure-percentage detection over one interval's counts (Envoy's
// rules). `requests`/`errors` are per host; hosts already ejected are skipped.
void DetectRateOutliers(const ClusterRuntime& c, const std::vector<uint64_t>& requests,
                        const std::vector<uint64_t>& errors, int64_t now) {
  const OutlierDetection& od = *c.cluster->outlier_detection;
  std::vector<IntervalSample> sr_hosts, fp_hosts;
  for (size_t i = 0; i < c.hosts.size(); ++i) {
    if (requests[i] == 0 || c.hosts[i].state->ejected_until_ms.load() > now) {
      continue;
    }
    double rate = 100.0 * static_cast<double>(requests[i] - std::min(errors[i], requests[i])) / requests[i];
    if (requests[i] >= std::max<uint32_t>(1, od.success_rate_request_volume)) {
      sr_hosts.push_back({i, rate});
    }
    if (requests[i] >= std::max<uint32_t>(1, od.failure_percentage_request_volume)) {
      fp_hosts.push_back({i, rate});
    }
  }
  if (!sr_hosts.empty() && sr_hosts.size() >= od.success_rate_minimum_hosts) {
    double mean = 0;
    for (const auto& s : sr_hosts) {
      mean += s.success_rate;
    }
    mean /= sr_hosts.size();
    double variance = 0;
    for (const auto& s : sr_hosts) {
      variance += (s.success_rate - mean) * (s.success_rate - mean);
    }
    variance /= sr_hosts.size();
    const double threshold = mean - std::sqrt(variance) * (od.success_rate_stdev_factor / 1000.0);
    for (const auto& s : sr_hosts) {
      if (s.success_rate < threshold) {
        Bump(c.outlier.ejections_detected_success_rate);
        if (Enforced(od.enforcing_success_rate, now, s.host, 1) &&
            c.hosts[s.host].state->ejected_until_ms.load() <= now) {
          Eject(c, c.hosts[s.host], now, EjectReason::kSuccessRate);
        }
      }
    }
  }
  if (!fp_hosts.empty() && fp_hosts.size() >= od.failure_percentage_minimum_hosts) {
    for (const auto& s : fp_hosts) {
      if (100.0 - s.success_rate >= od.failure_percentage_threshold) {
        Bump(c.outlier.ejections_detected_failure_percentage);
        if (Enforced(od.enforcing_failure_percentage, now, s.host, 2) &&
            c.hosts[s.host].state->ejected_until_ms.load() <= now) {
          Eject(c, c.hosts[s.host], now, EjectReason::kFailurePercentage);
        }
      }
    }
  }
}

}  // namespace

bool HostAvailable(const HostRuntime& h, int64_t now) {
  return h.configured_healthy && !h.state->health_check_failed.load(std::memory_order_relaxed) &&
         h.state->ejected_until_ms.load(std::memory_order_relaxed) <= now;
}

std::vector<uint32_t> PriorityLoads(const ClusterRuntime& c, int64_t now) {
  std::vector<uint32_t> health;
  for (const auto& p : c.priorities) {
    health.push_back(ScaledHealth(c, p.set, now));
  }
  return LoadsFromHealth(health);
}

const HostRuntime* SelectHost(const ClusterRuntime& c, uint64_t random, std::optional<uint64_t> hash,
                              const HostRuntime* avoid, int64_t now) {
  if (c.hosts.empty() || c.priorities.empty()) {
    return nullptr;
  }
  if (c.cluster->outlier_detection) {
    MaybeSweepOutliers(c, now);
  }
  Draws draw{random};
  using P = Cluster::LbPolicy;
  bool hashed = (c.cluster->lb_policy == P::kMaglev && !c.maglev.empty()) ||
                (c.cluster->lb_policy == P::kRingHash && !c.ring.empty());
  const bool panic_enabled = c.cluster->healthy_panic_threshold > 0;
  if (c.priorities.size() == 1 && !c.locality_weighted) {
    // One level: panic when it cannot take all the traffic and is under the threshold.
    bool panic = false;
    if (panic_enabled) {
      SetHealth h = HealthOf(c, c.priorities[0].set, now);
      panic = h.scaled < 100 && h.under_panic_threshold;
    }
    if (panic) {
      Bump(c.lb_healthy_panic);
    }
    if (hashed) {
      return PickHashed(c, hash ? *hash : draw(), std::nullopt, now, panic);
    }
    return PickInSet(c, c.priorities[0].set, draw, avoid, now, panic);
  }
  // Priority level by load (Envoy): levels in panic only when all levels together cannot
  // take the traffic; when every level is in panic, the load follows host counts.
  std::vector<SetHealth> health;
  std::vector<uint32_t> scaled;
  uint32_t total = 0;
  for (const auto& p : c.priorities) {
    health.push_back(HealthOf(c, p.set, now));
    scaled.push_back(health.back().scaled);
    total += scaled.back();
  }
  std::vector<bool> panic(health.size(), false);
  bool all_panic = panic_enabled;
  for (size_t i = 0; i < health.size(); ++i) {
    panic[i] = total < 100 && health[i].under_panic_threshold;
    all_panic = all_panic && panic[i];
  }
  std::vector<uint32_t> loads;
  if (all_panic) {
    loads.assign(health.size(), 0);
    uint32_t remaining = 100;
    for (size_t i = 0; i < health.size(); ++i) {
      loads[i] = static_cast<uint32_t>(c.priorities[i].set.hosts.size() * 100 / c.hosts.size());
      remaining -= loads[i];
    }
    for (size_t i = 0; i < health.size() && remaining > 0; ++i) {
      if (!c.priorities[i].set.hosts.empty()) {
        loads[i] += remaining;
        remaining = 0;
      }
    }
  } else {
    loads = LoadsFromHealth(scaled);
  }
  // Hashed policies use the hash so a key keeps its level.
  uint64_t point = (hashed && hash ? *hash : draw()) % 100;
  size_t level = loads.size();
  uint64_t acc = 0;
  for (size_t i = 0; i < loads.size(); ++i) {
    acc += loads[i];
    if (point < acc) {
      level = i;
      break;
    }
  }
  if (level == loads.size()) {
    return nullptr;  // nothing available at any level
  }
  if (panic[level]) {
    Bump(c.lb_healthy_panic);
  }
  if (hashed) {
    return PickHashed(c, hash ? *hash : draw(), static_cast<uint32_t>(level), now, panic[level]);
  }
  const PriorityRuntime& pr = c.priorities[level];
  if (panic[level]) {
    return PickInSet(c, pr.set, draw, avoid, now, true);  // Envoy: all hosts, localities ignored
  }
  if (c.locality_weighted && !pr.localities.empty()) {
    // Effective weight: weight x min(1, 1.4 x healthy fraction), in 1/100 units.
    uint64_t weight_total = 0;
    std::vector<uint64_t> effective;
    effective.reserve(pr.localities.size());
    for (const auto& l : pr.localities) {
      effective.push_back(uint64_t{l.weight} * ScaledHealth(c, l.set, now));
      weight_total += effective.back();
    }
    if (weight_total > 0) {
      uint64_t x = draw() % weight_total;
      for (size_t i = 0; i < effective.size(); ++i) {
        if (x < effective[i]) {
          return PickInSet(c, pr.localities[i].set, draw, avoid, now, false);
        }
        x -= effective[i];
      }
    }
    // No weighted locality has a healthy host: Envoy sends nothing; so do we.
    return nullptr;
  }
  return PickInSet(c, pr.set, draw, avoid, now, false);
}

void MaybeSweepOutliers(const ClusterRuntime& c, int64_t now) {
  const OutlierDetection& od = *c.cluster->outlier_detection;
  int64_t due = c.state->next_outlier_sweep_ms.load(std::memory_order_relaxed);
  if (now < due) {
    return;
  }
  int64_t interval = std::max<int64_t>(1, od.interval.count());
  if (!c.state->next_outlier_sweep_ms.compare_exchange_strong(due, now + interval)) {
    return;  // another worker sweeps
  }
  // This interval's counts (taken even at the first look, which starts the first interval).
  std::vector<uint64_t> requests(c.hosts.size()), errors(c.hosts.size());
  for (size_t i = 0; i < c.hosts.size(); ++i) {
    requests[i] = c.hosts[i].state->interval_requests.exchange(0);
    errors[i] = c.hosts[i].state->interval_errors.exchange(0);
  }
  if (due == 0) {
    return;  // first look at this cluster: the first sweep is one interval away
  }
  for (const auto& h : c.hosts) {
    if (h.state->ejected_until_ms.load() > now) {
      if (h.state->ejection_over_ms.load() <= now) {
        h.state->ejected_until_ms.store(0);
      }
    } else {
      uint32_t n = h.state->ejections.load();
      while (n > 0 && !h.state->ejections.compare_exchange_weak(n, n - 1)) {
      }
    }
  }
  DetectRateOutliers(c, requests, errors, now);
}

void RecordOutcome(const ClusterRuntime& c, const HostRuntime& h, int status, bool gateway_failure, int64_t now) {
  h.state->requests_total.fetch_add(1, std::memory_order_relaxed);
  bool is5xx = status >= 500 || gateway_failure;
  if (c.cluster->outlier_detection) {
    h.state->interval_requests.fetch_add(1, std::memory_order_relaxed);
    if (is5xx) {
      h.state->interval_errors.fetch_add(1, std::memory_order_relaxed);
    }
  }
  if (!is5xx) {
    h.state->consecutive_5xx.store(0, std::memory_order_relaxed);
    h.state->consecutive_gateway.store(0, std::memory_order_relaxed);
    return;
  }
  h.state->requests_error.fetch_add(1, std::memory_order_relaxed);
  if (!c.cluster->outlier_detection) {
    return;
  }
  const OutlierDetection& od = *c.cluster->outlier_detection;
  MaybeSweepOutliers(c, now);
  uint32_t n5 = h.state->consecutive_5xx.fetch_add(1) + 1;
  uint32_t ngw = gateway_failure || status == 502 || status == 503 || status == 504
                     ? h.state->consecutive_gateway.fetch_add(1) + 1
                     : 0;
  bool by_5xx = od.consecutive_5xx > 0 && n5 >= od.consecutive_5xx;
  bool by_gateway = od.consecutive_gateway_failure > 0 && ngw >= od.consecutive_gateway_failure;
  if ((!by_5xx && !by_gateway) || h.state->ejected_until_ms.load() > now) {
    return;
  }
  Eject(c, h, now, by_5xx ? EjectReason::kConsecutive5xx : EjectReason::kConsecutiveGateway);
}

void BuildLoadBalancingTables(ClusterRuntime& c) {
  if (c.priorities.empty()) {
    c.priorities.emplace_back();
  }
  for (auto& p : c.priorities) {
    p.set.weighted_sequence = WeightedSequence(c.hosts, p.set.hosts);
    for (auto& l : p.localities) {
      l.set.weighted_sequence = WeightedSequence(c.hosts, l.set.hosts);
    }
  }
}

}  // namespace mesh::proxy
