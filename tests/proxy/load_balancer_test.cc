// Host selection and outlier detection rules, with the clock and random numbers injected.

#include "mesh/proxy/load_balancer.h"

#include <map>

#include "gtest/gtest.h"
#include "mesh/common/strings.h"

namespace mesh::proxy {
namespace {

using common::StrCat;

struct HostSpec {
  uint32_t priority = 0;
  uint32_t locality = 0;  // index within its priority
};
using Specs = std::vector<HostSpec>;

// A compiled cluster built by hand: hosts "h0", "h1", ... in the given levels/localities.
struct TestCluster {
  proxyconfig::Cluster config;
  ClusterRuntime rt;

  TestCluster(const std::vector<HostSpec>& specs, const std::vector<std::vector<uint32_t>>& locality_weights = {}) {
    config.name = "c";
    rt.cluster = &config;
    rt.state = std::make_shared<ClusterState>();
    for (const auto& s : specs) {
      if (rt.priorities.size() <= s.priority) {
        rt.priorities.resize(s.priority + 1);
      }
      auto& level = rt.priorities[s.priority];
      while (level.localities.size() <= s.locality) {
        uint32_t li = static_cast<uint32_t>(level.localities.size());
        uint32_t w = s.priority < locality_weights.size() && li < locality_weights[s.priority].size()
                         ? locality_weights[s.priority][li]
                         : 1;
        level.localities.push_back({w, {}});
      }
      uint32_t index = static_cast<uint32_t>(rt.hosts.size());
      HostRuntime h;
      h.key = StrCat("h", index);
      h.priority = s.priority;
      h.state = std::make_shared<HostState>();
      rt.hosts.push_back(std::move(h));
      level.set.hosts.push_back(index);
      level.localities[s.locality].set.hosts.push_back(index);
    }
    rt.locality_weighted = !locality_weights.empty();
    BuildLoadBalancingTables(rt);
  }
  void Fail(uint32_t host) { rt.hosts[host].state->health_check_failed.store(true); }
  std::map<std::string, int> Spread(int n, int64_t now = 1000) {
    std::map<std::string, int> out;
    for (int i = 0; i < n; ++i) {
      const HostRuntime* h = SelectHost(rt, 0x1234567ULL * (i + 1), std::nullopt, nullptr, now);
      ++out[h ? h->key : "none"];
    }
    return out;
  }
};

TEST(PriorityLoadsTest, FollowsEnvoyOverprovisioning) {
  // Two hosts at priority 0, one at priority 1.
  TestCluster c(Specs{{0}, {0}, {1}});
  EXPECT_EQ(PriorityLoads(c.rt, 0), (std::vector<uint32_t>{100, 0}));
  c.Fail(0);  // level 0 is 50% healthy -> 70% of the load, 30% spills over
  EXPECT_EQ(PriorityLoads(c.rt, 0), (std::vector<uint32_t>{70, 30}));
  c.Fail(1);
  EXPECT_EQ(PriorityLoads(c.rt, 0), (std::vector<uint32_t>{0, 100}));
  c.Fail(2);
  EXPECT_EQ(PriorityLoads(c.rt, 0), (std::vector<uint32_t>{0, 0}));
}

TEST(PriorityLoadsTest, ScalesUpWhenTotalHealthIsUnder100) {
  // Five hosts per level, one healthy in each: 1.4 x 20% = 28 each -> 50/50.
  std::vector<HostSpec> specs;
  for (uint32_t p = 0; p < 2; ++p) {
    for (int i = 0; i < 5; ++i) {
      specs.push_back({p});
    }
  }
  TestCluster c(specs);
  for (uint32_t i : {1u, 2u, 3u, 4u, 6u, 7u, 8u, 9u}) {
    c.Fail(i);
  }
  EXPECT_EQ(PriorityLoads(c.rt, 0), (std::vector<uint32_t>{50, 50}));
}

TEST(SelectHostTest, PriorityZeroTakesAllTrafficUntilUnhealthy) {
  TestCluster c(Specs{{0}, {1}});
  c.config.healthy_panic_threshold = 0;  // no panic mode: nothing healthy -> no host
  auto spread = c.Spread(100);
  EXPECT_EQ(spread["h0"], 100);
  c.Fail(0);
  spread = c.Spread(100);
  EXPECT_EQ(spread["h1"], 100);
  c.Fail(1);
  EXPECT_EQ(c.Spread(10)["none"], 10);
}

TEST(SelectHostTest, LocalityWeightTimesHealth) {
  // Priority 0: locality 0 (weight 3) with two hosts, locality 1 (weight 1) with one.
  TestCluster c(Specs{{0, 0}, {0, 0}, {0, 1}}, {{3, 1}});
  auto spread = c.Spread(4000);
  EXPECT_NEAR(spread["h0"] + spread["h1"], 3000, 150);
  EXPECT_NEAR(spread["h2"], 1000, 150);
  // Half of locality 0 down: its effective weight is 3 x min(1, 1.4 x 0.5) = 2.1.
  c.Fail(0);
  spread = c.Spread(4000);
  EXPECT_EQ(spread["h0"], 0);
  EXPECT_NEAR(spread["h1"], 4000 * 2.1 / 3.1, 150);
}

TEST(SelectHostTest, ZeroWeightLocalityGetsNothing) {
  TestCluster c(Specs{{0, 0}, {0, 1}}, {{1, 0}});
  EXPECT_EQ(c.Spread(200)["h0"], 200);
  c.Fail(0);
  EXPECT_EQ(c.Spread(10)["none"], 10);
}

class OutlierTest : public ::testing::Test {
 protected:
  OutlierTest() : c_(Specs{{0}, {0}, {0}, {0}}) {
    proxyconfig::OutlierDetection od;
    od.consecutive_5xx = 1;
    od.interval = std::chrono::milliseconds(1000);
    od.base_ejection_time = std::chrono::milliseconds(300);
    od.max_ejection_time = std::chrono::milliseconds(700);
    od.max_ejection_percent = 50;
    c_.config.outlier_detection = od;
  }
  bool Ejected(uint32_t host, int64_t now) { return !HostAvailable(c_.rt.hosts[host], now); }
  void Error(uint32_t host, int64_t now) { RecordOutcome(c_.rt, c_.rt.hosts[host], 500, false, now); }
  TestCluster c_;
};

TEST_F(OutlierTest, HostsReturnOnlyAtTheSweepAfterTheEjectionTime) {
  Error(0, 100);  // first look: sweeps start at 1100, 2100, ...
  EXPECT_TRUE(Ejected(0, 100));
  MaybeSweepOutliers(c_.rt, 500);
  EXPECT_TRUE(Ejected(0, 500)) << "ejection time (300 ms) is over but no sweep ran yet";
  MaybeSweepOutliers(c_.rt, 1100);
  EXPECT_FALSE(Ejected(0, 1100));
}

TEST_F(OutlierTest, EjectionTimeGrowsWithEjectionsAndIsCapped) {
  c_.config.outlier_detection->interval = std::chrono::milliseconds(100);
  auto sweep_and_check = [&](int64_t now) {
    MaybeSweepOutliers(c_.rt, now);
    return Ejected(0, now);
  };
  Error(0, 50);  // ejection 1: 300 ms, over at 350; sweeps from 150
  EXPECT_TRUE(sweep_and_check(250));
  EXPECT_FALSE(sweep_and_check(350));
  Error(0, 360);  // ejection 2: 600 ms, over at 960
  EXPECT_TRUE(sweep_and_check(850));
  EXPECT_TRUE(sweep_and_check(950));
  EXPECT_FALSE(sweep_and_check(1050));
  Error(0, 1060);  // ejection 3: 900 ms capped by max_ejection_time 700 -> over at 1760
  EXPECT_TRUE(sweep_and_check(1750));
  EXPECT_FALSE(sweep_and_check(1850));
  EXPECT_EQ(c_.rt.hosts[0].state->ejections.load(), 3u);
}

TEST_F(OutlierTest, LongerEjectionOutlastsAnInterval) {
  c_.config.outlier_detection->max_ejection_time = std::chrono::milliseconds(300000);
  c_.config.outlier_detection->base_ejection_time = std::chrono::milliseconds(800);
  Error(0, 100);  // 800 ms, over at 900
  MaybeSweepOutliers(c_.rt, 1100);
  ASSERT_FALSE(Ejected(0, 1100));
  Error(0, 1150);  // second ejection: 1600 ms, over at 2750 -> survives the 2100 sweep
  MaybeSweepOutliers(c_.rt, 2100);
  EXPECT_TRUE(Ejected(0, 2100));
  MaybeSweepOutliers(c_.rt, 3100);
  EXPECT_FALSE(Ejected(0, 3100));
}

TEST_F(OutlierTest, HealthyIntervalsLowerTheEjectionCount) {
  Error(0, 100);
  MaybeSweepOutliers(c_.rt, 1100);  // returned
  EXPECT_EQ(c_.rt.hosts[0].state->ejections.load(), 1u);
  MaybeSweepOutliers(c_.rt, 2100);  // a whole interval in: count goes down
  EXPECT_EQ(c_.rt.hosts[0].state->ejections.load(), 0u);
}

TEST_F(OutlierTest, MaxEjectionPercentBoundsEjectedHosts) {
  Error(0, 100);
  Error(1, 100);
  Error(2, 100);  // 3 of 4 would be 75% > 50%
  EXPECT_TRUE(Ejected(0, 100));
  EXPECT_TRUE(Ejected(1, 100));
  EXPECT_FALSE(Ejected(2, 100));
}

// ---- panic mode ----------------------------------------------------------------------

Counter NewCounter() { return std::make_shared<std::atomic<uint64_t>>(0); }

TEST(PanicModeTest, OneLevelUnderThresholdBalancesOverAllHosts) {
  TestCluster c(Specs{{0}, {0}, {0}, {0}});
  c.rt.lb_healthy_panic = NewCounter();
  c.Fail(0);
  c.Fail(1);  // 50% healthy: not under the default 50% threshold
  auto spread = c.Spread(100);
  EXPECT_EQ(spread["h0"] + spread["h1"], 0);
  EXPECT_EQ(spread["h2"] + spread["h3"], 100);
  EXPECT_EQ(c.rt.lb_healthy_panic->load(), 0u);
  c.Fail(2);  // 25% healthy: panic, every host gets its share, failed or not
  spread = c.Spread(400);
  for (const char* h : {"h0", "h1", "h2", "h3"}) {
    EXPECT_NEAR(spread[h], 100, 5) << h;
  }
  EXPECT_EQ(c.rt.lb_healthy_panic->load(), 400u);
  c.Fail(3);  // nothing healthy: still all hosts
  EXPECT_EQ(c.Spread(40)["none"], 0);
  // Threshold 0 turns panic mode off.
  c.config.healthy_panic_threshold = 0;
  EXPECT_EQ(c.Spread(10)["none"], 10);
}

TEST(PanicModeTest, ThresholdIsConfigurable) {
  TestCluster c(Specs{{0}, {0}, {0}, {0}});
  c.config.healthy_panic_threshold = 60;
  c.Fail(0);
  c.Fail(1);  // 50% < 60%, and 1.4 x 50% = 70% < 100%: panic
  EXPECT_GT(c.Spread(100)["h0"], 0);
  TestCluster d(Specs{{0}, {0}, {0}, {0}});
  d.config.healthy_panic_threshold = 80;
  d.Fail(0);  // 75% < 80% but 1.4 x 75% >= 100%: the level still takes all traffic, no panic
  EXPECT_EQ(d.Spread(100)["h0"], 0);
}

TEST(PanicModeTest, NoPanicWhileOtherLevelsCanTakeTheTraffic) {
  // Level 0: 1 of 4 healthy (35% after overprovisioning); level 1 all healthy: 135% in total.
  TestCluster c(Specs{{0}, {0}, {0}, {0}, {1}, {1}, {1}, {1}});
  c.rt.lb_healthy_panic = NewCounter();
  c.Fail(0);
  c.Fail(1);
  c.Fail(2);
  auto spread = c.Spread(1000);
  EXPECT_EQ(spread["h0"] + spread["h1"] + spread["h2"], 0);
  EXPECT_NEAR(spread["h3"], 350, 60);
  EXPECT_EQ(c.rt.lb_healthy_panic->load(), 0u);
}

TEST(PanicModeTest, EveryLevelInPanicSplitsByHostCount) {
  // Level 0: 1 of 4 hosts healthy (35% after overprovisioning), level 1: 1 of 2 (70%):
  // 105% in total, no panic. With level 1 fully down: 35% in total, both levels under 50%:
  // all in panic, and the levels share the traffic 4:2 by host count.
  TestCluster c(Specs{{0}, {0}, {0}, {0}, {1}, {1}});
  c.Fail(0);
  c.Fail(1);
  c.Fail(2);
  c.Fail(4);
  auto spread = c.Spread(1000);
  EXPECT_EQ(spread["h0"] + spread["h1"] + spread["h2"], 0) << "105% in total: no panic";
  c.Fail(5);
  spread = c.Spread(3000);
  EXPECT_NEAR(spread["h0"] + spread["h1"] + spread["h2"] + spread["h3"], 2000, 120);
  EXPECT_NEAR(spread["h4"] + spread["h5"], 1000, 120);
  EXPECT_GT(spread["h0"], 0);
  EXPECT_GT(spread["h5"], 0);
}

TEST(PanicModeTest, OneLevelInPanicOtherNotFollowsHealth) {
  // Level 0 has nothing healthy (panic), level 1 half healthy (not under 50%): 70% in total
  // goes to level 1's healthy hosts only (Envoy: loads follow health unless all levels panic).
  TestCluster c(Specs{{0}, {0}, {1}, {1}, {1}, {1}});
  c.Fail(0);
  c.Fail(1);
  c.Fail(2);
  c.Fail(3);
  auto spread = c.Spread(200);
  EXPECT_EQ(spread["h4"] + spread["h5"], 200);
}

TEST(PanicModeTest, PanicIgnoresLocalityWeights) {
  // The zero-weight locality gets traffic only in panic.
  TestCluster c(Specs{{0, 0}, {0, 0}, {0, 0}, {0, 1}}, {{1, 0}});
  c.Fail(0);
  c.Fail(1);
  EXPECT_EQ(c.Spread(100)["h3"], 0);  // 50%: no panic
  c.Fail(2);
  auto spread = c.Spread(400);
  EXPECT_NEAR(spread["h3"], 100, 5);
  EXPECT_NEAR(spread["h0"], 100, 5);
}

TEST(PanicModeTest, HashedPolicyKeepsTheKeysHostInPanic) {
  TestCluster c(Specs{{0}, {0}, {0}, {0}});
  c.config.lb_policy = proxyconfig::Cluster::LbPolicy::kMaglev;
  std::vector<std::string> keys;
  std::vector<uint32_t> weights;
  for (const auto& h : c.rt.hosts) {
    keys.push_back(h.key);
    weights.push_back(1);
  }
  c.rt.maglev = BuildMaglevTable(keys, weights, 101);
  const uint64_t key = 12345;
  const HostRuntime* home = SelectHost(c.rt, 1, key, nullptr, 0);
  ASSERT_NE(home, nullptr);
  uint32_t home_index = static_cast<uint32_t>(home - c.rt.hosts.data());
  // Fail the key's host and two others: panic, and the key stays on its (failed) host.
  c.Fail(home_index);
  c.Fail((home_index + 1) % 4);
  c.Fail((home_index + 2) % 4);
  EXPECT_EQ(SelectHost(c.rt, 2, key, nullptr, 0), home);
  c.config.healthy_panic_threshold = 0;
  EXPECT_EQ(SelectHost(c.rt, 2, key, nullptr, 0), &c.rt.hosts[(home_index + 3) % 4]);
}

// ---- success rate and failure percentage ---------------------------------------------

class RateOutlierTest : public ::testing::Test {
 protected:
  RateOutlierTest() : c_(Specs{{0}, {0}, {0}, {0}, {0}}) {
    proxyconfig::OutlierDetection od;
    od.consecutive_5xx = 0;  // only the rate detectors
    od.interval = std::chrono::milliseconds(1000);
    od.base_ejection_time = std::chrono::milliseconds(30000);
    od.max_ejection_percent = 100;
    od.success_rate_request_volume = 10;
    od.failure_percentage_request_volume = 10;
    c_.config.outlier_detection = od;
    c_.rt.outlier.ejections_detected_success_rate = NewCounter();
    c_.rt.outlier.ejections_enforced_success_rate = NewCounter();
    c_.rt.outlier.ejections_detected_failure_percentage = NewCounter();
    c_.rt.outlier.ejections_enforced_failure_percentage = NewCounter();
    c_.rt.outlier.ejections_enforced_total = NewCounter();
    MaybeSweepOutliers(c_.rt, 100);  // first look: sweeps at 1100, 2100, ...
  }
  proxyconfig::OutlierDetection& od() { return *c_.config.outlier_detection; }
  // `total` responses from `host` at `now`, the first `errors` of them 500s.
  void Serve(uint32_t host, int total, int errors, int64_t now) {
    for (int i = 0; i < total; ++i) {
      RecordOutcome(c_.rt, c_.rt.hosts[host], i < errors ? 500 : 200, false, now);
    }
  }
  bool Ejected(uint32_t host, int64_t now) { return !HostAvailable(c_.rt.hosts[host], now); }
  uint64_t Count(const Counter& counter) { return counter->load(); }
  TestCluster c_;
};

TEST_F(RateOutlierTest, SuccessRateBelowMeanMinusStdevsIsEjectedAtTheSweep) {
  for (uint32_t h = 0; h < 4; ++h) {
    Serve(h, 20, 0, 500);
  }
  Serve(4, 20, 8, 500);  // 60%: mean 92, stdev 16, threshold 92 - 1.9 x 16 = 61.6
  EXPECT_FALSE(Ejected(4, 500)) << "rate detectors act only at the sweep";
  MaybeSweepOutliers(c_.rt, 1100);
  EXPECT_TRUE(Ejected(4, 1100));
  for (uint32_t h = 0; h < 4; ++h) {
    EXPECT_FALSE(Ejected(h, 1100)) << h;
  }
  EXPECT_EQ(Count(c_.rt.outlier.ejections_enforced_success_rate), 1u);
  EXPECT_EQ(Count(c_.rt.outlier.ejections_enforced_total), 1u);
  EXPECT_EQ(Count(c_.rt.outlier.ejections_detected_failure_percentage), 0u) << "40% failures < 85%";
}

TEST_F(RateOutlierTest, StdevFactorSetsTheBar) {
  od().success_rate_stdev_factor = 2500;  // threshold 92 - 2.5 x 16 = 52: 60% stays in
  for (uint32_t h = 0; h < 4; ++h) {
    Serve(h, 20, 0, 500);
  }
  Serve(4, 20, 8, 500);
  MaybeSweepOutliers(c_.rt, 1100);
  EXPECT_FALSE(Ejected(4, 1100));
  EXPECT_EQ(Count(c_.rt.outlier.ejections_detected_success_rate), 0u);
}

TEST_F(RateOutlierTest, SuccessRateNeedsVolumeAndMinimumHosts) {
  // Host 3 has too few requests to count, so only 4 hosts qualify (< minimum 5).
  for (uint32_t h = 0; h < 3; ++h) {
    Serve(h, 20, 0, 500);
  }
  Serve(3, 9, 0, 500);
  Serve(4, 20, 20, 500);
  MaybeSweepOutliers(c_.rt, 1100);
  EXPECT_FALSE(Ejected(4, 1100));
  // With a minimum of 4 hosts the same shape is judged (4 hosts: the outlier sits sqrt(3)
  // stdevs below the mean, so a factor of 1.5 catches it).
  od().success_rate_minimum_hosts = 4;
  od().success_rate_stdev_factor = 1500;
  for (uint32_t h = 0; h < 3; ++h) {
    Serve(h, 20, 0, 1200);
  }
  Serve(3, 9, 0, 1200);
  Serve(4, 20, 20, 1200);
  MaybeSweepOutliers(c_.rt, 2100);
  EXPECT_TRUE(Ejected(4, 2100));
}

TEST_F(RateOutlierTest, CountsStartOverEachInterval) {
  for (uint32_t h = 0; h < 4; ++h) {
    Serve(h, 20, 0, 500);
  }
  Serve(4, 5, 5, 500);  // below the request volume in this interval
  MaybeSweepOutliers(c_.rt, 1100);
  Serve(4, 5, 0, 1200);  // ... and again in the next: the first 5 errors do not carry over
  for (uint32_t h = 0; h < 4; ++h) {
    Serve(h, 20, 0, 1200);
  }
  MaybeSweepOutliers(c_.rt, 2100);
  EXPECT_FALSE(Ejected(4, 2100));
}

TEST_F(RateOutlierTest, EnforcingSuccessRateZeroOnlyDetects) {
  od().enforcing_success_rate = 0;
  for (uint32_t h = 0; h < 4; ++h) {
    Serve(h, 20, 0, 500);
  }
  Serve(4, 20, 8, 500);
  MaybeSweepOutliers(c_.rt, 1100);
  EXPECT_FALSE(Ejected(4, 1100));
  EXPECT_EQ(Count(c_.rt.outlier.ejections_detected_success_rate), 1u);
  EXPECT_EQ(Count(c_.rt.outlier.ejections_enforced_success_rate), 0u);
}

TEST_F(RateOutlierTest, FailurePercentageEjectsOnlyWhenEnforced) {
  od().success_rate_minimum_hosts = 100;  // success rate out of the way
  od().failure_percentage_threshold = 50;
  od().failure_percentage_minimum_hosts = 3;
  Serve(0, 20, 0, 500);
  Serve(1, 20, 8, 500);   // 40%: under the threshold
  Serve(2, 20, 12, 500);  // 60%
  MaybeSweepOutliers(c_.rt, 1100);
  EXPECT_FALSE(Ejected(2, 1100)) << "enforcing_failure_percentage defaults to 0";
  EXPECT_EQ(Count(c_.rt.outlier.ejections_detected_failure_percentage), 1u);
  od().enforcing_failure_percentage = 100;
  Serve(0, 20, 0, 1200);
  Serve(1, 20, 8, 1200);
  Serve(2, 20, 12, 1200);
  MaybeSweepOutliers(c_.rt, 2100);
  EXPECT_TRUE(Ejected(2, 2100));
  EXPECT_FALSE(Ejected(1, 2100));
  EXPECT_EQ(Count(c_.rt.outlier.ejections_enforced_failure_percentage), 1u);
  // Ejected hosts come back after base_ejection_time, at a sweep.
  MaybeSweepOutliers(c_.rt, 2100 + 30000);
  EXPECT_FALSE(Ejected(2, 2100 + 30000));
}

TEST_F(RateOutlierTest, FailurePercentageNeedsMinimumHosts) {
  od().success_rate_minimum_hosts = 100;
  od().enforcing_failure_percentage = 100;
  od().failure_percentage_minimum_hosts = 3;
  Serve(0, 20, 0, 500);
  Serve(1, 20, 20, 500);  // two qualifying hosts only
  Serve(2, 9, 0, 500);
  MaybeSweepOutliers(c_.rt, 1100);
  EXPECT_FALSE(Ejected(1, 1100));
}

TEST_F(RateOutlierTest, RateEjectionsRespectMaxEjectionPercent) {
  od().success_rate_minimum_hosts = 100;
  od().enforcing_failure_percentage = 100;
  od().failure_percentage_threshold = 50;
  od().failure_percentage_minimum_hosts = 3;
  od().max_ejection_percent = 20;  // one host of five
  c_.rt.outlier.ejections_overflow = NewCounter();
  Serve(0, 20, 0, 500);
  Serve(1, 20, 0, 500);
  Serve(2, 20, 20, 500);
  Serve(3, 20, 20, 500);
  MaybeSweepOutliers(c_.rt, 1100);
  EXPECT_NE(Ejected(2, 1100), Ejected(3, 1100)) << "exactly one of the two";
  EXPECT_EQ(Count(c_.rt.outlier.ejections_overflow), 1u);
}

}  // namespace
}  // namespace mesh::proxy
