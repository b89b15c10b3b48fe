// Translation of the talk's scenario: goldens of what the gateway and a sidecar get, and
// proof that the proxy's own decoder accepts every resource pilot emits.

#include "mesh/pilot/generator.h"

#include "gtest/gtest.h"
#include "mesh/config/emit.h"
#include "mesh/config/yaml_loader.h"
#include "mesh/proxyconfig/decode.h"
#include "mesh/xds/protocol.h"
#include "tests/common/test_util.h"

namespace mesh::pilot {
namespace {

using config::Node;

constexpr char kScenario[] = R"(
apiVersion: v1
kind: Service
metadata: {name: helloworldsvc, namespace: devops}
spec:
  selector: {app: helloworld}
  ports:
  - {name: http, port: 80, targetPort: 8080}
---
apiVersion: v1
kind: Secret
metadata: {name: tls-secret, namespace: istio-system}
type: kubernetes.io/tls
stringData:
  tls.crt: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
  tls.key: "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: mobifingw, namespace: devops}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https-443, protocol: HTTPS}
    tls: {mode: SIMPLE, credentialName: tls-secret}
    hosts: [helloworld.panamaxil.com]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: helloworldvs, namespace: devops}
spec:
  hosts: [helloworld.panamaxil.com]
  gateways: [mobifingw]
  http:
  - route:
    - destination: {host: helloworldsvc.devops.svc.cluster.local, port: {number: 80}, subset: v1}
      weight: 90
    - destination: {host: helloworldsvc.devops.svc.cluster.local, port: {number: 80}, subset: v2}
      weight: 10
    retries: {attempts: 3, perTryTimeout: 2s, retryOn: "5xx,connect-failure"}
    timeout: 10s
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: helloworld, namespace: devops}
spec:
  host: helloworldsvc
  trafficPolicy:
    loadBalancer: {simple: LEAST_REQUEST}
    connectionPool: {http: {http1MaxPendingRequests: 10}}
    outlierDetection: {consecutive5xxErrors: 3, interval: 5s, baseEjectionTime: 30s}
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: istio-system}
spec:
  mtls: {mode: STRICT}
)";

std::shared_ptr<const PushContext> Scenario() {
  auto loaded = config::LoadText(kScenario, "scenario.yaml");
  EXPECT_TRUE(loaded.errors.empty());
  auto pod = [](const std::string& name, const std::string& version, uint32_t inbound) {
    WorkloadInstance w;
    w.name = name;
    w.ns = "devops";
    w.service_account = "helloworld";
    w.labels = {{"app", "helloworld"}, {"version", version}};
    w.default_endpoint_port = inbound;
    return w;
  };
  return PushContext::Build(std::move(loaded.resources), {pod("hw-1", "v1", 15101), pod("hw-2", "v2", 15102)});
}

ProxyRole Gateway() {
  ProxyRole r;
  r.type = ProxyRole::Type::kRouter;
  r.workload.name = "istio-ingressgateway";
  r.workload.ns = "istio-system";
  r.workload.labels = {{"istio", "ingressgateway"}, {"app", "istio-ingressgateway"}};
  r.gateway_ports = {{443, 8443}, {80, 8080}};
  return r;
}

ProxyRole Sidecar() {
  ProxyRole r;
  r.workload.name = "hw-1";
  r.workload.ns = "devops";
  r.workload.service_account = "helloworld";
  r.workload.labels = {{"app", "helloworld"}, {"version", "v1"}};
  r.workload.default_endpoint_port = 15101;
  r.app_port = 9001;
  r.outbound_port = 15001;
  return r;
}

std::string Dump(const ProxyRole& role, const PushContext& push) {
  Node all = Node::Map();
  for (const std::string& type : xds::type_url::SubscriptionOrder()) {
    Node list = Node::Sequence();
    for (Node& n : GenerateType(role, push, type)) {
      list.Append(std::move(n));
    }
    all.Set(xds::type_url::ShortName(type), list);
  }
  return config::EmitYaml(all);
}

