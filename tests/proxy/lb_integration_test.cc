// Priority failover and locality-weighted load balancing end to end: curl -> in-process
// proxy -> upstream.py processes, counted by their x-upstream response header.

#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "mesh/common/strings.h"
#include "tests/proxy/proxy_test_util.h"

namespace mesh::proxy::testing {
namespace {

using common::StrCat;

struct LocalitySpec {
  std::string zone;
  uint32_t weight = 0;  // 0: not set
  uint32_t priority = 0;
  std::vector<int> ports;
};

std::string ClusterYaml(const std::string& name, const std::vector<LocalitySpec>& localities, const std::string& extra) {
  std::string out = StrCat("  - name: ", name, "\n    connect_timeout: 0.5s\n", extra, "    load_assignment:\n      cluster_name: ",
                           name, "\n      endpoints:\n");
  for (const auto& l : localities) {
    out += StrCat("      - locality: {zone: ", l.zone, "}\n        priority: ", l.priority, "\n");
    if (l.weight > 0) {
      out += StrCat("        load_balancing_weight: ", l.weight, "\n");
    }
    out += "        lb_endpoints:\n";
    for (int p : l.ports) {
      out += StrCat("        - endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: ", p, "}}}\n");
    }
  }
  return out;
}

// Listener "http": /NAME/... goes to cluster NAME with the prefix stripped.
std::string Bootstrap(const std::vector<std::string>& cluster_names, const std::string& clusters) {
  std::string routes;
  for (const auto& n : cluster_names) {
    routes += StrCat("              - {match: {prefix: /", n, "/}, route: {cluster: ", n, ", prefix_rewrite: /}}\n");
  }
  return StrCat(R"(
node: {id: test}
static_resources:
  listeners:
  - name: http
    address: {socket_address: {address: 127.0.0.1, port_value: 0}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: test
          route_config:
            name: routes
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
)",
                routes, "  clusters:\n", clusters);
}

// `count` requests to `path` over one keep-alive curl; returns how many each upstream answered.
std::map<std::string, int> Spread(TestProxy& p, const std::string& path, int count) {
  std::string out = Curl(StrCat("-o /dev/null -w 'UPSTREAM=%header{x-upstream}\\n' 'http://127.0.0.1:", p.port("http"), path,
                                "?n=[1-", count, "]'"));
  std::map<std::string, int> spread;
  for (const auto& line : common::Split(out, '\n')) {
    if (line.rfind("UPSTREAM=", 0) == 0) {
      ++spread[std::string(line.substr(9))];
    }
  }
  return spread;
}

constexpr const char* kOutlier =
    "    outlier_detection: {consecutive_5xx: 1, interval: 60s, base_ejection_time: 60s, max_ejection_percent: 100}\n";

TEST(LoadBalancingTest, PriorityFailoverFollowsOverprovisioning) {
  Upstream a1("a1"), a2("a2"), b("b"), solo("solo"), backup("backup");
  std::string clusters =
      ClusterYaml("spill", {{"z0", 0, 0, {a1.port(), a2.port()}}, {"z1", 0, 1, {b.port()}}}, kOutlier) +
      ClusterYaml("failover", {{"z0", 0, 0, {solo.port()}}, {"z1", 0, 1, {backup.port()}}}, kOutlier);
  TestProxy p(Bootstrap({"spill", "failover"}, clusters));
  ASSERT_TRUE(p.ok()) << p.status();

  // Healthy priority 0 takes everything.
  auto spread = Spread(p, "/spill/", 40);
  EXPECT_EQ(spread["a1"] + spread["a2"], 40) << spread["b"];
  spread = Spread(p, "/failover/", 20);
  EXPECT_EQ(spread["solo"], 20);

  // All of priority 0 ejected: priority 1 takes over.
  EXPECT_EQ(Get(StrCat("http://127.0.0.1:", p.port("http"), "/failover/status/500")), "500");
  spread = Spread(p, "/failover/", 20);
  EXPECT_EQ(spread["backup"], 20);

  // Half of priority 0 ejected: it keeps min(100, 1.4 x 50%) = 70%, 30% spills to priority 1.
  EXPECT_EQ(Get(StrCat("http://127.0.0.1:", p.port("http"), "/spill/status/500")), "500");
  spread = Spread(p, "/spill/", 200);
  EXPECT_TRUE(spread["a1"] == 0 || spread["a2"] == 0);
  EXPECT_GE(spread["b"], 30);  // expected 60, sd 6.5
  EXPECT_LE(spread["b"], 90);
  EXPECT_EQ(spread["a1"] + spread["a2"] + spread["b"], 200);
}

TEST(LoadBalancingTest, LocalityWeightedSplitsByLocalityWeight) {
  Upstream east("east"), west1("west1"), west2("west2"), idle("idle");
  std::string clusters = ClusterYaml(
      "zones",
      {{"east", 3, 0, {east.port()}}, {"west", 1, 0, {west1.port(), west2.port()}}, {"unweighted", 0, 0, {idle.port()}}},
      "    common_lb_config: {locality_weighted_lb_config: {}}\n");
  TestProxy p(Bootstrap({"zones"}, clusters));
  ASSERT_TRUE(p.ok()) << p.status();

  // 3:1 by locality (not 1:2 by host), nothing to the locality without a weight.
  auto spread = Spread(p, "/zones/", 200);
  EXPECT_GE(spread["east"], 125);  // expected 150, sd 6
  EXPECT_LE(spread["east"], 175);
  EXPECT_GT(spread["west1"], 0);
  EXPECT_GT(spread["west2"], 0);
  EXPECT_EQ(spread["idle"], 0);
  EXPECT_EQ(spread["east"] + spread["west1"] + spread["west2"], 200);
}

// Success-rate and failure-percentage outlier detection with real upstreams: "flaky"
// answers 500 to every other request, the two others never fail. Consecutive-5xx
// detection is out of the way (1000); the interval sweep after the traffic ejects flaky.
TEST(LoadBalancingTest, SuccessRateAndFailurePercentageEjectAFlakyHost) {
  Upstream ok1("ok1"), ok2("ok2"), flaky("flaky");
  const std::string common =
      "consecutive_5xx: 1000, interval: 0.5s, base_ejection_time: 60s, max_ejection_percent: 50";
  std::string clusters =
      ClusterYaml("fp", {{"z", 0, 0, {ok1.port(), ok2.port(), flaky.port()}}},
                  StrCat("    outlier_detection: {", common,
                         ", success_rate_minimum_hosts: 100, failure_percentage_threshold: 30,"
                         " failure_percentage_minimum_hosts: 3, failure_percentage_request_volume: 5,"
                         " enforcing_failure_percentage: 100}\n")) +
      ClusterYaml("sr", {{"z", 0, 0, {ok1.port(), ok2.port(), flaky.port()}}},
                  StrCat("    outlier_detection: {", common,
                         ", success_rate_minimum_hosts: 3, success_rate_request_volume: 5,"
                         " success_rate_stdev_factor: 1000}\n"));
  TestProxy p(Bootstrap({"fp", "sr"}, clusters));
  ASSERT_TRUE(p.ok()) << p.status();
  for (const std::string cluster : {"fp", "sr"}) {
    // Round robin: every upstream gets a third of the 90 requests; flaky fails half of its.
    std::string codes = Curl(StrCat("-o /dev/null -w '%{http_code}\\n' 'http://127.0.0.1:", p.port("http"), "/",
                                    cluster, "/x?fail_every=flaky:2&n=[1-90]'"));
    EXPECT_NE(codes.find("500"), std::string::npos) << cluster;
    EXPECT_NE(codes.find("200"), std::string::npos) << cluster;
    // The next sweep (0.5 s) ejects flaky; the requests after it go to the others only.
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    auto spread = Spread(p, StrCat("/", cluster, "/y"), 30);
    EXPECT_EQ(spread["flaky"], 0) << cluster;
    EXPECT_EQ(spread["ok1"] + spread["ok2"], 30) << cluster;
  }
  std::string stats = Curl(StrCat("http://127.0.0.1:", p.admin_port(), "/stats"));
  EXPECT_NE(stats.find("cluster.fp.outlier_detection.ejections_enforced_failure_percentage: 1\n"), std::string::npos)
      << stats;
  EXPECT_NE(stats.find("cluster.sr.outlier_detection.ejections_enforced_success_rate: 1\n"), std::string::npos)
      << stats;
  std::string hosts = Curl(StrCat("http://127.0.0.1:", p.admin_port(), "/clusters"));
  EXPECT_NE(hosts.find(StrCat("fp::127.0.0.1:", flaky.port(), "::health_flags::/failed_outlier_check")),
            std::string::npos)
      << hosts;
}

// Panic mode end to end: with 2 of 3 hosts ejected (33% healthy < 50%), the cluster
// balances over all three again, and counts upstream_rq_lb_healthy_panic; with
// healthy_panic_threshold 0 it keeps to the healthy host.
TEST(LoadBalancingTest, PanicModeSpreadsOverEjectedHostsUnlessDisabled) {
  Upstream a("a"), b("b"), c("c");
  const char* od =
      "    outlier_detection: {consecutive_5xx: 1, interval: 60s, base_ejection_time: 60s, max_ejection_percent: 100}\n";
  std::string clusters =
      ClusterYaml("panics", {{"z", 0, 0, {a.port(), b.port(), c.port()}}}, od) +
      ClusterYaml("strict", {{"z", 0, 0, {a.port(), b.port(), c.port()}}},
                  StrCat(od, "    common_lb_config: {healthy_panic_threshold: {value: 0}}\n"));
  TestProxy p(Bootstrap({"panics", "strict"}, clusters));
  ASSERT_TRUE(p.ok()) << p.status();
  for (const std::string cluster : {"panics", "strict"}) {
    // Round robin: requests 1 and 2 hit a and b, which fail them and are ejected.
    std::string codes = Curl(StrCat("-o /dev/null -w '%{http_code} ' 'http://127.0.0.1:", p.port("http"), "/",
                                    cluster, "/status/{500,500}'"));
    EXPECT_EQ(codes, "500 500 ") << cluster;
  }
  auto spread = Spread(p, "/panics/", 30);
  EXPECT_EQ(spread["a"], 10);
  EXPECT_EQ(spread["b"], 10);
  EXPECT_EQ(spread["c"], 10);
  spread = Spread(p, "/strict/", 30);
  EXPECT_EQ(spread["c"], 30);
  std::string stats = Curl(StrCat("http://127.0.0.1:", p.admin_port(), "/stats"));
  EXPECT_NE(stats.find("cluster.panics.upstream_rq_lb_healthy_panic: 30\n"), std::string::npos) << stats;
  EXPECT_EQ(stats.find("cluster.strict.upstream_rq_lb_healthy_panic"), std::string::npos) << stats;
}

}  // namespace
}  // namespace mesh::proxy::testing
