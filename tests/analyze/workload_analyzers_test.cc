// Table-driven tests of the workload analyzer group: small inputs -> expected
// (code, resource) multisets, plus the full text of some messages.

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "mesh/analyze/analysis.h"
#include "mesh/analyze/analyzer.h"
#include "mesh/config/yaml_loader.h"
#include "tests/common/test_util.h"

namespace mesh::analyze {
namespace {

struct Expected {
  std::string code;
  std::string resource;  // Origin::FriendlyName()
};

struct Case {
  std::string name;
  std::string analyzer;
  std::string yaml;
  std::vector<Expected> expected;
  std::string mesh_config;  // YAML merged over the defaults (top-level keys replace)
  std::vector<std::string> texts;  // messages whose text must appear, in any order
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

World BuildWorld(const Case& c) {
  World world;
  config::LoadResult loaded = config::LoadText(c.yaml, "input.yaml");
  EXPECT_TRUE(loaded.errors.empty()) << c.name << ": " << loaded.errors.front().ToString();
  for (config::Resource& r : loaded.resources) {
    world.Add(std::move(r));
  }
  if (!c.mesh_config.empty()) {
    config::Node mesh = World::DefaultMeshConfig();
    auto overlay = config::ParseYamlNode(c.mesh_config, "mesh.yaml");
    EXPECT_TRUE(overlay.ok());
    for (const auto& [k, v] : overlay->entries()) {
      mesh.Set(k, v);
    }
    world.set_mesh_config(mesh);
  }
  return world;
}

std::vector<Message> RunCase(const Case& c) {
  const Analyzer* analyzer = FindAnalyzer(c.analyzer);
  EXPECT_NE(analyzer, nullptr) << c.analyzer;
  if (analyzer == nullptr) {
    return {};
  }
  World world = BuildWorld(c);
  return RunAnalyzers(world, {analyzer});
}

std::vector<std::pair<std::string, std::string>> Pairs(const std::vector<Message>& messages) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const Message& m : messages) {
    out.emplace_back(m.type->code, m.origin.FriendlyName());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::pair<std::string, std::string>> Pairs(const std::vector<Expected>& expected) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const Expected& e : expected) {
    out.emplace_back(e.code, e.resource);
  }
  std::sort(out.begin(), out.end());
  return out;
}

const std::vector<Case>& Cases() {
  static const std::vector<Case> kCases = {
      {"unknown_misplaced_invalid_annotations", "annotations.K8sAnalyzer",
       R"(apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
  annotations:
    networking.istio.io/exportToo: "."
    example.com/other: ignored
spec: {}
---
apiVersion: v1
kind: Pod
metadata:
  name: web-1
  namespace: shop
  annotations:
    status.sidecar.istio.io/port: "abc"
    sidecar.istio.io/interceptionMode: "redirect"
    traffic.sidecar.istio.io/excludeOutboundIPRanges: "10.0.0.0/8,300.1.1.1/8"
    sidecar.istio.io/status: "{}"
spec: {}
)",
       {{"IST0108", "Service shop/web"},
        {"IST0125", "Pod shop/web-1"},
        {"IST0125", "Pod shop/web-1"},
        {"IST0125", "Pod shop/web-1"}},
       "",
       {"Unknown annotation: networking.istio.io/exportToo",
        "Invalid annotation status.sidecar.istio.io/port: excludeInboundPorts invalid: failed parsing port \"abc\": "
        "strconv.ParseUint: parsing \"abc\": invalid syntax"}},
      // The talk's mistake: a pod annotation written on the Deployment's own metadata.
      {"pod_annotation_on_deployment", "annotations.K8sAnalyzer",
       R"(apiVersion: apps/v1
kind: Deployment
metadata:
  name: helloworld
  namespace: devops
  annotations:
    sidecar.istio.io/inject: "true"
    proxy.istio.io/config: "{}"
spec:
  selector:
    matchLabels: {app: helloworld}
  template:
    metadata:
      labels: {app: helloworld}
    spec:
      containers:
      - name: helloworld
        image: karthequian/helloworld:latest
)",
       {{"IST0107", "Deployment devops/helloworld"},
        {"IST0107", "Deployment devops/helloworld"},
        {"IST0135", "Deployment devops/helloworld"}},
       "",
       {"Misplaced annotation: proxy.istio.io/config can only be applied to Pod",
        "Annotation \"sidecar.istio.io/inject\" has been deprecated in favor of the \"sidecar.istio.io/inject\" label "
        "and may not work in future Istio versions."}},
      {"alpha_annotations_skip_cni_defaults", "annotations.AlphaAnalyzer",
       R"(apiVersion: v1
kind: Pod
metadata:
  name: cni
  namespace: a
  annotations:
    sidecar.istio.io/interceptionMode: REDIRECT
    sidecar.istio.io/proxyCPU: 100m
    proxy.istio.io/config: "{}"
spec:
  containers: [{name: app}]
---
apiVersion: v1
kind: Pod
metadata:
  name: init
  namespace: a
  annotations:
    sidecar.istio.io/interceptionMode: REDIRECT
spec:
  initContainers: [{name: istio-init}]
)",
       {{"IST0136", "Pod a/cni"}, {"IST0136", "Pod a/init"}}},
      {"uid_1337", "applicationUID.Analyzer",
       R"(apiVersion: v1
kind: Pod
metadata: {name: p, namespace: a}
spec:
  containers:
  - name: app
    securityContext: {runAsUser: 1337}
  - name: istio-proxy
    securityContext: {runAsUser: 1337}
---
apiVersion: v1
kind: Pod
metadata: {name: control, namespace: a, labels: {istio: pilot}}
spec:
  securityContext: {runAsUser: 1337}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: d, namespace: a}
