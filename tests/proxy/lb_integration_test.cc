// Priority failover and locality-weighted load balancing end to end: curl -> in-process
// proxy -> upstream.py processes, counted by their x-upstream response header.

#include <map>
#include <string>
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

}  // namespace
}  // namespace mesh::proxy::testing