// Decodes every generated resource with the proxy's decoders and checks references.
void ExpectProxyAccepts(const ProxyRole& role, const PushContext& push) {
  proxyconfig::Resources r;
  for (const Node& n : GenerateType(role, push, xds::type_url::kListener)) {
    auto l = proxyconfig::DecodeListener(n, "listener");
    ASSERT_TRUE(l.ok()) << l.status() << "\n" << config::EmitYaml(n);
    r.listeners.push_back(*l);
  }
  for (const Node& n : GenerateType(role, push, xds::type_url::kRoute)) {
    auto rc = proxyconfig::DecodeRouteConfiguration(n, "route");
    ASSERT_TRUE(rc.ok()) << rc.status() << "\n" << config::EmitYaml(n);
    r.route_configs.push_back(*rc);
  }
  for (const Node& n : GenerateType(role, push, xds::type_url::kCluster)) {
    auto c = proxyconfig::DecodeCluster(n, "cluster");
    ASSERT_TRUE(c.ok()) << c.status() << "\n" << config::EmitYaml(n);
    r.clusters.push_back(*c);
  }
  for (const Node& n : GenerateType(role, push, xds::type_url::kEndpoint)) {
    auto e = proxyconfig::DecodeClusterLoadAssignment(n, "endpoints");
    ASSERT_TRUE(e.ok()) << e.status() << "\n" << config::EmitYaml(n);
    r.endpoints.push_back(*e);
  }
  for (const Node& n : GenerateType(role, push, xds::type_url::kSecret)) {
    auto s = proxyconfig::DecodeSecret(n, "secret");
    ASSERT_TRUE(s.ok()) << s.status() << "\n" << config::EmitYaml(n);
    r.secrets.push_back(*s);
  }
  // The workload certificate comes from the proxy's own agent, not from pilot.
  proxyconfig::Secret cert;
  cert.name = kWorkloadCertSecret;
  cert.tls_certificate = proxyconfig::TlsCertificate{{"", "cert"}, {"", "key"}};
  r.secrets.push_back(cert);
  proxyconfig::Secret root;
  root.name = kRootCertSecret;
  root.validation_context = proxyconfig::CertificateValidationContext{{"", "root"}, {}};
  r.secrets.push_back(root);
  absl::Status st = proxyconfig::ValidateResources(r);
  EXPECT_TRUE(st.ok()) << st;
}

TEST(Generator, GatewayForTheTalkScenario) {
  auto push = Scenario();
  proxyconfig::Resources r = GenerateResources(Gateway(), *push);
  ASSERT_EQ(r.listeners.size(), 1u);
  EXPECT_EQ(r.listeners[0].name, "0.0.0.0_8443");
  EXPECT_EQ(r.listeners[0].address.port_value, 8443u);
  ASSERT_EQ(r.listeners[0].filter_chains.size(), 1u);
  const auto& chain = r.listeners[0].filter_chains[0];
  ASSERT_TRUE(chain.tls.has_value());
  EXPECT_EQ(chain.tls->common_tls_context.tls_certificate_sds_secret_configs[0], "kubernetes://tls-secret");
  ASSERT_EQ(r.secrets.size(), 1u);
  EXPECT_NE(r.secrets[0].tls_certificate->certificate_chain.inline_string.find("BEGIN CERTIFICATE"), std::string::npos);
  ASSERT_EQ(r.route_configs.size(), 1u);
  EXPECT_EQ(r.route_configs[0].name, "https.443.https-443.mobifingw.devops");
  const auto& route = r.route_configs[0].virtual_hosts[0].routes[0];
  const auto& action = std::get<proxyconfig::RouteAction>(route.action);
  ASSERT_EQ(action.weighted_clusters.size(), 2u);
  EXPECT_EQ(action.weighted_clusters[0].name, "outbound|80|v1|helloworldsvc.devops.svc.cluster.local");
  EXPECT_EQ(action.weighted_clusters[0].weight, 90u);
  EXPECT_EQ(action.timeout, proxyconfig::Duration(10000));
  ASSERT_TRUE(action.retry_policy.has_value());
  EXPECT_EQ(action.retry_policy->num_retries, 3u);
  // Subset clusters hold only their version's endpoints, reached over ISTIO_MUTUAL.
  const proxyconfig::ClusterLoadAssignment* v1 =
      r.FindEndpoints("outbound|80|v1|helloworldsvc.devops.svc.cluster.local");
  ASSERT_NE(v1, nullptr);
  ASSERT_EQ(v1->endpoints.size(), 1u);
  ASSERT_EQ(v1->endpoints[0].lb_endpoints.size(), 1u);
  EXPECT_EQ(v1->endpoints[0].lb_endpoints[0].address.port_value, 15101u);
  const proxyconfig::Cluster* c = r.FindCluster("outbound|80|v1|helloworldsvc.devops.svc.cluster.local");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->lb_policy, proxyconfig::Cluster::LbPolicy::kLeastRequest);
  ASSERT_TRUE(c->tls.has_value());
  EXPECT_EQ(c->tls->common_tls_context.validation_context->match_typed_subject_alt_names[0].matcher.value,
            "spiffe://cluster.local/ns/devops/sa/helloworld");
  ASSERT_TRUE(c->outlier_detection.has_value());
  EXPECT_EQ(c->outlier_detection->consecutive_5xx, 3u);
  EXPECT_EQ(c->circuit_breakers->max_pending_requests, 10u);
  EXPECT_EQ(testing::CompareGolden("pilot/gateway.golden.yaml", Dump(Gateway(), *push)), "");
  ExpectProxyAccepts(Gateway(), *push);
}

