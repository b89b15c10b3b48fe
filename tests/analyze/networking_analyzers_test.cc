// Table tests for the networking analyzers (gateway.*, virtualservice.*,
// destinationrule.*, serviceentry.*, sidecar.*, k8sgateway.*, services.*), plus a
// conformance run over ../shared when it is present.

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mesh/analyze/analysis.h"
#include "mesh/analyze/analyzer.h"
#include "mesh/common/strings.h"
#include "mesh/config/yaml_loader.h"
#include "openssl/evp.h"
#include "openssl/pem.h"
#include "openssl/x509.h"
#include "tests/common/test_util.h"

namespace mesh::analyze {
namespace {

using ::testing::ElementsAreArray;
using ::testing::IsEmpty;

// The ingress gateway workload Istio's analyzer tests (and `meshctl analyze`) assume.
constexpr const char* kIngressGateway = R"(
apiVersion: v1
kind: Pod
metadata:
  name: istio-ingressgateway-dummypod
  namespace: istio-system
  labels: {istio: ingressgateway}
---
apiVersion: v1
kind: Service
metadata: {name: istio-ingressgateway, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  ports:
  - {name: http2, port: 80, targetPort: 80, protocol: TCP}
  - {name: https, port: 443, targetPort: 443, protocol: TCP}
)";

void AddYaml(World& world, const std::string& yaml) {
  config::LoadResult loaded = config::LoadText(yaml, "in.yaml");
  EXPECT_TRUE(loaded.errors.empty()) << (loaded.errors.empty() ? "" : loaded.errors[0].ToString());
  for (config::Resource& r : loaded.resources) {
    world.Add(std::move(r));
  }
}

// "IST0101 Kind ns/name: text" per message, in analyze's order.
std::vector<std::string> RunOn(const std::string& analyzer, World& world) {
  const Analyzer* a = FindAnalyzer(analyzer);
  EXPECT_NE(a, nullptr) << analyzer;
  if (a == nullptr) {
    return {};
  }
  std::vector<std::string> out;
  for (const Message& m : RunAnalyzers(world, {a})) {
    out.push_back(m.type->code + " " + m.origin.FriendlyName() + ": " + m.Text());
  }
  return out;
}

std::vector<std::string> RunOne(const std::string& analyzer, const std::string& yaml, bool with_ingress = true) {
  World world;
  AddYaml(world, yaml);
  if (with_ingress) {
    AddYaml(world, kIngressGateway);
  }
  return RunOn(analyzer, world);
}

struct Case {
  std::string name;
  std::string analyzer;
  std::string yaml;
  std::vector<std::string> want;
};
void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class NetworkingAnalyzerTest : public ::testing::TestWithParam<Case> {};

TEST_P(NetworkingAnalyzerTest, Reports) {
  const Case& c = GetParam();
  std::vector<std::string> want = c.want;
  std::vector<std::string> got = RunOne(c.analyzer, c.yaml);
  std::sort(want.begin(), want.end());
  std::sort(got.begin(), got.end());
  EXPECT_THAT(got, ElementsAreArray(want));
}

// The user's setup from the seed talk: gateway `mobifingw` with a missing TLS secret and
// a VirtualService routing to a Service that does not exist.
constexpr const char* kSeedGateway = R"(apiVersion: networking.istio.io/v1alpha3
kind: Gateway
metadata:
  name: mobifingw
  namespace: devops
spec:
  selector:
    istio: ingressgateway
  servers:
    - port:
        number: 443
        name: https-443
        protocol: HTTPS
      tls:
        mode: SIMPLE
        credentialName: tls-secret
      hosts:
        - 'mobifin.panamaxil.com'
)";
constexpr const char* kSeedVirtualService = R"(apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata:
  name: helloworldvs
  namespace: devops
spec:
  hosts:
    - 'helloworld.panamaxil.com'
  gateways:
    - mobifingw
  http:
    - route:
      - destination:
          host: helloworldsvc.devops.svc.cluster.local
          port:
            number: 80
)";

std::string Gateway(const std::string& name, const std::string& selector, const std::string& servers,
                    const std::string& ns = "default") {
  return "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: " + name + ", namespace: " + ns +
         "}\nspec:\n  selector: " + selector + "\n  servers:\n" + servers + "---\n";
}