spec:
  template:
    spec:
      securityContext: {runAsUser: 1000}
      containers: [{name: app}]
)",
       {{"IST0144", "Pod a/p"}},
       "",
       {"User ID (UID) 1337 is reserved for the sidecar proxy."}},
      {"multi_service_protocols_and_target_ports", "deployment.MultiServiceAnalyzer",
       R"(apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: a}
spec:
  template:
    metadata:
      labels: {app: web}
      annotations: {sidecar.istio.io/inject: "true"}
    spec:
      containers: [{name: web}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: outside, namespace: a}
spec:
  template:
    metadata:
      labels: {app: web}
    spec:
      containers: [{name: web}]
---
apiVersion: v1
kind: Service
metadata: {name: web-tcp, namespace: a}
spec:
  selector: {app: web}
  ports: [{port: 80, protocol: TCP}]
---
apiVersion: v1
kind: Service
metadata: {name: web-udp, namespace: a}
spec:
  selector: {app: web}
  ports: [{port: 80, protocol: UDP}, {port: 81, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: web-alt, namespace: a}
spec:
  selector: {app: web}
  ports: [{port: 82, targetPort: 8080}]
)",
       {{"IST0116", "Deployment a/web"}, {"IST0137", "Deployment a/web"}},
       "",
       {"This deployment web is associated with multiple services using port 80 but different protocols: "
        "[web-tcp web-udp]",
        "This deployment web is associated with multiple services [web-alt web-udp] using targetPort \"8080\" but "
        "different ports: [81 82]."}},
      {"injection_namespaces_and_pods", "injection.Analyzer",
       R"(apiVersion: v1
kind: Namespace
metadata: {name: plain}
---
apiVersion: v1
kind: Namespace
metadata: {name: on, labels: {istio-injection: enabled}}
---
apiVersion: v1
kind: Namespace
metadata: {name: both, labels: {istio-injection: enabled, istio.io/rev: canary}}
---
apiVersion: v1
kind: Pod
metadata: {name: bare, namespace: on}
spec:
  containers: [{name: app, image: app}]
---
apiVersion: v1
kind: Pod
metadata: {name: native, namespace: on}
spec:
  containers: [{name: app, image: app}]
  initContainers: [{name: istio-proxy, image: proxyv2}]
---
apiVersion: v1
kind: Pod
metadata: {name: opted-out, namespace: on, labels: {sidecar.istio.io/inject: "false"}}
spec:
  containers: [{name: app, image: app}]
)",
       {{"IST0102", "Namespace plain"}, {"IST0123", "Namespace both"}, {"IST0103", "Pod on/bare"}},
       "",
       {"The pod on/bare is missing the Istio proxy. This can often be resolved by restarting or redeploying the "
        "workload."}},
      {"image_mismatch_per_revision", "injection.ImageAnalyzer",
       R"(apiVersion: v1
kind: ConfigMap
metadata: {name: istio-sidecar-injector, namespace: istio-system}
data:
  values: '{"global":{"hub":"docker.io/istio","tag":"1.2.0","proxy":{"image":"proxyv2"}}}'
---
apiVersion: v1
kind: Namespace
metadata: {name: on, labels: {istio-injection: enabled}}
---
apiVersion: v1
kind: Pod
metadata: {name: old, namespace: on}
spec:
  containers: [{name: istio-proxy, image: docker.io/istio/proxyv2:1.1.0}]
---
apiVersion: v1
kind: Pod
metadata: {name: current-distroless, namespace: on}
spec:
  containers: [{name: istio-proxy, image: docker.io/istio/proxyv2:1.2.0-distroless}]
)",
       {{"IST0158", "Namespace on"}},
       "defaultConfig:\n  image:\n    imageType: distroless\n",
       {"The Istio proxy images of the pods running in the namespace do not match the image defined in the injection "
        "configuration (pod names: [old]). This often happens after upgrading the Istio control-plane and can be "
        "fixed by redeploying the pods."}},
      {"image_auto", "injection.ImageAutoAnalyzer",
       R"(apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata: {name: istio-sidecar-injector}
webhooks:
- name: rev.namespace.sidecar-injector.istio.io
  namespaceSelector:
    matchExpressions: [{key: istio.io/rev, operator: In, values: [stable]}]
---
apiVersion: v1
kind: Namespace
metadata: {name: stable-ns, labels: {istio.io/rev: stable}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: gw, namespace: stable-ns}
spec:
  template:
    spec:
      containers: [{name: istio-proxy, image: auto}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: gw, namespace: elsewhere}
spec:
  template:
    spec:
      containers: [{name: istio-proxy, image: auto}]
)",
       {{"IST0146", "Deployment elsewhere/gw"}}},
      {"port_names", "service.PortNameAnalyzer",
       R"(apiVersion: v1
kind: Service
metadata: {name: s, namespace: a}
spec:
  ports:
  - {name: http-web, port: 80}
  - {name: web, port: 81, targetPort: 8081}
  - {name: x, appProtocol: grpc, port: 82}
  - {name: dns, port: 53, protocol: UDP}
---
apiVersion: v1
kind: Service
metadata: {name: ext, namespace: a}
spec:
  type: ExternalName
  externalName: example.com
  ports: [{name: tcp-db, port: 5432}, {name: tcp, port: 5433}, {name: db, port: 3306}]
---
apiVersion: v1
kind: Service
metadata: {name: sys, namespace: kube-system}
spec:
  ports: [{name: web, port: 80}]
)",
       {{"IST0118", "Service a/s"}, {"IST0150", "Service a/ext"}},
       "",
       {"Port name web (port: 81, targetPort: 8081) doesn't follow the naming convention of Istio port."}},
      {"webhook_overlap_and_missing_service", "webhook.Analyzer",
       R"(apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata: {name: a}
webhooks:
- name: sidecar-injector.istio.io
  clientConfig: {service: {name: istiod, namespace: istio-system}}
  objectSelector: {matchLabels: {sidecar.istio.io/inject: "true"}}
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata: {name: b}
webhooks:
- name: sidecar-injector.istio.io
  clientConfig: {service: {name: gone, namespace: istio-system}}
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata: {name: not-istio}
webhooks:
- name: other.example.com
  clientConfig: {service: {name: gone, namespace: x}}
---
apiVersion: v1
kind: Service
metadata: {name: istiod, namespace: istio-system}
spec: {}
)",
       {{"IST0139", "MutatingWebhookConfiguration a"},
        {"IST0139", "MutatingWebhookConfiguration b"},
        {"IST0139", "MutatingWebhookConfiguration b"}},
       "",
       {"Webhook overlaps with others: [b/sidecar-injector.istio.io]. This may cause injection to occur twice.",
        "Injector refers to a control plane service that does not exist: istio-system/gone."}},
      {"external_control_plane_urls", "externalcontrolplane.ExternalControlPlaneAnalyzer",
       R"(apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: istio-validator-remote}
webhooks:
- name: rev.validation.istio.io
  clientConfig: {url: "https://[2001:db8::1]:15017/validate"}
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata: {name: istio-sidecar-injector-remote}
webhooks:
- name: a.sidecar-injector.istio.io
  clientConfig: {}
- name: b.sidecar-injector.istio.io
  clientConfig: {service: {name: istiod, namespace: istio-system}}
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata: {name: unrelated}
webhooks:
- name: x.example.com
  clientConfig: {}
)",
       {{"IST0164", "ValidatingWebhookConfiguration istio-validator-remote"},
        {"IST0163", "MutatingWebhookConfiguration istio-sidecar-injector-remote"}}},
      {"authorization_policies", "auth.AuthorizationPoliciesAnalyzer",
       R"(apiVersion: v1
kind: Namespace
metadata: {name: app, labels: {istio-injection: enabled}}
---
apiVersion: v1
kind: Pod
metadata: {name: p, namespace: app, labels: {app: web}}
spec:
  containers: [{name: web, image: web}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ok, namespace: app}
spec:
  selector: {matchLabels: {app: web}}
  rules: [{from: [{source: {namespaces: ["ap*", "*"]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: nothing, namespace: app}
spec:
  selector: {matchLabels: {app: db}}
  rules: [{from: [{source: {notNamespaces: ["nope"]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: empty-ns, namespace: quiet}
spec: {}
)",
       {{"IST0127", "AuthorizationPolicy app/nothing"},
        {"IST0101", "AuthorizationPolicy app/nothing"},
        {"IST0127", "AuthorizationPolicy quiet/empty-ns"}},
       "",
       {"No matching workloads for this resource with the following labels: app=db",
        "Referenced namespace not found: \"nope\""}},
      {"blocked_cidrs", "authn.BlockedCIDRsAnalyzer",
       R"(apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt, namespace: a}
spec: {}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: istiod, namespace: istio-system, labels: {app: istiod}}
spec:
  template:
    spec:
      containers: [{name: discovery, env: [{name: OTHER, value: x}]}]
)",
       {{"IST0175", "Deployment istio-system/istiod"}},
       "",
       {"BLOCKED_CIDRS_IN_JWKS_URIS is not configured but 1 RequestAuthentication resource(s) exist (a/jwt). "
        "Consider configuring it to restrict JWKS URI fetches to trusted networks."}},
      {"negative_conditions", "conditions.ConditionAnalyzer",
       R"(apiVersion: v1
kind: Service
metadata: {name: s, namespace: a}
status:
  conditions:
  - {type: istio.io/WaypointBound, status: "False", reason: NoWaypoint, message: missing}
  - {type: other.example.com/Synced, status: "False", reason: X, message: y}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: a}
status:
  parents:
  - conditions: [{type: ResolvedRefs, status: "False", reason: BackendNotFound, message: no backend}]
)",
       {{"IST0171", "Service a/s"}, {"IST0171", "HTTPRoute a/r"}},
       "",
       {"A condition with a negative status is present: type=istio.io/WaypointBound, reason=NoWaypoint, "
        "message=missing."}},
      {"deprecated_fields", "deprecation.DeprecationAnalyzer",
       R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: vs, namespace: a}
spec:
  hosts: [x]
  http:
  - fault: {delay: {percent: 10, fixedDelay: 1s}}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: serviceroles.rbac.istio.io}
spec:
  group: rbac.istio.io
  names: {kind: ServiceRole}
)",
       {{"IST0002", "VirtualService a/vs"}, {"IST0002", "CustomResourceDefinition serviceroles.rbac.istio.io"}},
       "",
       {"Deprecated: HTTPRoute.fault.delay.percent is deprecated; use HTTPRoute.fault.delay.percentage",
        "Deprecated: Custom resource type rbac.istio.io ServiceRole is removed"}},
      {"envoy_filter_operations", "envoyfilter.EnvoyPatchAnalyzer",
       R"(apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: pinned, namespace: a}
spec:
  configPatches:
  - applyTo: HTTP_FILTER
    match: {proxy: {proxyVersion: '^1\.2.*'}}
    patch: {operation: INSERT_BEFORE, value: {name: lua}}
---
apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: same-name, namespace: a}
spec:
  configPatches:
  - applyTo: HTTP_FILTER
    patch: {operation: REPLACE, value: {name: lua}}
  - applyTo: HTTP_ROUTE
    patch: {operation: ADD, value: {name: r}}