TEST(Generator, SidecarInboundFollowsPeerAuthenticationAndOutboundRoutesByHost) {
  auto push = Scenario();
  proxyconfig::Resources r = GenerateResources(Sidecar(), *push);
  const proxyconfig::Listener* inbound = nullptr;
  const proxyconfig::Listener* outbound = nullptr;
  for (const auto& l : r.listeners) {
    (l.name == "virtualInbound" ? inbound : outbound) = &l;
  }
  ASSERT_NE(inbound, nullptr);
  ASSERT_NE(outbound, nullptr);
  // STRICT: a single mTLS chain that requires a client certificate.
  ASSERT_EQ(inbound->filter_chains.size(), 1u);
  EXPECT_TRUE(inbound->filter_chains[0].tls->require_client_certificate);
  EXPECT_EQ(inbound->address.port_value, 15101u);
  EXPECT_EQ(outbound->address.port_value, 15001u);
  const proxyconfig::RouteConfiguration* out = r.FindRouteConfig("outbound");
  ASSERT_NE(out, nullptr);
  ASSERT_EQ(out->virtual_hosts.size(), 1u);
  const auto& domains = out->virtual_hosts[0].domains;
  EXPECT_NE(std::find(domains.begin(), domains.end(), "helloworldsvc"), domains.end());
  EXPECT_NE(std::find(domains.begin(), domains.end(), "helloworldsvc.devops.svc.cluster.local"), domains.end());
  EXPECT_NE(r.FindCluster("inbound|9001||"), nullptr);
  EXPECT_EQ(testing::CompareGolden("pilot/sidecar.golden.yaml", Dump(Sidecar(), *push)), "");
  ExpectProxyAccepts(Sidecar(), *push);
}

TEST(Generator, PermissiveInboundAcceptsBothAndDisableOnlyPlaintext) {
  auto loaded = config::LoadText(
      "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: p, namespace: devops}\n"
      "spec: {mtls: {mode: PERMISSIVE}}\n",
      "pa.yaml");
  auto push = PushContext::Build(std::move(loaded.resources), {});
  auto r = GenerateResources(Sidecar(), *push);
  ASSERT_EQ(r.listeners[0].filter_chains.size(), 2u);
  EXPECT_EQ(r.listeners[0].filter_chains[0].filter_chain_match.transport_protocol, "tls");
  EXPECT_EQ(r.listeners[0].filter_chains[1].filter_chain_match.transport_protocol, "raw_buffer");
  auto disable = config::LoadText(
      "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: p, namespace: devops}\n"
      "spec: {mtls: {mode: DISABLE}}\n",
      "pa.yaml");
  auto push2 = PushContext::Build(std::move(disable.resources), {});
  auto r2 = GenerateResources(Sidecar(), *push2);
  ASSERT_EQ(r2.listeners[0].filter_chains.size(), 1u);
  EXPECT_FALSE(r2.listeners[0].filter_chains[0].tls.has_value());
}

