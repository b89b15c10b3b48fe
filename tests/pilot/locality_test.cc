// Istio's localityLbSetting translated to endpoint priorities and locality weights:
// default proximity failover (with outlier detection), failover rules, failoverPriority
// labels, distribute weights, enabled: false; proxies in different localities get their
// own endpoints from the shared generation cache. A golden shows the emitted EDS.

#include <map>

#include "gtest/gtest.h"
#include "mesh/common/strings.h"
#include "mesh/config/emit.h"
#include "mesh/config/yaml_loader.h"
#include "mesh/pilot/generator.h"
#include "mesh/proxyconfig/decode.h"
#include "mesh/proxyconfig/encode.h"
#include "mesh/xds/protocol.h"
#include "tests/common/test_util.h"

namespace mesh::pilot {
namespace {

using common::StrCat;
using config::Node;

constexpr char kReviews[] = R"(
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: shop}
spec:
  selector: {app: reviews}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: shop}
spec:
  host: reviews
  trafficPolicy:
${POLICY}
)";

constexpr char kReviewsCluster[] = "outbound|80||reviews.shop.svc.cluster.local";

// Pods of "reviews" by locality (region/zone/subzone) and tier label.
WorkloadInstance Pod(const std::string& name, const std::string& locality, const std::string& tier, uint32_t port) {
  WorkloadInstance w;
  w.name = name;
  w.ns = "shop";
  w.labels = {{"app", "reviews"}, {"tier", tier}};
  w.locality = locality;
  w.default_endpoint_port = port;
  return w;
}

std::shared_ptr<const PushContext> Build(const std::string& policy) {
  std::string text = kReviews;
  text.replace(text.find("${POLICY}"), 9, policy);
  auto loaded = config::LoadText(text, "reviews.yaml");
  EXPECT_TRUE(loaded.errors.empty());
  return PushContext::Build(std::move(loaded.resources),
                            {Pod("local", "region1/zone1/sub1", "gold", 15101), Pod("zone", "region1/zone1/sub2", "silver", 15102),
                             Pod("region", "region1/zone2", "gold", 15103), Pod("other", "region2/zoneA", "gold", 15104),
                             Pod("far", "region3/zoneB", "gold", 15105)});
}

ProxyRole Productpage(const std::string& locality = "region1/zone1/sub1", const std::string& tier = "gold") {
  ProxyRole r;
  r.workload.name = "productpage";
  r.workload.ns = "shop";
  r.workload.labels = {{"app", "productpage"}, {"tier", tier}};
  r.workload.locality = locality;
  r.outbound_port = 15001;
  return r;
}

// Endpoint port -> "priority/weight" for the reviews cluster.
std::map<uint32_t, std::string> Layout(const proxyconfig::Resources& r) {
  std::map<uint32_t, std::string> out;
  const proxyconfig::ClusterLoadAssignment* cla = r.FindEndpoints(kReviewsCluster);
  EXPECT_NE(cla, nullptr);
  if (cla == nullptr) {
    return out;
  }
  for (const auto& le : cla->endpoints) {
    for (const auto& e : le.lb_endpoints) {
      out[e.address.port_value] = StrCat(le.priority, "/", le.load_balancing_weight);
    }
  }
  return out;
}

constexpr char kOutlier[] = "    outlierDetection: {consecutive5xxErrors: 3, interval: 5s, baseEjectionTime: 30s}\n";

TEST(LocalityLb, DefaultFailoverByProximityNeedsOutlierDetection) {
  auto push = Build(kOutlier);
  proxyconfig::Resources r = GenerateResources(Productpage(), *push);
  // same subzone 0, same zone 1, same region 2, other regions 3.
  EXPECT_EQ(Layout(r), (std::map<uint32_t, std::string>{
                           {15101, "0/0"}, {15102, "1/0"}, {15103, "2/0"}, {15104, "3/0"}, {15105, "3/0"}}));
  const proxyconfig::Cluster* c = r.FindCluster(kReviewsCluster);
  ASSERT_NE(c, nullptr);
  EXPECT_FALSE(c->locality_weighted_lb);
  EXPECT_EQ(c->healthy_panic_threshold, 0) << "Istio: minHealthPercent (default 0) with outlier detection";
  // Without outlier detection nothing moves (a lower priority would never get traffic).
  auto plain = Build("    loadBalancer: {simple: ROUND_ROBIN}\n");
  EXPECT_EQ(Layout(GenerateResources(Productpage(), *plain)),
            (std::map<uint32_t, std::string>{
                {15101, "0/0"}, {15102, "0/0"}, {15103, "0/0"}, {15104, "0/0"}, {15105, "0/0"}}));
  // Nor for a proxy without a locality.
  EXPECT_EQ(Layout(GenerateResources(Productpage(""), *push))[15105], "0/0");
}