---
apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: prioritized, namespace: a}
spec:
  priority: 5
  configPatches:
  - applyTo: CLUSTER
    patch: {operation: REPLACE, value: {name: c}}
  - applyTo: ROUTE_CONFIGURATION
    patch: {operation: REMOVE}
  - applyTo: LISTENER
    patch: {operation: INSERT_AFTER}
)",
       {{"IST0151", "EnvoyFilter a/pinned"},
        {"IST0155", "EnvoyFilter a/same-name"},
        {"IST0153", "EnvoyFilter a/same-name"},
        {"IST0152", "EnvoyFilter a/prioritized"},
        {"IST0154", "EnvoyFilter a/prioritized"}}},
      {"telemetry_default_selector", "telemetry.DefaultSelectorAnalyzer",
       R"(apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: one, namespace: a}
spec: {}
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: two, namespace: a}
spec: {}
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: selected, namespace: a}
spec:
  selector: {matchLabels: {app: web}}
)",
       {{"IST0160", "Telemetry a/one"}, {"IST0160", "Telemetry a/two"}},
       "",
       {"The Telemetries [one two] in namespace \"a\" have no workload selector, which can lead to undefined "
        "behavior."}},
      {"telemetry_lightstep_and_providers", "telemetry.LightstepAnalyzer",
       R"(apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: t, namespace: a}
spec:
  tracing: [{providers: [{name: ls}, {name: otel}]}]
)",
       {{"IST0002", "Telemetry a/t"}},
       "extensionProviders:\n- {name: ls, lightstep: {service: x, port: 443}}\n- {name: otel, opentelemetry: {}}\n",
       {"Deprecated: The Lightstep provider ls is deprecated, please migrate to OpenTelemetry provider."}},
      {"telemetry_empty_providers", "telemetry.ProviderAnalyzer",
       R"(apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: t, namespace: a}
spec:
  accessLogging: [{filter: {expression: "true"}}, {disabled: true}]
)",
       {{"IST0157", "Telemetry a/t"}},
       "",
       {"The Telemetry t in namespace \"a\" with empty providers will be ignored."}},
      {"telemetry_providers_with_mesh_default", "telemetry.ProviderAnalyzer",
       R"(apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: t, namespace: a}
spec:
  accessLogging: [{filter: {expression: "true"}}]
)",
       {},
       "defaultProviders:\n  accessLogging: [envoy]\n"},
      {"telemetry_selectors", "telemetry.SelectorAnalyzer",
       R"(apiVersion: v1
kind: Pod
metadata: {name: p, namespace: a, labels: {app: web, tier: front}}
spec: {}
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: by-app, namespace: a}
spec: {selector: {matchLabels: {app: web}}}
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: by-tier, namespace: a}
spec: {selector: {matchLabels: {tier: front}}}
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: none, namespace: b}
spec: {selector: {matchLabels: {app: web}}}
)",
       {{"IST0159", "Telemetry a/by-app"}, {"IST0159", "Telemetry a/by-tier"}, {"IST0101", "Telemetry b/none"}},
       "",
       {"Referenced selector not found: \"app=web\""}},
  };
  return kCases;
}

