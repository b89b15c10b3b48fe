#include "mesh/dashboard/config_view.h"

#include "gtest/gtest.h"
#include "mesh/config/yaml_loader.h"

namespace mesh::dashboard {
namespace {

constexpr const char* kConfig = R"(
apiVersion: v1
kind: Service
metadata: {name: helloworldsvc, namespace: devops}
spec:
  selector: {app: helloworld}
  ports: [{name: http, port: 80, targetPort: 5000}]
---
apiVersion: v1
kind: Service
metadata: {name: other, namespace: devops}
spec:
  selector: {app: other}
  ports: [{name: http, port: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: third, namespace: devops}
spec:
  ports: [{name: http, port: 80}]
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: edge, namespace: devops}
spec:
  hosts: [helloworld.example.com]
  gateways: [web]
  http:
  - route:
    - destination: {host: helloworldsvc}
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: mesh-routes, namespace: devops}
spec:
  hosts: [helloworldsvc.devops.svc.cluster.local]
  http:
  - route:
    - destination: {host: helloworldsvc}
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: unrelated, namespace: devops}
spec:
  hosts: [other]
  http:
  - route:
    - destination: {host: other}
---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: hw, namespace: devops}
spec:
  host: helloworldsvc.devops
---
apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata: {name: web, namespace: devops}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: [helloworld.example.com]
---
apiVersion: security.istio.io/v1beta1
kind: PeerAuthentication
metadata: {name: default, namespace: istio-system}
spec:
  mtls: {mode: STRICT}
---
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: {name: hw-only, namespace: devops}
spec:
  selector: {matchLabels: {app: helloworld}}
  action: ALLOW
---
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: {name: others-only, namespace: devops}
spec:
  selector: {matchLabels: {app: other}}
  action: ALLOW
)";

std::vector<config::Resource> Load(const std::string& text) {
  config::LoadResult loaded = config::LoadText(text, "test.yaml");
  EXPECT_TRUE(loaded.errors.empty());
  return loaded.resources;
}

std::vector<KnownWorkload> HelloworldWorkloads() {
  return {{"devops", "helloworld-1", {{"app", "helloworld"}, {"version", "v1"}},
           {"helloworldsvc.devops.svc.cluster.local"}}};
}

std::vector<std::string> Applied(const ConfigView& view, const std::string& ns, const std::string& name) {
  const ServiceInfo* s = view.FindService(ns, name);
  EXPECT_NE(s, nullptr) << ns << "/" << name;
  std::vector<std::string> out;
  if (s != nullptr) {
    for (const AppliedResource& a : view.ForService(*s)) {
      out.push_back(a.resource->FriendlyName() + " (" + a.relation + ")");
    }
  }
  return out;
}

TEST(ConfigViewTest, WhatAppliesToAService) {
  auto view = ConfigView::Build(Load(kConfig), HelloworldWorkloads(), /*analyze=*/false);
  EXPECT_EQ(Applied(*view, "devops", "helloworldsvc"),
            (std::vector<std::string>{
                "Service devops/helloworldsvc (the service)",
                "VirtualService devops/edge (routes to)",
                "VirtualService devops/mesh-routes (hosts)",
                "DestinationRule devops/hw (host)",
                "PeerAuthentication istio-system/default (mesh-wide)",
                "AuthorizationPolicy devops/hw-only (selects its workloads)",
                "Gateway devops/web (bound by a VirtualService)",
            }));
  EXPECT_EQ(Applied(*view, "devops", "other"),
            (std::vector<std::string>{
                "Service devops/other (the service)",
                "VirtualService devops/unrelated (hosts)",
                "PeerAuthentication istio-system/default (mesh-wide)",
                "AuthorizationPolicy devops/others-only (selects its workloads)",
            }))
      << "no proxy serves `other`: its Service's selector stands for its workloads";
  EXPECT_EQ(Applied(*view, "devops", "third"),
            (std::vector<std::string>{
                "Service devops/third (the service)",
                "PeerAuthentication istio-system/default (mesh-wide)",
                "AuthorizationPolicy devops/hw-only (selector (no workload connected to check))",
                "AuthorizationPolicy devops/others-only (selector (no workload connected to check))",
            }))
      << "neither proxies nor a selector: the dashboard says it cannot tell";
}

