// GenerationCache: proxies of one scope share the same serialized bytes, the shared path
// gives what a full per-proxy translation gives, and a change re-encodes only what it
// touches.

#include "mesh/pilot/generator.h"

#include "gtest/gtest.h"
#include "mesh/common/strings.h"
#include "mesh/config/yaml_loader.h"
#include "mesh/xds/protocol.h"

namespace mesh::pilot {
namespace {

using config::Node;

constexpr char kWorld[] = R"(
apiVersion: v1
kind: Service
metadata: {name: a, namespace: shop}
spec:
  selector: {app: a}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: b, namespace: shop}
spec:
  selector: {app: b}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: c, namespace: other}
spec:
  selector: {app: c}
  ports: [{name: http-web, port: 8000}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: b, namespace: shop}
spec:
  host: b
  trafficPolicy: {loadBalancer: {simple: RANDOM}}
  subsets: [{name: v1, labels: {version: v1}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: b, namespace: shop}
spec:
  hosts: [b]
  http:
  - route:
    - destination: {host: b, subset: v1}
)";

constexpr char kSidecarOnlyShop[] = R"(
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: other}
spec:
  egress: [{hosts: ["./*"]}]
)";

WorkloadInstance Pod(const std::string& name, const std::string& ns, const std::string& app, uint32_t port) {
  WorkloadInstance w;
  w.name = name;
  w.ns = ns;
  w.labels = {{"app", app}, {"version", "v1"}};
  w.default_endpoint_port = port;
  return w;
}

std::shared_ptr<const PushContext> Build(const std::string& extra = "", const std::string& b_policy = "RANDOM") {
  std::string text = kWorld;
  size_t at = text.find("simple: RANDOM");
  text.replace(at, std::string("simple: RANDOM").size(), "simple: " + b_policy);
  auto loaded = config::LoadText(text + extra, "world.yaml");
  EXPECT_TRUE(loaded.errors.empty());
  return PushContext::Build(std::move(loaded.resources),
                            {Pod("a-1", "shop", "a", 15101), Pod("a-2", "shop", "a", 15102),
                             Pod("b-1", "shop", "b", 15103), Pod("c-1", "other", "c", 15104)});
}

ProxyRole SidecarOf(const WorkloadInstance& w, uint32_t app_port) {
  ProxyRole r;
  r.workload = w;
  r.app_port = app_port;
  r.outbound_port = 15001;
  return r;
}

const std::vector<std::string>& Types() { return xds::type_url::SubscriptionOrder(); }

// The resource whose name is `name`, by pointer, in a list.
xds::EncodedResourcePtr Find(const xds::ResourceList& list, const std::string& name) {
  for (const auto& chunk : list->chunks()) {
    for (const auto& r : chunk->items()) {
      if (r->name == name) {
        return r;
      }
    }
  }
  return nullptr;
}

TEST(GenerationCache, SidecarsOfOneScopeShareTheSameBytes) {
  auto push = Build();
  GenerationCache cache;
  ProxyRole one = SidecarOf(Pod("a-1", "shop", "a", 15101), 9001);
  ProxyRole two = SidecarOf(Pod("a-2", "shop", "a", 15102), 9002);
  EXPECT_EQ(GenerationCache::ScopeKey(one, *push), GenerationCache::ScopeKey(two, *push));
  for (const std::string& type : {std::string(xds::type_url::kCluster), std::string(xds::type_url::kEndpoint),
                                  std::string(xds::type_url::kRoute)}) {
    xds::ResourceList first = cache.Get(one, *push, type);
    xds::ResourceList second = cache.Get(two, *push, type);
    ASSERT_FALSE(first->chunks().empty()) << type;
    // The outbound part is the very same chunk object (one copy of the bytes).
    EXPECT_EQ(first->chunks().back().get(), second->chunks().back().get()) << type;
  }
  // The per-proxy parts differ: each proxy's inbound listener has its own port.
  xds::ResourceList l1 = cache.Get(one, *push, xds::type_url::kListener);
  xds::ResourceList l2 = cache.Get(two, *push, xds::type_url::kListener);
  EXPECT_NE(Find(l1, "virtualInbound")->json, Find(l2, "virtualInbound")->json);
  EXPECT_EQ(Find(l1, "virtualOutbound").get(), Find(l2, "virtualOutbound").get());
  EXPECT_EQ(cache.stats().scope_builds, 1u);
  EXPECT_EQ(cache.stats().proxy_builds, 2u);
}

TEST(GenerationCache, ScopesFollowNamespaceAndSidecarResource) {
  auto push = Build(kSidecarOnlyShop);
  GenerationCache cache;
  ProxyRole shop = SidecarOf(Pod("a-1", "shop", "a", 15101), 9001);
  ProxyRole other = SidecarOf(Pod("c-1", "other", "c", 15104), 9004);
  EXPECT_NE(GenerationCache::ScopeKey(shop, *push), GenerationCache::ScopeKey(other, *push));
  std::vector<std::string> shop_clusters = cache.Get(shop, *push, xds::type_url::kCluster)->Names();
  std::vector<std::string> other_clusters = cache.Get(other, *push, xds::type_url::kCluster)->Names();
  // The Sidecar resource limits "other" to its own namespace.
  EXPECT_NE(std::find(shop_clusters.begin(), shop_clusters.end(), "outbound|8000||c.other.svc.cluster.local"),
            shop_clusters.end());
  EXPECT_EQ(std::find(other_clusters.begin(), other_clusters.end(), "outbound|80||a.shop.svc.cluster.local"),
            other_clusters.end());
  EXPECT_EQ(cache.stats().scope_builds, 2u);
}