class WorkloadAnalyzersTest : public ::testing::TestWithParam<Case> {};

TEST_P(WorkloadAnalyzersTest, ReportsExpectedMessages) {
  const Case& c = GetParam();
  std::vector<Message> messages = RunCase(c);
  std::ostringstream got;
  for (const Message& m : messages) {
    got << m.LogLine() << "\n";
  }
  EXPECT_EQ(Pairs(messages), Pairs(c.expected)) << got.str();
  for (const std::string& text : c.texts) {
    bool found = std::any_of(messages.begin(), messages.end(), [&](const Message& m) { return m.Text() == text; });
    EXPECT_TRUE(found) << "missing text: " << text << "\ngot:\n" << got.str();
  }
}

INSTANTIATE_TEST_SUITE_P(Table, WorkloadAnalyzersTest, ::testing::ValuesIn(Cases()),
                         [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

TEST(WorkloadAnalyzersTest, MeshNetworksRegistries) {
  World world;
  auto networks = config::ParseYamlNode(
      "networks:\n  n1:\n    endpoints:\n    - fromRegistry: Kubernetes\n    - fromRegistry: remote\n"
      "  n2:\n    endpoints:\n    - fromRegistry: elsewhere\n",
      "networks.yaml");
  ASSERT_TRUE(networks.ok());
  world.set_mesh_networks(*networks, "networks.yaml");
  config::LoadResult loaded = config::LoadText(
      "apiVersion: v1\nkind: Secret\nmetadata: {name: remote, namespace: istio-system, labels: "
      "{istio/multiCluster: \"true\"}}\ndata: {remote: eA==}\n",
      "secret.yaml");
  for (config::Resource& r : loaded.resources) {
    world.Add(std::move(r));
  }
  std::vector<Message> messages = RunAnalyzers(world, {FindAnalyzer("meshnetworks.MeshNetworksAnalyzer")});
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].origin.FriendlyName(), "MeshNetworks istio-system/meshnetworks");
  EXPECT_EQ(messages[0].Text(), "Unknown service registry elsewhere in network n2");
  EXPECT_EQ(messages[0].origin.Reference(), "networks.yaml:8");
}

