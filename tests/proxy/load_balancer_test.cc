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

}  // namespace
}  // namespace mesh::proxy