TEST(GenerationCache, SharedPathGivesWhatAFullTranslationGives) {
  auto push = Build(kSidecarOnlyShop);
  for (const ProxyRole& role : {SidecarOf(Pod("a-1", "shop", "a", 15101), 9001),
                                SidecarOf(Pod("c-1", "other", "c", 15104), 9004)}) {
    GenerationCache cache;
    std::map<std::string, std::vector<Node>> full = GenerateAllTypes(role, *push);
    for (const std::string& type : Types()) {
      xds::ResourceList cached = cache.Get(role, *push, type);
      xds::ResourceList direct = xds::MakeResourceList(full[type]);
      EXPECT_EQ(cached->Names(), direct->Names()) << type;
      EXPECT_EQ(cached->Decode(), direct->Decode()) << type;
      EXPECT_EQ(cached->version(), direct->version()) << type;
      // And the bytes on the wire are the same.
      xds::DiscoveryResponse a{"v", cached, type, "1"};
      xds::DiscoveryResponse b{"v", direct, type, "1"};
      EXPECT_EQ(xds::SerializeResponse(a), xds::SerializeResponse(b)) << type;
    }
  }
}

TEST(GenerationCache, AChangeReencodesOnlyTheResourcesItTouches) {
  GenerationCache cache;
  ProxyRole role = SidecarOf(Pod("a-1", "shop", "a", 15101), 9001);
  auto before = Build();
  std::map<std::string, xds::ResourceList> old_lists;
  for (const std::string& type : Types()) {
    old_lists[type] = cache.Get(role, *before, type);
  }
  auto encoded_before = cache.stats().shared_encoded;
  // Only b's DestinationRule changes.
  auto after = Build("", "LEAST_REQUEST");
  std::map<std::string, xds::ResourceList> new_lists;
  for (const std::string& type : Types()) {
    new_lists[type] = cache.Get(role, *after, type);
  }
  // b's only cluster (its VirtualService sends everything to subset v1) was re-encoded
  // with its endpoint assignment; nothing else was.
  EXPECT_EQ(cache.stats().shared_encoded - encoded_before, 2u);
  const std::string a_cluster = "outbound|80||a.shop.svc.cluster.local";
  const std::string b_cluster = "outbound|80|v1|b.shop.svc.cluster.local";
  EXPECT_EQ(Find(old_lists[xds::type_url::kCluster], a_cluster).get(),
            Find(new_lists[xds::type_url::kCluster], a_cluster).get());
  EXPECT_NE(Find(old_lists[xds::type_url::kCluster], b_cluster)->json,
            Find(new_lists[xds::type_url::kCluster], b_cluster)->json);
  // Types whose content did not change keep their version (nothing is pushed for them).
  EXPECT_NE(old_lists[xds::type_url::kCluster]->version(), new_lists[xds::type_url::kCluster]->version());
  EXPECT_EQ(old_lists[xds::type_url::kRoute]->version(), new_lists[xds::type_url::kRoute]->version());
  EXPECT_EQ(old_lists[xds::type_url::kListener]->version(), new_lists[xds::type_url::kListener]->version());
  EXPECT_EQ(old_lists[xds::type_url::kEndpoint]->version(), new_lists[xds::type_url::kEndpoint]->version());
}

TEST(GenerationCache, ANewEndpointReencodesOnlyItsService) {
  GenerationCache cache;
  ProxyRole role = SidecarOf(Pod("a-1", "shop", "a", 15101), 9001);
  auto loaded = config::LoadText(kWorld, "world.yaml");
  auto first = PushContext::Build(loaded.resources, {Pod("a-1", "shop", "a", 15101), Pod("c-1", "other", "c", 15104)});
  xds::ResourceList eds_before = cache.Get(role, *first, xds::type_url::kEndpoint);
  auto encoded = cache.stats().shared_encoded;
  auto second = PushContext::Build(loaded.resources, {Pod("a-1", "shop", "a", 15101), Pod("c-1", "other", "c", 15104),
                                                      Pod("c-2", "other", "c", 15105)});
  xds::ResourceList eds_after = cache.Get(role, *second, xds::type_url::kEndpoint);
  EXPECT_EQ(cache.stats().shared_encoded - encoded, 2u);  // c's cluster and endpoints
  const std::string c_cluster = "outbound|8000||c.other.svc.cluster.local";
  ASSERT_NE(Find(eds_before, c_cluster), nullptr) << common::Join(eds_before->Names(), " ");
  ASSERT_NE(Find(eds_after, c_cluster), nullptr);
  EXPECT_NE(Find(eds_before, c_cluster)->json, Find(eds_after, c_cluster)->json);
  EXPECT_NE(Find(eds_after, c_cluster)->json.find("15105"), std::string::npos);
  EXPECT_EQ(Find(eds_before, "outbound|80||a.shop.svc.cluster.local").get(),
            Find(eds_after, "outbound|80||a.shop.svc.cluster.local").get());
}

TEST(GenerationCache, RoutersAreTranslatedPerProxy) {
  auto push = Build();
  GenerationCache cache;
  ProxyRole gw;
  gw.type = ProxyRole::Type::kRouter;
  gw.workload.name = "gw";
  gw.workload.ns = "istio-system";
  gw.workload.labels = {{"istio", "ingressgateway"}};
  std::map<std::string, std::vector<Node>> full = GenerateAllTypes(gw, *push);
  for (const std::string& type : Types()) {
    EXPECT_EQ(cache.Get(gw, *push, type)->Decode(), full[type]) << type;
  }
  EXPECT_EQ(cache.stats().scope_builds, 0u);
}

}  // namespace
}  // namespace mesh::pilot
