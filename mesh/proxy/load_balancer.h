#pragma once

// Internal to mesh/proxy: host selection and outlier detection over a compiled
// ClusterRuntime. Beast-free and clock-free (the caller passes `now` and a random
// number) so the rules are unit-testable.
//
// Selection follows Envoy: pick a priority level by priority load (a level takes
// min(100, 1.4 x its healthy percentage) of the traffic, the rest spills to the next
// level), then, with locality-weighted LB, a locality by weight x min(1, 1.4 x healthy
// fraction), then a host inside by the cluster's policy. Panic mode: when the levels
// together cannot take all the traffic, a level whose healthy percentage is under
// healthy_panic_threshold balances over all its hosts, healthy or not (and when every level
// is in panic, levels get traffic by host count).

#include <cstdint>
#include <optional>
#include <vector>

#include "mesh/proxy/runtime.h"

namespace mesh::proxy {

// Envoy's default overprovisioning factor, in percent.
inline constexpr uint32_t kOverprovisioningPercent = 140;
// ejected_until_ms while a host waits for the next outlier sweep to return it.
inline constexpr int64_t kEjectedUntilSwept = INT64_MAX;

bool HostAvailable(const HostRuntime& h, int64_t now_ms);

// Share of traffic (percent, summing to 100) per priority level without panic mode; all
// zero when no host of any level is available.
std::vector<uint32_t> PriorityLoads(const ClusterRuntime& c, int64_t now_ms);

// `random` seeds the choice; `hash` is set for ring hash / maglev when the route has a
// hash policy; `avoid` is the host of the previous attempt (retries prefer another one).
const HostRuntime* SelectHost(const ClusterRuntime& c, uint64_t random, std::optional<uint64_t> hash,
                              const HostRuntime* avoid, int64_t now_ms);

// Records a response for outlier detection. Consecutive 5xx / gateway failures eject at
// once (as Envoy does), for base_ejection_time x ejection count (capped by
// max_ejection_time) within max_ejection_percent; ejected hosts come back at the first
// sweep (every `interval`) after that time.
void RecordOutcome(const ClusterRuntime& c, const HostRuntime& h, int status, bool gateway_failure, int64_t now_ms);

// The outlier sweep, run lazily by SelectHost/RecordOutcome once per interval: returns
// hosts whose ejection time is over, lowers the ejection count of hosts that stayed in for
// a whole interval (so ejection time grows only for hosts that keep failing), then runs
// the success-rate and failure-percentage detectors over the interval's responses.
void MaybeSweepOutliers(const ClusterRuntime& c, int64_t now_ms);

// Fills the round-robin sequences of `c.priorities` (levels and localities already
// hold their host indexes); a cluster without hosts gets one empty level.
void BuildLoadBalancingTables(ClusterRuntime& c);

}  // namespace mesh::proxy