TEST(ConfigViewTest, ServicesComeFromConfigAndProxies) {
  std::vector<KnownWorkload> workloads = HelloworldWorkloads();
  workloads.push_back({"shop", "cart-1", {{"app", "cart"}}, {"cart.shop.svc.cluster.local"}});
  auto view = ConfigView::Build(Load(kConfig), workloads, false);
  ASSERT_EQ(view->services().size(), 4u);
  EXPECT_EQ(view->services()[0].fqdn, "cart.shop.svc.cluster.local");
  EXPECT_EQ(view->services()[0].source, "proxy");
  EXPECT_EQ(view->services()[1].source, "Service");
  EXPECT_EQ(view->FindService("shop", "cart")->workload_labels_text, std::vector<std::string>{"app=cart"});
  EXPECT_EQ(view->FindService("nope", "cart"), nullptr);
}

TEST(ConfigViewTest, AnalyzerFindingsAreAttachedToTheResources) {
  // The VirtualService binds to a Gateway that does not exist: IST0101.
  auto view = ConfigView::Build(Load(R"(
apiVersion: v1
kind: Service
metadata: {name: helloworldsvc, namespace: devops}
spec:
  ports: [{name: http, port: 80}]
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: edge, namespace: devops}
spec:
  hosts: [helloworld.example.com]
  gateways: [missing-gateway]
  http:
  - route:
    - destination: {host: helloworldsvc}
)"),
                                {}, /*analyze=*/true);
  const ServiceInfo* s = view->FindService("devops", "helloworldsvc");
  ASSERT_NE(s, nullptr);
  bool found = false;
  for (const AppliedResource& a : view->ForService(*s)) {
    for (const Finding& f : a.findings) {
      if (a.resource->kind() == "VirtualService" && f.code == "IST0101") {
        found = true;
        EXPECT_EQ(f.level, "Error");
        EXPECT_NE(f.text.find("missing-gateway"), std::string::npos) << f.text;
      }
    }
  }
  EXPECT_TRUE(found);
  EXPECT_GE(view->FindingCount(*s), 1u);
  EXPECT_GE(view->analyzer_messages(), 1u);
}

TEST(ConfigViewTest, ConnectedProxiesCountAsPodsForTheAnalyzers) {
  constexpr const char* kGateway = R"(
apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata: {name: web, namespace: devops}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
)";
  auto count_ist0101 = [](const ConfigView& view) {
    size_t n = 0;
    for (const ServiceInfo& s : view.services()) {
      for (const AppliedResource& a : view.ForService(s)) {
        for (const Finding& f : a.findings) {
          n += f.code == "IST0101" && a.resource->kind() == "Gateway" ? 1 : 0;
        }
      }
    }
    return n;
  };
  std::string config = std::string(kGateway) + R"(
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: edge, namespace: devops}
spec:
  hosts: ["*"]
  gateways: [web]
  http:
  - route:
    - destination: {host: helloworldsvc}
)";
  std::vector<KnownWorkload> workloads = HelloworldWorkloads();
  auto without_gateway = ConfigView::Build(Load(config), workloads, true);
  EXPECT_EQ(count_ist0101(*without_gateway), 1u) << "no pod has istio=ingressgateway";
  workloads.push_back({"istio-system", "istio-ingressgateway", {{"istio", "ingressgateway"}}, {}});
  auto with_gateway = ConfigView::Build(Load(config), workloads, true);
  EXPECT_EQ(count_ist0101(*with_gateway), 0u);
}

TEST(ConfigViewTest, ResolveHost) {
  EXPECT_EQ(ResolveHost("reviews", "prod"), "reviews.prod.svc.cluster.local");
  EXPECT_EQ(ResolveHost("reviews.other", "prod"), "reviews.other.svc.cluster.local");
  EXPECT_EQ(ResolveHost("reviews.other.svc", "prod"), "reviews.other.svc.cluster.local");
  EXPECT_EQ(ResolveHost("api.example.com", "prod"), "api.example.com");
  EXPECT_EQ(ResolveHost("*.example.com", "prod"), "*.example.com");
}

}  // namespace
}  // namespace mesh::dashboard
