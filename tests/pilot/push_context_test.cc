#include "mesh/pilot/push_context.h"

#include "gtest/gtest.h"
#include "mesh/config/yaml_loader.h"

namespace mesh::pilot {
namespace {

std::vector<config::Resource> Load(const std::string& yaml) {
  auto r = config::LoadText(yaml, "in.yaml");
  EXPECT_TRUE(r.errors.empty()) << r.errors[0].ToString();
  return std::move(r.resources);
}

WorkloadInstance Pod(std::string name, std::string ns, config::StringMap labels, uint32_t inbound) {
  WorkloadInstance w;
  w.name = std::move(name);
  w.ns = std::move(ns);
  w.labels = std::move(labels);
  w.default_endpoint_port = inbound;
  return w;
}

constexpr char kWorld[] = R"(
apiVersion: v1
kind: Service
metadata: {name: helloworldsvc, namespace: devops}
spec:
  selector: {app: helloworld}
  ports:
  - {name: http, port: 80, targetPort: 8080}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: hw, namespace: devops}
spec:
  host: helloworldsvc
  subsets:
  - {name: v1, labels: {version: v1}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: mesh-default, namespace: istio-system}
spec:
  host: "*.svc.cluster.local"
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: mobifingw, namespace: devops}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https-443, protocol: HTTPS}
    hosts: [helloworld.panamaxil.com]
    tls: {mode: SIMPLE, credentialName: tls-secret}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: helloworldvs, namespace: devops}
spec:
  hosts: [helloworld.panamaxil.com]
  gateways: [mobifingw]
  http:
  - route:
    - destination: {host: helloworldsvc.devops.svc.cluster.local, port: {number: 80}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: internal, namespace: devops}
spec:
  hosts: [helloworldsvc]
  http:
  - route:
    - destination: {host: helloworldsvc}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: istio-system}
spec:
  mtls: {mode: STRICT}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: legacy, namespace: devops}
spec:
  selector: {matchLabels: {version: v0}}
  mtls: {mode: PERMISSIVE}
  portLevelMtls:
    "9090": {mode: DISABLE}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext, namespace: devops}
spec:
  hosts: [api.example.com]
  location: MESH_EXTERNAL
  resolution: STATIC
  ports:
  - {number: 443, name: https, protocol: TLS}
  endpoints:
  - address: 192.0.2.10
)";

TEST(PushContext, ServicesAndEndpointsFromSelectorsAndSubsets) {
  auto pc = PushContext::Build(Load(kWorld), {Pod("hw-1", "devops", {{"app", "helloworld"}, {"version", "v1"}}, 15006),
                                              Pod("hw-2", "devops", {{"app", "helloworld"}, {"version", "v2"}}, 15007),
                                              Pod("other", "other", {{"app", "helloworld"}}, 15008)});
  const Service* svc = pc->FindService("helloworldsvc.devops.svc.cluster.local");
  ASSERT_NE(svc, nullptr);
  ASSERT_EQ(svc->ports.size(), 1u);
  EXPECT_EQ(svc->ports[0].protocol, "HTTP");
  auto all = pc->EndpointsFor(*svc, svc->ports[0]);
  ASSERT_EQ(all.size(), 2u);  // not the pod in another namespace
  EXPECT_EQ(all[0].port, 15006u);
  auto v1 = pc->EndpointsFor(*svc, svc->ports[0], {{"version", "v1"}});
  ASSERT_EQ(v1.size(), 1u);
  EXPECT_EQ(v1[0].instance->name, "hw-1");

  const Service* ext = pc->FindService("api.example.com");
  ASSERT_NE(ext, nullptr);
  EXPECT_TRUE(ext->mesh_external);
  auto ext_eps = pc->EndpointsFor(*ext, ext->ports[0]);
  ASSERT_EQ(ext_eps.size(), 1u);
  EXPECT_EQ(ext_eps[0].address, "192.0.2.10");
  EXPECT_EQ(ext_eps[0].port, 443u);
}

TEST(PushContext, GatewayBindingAndMeshVirtualServices) {
  auto pc = PushContext::Build(Load(kWorld), {});
  EXPECT_EQ(pc->GatewaysFor({{"istio", "ingressgateway"}, {"app", "x"}}).size(), 1u);
  EXPECT_TRUE(pc->GatewaysFor({{"istio", "egressgateway"}}).empty());
  auto bound = pc->VirtualServicesForGateway("devops/mobifingw");
  ASSERT_EQ(bound.size(), 1u);
  EXPECT_EQ(bound[0]->name(), "helloworldvs");
  auto mesh = pc->MeshVirtualServices("devops");
  ASSERT_EQ(mesh.size(), 1u);
  EXPECT_EQ(mesh[0]->name(), "internal");
}

TEST(PushContext, DestinationRulePrecedence) {
  auto pc = PushContext::Build(Load(kWorld), {});
  const Service* svc = pc->FindService("helloworldsvc.devops.svc.cluster.local");
  ASSERT_NE(svc, nullptr);
  EXPECT_EQ(pc->DestinationRuleFor("devops", *svc)->name(), "hw");
  EXPECT_EQ(pc->DestinationRuleFor("frontend", *svc)->name(), "hw");  // the service's namespace
  const Service* ext = pc->FindService("api.example.com");
  EXPECT_EQ(pc->DestinationRuleFor("devops", *ext), nullptr);
}

TEST(PushContext, PeerAuthenticationPrecedence) {
  auto pc = PushContext::Build(Load(kWorld), {});
  WorkloadInstance v1 = Pod("a", "devops", {{"version", "v1"}}, 1);
  WorkloadInstance v0 = Pod("b", "devops", {{"version", "v0"}}, 1);
  EXPECT_EQ(pc->MtlsModeFor(v1, 8080), "STRICT");      // mesh-wide
  EXPECT_EQ(pc->MtlsModeFor(v0, 8080), "PERMISSIVE");  // workload selector wins
  EXPECT_EQ(pc->MtlsModeFor(v0, 9090), "DISABLE");     // port level wins
  auto none = PushContext::Build({}, {});
  EXPECT_EQ(none->MtlsModeFor(v1, 80), "PERMISSIVE");  // Istio's default
}

TEST(PushContext, HelpersForHostsAndProtocols) {
  EXPECT_EQ(QualifyHost("reviews", "default"), "reviews.default.svc.cluster.local");
  EXPECT_EQ(QualifyHost("a.b", "default"), "a.b");
  EXPECT_EQ(ProtocolForPort("http-web"), "HTTP");
  EXPECT_EQ(ProtocolForPort("grpc"), "GRPC");
  EXPECT_EQ(ProtocolForPort("metrics"), "TCP");
  EXPECT_EQ(ProtocolForPort("web", "http2"), "HTTP2");
  EXPECT_TRUE(IsHttpProtocol("GRPC"));
  EXPECT_FALSE(IsHttpProtocol("TLS"));
}

}  // namespace
}  // namespace mesh::pilot