TEST(LocalityLb, FailoverRuleOrdersOtherRegions) {
  auto push = Build(StrCat(kOutlier, "    loadBalancer:\n      localityLbSetting:\n        failover: [{from: region1, to: region3}]\n"));
  // region3 (the failover target) before region2.
  EXPECT_EQ(Layout(GenerateResources(Productpage(), *push)),
            (std::map<uint32_t, std::string>{
                {15101, "0/0"}, {15102, "1/0"}, {15103, "2/0"}, {15104, "4/0"}, {15105, "3/0"}}));
  // A proxy in region2 is not concerned by the rule: proximity only.
  EXPECT_EQ(Layout(GenerateResources(Productpage("region2/zoneA"), *push)),
            (std::map<uint32_t, std::string>{
                {15101, "1/0"}, {15102, "1/0"}, {15103, "1/0"}, {15104, "0/0"}, {15105, "1/0"}}));
}

TEST(LocalityLb, EnabledFalseTurnsItOff) {
  auto push = Build(StrCat(kOutlier, "    loadBalancer:\n      localityLbSetting: {enabled: false}\n"));
  EXPECT_EQ(Layout(GenerateResources(Productpage(), *push))[15105], "0/0");
}

TEST(LocalityLb, FailoverPriorityLabelsComeFirst) {
  auto push = Build(StrCat(kOutlier, "    loadBalancer:\n      localityLbSetting:\n        failoverPriority: [tier]\n"));
  // Only the label: gold pods (like the proxy) 0, silver 1, wherever they are.
  EXPECT_EQ(Layout(GenerateResources(Productpage(), *push)),
            (std::map<uint32_t, std::string>{
                {15101, "0/0"}, {15102, "1/0"}, {15103, "0/0"}, {15104, "0/0"}, {15105, "0/0"}}));
  // A silver proxy prefers the silver pod.
  EXPECT_EQ(Layout(GenerateResources(Productpage("region1/zone1/sub1", "silver"), *push))[15102], "0/0");
  // "label=value" fixes the value instead of the proxy's.
  auto fixed = Build(StrCat(kOutlier, "    loadBalancer:\n      localityLbSetting:\n        failoverPriority: [tier=silver]\n"));
  EXPECT_EQ(Layout(GenerateResources(Productpage(), *fixed))[15102], "0/0");
  EXPECT_EQ(Layout(GenerateResources(Productpage(), *fixed))[15101], "1/0");
  // With failover rules too, the label priority stays the major key, proximity the minor.
  auto both = Build(StrCat(kOutlier,
                           "    loadBalancer:\n      localityLbSetting:\n        failoverPriority: [tier]\n"
                           "        failover: [{from: region1, to: region3}]\n"));
  EXPECT_EQ(Layout(GenerateResources(Productpage(), *both)),
            (std::map<uint32_t, std::string>{
                {15101, "0/0"}, {15103, "1/0"}, {15105, "2/0"}, {15104, "3/0"}, {15102, "4/0"}}));
}

