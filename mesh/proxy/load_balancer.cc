#include "mesh/proxy/load_balancer.h"

#include <algorithm>

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

// Healthy percentage x overprovisioning, capped at 100 (Envoy's "health" of a level).
uint32_t ScaledHealth(const ClusterRuntime& c, const HostSet& set, int64_t now) {
  if (set.hosts.empty()) {
    return 0;
  }
  uint64_t healthy = 0;
  for (uint32_t i : set.hosts) {
    healthy += HostAvailable(c.hosts[i], now) ? 1 : 0;
  }
  return static_cast<uint32_t>(std::min<uint64_t>(100, healthy * kOverprovisioningPercent / set.hosts.size()));
}

const HostRuntime* PickInSet(const ClusterRuntime& c, const HostSet& set, Draws& draw, const HostRuntime* avoid,
                             int64_t now) {
  using P = Cluster::LbPolicy;
  P policy = c.cluster->lb_policy;
  if (policy == P::kLeastRequest || policy == P::kRandom) {
    // Small sets: scan twice instead of allocating a candidate list.
    auto eligible = [&](const HostRuntime& h) { return HostAvailable(h, now) && (&h != avoid || set.hosts.size() == 1); };
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
    if (HostAvailable(h, now) && (&h != avoid || n + 1 == seq.size())) {
      return &h;
    }
  }
  return nullptr;
}

// Ring hash and maglev: walk from the key's point to the first available host of the
// chosen level (Envoy keeps a table per level; one table filtered by level moves the
// same keys).
const HostRuntime* PickHashed(const ClusterRuntime& c, uint64_t key, std::optional<uint32_t> level, int64_t now) {
  auto fits = [&](const HostRuntime& h) { return (!level || h.priority == *level) && HostAvailable(h, now); };
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

}  // namespace

bool HostAvailable(const HostRuntime& h, int64_t now) {
  return h.configured_healthy && !h.state->health_check_failed.load(std::memory_order_relaxed) &&
         h.state->ejected_until_ms.load(std::memory_order_relaxed) <= now;
}

std::vector<uint32_t> PriorityLoads(const ClusterRuntime& c, int64_t now) {
  std::vector<uint32_t> health, load(c.priorities.size(), 0);
  uint32_t total = 0;
  for (const auto& p : c.priorities) {
    health.push_back(ScaledHealth(c, p.set, now));
    total += health.back();
  }
  if (total == 0) {
    return load;
  }
  // Levels below 100% spill to the next ones; when the sum is under 100 the loads are
  // scaled up so that they still add to 100.
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

const HostRuntime* SelectHost(const ClusterRuntime& c, uint64_t random, std::optional<uint64_t> hash,
                              const HostRuntime* avoid, int64_t now) {
  if (c.hosts.empty()) {
    return nullptr;
  }
  if (c.cluster->outlier_detection) {
    MaybeSweepOutliers(c, now);
  }
  Draws draw{random};
  using P = Cluster::LbPolicy;
  bool hashed = (c.cluster->lb_policy == P::kMaglev && !c.maglev.empty()) ||
                (c.cluster->lb_policy == P::kRingHash && !c.ring.empty());
  const bool simple = c.priorities.size() <= 1 && !c.locality_weighted;
  if (simple && hashed) {
    return PickHashed(c, hash ? *hash : draw(), std::nullopt, now);
  }
  if (simple) {
    return c.priorities.empty() ? nullptr : PickInSet(c, c.priorities[0].set, draw, avoid, now);
  }
  // Priority level by load; hashed policies use the hash so a key keeps its level.
  std::vector<uint32_t> loads = PriorityLoads(c, now);
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
  if (hashed) {
    return PickHashed(c, hash ? *hash : draw(), static_cast<uint32_t>(level), now);
  }
  const PriorityRuntime& pr = c.priorities[level];
  if (c.locality_weighted && !pr.localities.empty()) {
    // Effective weight: weight x min(1, 1.4 x healthy fraction), in 1/100 units.
    uint64_t total = 0;
    std::vector<uint64_t> effective;
    effective.reserve(pr.localities.size());
    for (const auto& l : pr.localities) {
      effective.push_back(uint64_t{l.weight} * ScaledHealth(c, l.set, now));
      total += effective.back();
    }
    if (total > 0) {
      uint64_t x = draw() % total;
      for (size_t i = 0; i < effective.size(); ++i) {
        if (x < effective[i]) {
          return PickInSet(c, pr.localities[i].set, draw, avoid, now);
        }
        x -= effective[i];
      }
    }
    // No weighted locality has a healthy host: Envoy sends nothing; so do we.
    return nullptr;
  }
  return PickInSet(c, pr.set, draw, avoid, now);
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
}

void RecordOutcome(const ClusterRuntime& c, const HostRuntime& h, int status, bool gateway_failure, int64_t now) {
  h.state->requests_total.fetch_add(1, std::memory_order_relaxed);
  bool is5xx = status >= 500 || gateway_failure;
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
  bool eject = (od.consecutive_5xx > 0 && n5 >= od.consecutive_5xx) ||
               (od.consecutive_gateway_failure > 0 && ngw >= od.consecutive_gateway_failure);
  if (!eject || h.state->ejected_until_ms.load() > now) {
    return;
  }
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
    return;
  }
  uint32_t times = h.state->ejections.fetch_add(1) + 1;
  int64_t base = od.base_ejection_time.count();
  int64_t duration = std::max(base, std::min<int64_t>(base * times, od.max_ejection_time.count()));
  h.state->ejection_over_ms.store(now + duration);
  h.state->ejected_until_ms.store(kEjectedUntilSwept);
  h.state->consecutive_5xx.store(0);
  h.state->consecutive_gateway.store(0);
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