TEST(WorkloadAnalyzersTest, RegisteredWithIstioDescriptions) {
  const Analyzer* alpha = FindAnalyzer("annotations.AlphaAnalyzer");
  ASSERT_NE(alpha, nullptr);
  for (const AnalyzerPtr& a : AllAnalyzers()) {
    EXPECT_NE(a->Metadata().name, "annotations.AlphaAnalyzer") << "alpha analyzer must not run by default";
  }
  const Analyzer* envoy = FindAnalyzer("envoyfilter.EnvoyPatchAnalyzer");
  ASSERT_NE(envoy, nullptr);
  EXPECT_EQ(envoy->Metadata().description, "Checks an envoyFilters ");
}

// Every conformance case of this group, when ../shared is present.
TEST(WorkloadAnalyzersTest, ConformanceCorpus) {
  std::string shared = testing::SharedDir();
  std::string bin = testing::MeshctlBinary();
#ifdef MESH_BUILT_MESHCTL
  if (bin.empty() && std::ifstream(MESH_BUILT_MESHCTL).good()) {
    bin = MESH_BUILT_MESHCTL;
  }
#endif
  if (shared.empty() || bin.empty()) {
    GTEST_SKIP() << "../shared or meshctl not available";
  }
  std::string dir = shared + "/conformance/analyze";
  std::ifstream probe(dir + "/check.py");
  if (!probe.good()) {
    GTEST_SKIP() << "conformance corpus not present";
  }
  std::string only =
      "^(misannoted|alpha|deprecation|externalControlPlane.*|istioInjection.*|injectionImage.*|portName.*|namedPort|"
      "unnamedPort.*|serviceMultipleDeployments|deploymentMultiServicesInDifferentNamespace|serviceWithNoSelector|"
      "unknown service registry.*|blockedCIDRs.*|authorizationpolicies|webook|.*UID 1337|Detect `image: auto`.*|"
      "ExternalNameService.*|EnvoyFilter.*|Analyze invalid telemetry|telemetry.*|Telemetry Lightstep|"
      "Condition Analyzer)$";
  testing::CommandResult r = testing::RunCommand(
      "cd '" + dir + "' && python3 check.py --cmd '" + bin +
      " analyze --use-kube=false --all-namespaces -o {format} --analyzer {analyzer} {meshconfig} {meshnetworks} "
      "{files}' --only \"" + only + "\"");
  EXPECT_NE(r.out.find("46 passed, 0 failed"), std::string::npos) << r.out << r.err;
}

}  // namespace
}  // namespace mesh::analyze