TEST(LocalityLb, DistributeSetsLocalityWeights) {
  auto push = Build(
      "    loadBalancer:\n      localityLbSetting:\n        distribute:\n"
      "        - from: region1/zone1/*\n          to: {\"region1/zone1/*\": 80, \"region2/*\": 20}\n");
  proxyconfig::Resources r = GenerateResources(Productpage(), *push);
  // zone1's two subzones share 80 by endpoint count; region2 gets 20; the rest nothing.
  EXPECT_EQ(Layout(r), (std::map<uint32_t, std::string>{{15101, "0/40"}, {15102, "0/40"}, {15104, "0/20"}}));
  EXPECT_TRUE(r.FindCluster(kReviewsCluster)->locality_weighted_lb);
  // A proxy the rule's `from` does not match keeps every endpoint, unweighted.
  EXPECT_EQ(Layout(GenerateResources(Productpage("region3/zoneB"), *push)).size(), 5u);
  EXPECT_EQ(testing::CompareGolden("pilot/locality_distribute.golden.yaml",
                                   config::EmitYaml(proxyconfig::EncodeClusterLoadAssignment(
                                       *r.FindEndpoints(kReviewsCluster)))),
            "");
}

TEST(LocalityLb, GoldenFailoverEndpointsDecodeInTheProxy) {
  auto push = Build(StrCat(kOutlier, "    loadBalancer:\n      localityLbSetting:\n        failover: [{from: region1, to: region3}]\n"));
  proxyconfig::Resources r = GenerateResources(Productpage(), *push);
  Node eds = proxyconfig::EncodeClusterLoadAssignment(*r.FindEndpoints(kReviewsCluster));
  EXPECT_EQ(testing::CompareGolden("pilot/locality_failover.golden.yaml", config::EmitYaml(eds)), "");
  auto decoded = proxyconfig::DecodeClusterLoadAssignment(eds, "endpoints");
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->endpoints.size(), 5u);
  EXPECT_EQ(decoded->endpoints[0].locality.sub_zone, "sub1");
}

TEST(LocalityLb, LocalityFromLabels) {
  EXPECT_EQ(LocalityFromLabels({{"istio-locality", "us-east.zone-a.rack1"}}), "us-east/zone-a/rack1");
  EXPECT_EQ(LocalityFromLabels({{"topology.kubernetes.io/region", "eu"}, {"topology.kubernetes.io/zone", "eu-1"}}),
            "eu/eu-1");
  EXPECT_EQ(LocalityFromLabels({{"topology.kubernetes.io/region", "eu"},
                                {"topology.kubernetes.io/zone", "eu-1"},
                                {"topology.istio.io/subzone", "r7"}}),
            "eu/eu-1/r7");
  EXPECT_EQ(LocalityFromLabels({{"app", "x"}}), "");
  // PushContext fills it for workloads that carry the labels.
  WorkloadInstance w = Pod("p", "", "gold", 1);
  w.labels["istio-locality"] = "r.z";
  auto push = PushContext::Build({}, {w});
  EXPECT_EQ(push->workloads()[0].locality, "r/z");
}

// The generation cache shares a scope's endpoints only between proxies of one locality
// (and, with failoverPriority, the same label values).
TEST(LocalityLb, CacheScopesFollowLocalityAndFailoverLabels) {
  auto push = Build(StrCat(kOutlier, "    loadBalancer:\n      localityLbSetting:\n        failoverPriority: [tier]\n"));
  GenerationCache cache;
  ProxyRole here = Productpage(), there = Productpage("region3/zoneB"), silver = Productpage("region1/zone1/sub1", "silver");
  ProxyRole twin = Productpage();
  twin.workload.name = "productpage-2";
  twin.workload.labels["pod-template-hash"] = "abc";  // not compared: same scope
  EXPECT_EQ(GenerationCache::ScopeKey(here, *push), GenerationCache::ScopeKey(twin, *push));
  EXPECT_NE(GenerationCache::ScopeKey(here, *push), GenerationCache::ScopeKey(there, *push));
  EXPECT_NE(GenerationCache::ScopeKey(here, *push), GenerationCache::ScopeKey(silver, *push));
  auto eds = [&](const ProxyRole& p) {
    std::string json;
    for (const auto& chunk : cache.Get(p, *push, xds::type_url::kEndpoint)->chunks()) {
      for (const auto& item : chunk->items()) {
        json += item->json;
      }
    }
    return json;
  };
  EXPECT_NE(eds(here), eds(silver));
  EXPECT_EQ(eds(here), eds(twin));
}

}  // namespace
}  // namespace mesh::pilot