TEST(Generator, SidecarResourceScopesOutboundServices) {
  auto loaded = config::LoadText(std::string(kScenario) +
                                     "---\napiVersion: v1\nkind: Service\nmetadata: {name: other, namespace: shop}\n"
                                     "spec:\n  ports:\n  - {name: http, port: 80}\n",
                                 "s.yaml");
  auto push = PushContext::Build(loaded.resources, {});
  auto names = [](const proxyconfig::Resources& r) {
    std::vector<std::string> out;
    for (const auto& vh : r.FindRouteConfig("outbound")->virtual_hosts) {
      out.push_back(vh.name);
    }
    return out;
  };
  EXPECT_EQ(names(GenerateResources(Sidecar(), *push)).size(), 2u);
  auto scoped = loaded.resources;
  auto sidecar = config::LoadText(
      "apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {name: default, namespace: devops}\n"
      "spec:\n  egress:\n  - hosts: [\"./*\", \"istio-system/*\"]\n",
      "sc.yaml");
  scoped.push_back(sidecar.resources[0]);
  auto push2 = PushContext::Build(scoped, {});
  EXPECT_EQ(names(GenerateResources(Sidecar(), *push2)),
            std::vector<std::string>{"helloworldsvc.devops.svc.cluster.local:80"});
}

TEST(Generator, UnknownDestinationGetsAnEmptyCluster) {
  auto loaded = config::LoadText(
      "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: g, namespace: istio-system}\n"
      "spec:\n  selector: {istio: ingressgateway}\n  servers:\n  - port: {number: 80, name: http, protocol: HTTP}\n"
      "    hosts: ['*']\n---\n"
      "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: v, namespace: istio-system}\n"
      "spec:\n  hosts: ['*']\n  gateways: [g]\n  http:\n  - route:\n    - destination: {host: nowhere}\n",
      "x.yaml");
  auto push = PushContext::Build(std::move(loaded.resources), {});
  auto r = GenerateResources(Gateway(), *push);
  ASSERT_EQ(r.clusters.size(), 1u);
  EXPECT_EQ(r.clusters[0].name, "outbound|0||nowhere.istio-system.svc.cluster.local");
  EXPECT_TRUE(r.endpoints[0].endpoints.empty());
  EXPECT_EQ(r.listeners[0].name, "0.0.0.0_8080");
}

TEST(Generator, GrpcAndHttp2PortsGetHttp2ClustersWithH2AlpnOnMtls) {
  // Ports by name ("grpc") and by appProtocol ("h2c") are HTTP/2; "http-x" stays HTTP/1.1.
  std::string text = kScenario;
  text.replace(text.find("  - {name: http, port: 80, targetPort: 8080}"), 44,
               "  - {name: grpc, port: 80, targetPort: 9001}\n  - {name: web, port: 81, targetPort: 8081, appProtocol: h2c}\n"
               "  - {name: http-x, port: 82, targetPort: 8082}");
  auto loaded = config::LoadText(text, "scenario.yaml");
  ASSERT_TRUE(loaded.errors.empty());
  WorkloadInstance pod;
  pod.name = "hw-1";
  pod.ns = "devops";
  pod.service_account = "helloworld";
  pod.labels = {{"app", "helloworld"}, {"version", "v1"}};
  pod.default_endpoint_port = 15101;
  auto push = PushContext::Build(std::move(loaded.resources), {pod});
  proxyconfig::Resources r = GenerateResources(Sidecar(), *push);
  const proxyconfig::Cluster* grpc = r.FindCluster("outbound|80||helloworldsvc.devops.svc.cluster.local");
  const proxyconfig::Cluster* h2c = r.FindCluster("outbound|81||helloworldsvc.devops.svc.cluster.local");
  const proxyconfig::Cluster* http = r.FindCluster("outbound|82||helloworldsvc.devops.svc.cluster.local");
  ASSERT_NE(grpc, nullptr);
  ASSERT_NE(h2c, nullptr);
  ASSERT_NE(http, nullptr);
  EXPECT_TRUE(grpc->http2.has_value());
  EXPECT_TRUE(h2c->http2.has_value());
  EXPECT_FALSE(http->http2.has_value());
  ASSERT_TRUE(grpc->tls.has_value());  // auto mTLS: the endpoint has a sidecar
  EXPECT_EQ(grpc->tls->common_tls_context.alpn_protocols, (std::vector<std::string>{"istio-h2", "istio", "h2"}));
  EXPECT_EQ(http->tls->common_tls_context.alpn_protocols, (std::vector<std::string>{"istio-http/1.1", "istio"}));
  // The sidecar's inbound cluster to the app (port 9001, the grpc port's target) is HTTP/2.
  const proxyconfig::Cluster* inbound = r.FindCluster("inbound|9001||");
  ASSERT_NE(inbound, nullptr);
  EXPECT_TRUE(inbound->http2.has_value());
  ExpectProxyAccepts(Sidecar(), *push);
}

}  // namespace
}  // namespace mesh::pilot