INSTANTIATE_TEST_SUITE_P(
    Gateways, NetworkingAnalyzerTest,
    ::testing::Values(
        Case{"SeedMissingCredential", "gateway.SecretAnalyzer", kSeedGateway,
             {"IST0101 Gateway devops/mobifingw: Referenced credentialName not found: \"tls-secret\""}},
        Case{"CredentialInOtherNamespace", "gateway.SecretAnalyzer",
             Gateway("gw", "{istio: ingressgateway}",
                     "  - port: {number: 443, name: https, protocol: HTTPS}\n"
                     "    tls: {mode: SIMPLE, credentialName: default/cert}\n    hosts: ['*']\n") +
                 "apiVersion: v1\nkind: Secret\nmetadata: {name: cert, namespace: default}\n"
                 "data: {tls.crt: aGk=, tls.key: aGk=}\n",
             // Found, but "hi" is no PEM certificate.
             {"IST0161 Gateway default/gw: The credential referenced by the Gateway gw in namespace istio-system is "
              "invalid, which can cause the traffic not to work as expected."}},
        Case{"CredentialWrongKeys", "gateway.SecretAnalyzer",
             Gateway("gw", "{istio: ingressgateway}",
                     "  - port: {number: 443, name: https, protocol: HTTPS}\n"
                     "    tls: {mode: SIMPLE, credentialName: cert}\n    hosts: ['*']\n") +
                 "apiVersion: v1\nkind: Secret\nmetadata: {name: cert, namespace: istio-system}\n"
                 "data: {tls.cert: aGk=, tls.key: aGk=}\n",
             {"IST0161 Gateway default/gw: The credential referenced by the Gateway gw in namespace istio-system is "
              "invalid, which can cause the traffic not to work as expected."}},
        Case{"SecretWithoutWorkload", "gateway.SecretAnalyzer",
             Gateway("gw", "{app: nothing, tier: edge}",
                     "  - port: {number: 443, name: https, protocol: HTTPS}\n"
                     "    tls: {mode: SIMPLE, credentialName: cert}\n    hosts: ['*']\n"),
             {"IST0101 Gateway default/gw: Referenced selector not found: \"app=nothing,tier=edge\""}},
        Case{"PortNotOnService", "gateway.IngressGatewayPortAnalyzer",
             Gateway("gw", "{istio: ingressgateway}",
                     "  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: ['*']\n"
                     "  - port: {number: 8080, name: http-alt, protocol: HTTP}\n    hosts: ['*']\n"),
             {"IST0162 Gateway default/gw: The gateway is listening on a target port (port 8080) that is not defined "
              "in the Service associated with its workload instances (Pod selector istio=ingressgateway). If you need "
              "to access the gateway port through the gateway Service, it will not be available."}},
        Case{"PortIsTargetPort", "gateway.IngressGatewayPortAnalyzer",
             Gateway("gw", "{app: edge}", "  - port: {number: 8443, name: https, protocol: HTTPS}\n    hosts: ['*']\n") +
                 "apiVersion: v1\nkind: Pod\nmetadata: {name: edge-1, namespace: edge, labels: {app: edge}}\n---\n"
                 "apiVersion: v1\nkind: Service\nmetadata: {name: edge, namespace: edge}\nspec:\n  selector: {app: edge}\n"
                 "  ports: [{name: https, port: 443, targetPort: 8443, protocol: TCP}]\n",
             {}},
        Case{"PortsWithoutWorkload", "gateway.IngressGatewayPortAnalyzer",
             Gateway("gw", "{app: nothing}", "  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: ['*']\n"),
             {"IST0101 Gateway default/gw: Referenced selector not found: \"app=nothing\""}},
        Case{"ConflictingServers", "gateway.ConflictingGatewayAnalyzer",
             Gateway("a", "{istio: ingressgateway}",
                     "  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: [foo.bar, x.bar]\n") +
                 Gateway("b", "{istio: ingressgateway}",
                         "  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: [foo.bar]\n"),
             {"IST0145 Gateway default/a: Conflict with gateways default/b (workload selector istio=ingressgateway, "
              "port 80, hosts foo.bar,x.bar).",
              "IST0145 Gateway default/b: Conflict with gateways default/a (workload selector istio=ingressgateway, "
              "port 80, hosts foo.bar)."}},
        Case{"SameHostDifferentBind", "gateway.ConflictingGatewayAnalyzer",
             Gateway("a", "{istio: ingressgateway}",
                     "  - port: {number: 80, name: http, protocol: HTTP}\n    bind: 10.0.0.1\n    hosts: [foo.bar]\n") +
                 Gateway("b", "{istio: ingressgateway}",
                         "  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: [foo.bar]\n"),
             {}},
        Case{"DuplicateCertificate", "gateway.CertificateAnalyzer",
             Gateway("a", "{istio: ingressgateway}",
                     "  - port: {number: 443, name: https, protocol: HTTPS}\n"
                     "    tls: {mode: SIMPLE, credentialName: shared}\n    hosts: [a.com]\n") +
                 Gateway("b", "{istio: ingressgateway}",
                         "  - port: {number: 443, name: https, protocol: HTTPS}\n"
                         "    tls: {mode: SIMPLE, credentialName: shared}\n    hosts: [b.com]\n") +
                 Gateway("c", "{istio: other}",
                         "  - port: {number: 443, name: https, protocol: HTTPS}\n"
                         "    tls: {mode: SIMPLE, credentialName: shared}\n    hosts: [c.com]\n"),
             {"IST0138 Gateway default/a: Duplicate certificate in multiple gateways [default/a default/b] may cause "
              "404s if clients re-use HTTP2 connections.",
              "IST0138 Gateway default/b: Duplicate certificate in multiple gateways [default/b default/a] may cause "
              "404s if clients re-use HTTP2 connections."}}),
    [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

constexpr const char* kReviewsService = R"(apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: default}
spec:
  selector: {app: reviews}
  ports: [{name: http, port: 9080}, {name: http-admin, port: 9090}]
---
)";

std::string VirtualService(const std::string& name, const std::string& body, const std::string& ns = "default") {
  return "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: " + name + ", namespace: " + ns +
         "}\nspec:\n" + body + "---\n";
}

INSTANTIATE_TEST_SUITE_P(
    VirtualServices, NetworkingAnalyzerTest,
    ::testing::Values(
        Case{"SeedHostNotInGateway", "virtualservice.GatewayAnalyzer",
             std::string(kSeedGateway) + "---\n" + kSeedVirtualService,
             {"IST0132 VirtualService devops/helloworldvs: one or more host [helloworld.panamaxil.com] defined in "
              "VirtualService devops/helloworldvs not found in Gateway devops/mobifingw."}},
        Case{"MissingGateway", "virtualservice.GatewayAnalyzer",
             VirtualService("vs", "  hosts: [a.com]\n  gateways: [mesh, nope]\n  http: [{route: [{destination: {host: a}}]}]\n"),
             {"IST0101 VirtualService default/vs: Referenced gateway not found: \"nope\"",
              "IST0132 VirtualService default/vs: one or more host [a.com] defined in VirtualService default/vs not "
              "found in Gateway default/nope."}},
        Case{"GatewayHostsWithNamespaces", "virtualservice.GatewayAnalyzer",
             Gateway("gw", "{istio: ingressgateway}",
                     "  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: ['other/*', './*.local.com']\n") +
                 VirtualService("ok", "  hosts: [x.local.com]\n  gateways: [gw]\n  http: [{route: [{destination: {host: a}}]}]\n") +
                 VirtualService("elsewhere",
                                "  hosts: [x.local.com]\n  gateways: [default/gw]\n  http: [{route: [{destination: {host: a}}]}]\n",
                                "third"),
             {"IST0132 VirtualService third/elsewhere: one or more host [x.local.com] defined in VirtualService "
              "third/elsewhere not found in Gateway default/gw."}},
        Case{"InternalGateway", "virtualservice.GatewayAnalyzer",
             VirtualService("vs", "  hosts: [a.com]\n  gateways: ['istio-ingress/gw~istio-autogenerated-k8s-gateway~x']\n"
                                  "  http: [{route: [{destination: {host: a}}]}]\n"),
             {"IST0165 VirtualService default/vs: Gateway reference in VirtualService default/vs is to an "
              "implementation-generated internal Gateway: istio-ingress/gw~istio-autogenerated-k8s-gateway~x."}},
        Case{"KubernetesGatewayListeners", "virtualservice.GatewayAnalyzer",
             "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: kgw, namespace: default}\n"
             "spec:\n  gatewayClassName: istio\n  listeners:\n  - {name: a, port: 80, protocol: HTTP, hostname: "
             "'*.example.com'}\n---\n" +
                 VirtualService("match", "  hosts: [a.example.com]\n  gateways: [kgw]\n  http: [{route: [{destination: {host: a}}]}]\n") +
                 VirtualService("nomatch", "  hosts: [a.other.com]\n  gateways: [kgw]\n  http: [{route: [{destination: {host: a}}]}]\n"),
             {"IST0132 VirtualService default/nomatch: one or more host [a.other.com] defined in VirtualService "
              "default/nomatch not found in Gateway default/kgw."}},
        Case{"SeedMissingService", "virtualservice.DestinationHostAnalyzer", kSeedVirtualService,
             {"IST0101 VirtualService devops/helloworldvs: Referenced host not found: "
              "\"helloworldsvc.devops.svc.cluster.local\""}},
        Case{"PortSelectorRequiredAndWrongPort", "virtualservice.DestinationHostAnalyzer",
             std::string(kReviewsService) +
                 VirtualService("vs", "  hosts: [reviews]\n  http:\n  - route: [{destination: {host: reviews}}]\n"
                                      "  - route: [{destination: {host: reviews, port: {number: 1234}}}]\n"
                                      "  - route: [{destination: {host: reviews.default.svc.cluster.local, port: {number: 9090}}}]\n"),
             {"IST0112 VirtualService default/vs: This VirtualService routes to a service \"reviews\" that exposes "
              "multiple ports [9080 9090]. Specifying a port in the destination is required to disambiguate.",
              "IST0101 VirtualService default/vs: Referenced host:port not found: \"reviews:1234\""}},
        Case{"ServiceEntryWildcardAndMirror", "virtualservice.DestinationHostAnalyzer",
             "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: ext, namespace: default}\n"
             "spec:\n  hosts: ['*.example.com']\n  ports: [{number: 443, name: https, protocol: HTTPS}]\n"
             "  resolution: DNS\n---\n" +
                 VirtualService("vs", "  hosts: [api.example.com]\n  http:\n  - route: [{destination: {host: api.example.com}}]\n"
                                      "    mirror: {host: shadow.other.org}\n"),
             {"IST0101 VirtualService default/vs: Referenced mirror host not found: \"shadow.other.org\""}},
        Case{"ServiceExportedElsewhere", "virtualservice.DestinationHostAnalyzer",
             "apiVersion: v1\nkind: Service\nmetadata:\n  name: hidden\n  namespace: a\n  annotations: "
             "{networking.istio.io/exportTo: '.'}\nspec:\n  ports: [{port: 80}]\n---\n" +
                 VirtualService("from-a", "  hosts: [x]\n  http: [{route: [{destination: {host: hidden.a.svc.cluster.local}}]}]\n", "a") +
                 VirtualService("from-b", "  hosts: [x]\n  http: [{route: [{destination: {host: hidden.a.svc.cluster.local}}]}]\n", "b"),
             {"IST0101 VirtualService b/from-b: Referenced host not found: \"hidden.a.svc.cluster.local\""}},
        Case{"IngressIgnoresMeshSubsets", "virtualservice.DestinationHostAnalyzer",
             std::string(kReviewsService) +
                 VirtualService("mesh", "  hosts: [reviews]\n  http: [{route: [{destination: {host: reviews, subset: v1, port: {number: 9080}}}]}]\n") +
                 VirtualService("ingress", "  hosts: [reviews.example.com]\n  gateways: [gw]\n"
                                           "  http: [{route: [{destination: {host: reviews, port: {number: 9080}}}]}]\n"),
             {"IST0140 VirtualService default/ingress: Subset in virtual service default/mesh has no effect on ingress "
              "gateway default/ingress requests"}},
        Case{"MissingSubset", "virtualservice.DestinationRuleAnalyzer",
             "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: reviews, namespace: default}\n"
             "spec:\n  host: reviews.default.svc.cluster.local\n  subsets: [{name: v1, labels: {version: v1}}]\n---\n" +
                 VirtualService("vs", "  hosts: [reviews]\n  http:\n  - route: [{destination: {host: reviews, subset: v1}}, "
                                      "{destination: {host: reviews, subset: v2}}]\n    mirror: {host: reviews, subset: v3}\n"),
             {"IST0101 VirtualService default/vs: Referenced host+subset in destinationrule not found: \"reviews+v2\"",
              "IST0101 VirtualService default/vs: Referenced mirror+subset in destinationrule not found: \"reviews+v3\""}},
        Case{"MeshHostConflicts", "virtualservice.ConflictingMeshGatewayHostsAnalyzer",
             VirtualService("one", "  hosts: [ratings]\n  http: [{route: [{destination: {host: ratings}}]}]\n", "foo") +
                 VirtualService("two", "  hosts: [ratings.foo.svc.cluster.local]\n  gateways: [mesh]\n"
                                       "  http: [{route: [{destination: {host: ratings}}]}]\n", "foo") +
                 VirtualService("private", "  hosts: [ratings]\n  exportTo: ['.']\n  http: [{route: [{destination: {host: ratings}}]}]\n", "bar"),
             {"IST0109 VirtualService foo/one: The VirtualServices foo/one,foo/two associated with mesh gateway define "
              "the same host */ratings.foo.svc.cluster.local which can lead to undefined behavior. This can be fixed by "
              "merging the conflicting VirtualServices into a single resource.",
              "IST0109 VirtualService foo/two: The VirtualServices foo/one,foo/two associated with mesh gateway define "
              "the same host */ratings.foo.svc.cluster.local which can lead to undefined behavior. This can be fixed by "
              "merging the conflicting VirtualServices into a single resource."}},
        Case{"JwtClaimRouteWithoutAuthn", "virtualservice.JWTClaimRouteAnalyzer",
             Gateway("gw", "{istio: ingressgateway}", "  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: ['*']\n") +
                 VirtualService("vs", "  hosts: ['*']\n  gateways: [gw]\n  http:\n  - match: [{headers: {'@request.auth.claims.group': "
                                      "{exact: admin}}}]\n    route: [{destination: {host: a}}]\n"),
             {"IST0149 VirtualService default/vs: The virtual service uses the JWT claim based routing (key: "
              "@request.auth.claims.group) but found no request authentication for the gateway (default/gw) pod "
              "(istio-ingressgateway-dummypod). The request authentication must first be applied for the gateway pods "
              "to validate the JWT token and make the claims available for routing."}},
        Case{"JwtClaimRouteWithAuthn", "virtualservice.JWTClaimRouteAnalyzer",
             Gateway("gw", "{istio: ingressgateway}", "  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: ['*']\n") +
                 VirtualService("vs", "  hosts: ['*']\n  gateways: [gw]\n  http:\n  - match: [{headers: {'@request.auth.claims.group': "
                                      "{exact: admin}}}]\n    route: [{destination: {host: a}}]\n") +
                 "apiVersion: security.istio.io/v1\nkind: RequestAuthentication\nmetadata: {name: ra, namespace: istio-system}\n"
                 "spec:\n  selector: {matchLabels: {istio: ingressgateway}}\n  jwtRules: [{issuer: me}]\n",
             {}}),
    [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

INSTANTIATE_TEST_SUITE_P(
    Others, NetworkingAnalyzerTest,
    ::testing::Values(
        Case{"CaCertificatesMissing", "destinationrule.CaCertificateAnalyzer",
             "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: db, namespace: data}\nspec:\n"
             "  host: db.example.com\n  trafficPolicy:\n    tls: {mode: MUTUAL, clientCertificate: /c, privateKey: /k}\n"
             "    portLevelSettings:\n    - port: {number: 5432}\n      tls: {mode: SIMPLE}\n"
             "    - port: {number: 5433}\n      tls: {mode: SIMPLE, caCertificates: /ca}\n",
             {"IST0128 DestinationRule data/db: DestinationRule data/db in namespace data has TLS mode set to MUTUAL but "
              "no caCertificates are set to validate server identity for host: db.example.com",
              "IST0129 DestinationRule data/db: DestinationRule data/db in namespace data has TLS mode set to SIMPLE but "
              "no caCertificates are set to validate server identity for host: db.example.com at port number:5432"}},
        Case{"SubsetsSelectNoPod", "destinationrule.SubsetSelectPodAnalyzer",
             std::string(kReviewsService) +
                 "apiVersion: v1\nkind: Pod\nmetadata: {name: r1, namespace: default, labels: {app: reviews, version: v1}}\n"
                 "spec: {nodeName: n1}\n---\n"
                 "apiVersion: v1\nkind: Node\nmetadata: {name: n1, labels: {topology.kubernetes.io/zone: z1}}\n---\n"
                 "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: reviews, namespace: default}\n"
                 "spec:\n  host: reviews\n  subsets:\n  - {name: v1, labels: {version: v1}}\n"
                 "  - {name: z1, labels: {topology.kubernetes.io/zone: z1}}\n  - {name: v2, labels: {version: v2}}\n---\n"
                 "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: ghost, namespace: default}\n"
                 "spec:\n  host: ghost.default.svc.cluster.local\n",
             {"IST0173 DestinationRule default/reviews: The Subset v2 defined in the DestinationRule does not select any "
              "pods. Which may lead to 503 UH (NoHealthyUpstream).",
              "IST0174 DestinationRule default/ghost: The host ghost.default.svc.cluster.local defined in the "
              "DestinationRule does not match any services in the mesh."}},
        Case{"ServiceEntryAddresses", "serviceentry.Analyzer",
             "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: db, namespace: default}\nspec:\n"
             "  hosts: [db.example.com]\n  ports: [{number: 5432, name: pg}, {number: 443, name: https, protocol: HTTPS}]\n"
             "---\napiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: with-ip, namespace: default}\n"
             "spec:\n  hosts: [x.example.com]\n  addresses: [10.1.1.1]\n  ports: [{number: 5432, name: tcp, protocol: tcp}]\n",
             {"IST0134 ServiceEntry default/db: ServiceEntry addresses are required for this protocol."}},
        Case{"ServiceEntryProtocolConflict", "serviceentry.ConflictingServiceEntryProtocolAnalyzer",
             "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: a, namespace: default}\nspec:\n"
             "  hosts: [api.example.com]\n  ports: [{number: 443, name: https, protocol: HTTPS}]\n---\n"
             "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: b, namespace: other}\nspec:\n"
             "  hosts: [api.example.com]\n  exportTo: [default]\n  ports: [{number: 443, name: tls, protocol: tls}]\n",
             {"IST0177 ServiceEntry default/a: Multiple ServiceEntries (default/a, other/b) define the same host "
              "\"api.example.com\" and port 443 with conflicting protocols (HTTPS, TLS).",
              "IST0177 ServiceEntry other/b: Multiple ServiceEntries (default/a, other/b) define the same host "
              "\"api.example.com\" and port 443 with conflicting protocols (HTTPS, TLS)."}},
        Case{"SidecarSelectors", "sidecar.SelectorAnalyzer",
             "apiVersion: v1\nkind: Pod\nmetadata: {name: p1, namespace: default, labels: {app: a}}\n---\n"
             "apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {name: s1, namespace: default}\n"
             "spec: {workloadSelector: {labels: {app: a}}}\n---\n"
             "apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {name: s2, namespace: default}\n"
             "spec: {workloadSelector: {labels: {app: a}}}\n---\n"
             "apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {name: lonely, namespace: default}\n"
             "spec: {workloadSelector: {labels: {app: none}}}\n---\n"
             "apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {name: d1, namespace: default}\nspec: {}\n---\n"
             "apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {name: d2, namespace: default}\nspec: {}\n---\n"
             "apiVersion: v1\nkind: Namespace\nmetadata: {name: amb, labels: {istio.io/dataplane-mode: ambient}}\n---\n"
             "apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {name: d3, namespace: amb}\nspec: {}\n",
             {"IST0101 Sidecar default/lonely: Referenced selector not found: \"app=none\"",
              "IST0110 Sidecar default/s1: The Sidecars [s1 s2] in namespace \"default\" select the same workload pod "
              "\"p1\", which can lead to undefined behavior.",
              "IST0110 Sidecar default/s2: The Sidecars [s1 s2] in namespace \"default\" select the same workload pod "
              "\"p1\", which can lead to undefined behavior.",
              "IST0111 Sidecar default/d1: The Sidecars [d1 d2] in namespace \"default\" have no workload selector, "
              "which can lead to undefined behavior.",
              "IST0111 Sidecar default/d2: The Sidecars [d1 d2] in namespace \"default\" have no workload selector, "
              "which can lead to undefined behavior.",
              "IST0167 Sidecar amb/d3: The policy has no impact: namespace is in ambient mode, the policy has no "
              "impact."}},
        Case{"KubernetesGatewaySelector", "k8sgateway.SelectorAnalyzer",
             "apiVersion: v1\nkind: Pod\nmetadata:\n  name: gw-pod\n  namespace: default\n  labels: "
             "{gateway.networking.k8s.io/gateway-name: edge, app: edge}\n---\n"
             "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: by-selector, namespace: default}\n"
             "spec: {selector: {matchLabels: {app: edge}}, action: DENY}\n---\n"
             "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: by-ref, namespace: default}\n"
             "spec:\n  selector: {matchLabels: {app: edge}}\n  targetRef: {kind: Gateway, group: gateway.networking.k8s.io, "
             "name: edge}\n",
             {"IST0166 AuthorizationPolicy default/by-selector: Ineffective selector on Kubernetes Gateway edge. Use the "
              "TargetRef field instead."}},
        Case{"GatewayApiCrdTooOld", "k8sgateway.CRDVersionAnalyzer",
             "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n"
             "  name: tlsroutes.gateway.networking.k8s.io\n  annotations: {gateway.networking.k8s.io/bundle-version: "
             "v1.4.1-rc.1}\n---\n"
             "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n"
             "  name: grpcroutes.gateway.networking.k8s.io\n  annotations: {gateway.networking.k8s.io/bundle-version: "
             "v1.4.1}\n",
             {"IST0176 CustomResourceDefinition tlsroutes.gateway.networking.k8s.io: Gateway API CRD "
              "\"tlsroutes.gateway.networking.k8s.io\" is at version \"1.4.1-rc.1\" but Istio requires at least "
              "\"1.5.0\"; resources of this kind will not be processed. Upgrade the Gateway API CRDs to satisfy the "
              "minimum version."}},
        Case{"MultiClusterNotSupportedYet", "services.MultiClusterServiceAnalyzer", kReviewsService, {}}),
    [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

TEST(NetworkingAnalyzers, ServiceEntryAutoAllocationSilencesAddresses) {
  World world;
  AddYaml(world,
          "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: db, namespace: default}\nspec:\n"
          "  hosts: [db.example.com]\n  ports: [{number: 5432, name: pg}]\n");
  EXPECT_THAT(RunOn("serviceentry.Analyzer", world), ::testing::SizeIs(1));
  auto mesh = config::ParseYamlNode(
      "defaultConfig:\n  proxyMetadata: {ISTIO_META_DNS_CAPTURE: 'true', ISTIO_META_DNS_AUTO_ALLOCATE: 'true'}\n", "mesh");
  ASSERT_TRUE(mesh.ok());
  world.set_mesh_config(*mesh);
  EXPECT_THAT(RunOn("serviceentry.Analyzer", world), IsEmpty());
}

// Messages point at the field that needs fixing.
TEST(NetworkingAnalyzers, SeedMessagesCarryFieldLines) {
  World world;
  AddYaml(world, std::string(kSeedGateway) + "---\n" + kSeedVirtualService);
  AddYaml(world, kIngressGateway);
  std::map<std::string, int> lines;
  for (const char* name : {"gateway.SecretAnalyzer", "virtualservice.DestinationHostAnalyzer"}) {
    for (const Message& m : RunAnalyzers(world, {FindAnalyzer(name)})) {
      lines[m.type->code + " " + m.origin.FriendlyName()] = m.origin.line;
    }
  }
  // Gateway document lines 1-18; credentialName is line 16. The VirtualService starts at
  // line 20 (after "---"), its destination host is its 14th line.
  EXPECT_EQ(lines["IST0101 Gateway devops/mobifingw"], 16);
  EXPECT_EQ(lines["IST0101 VirtualService devops/helloworldvs"], 33);
}

// A self-signed certificate valid from now+from_days to now+to_days, PEM then base64
// (as a Secret's data holds it).
std::string CertificateBase64(long from_days, long to_days) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), from_days * 86400);
  X509_gmtime_adj(X509_getm_notAfter(cert), to_days * 86400);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("test"), -1, -1, 0);
  X509_set_issuer_name(cert, X509_get_subject_name(cert));
  X509_set_pubkey(cert, key);
  X509_sign(cert, key, EVP_sha256());
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(len));
  BIO_free(bio);
  X509_free(cert);
  EVP_PKEY_free(key);
  std::string b64(4 * ((pem.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(b64.data()),
                          reinterpret_cast<const unsigned char*>(pem.data()), static_cast<int>(pem.size()));
  b64.resize(static_cast<size_t>(n));
  return b64;
}

// A current certificate is accepted; expired and not-yet-valid ones are not.
TEST(NetworkingAnalyzers, SecretCertificateValidity) {
  auto gateway_and_secret = [](const std::string& name, const std::string& cert_b64) {
    return Gateway(name, "{istio: ingressgateway}",
                   "  - port: {number: 443, name: https, protocol: HTTPS}\n"
                   "    tls: {mode: SIMPLE, credentialName: " + name + "-cert}\n    hosts: ['*']\n") +
           "apiVersion: v1\nkind: Secret\nmetadata: {name: " + name + "-cert, namespace: istio-system}\n"
           "type: kubernetes.io/tls\ndata:\n  tls.crt: " + cert_b64 + "\n  tls.key: a2V5\n---\n";
  };
  std::string yaml = gateway_and_secret("good", CertificateBase64(-1, 30)) +
                     gateway_and_secret("expired", CertificateBase64(-30, -1)) +
                     gateway_and_secret("future", CertificateBase64(10, 30));
  std::vector<std::string> got = RunOne("gateway.SecretAnalyzer", yaml);
  auto invalid = [](const std::string& name) {
    return "IST0161 Gateway default/" + name + ": The credential referenced by the Gateway " + name +
           " in namespace istio-system is invalid, which can cause the traffic not to work as expected.";
  };
  std::vector<std::string> want = {invalid("expired"), invalid("future")};
  std::sort(got.begin(), got.end());
  EXPECT_THAT(got, ElementsAreArray(want));
}

TEST(NetworkingAnalyzers, AllRegisteredWithIstioDescriptions) {
  const std::map<std::string, std::string> want = {
      {"gateway.CertificateAnalyzer", "Checks a gateway certificate"},
      {"gateway.ConflictingGatewayAnalyzer", "Checks a gateway's selector, port number and hosts"},
      {"gateway.IngressGatewayPortAnalyzer", "Checks a gateway's ports against the gateway's Kubernetes service ports"},
      {"gateway.SecretAnalyzer", "Checks a gateway's referenced secrets for correctness"},
      {"virtualservice.ConflictingMeshGatewayHostsAnalyzer",
       "Checks if multiple virtual services associated with the mesh gateway have conflicting hosts"},
      {"virtualservice.DestinationHostAnalyzer", "Checks the destination hosts associated with each virtual service"},
      {"virtualservice.DestinationRuleAnalyzer", "Checks the destination rules associated with each virtual service"},
      {"virtualservice.GatewayAnalyzer", "Checks the gateways associated with each virtual service"},
      {"virtualservice.JWTClaimRouteAnalyzer",
       "Checks the VirtualService using JWT claim based routing has corresponding RequestAuthentication"},
      {"destinationrule.CaCertificateAnalyzer", "Checks if caCertificates is set when TLS mode is SIMPLE/MUTUAL"},
      {"destinationrule.SubsetSelectPodAnalyzer", "Checks if pods are selected by subsets in destination rules."},
      {"serviceentry.Analyzer", "Checks the validity of ServiceEntry"},
      {"serviceentry.ConflictingServiceEntryProtocolAnalyzer",
       "Checks if multiple ServiceEntries define the same host and port with different protocols"},
      {"sidecar.SelectorAnalyzer",
       "Validates that sidecars that define a workload selector match at least one pod, and that there aren't "
       "multiple sidecar resources that select overlapping pods"},
      {"k8sgateway.SelectorAnalyzer", "Check that selectors are effective for Kubernetes gateway"},
      {"k8sgateway.CRDVersionAnalyzer",
       "Checks Gateway API CRDs are at the minimum version required by this Istio version"},
      {"services.MultiClusterServiceAnalyzer", "Check the validity of services in the multi-cluster environment"},
  };
  for (const auto& [name, description] : want) {
    const Analyzer* a = FindAnalyzer(name);
    ASSERT_NE(a, nullptr) << name;
    EXPECT_EQ(a->Metadata().description, description);
    EXPECT_FALSE(a->Metadata().inputs.empty()) << name;
  }
}

// Every conformance case of these analyzers (../shared/conformance/analyze/cases.json)
// gives the expected multiset of (code, resource).
TEST(NetworkingAnalyzers, ConformanceCases) {
  std::string shared = testing::SharedDir();
  std::string dir = shared + "/conformance/analyze";
  if (shared.empty() || !std::filesystem::exists(dir + "/cases.json")) {
    GTEST_SKIP() << "conformance corpus not present";
  }
  std::ifstream in(dir + "/cases.json");
  std::stringstream text;
  text << in.rdbuf();
  auto root = config::ParseYamlNode(text.str(), "cases.json");
  ASSERT_TRUE(root.ok());
  const std::vector<std::string> prefixes = {"gateway.", "virtualservice.", "destinationrule.", "serviceentry.",
                                             "sidecar.", "k8sgateway.", "services."};
  int ran = 0;
  for (const config::Node& c : (*root)["cases"].items()) {
    const std::string& analyzer = c["analyzer"].Str();
    if (std::none_of(prefixes.begin(), prefixes.end(),
                     [&](const std::string& p) { return analyzer.compare(0, p.size(), p) == 0; })) {
      continue;
    }
    AnalyzeRequest req;
    req.all_namespaces = true;
    req.output = "json";
    req.analyzer_names = {analyzer};
    for (const std::string& f : c["inputFiles"].StringList()) {
      req.paths.push_back(dir + "/testdata/" + f);
    }
    if (!c["meshConfigFile"].Str().empty()) {
      req.mesh_config_file = dir + "/testdata/" + c["meshConfigFile"].Str();
    }
    std::vector<std::string> codes = c["analyzerCodes"].StringList();
    std::vector<std::string> got;
    for (const Message& m : RunAnalyze(req).messages) {
      if (std::find(codes.begin(), codes.end(), m.type->code) != codes.end()) {
        got.push_back(m.type->code + " " + m.origin.FriendlyName());
      }
    }
    std::vector<std::string> want;
    for (const config::Node& e : c["expected"].items()) {
      want.push_back(e["code"].Str() + " " + e["resource"].Str());
    }
    std::sort(got.begin(), got.end());
    std::sort(want.begin(), want.end());
    EXPECT_EQ(got, want) << c["name"].Str();
    ++ran;
  }
  EXPECT_EQ(ran, 57);
}

}  // namespace
}  // namespace mesh::analyze
