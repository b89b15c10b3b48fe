#include "mesh/config/validation.h"

#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mesh/config/yaml_loader.h"
#include "tests/common/test_util.h"

namespace mesh::config {
namespace {

using ::testing::ElementsAreArray;
using ::testing::IsEmpty;

Resource Load(const std::string& yaml) {
  LoadResult loaded = LoadText(yaml, "test.yaml");
  EXPECT_TRUE(loaded.errors.empty()) << loaded.errors.front().ToString();
  EXPECT_EQ(loaded.resources.size(), 1u);
  return loaded.resources.front();
}

std::vector<std::string> Validate(const std::string& yaml) { return ValidateIstioResource(Load(yaml)).Describe(); }

std::string Doc(const std::string& kind_line, const std::string& spec) {
  return kind_line + "\nmetadata:\n  name: x\n  namespace: ns\nspec:\n" + spec;
}
const std::string kGw = "apiVersion: networking.istio.io/v1\nkind: Gateway";
const std::string kVs = "apiVersion: networking.istio.io/v1\nkind: VirtualService";
const std::string kDr = "apiVersion: networking.istio.io/v1\nkind: DestinationRule";
const std::string kSe = "apiVersion: networking.istio.io/v1\nkind: ServiceEntry";
const std::string kSc = "apiVersion: networking.istio.io/v1\nkind: Sidecar";
const std::string kWe = "apiVersion: networking.istio.io/v1\nkind: WorkloadEntry";
const std::string kWg = "apiVersion: networking.istio.io/v1\nkind: WorkloadGroup";
const std::string kEf = "apiVersion: networking.istio.io/v1alpha3\nkind: EnvoyFilter";
const std::string kPc = "apiVersion: networking.istio.io/v1beta1\nkind: ProxyConfig";
const std::string kAp = "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy";
const std::string kPa = "apiVersion: security.istio.io/v1\nkind: PeerAuthentication";
const std::string kRa = "apiVersion: security.istio.io/v1\nkind: RequestAuthentication";
const std::string kTel = "apiVersion: telemetry.istio.io/v1\nkind: Telemetry";
const std::string kWasm = "apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin";

struct Case {
  std::string name;
  std::string yaml;
  std::vector<std::string> want;  // Describe() lines, exactly
};
void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class IstioValidationTest : public ::testing::TestWithParam<Case> {};

TEST_P(IstioValidationTest, ReportsIstioMessages) {
  const Case& c = GetParam();
  EXPECT_THAT(Validate(c.yaml), ElementsAreArray(c.want)) << c.yaml;
}

const std::string kRoute = "  - route:\n    - destination: {host: reviews}\n";

INSTANTIATE_TEST_SUITE_P(
    Rules, IstioValidationTest,
    ::testing::Values(
        // --- Gateway
        Case{"GatewayHostsWithNothingUnder",
             Doc(kGw, "  servers:\n  - port: {number: 443, name: https, protocol: HTTPS}\n"
                      "    tls: {mode: SIMPLE, credentialName: cert}\n    hosts:\n"),
             {"error: server config must contain at least one host"}},
        Case{"GatewayWithoutServers", Doc(kGw, "  selector: {istio: ingressgateway}\n"),
             {"error: gateway must have at least one server"}},
        Case{"GatewayServerWithoutPort", Doc(kGw, "  servers:\n  - hosts: ['*']\n"), {"error: port is required"}},
        Case{"GatewayBadHostAndProtocol",
             Doc(kGw, "  servers:\n  - port: {number: 80, name: web, protocol: HTTPX}\n    hosts: [Foo_Bar.com, 'a/b/c']\n"),
             {"error: domain name \"Foo_Bar.com\" invalid (label \"Foo_Bar\" invalid)",
              "error: domain name \"b/c\" invalid (label \"b/c\" invalid)",
              "error: invalid protocol \"HTTPX\", supported protocols are HTTP, HTTP2, GRPC, GRPC-WEB, MONGO, REDIS, "
              "MYSQL, TCP"}},
        Case{"GatewaySimpleTlsNeedsCertificates",
             Doc(kGw, "  servers:\n  - port: {number: 443, name: https, protocol: HTTPS}\n    hosts: ['*']\n"
                      "    tls: {mode: SIMPLE}\n"),
             {"error: SIMPLE TLS requires a server certificate", "error: SIMPLE TLS requires a private key"}},
        Case{"GatewayMutualTlsNeedsCa",
             Doc(kGw, "  servers:\n  - port: {number: 443, name: https, protocol: HTTPS}\n    hosts: ['*']\n"
                      "    tls: {mode: MUTUAL, serverCertificate: /c.pem, privateKey: /k.pem}\n"),
             {"error: MUTUAL TLS requires a client CA bundle"}},
        Case{"GatewayHttpsWithoutTls",
             Doc(kGw, "  servers:\n  - port: {number: 443, name: https, protocol: HTTPS}\n    hosts: ['*']\n"),
             {"error: server must have TLS settings for HTTPS/TLS protocols"}},
        Case{"GatewayHttpsRedirectOnTcp",
             Doc(kGw, "  servers:\n  - port: {number: 31400, name: tcp, protocol: TCP}\n    hosts: ['*']\n"
                      "    tls: {httpsRedirect: true}\n"),
             {"error: server cannot have TLS settings for non HTTPS/TLS ports",
              "warning: tls.httpsRedirect should only be used with http servers"}},
        Case{"GatewayDuplicatePortNames",
             Doc(kGw, "  servers:\n  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: [a.com]\n"
                      "  - port: {number: 81, name: http, protocol: HTTP}\n    hosts: [b.com]\n"),
             {"error: port names in servers must be unique: duplicate name http"}},
        // --- VirtualService
        Case{"VirtualServiceWithoutRoutes", Doc(kVs, "  hosts: [reviews]\n"),
             {"error: http, tcp or tls must be provided in virtual service"}},
        Case{"VirtualServiceDestinationHostRequired",
             Doc(kVs, "  hosts: [reviews]\n  http:\n  - route:\n    - weight: 100\n"),
             {"error: destination is required"}},
        Case{"VirtualServiceBadRegexAndWeights",
             Doc(kVs, "  hosts: [reviews]\n  http:\n  - match:\n    - uri: {regex: '(unclosed'}\n    route:\n"
                      "    - destination: {host: a}\n      weight: -1\n    - destination: {host: b}\n      weight: 1\n"),
             {"error: \"uri\": error parsing regexp: missing ): (unclosed; Istio uses RE2 style regex-based match "
              "(https://github.com/google/re2/wiki/Syntax)",
              "error: weight -1 < 0", "error: total destination weight = 0"}},
        Case{"VirtualServiceDurationsAndRetries",
             Doc(kVs, "  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: a}\n    timeout: 500us\n"
                      "    retries: {perTryTimeout: 1s, retryOn: 'bogus,5xx'}\n"),
             {"error: http retry policy configured when attempts are set to 0 (disabled)",
              "error: \"bogus\" is not a valid retryOn policy", "error: duration must be greater than 1ms"}},
        Case{"VirtualServiceWildcardOnMesh", Doc(kVs, "  hosts: ['*']\n  http:\n" + kRoute),
             {"error: wildcard host * is not allowed for virtual services bound to the mesh gateway"}},
        Case{"VirtualServiceRouteAndRedirect",
             Doc(kVs, "  hosts: [reviews]\n  http:\n  - redirect: {uri: /x}\n    route:\n    - destination: {host: a}\n"),
             {"error: HTTP route cannot contain both route and redirect"}},
        Case{"VirtualServiceDelegateWithGateways",
             Doc(kVs, "  gateways: [gw]\n  http:\n" + kRoute),
             {"error: delegate virtual service must have no gateways specified"}},
        Case{"VirtualServiceUnreachableRules",
             Doc(kVs, "  hosts: [reviews]\n  http:\n" + kRoute + kRoute),
             {"warning: virtualService rule #1 not used (only the last rule can have no matches)"}},
        Case{"VirtualServiceTlsSniNotInHosts",
             Doc(kVs, "  hosts: [a.example.com]\n  tls:\n  - match:\n    - sniHosts: [b.example.com]\n    route:\n"
                      "    - destination: {host: b}\n"),
             {"error: SNI host \"b.example.com\" is not a compatible subset of any of the virtual service hosts: "
              "[a.example.com]"}},
        // --- DestinationRule
        Case{"DestinationRuleSubsets",
             Doc(kDr, "  host: reviews\n  subsets:\n  - name: v1\n  - name: v1\n  - labels: {version: v3}\n"),
             {"error: duplicate subset names: v1", "error: subset name cannot be empty"}},
        Case{"DestinationRuleHostRequired", Doc(kDr, "  subsets:\n  - name: v1\n"),
             {"error: empty domain name not allowed"}},
        Case{"DestinationRuleMutualTls",
             Doc(kDr, "  host: reviews\n  trafficPolicy:\n    tls: {mode: MUTUAL}\n"),
             {"error: client certificate required for mutual tls", "error: private key required for mutual tls"}},
        Case{"DestinationRuleEmptyPolicy", Doc(kDr, "  host: reviews\n  trafficPolicy: {}\n"),
             {"error: traffic policy must have at least one field"}},
        // --- ServiceEntry
        Case{"ServiceEntryPorts",
             Doc(kSe, "  hosts: [api.example.com]\n  resolution: DNS\n  ports:\n  - {number: 80, name: http, protocol: HTTP}\n"
                      "  - {number: 80, name: http, protocol: HTTP}\n"),
             {"error: service entry port name \"http\" already defined", "error: service entry port 80 already defined"}},
        Case{"ServiceEntryHostsRequired", Doc(kSe, "  hosts:\n  ports:\n  - {number: 80, name: http, protocol: HTTP}\n"),
             {"error: service entry must have at least one host"}},
        Case{"ServiceEntryNoneWithEndpoints",
             Doc(kSe, "  hosts: [a.example.com]\n  ports:\n  - {number: 80, name: http, protocol: HTTP}\n"
                      "  endpoints:\n  - address: 1.2.3.4\n"),
             {"error: no endpoints should be provided for resolution type none"}},
        // --- Sidecar, WorkloadEntry, WorkloadGroup, EnvoyFilter, ProxyConfig
        Case{"SidecarEmpty", Doc(kSc, "  workloadSelector:\n    labels: {app: a}\n"),
             {"error: sidecar: empty configuration provided"}},
        Case{"SidecarEgressHostsFormat", Doc(kSc, "  egress:\n  - hosts: [foo.com]\n"),
             {"error: host must be of form namespace/dnsName"}},
        Case{"WorkloadEntryAddressRequired", Doc(kWe, "  labels: {app: a}\n"), {"error: address is required"}},
        Case{"WorkloadEntryAddressOptionalWithNetwork", Doc(kWe, "  network: n1\n"),
             {"warning: address is unset with network \"n1\""}},
        Case{"WorkloadGroupTemplateRequired", Doc(kWg, "  metadata:\n    labels: {app: a}\n"),
             {"error: template is required"}},
        Case{"EnvoyFilterPatchOperation",
             Doc(kEf, "  configPatches:\n  - applyTo: HTTP_FILTER\n    patch:\n      value: {name: x}\n"),
             {"warning: EnvoyFilter exposes internal implementation details that may change at any time. Prefer other "
              "APIs if possible, and exercise extreme caution, especially around upgrades.",
              "error: Envoy filter: missing patch operation"}},
        Case{"ProxyConfigConcurrency", Doc(kPc, "  concurrency: -1\n"),
             {"error: concurrency must be greater than or equal to 0"}},
        // --- security
        Case{"AuthorizationPolicyCustomNeedsProvider",
             Doc(kAp, "  action: CUSTOM\n  rules:\n  - to:\n    - operation: {paths: [/x]}\n"),
             {"error: invalid policy x.ns: `provider.name` must not be empty"}},
        Case{"AuthorizationPolicyDenyWithoutRules", Doc(kAp, "  action: DENY\n"),
             {"error: invalid policy x.ns: DENY action without `rules` is meaningless as it will never be triggered, "
              "add an empty rule `{}` if you want it be triggered for every request"}},
        Case{"AuthorizationPolicyBadAction", Doc(kAp, "  action: REJECT\n"),
             {"error: spec.action: unsupported value \"REJECT\" (supported: ALLOW, DENY, AUDIT, CUSTOM)"}},
        Case{"AuthorizationPolicyWarningsAreNotPrefixed",
             Doc(kAp, "  action: DENY\n  rules:\n  - to:\n    - operation: {methods: [POST]}\n"),
             {"warning: configured AuthorizationPolicy will deny all traffic to TCP ports under its scope due to the "
              "use of only HTTP attributes in a DENY rule; it is recommended to explicitly specify the port"}},
        Case{"PeerAuthenticationPortLevelNeedsSelector",
             Doc(kPa, "  mtls: {mode: STRICT}\n  portLevelMtls:\n    '8080': {mode: DISABLE}\n"),
             {"error: mesh/namespace peer authentication cannot have port level mTLS"}},
        Case{"RequestAuthenticationIssuerRequired", Doc(kRa, "  jwtRules:\n  - audiences: [a]\n"),
             {"error: issuer or jwksUri must be non-empty string"}},
        // --- telemetry, extensions
        Case{"TelemetryProviderName", Doc(kTel, "  tracing:\n  - providers: [{}]\n    randomSamplingPercentage: 101\n"),
             {"error: providers.name may not be empty",
              "error: randomSamplingPercentage must be in range [0.0, 100.0]"}},
        Case{"WasmPluginUrlAndSha", Doc(kWasm, "  sha256: abc\n"),
             {"error: url field needs to be set", "error: sha256 field must be 64 characters long"}},
        // --- field types and unknown fields
        Case{"TypeErrorsAreErrors",
             Doc(kVs, "  hosts: reviews\n  http:\n  - route:\n    - destination: {host: a, port: {number: http}}\n"),
             {"error: spec.hosts: expected a list, got scalar",
              // (the semantic port check of the same field is not repeated)
              "error: spec.http[0].route[0].destination.port.number: expected an integer, got \"http\""}},
        Case{"ProtoFieldNamesAreAccepted",
             Doc(kGw, "  servers:\n  - port: {number: 443, name: https, protocol: HTTPS}\n    hosts: [a.com]\n"
                      "    tls: {mode: SIMPLE, credential_name: cert}\n"),
             {}},
        Case{"UnknownFieldsAreWarnings", Doc(kDr, "  host: reviews\n  subset:\n  - name: v1\n"),
             {"warning: unknown field \"spec.subset\" is not part of the DestinationRule API and is ignored"}}),
    [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

TEST(IstioValidation, FieldLinesPointAtTheOffendingField) {
  Resource r = Load(Doc(kGw, "  servers:\n  - port: {number: 443, name: https, protocol: HTTPS}\n"
                             "    tls: {mode: SIMPLE, credentialName: cert}\n    hosts:\n"));
  ValidationResult result = ValidateIstioResource(r);
  ASSERT_EQ(result.issues.size(), 1u);
  EXPECT_EQ(result.issues[0].line, 10);  // the `hosts:` key
  // Issues about the whole spec carry no line: they point at the document.
  ValidationResult vs = ValidateIstioResource(Load(Doc(kVs, "  hosts: [reviews]\n")));
  ASSERT_EQ(vs.issues.size(), 1u);
  EXPECT_EQ(vs.issues[0].line, 0);
}

TEST(IstioValidation, RuleFindingsCarryParameters) {
  ValidationResult result = ValidateIstioResource(
      Load(Doc(kVs, "  hosts: [reviews]\n  http:\n  - name: a\n    match:\n    - uri: {prefix: /x}\n    route:\n"
                    "    - destination: {host: a}\n  - name: b\n    match:\n    - name: again\n      uri: {prefix: /x}\n"
                    "    route:\n    - destination: {host: b}\n")));
  ASSERT_EQ(result.issues.size(), 2u);
  EXPECT_EQ(result.issues[0].finding, RuleFinding::kIneffectiveMatch);
  EXPECT_THAT(result.issues[0].params, ElementsAreArray({"\"b\"", "\"again\"", "\"a\""}));
  EXPECT_EQ(result.issues[1].finding, RuleFinding::kUnreachableRule);
  EXPECT_THAT(result.issues[1].params, ElementsAreArray({"\"b\"", "all matches used by prior rules"}));
}

TEST(IstioValidation, DuplicateMatchesCompareLikeIstio) {
  // Key order, quoting and zero values do not make two matches different.
  ValidationResult result = ValidateIstioResource(
      Load(Doc(kVs, "  hosts: [reviews]\n  http:\n  - match:\n    - {uri: {exact: /a}, port: 80}\n    route:\n"
                    "    - destination: {host: a}\n  - match:\n    - {port: '80', ignoreUriCase: false, uri: {exact: /a}}\n"
                    "    route:\n    - destination: {host: b}\n")));
  ASSERT_EQ(result.issues.size(), 2u);
  EXPECT_EQ(result.issues[0].finding, RuleFinding::kIneffectiveMatch);
  EXPECT_EQ(result.issues[1].finding, RuleFinding::kUnreachableRule);
}

TEST(IstioValidation, UnknownFieldsCanBeSilenced) {
  Resource r = Load(Doc(kDr, "  host: reviews\n  subset: []\n"));
  EXPECT_EQ(ValidateIstioResource(r).WarningCount(), 1u);
  EXPECT_THAT(ValidateIstioResource(r, IstioValidationOptions{false}).issues, IsEmpty());
}

TEST(IstioValidation, NonIstioKindsAreNotValidated) {
  EXPECT_THAT(Validate("apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {ports: oops}\n"), IsEmpty());
}

TEST(IstioValidation, ValidDocumentsOfEveryKindHaveNoIssues) {
  std::ifstream in(mesh::testing::SourceDir() + "/tests/testdata/config/valid-istio-resources.yaml");
  ASSERT_TRUE(in.good());
  std::stringstream text;
  text << in.rdbuf();
  LoadResult loaded = LoadText(text.str(), "valid-istio-resources.yaml");
  ASSERT_TRUE(loaded.errors.empty());
  ASSERT_GE(loaded.resources.size(), 15u);
  for (const Resource& r : loaded.resources) {
    std::vector<std::string> issues = ValidateIstioResource(r).Describe();
    if (r.kind() == "EnvoyFilter") {
      ASSERT_EQ(issues.size(), 1u);  // Istio always warns about EnvoyFilter
      EXPECT_THAT(issues[0], ::testing::HasSubstr("EnvoyFilter exposes internal implementation details"));
    } else {
      EXPECT_THAT(issues, IsEmpty()) << r.FriendlyName();
    }
  }
}

TEST(IstioValidation, MeshConfigAndNetworks) {
  auto mesh = ParseYamlNode("connectTimeout: 500us\ningressControllerMode: SOMETIMES\nextensionProviders:\n"
                            "- name: a\n- name: a\n",
                            "mesh.yaml");
  ASSERT_TRUE(mesh.ok());
  EXPECT_THAT(ValidateMeshConfig(*mesh).Describe(),
              ElementsAreArray({"error: invalid connect timeout: duration must be greater than 1ms",
                                "error: unknown ingressControllerMode \"SOMETIMES\"",
                                "error: duplicate extension provider name a"}));
  auto networks = ParseYamlNode("networks:\n  n1:\n    endpoints:\n    - fromCidr: 10.0.0.0/33\n    gateways:\n"
                                "    - address: 1.2.3.4\n      port: 0\n"
                                "    - registry_service_name: gw.istio-system.svc.cluster.local\n      port: 443\n",
                                "networks.yaml");
  ASSERT_TRUE(networks.ok());
  EXPECT_THAT(ValidateMeshNetworks(*networks).Describe(),
              ElementsAreArray({"error: invalid network n1: \"10.0.0.0/33\" is not a valid CIDR block",
                                "error: invalid network n1: port number 0 must be in the range 1..65535"}));
}

TEST(IstioValidation, HostAndDurationHelpers) {
  EXPECT_TRUE(IsDns1123Label("reviews-v1"));
  EXPECT_TRUE(IsDns1123Label("Reviews"));  // Istio accepts upper case
  EXPECT_FALSE(IsDns1123Label("-x"));
  EXPECT_FALSE(IsDns1123Label("a_b"));
  EXPECT_EQ(CheckWildcardDomain("*.example.com"), "");
  EXPECT_EQ(CheckWildcardDomain("a.*.com"), "domain name \"*.com\" invalid (label \"*\" invalid)");
  EXPECT_NE(CheckFqdn("10.0.0.1"), "");
  int64_t ns = 0;
  ASSERT_TRUE(ParseGoDuration("1h2m3.5s", ns));
  EXPECT_EQ(ns, 3723500000000);
  EXPECT_FALSE(ParseGoDuration("5 seconds", ns));
  // Go's limit is int64 nanoseconds (2562047h47m16.854775807s); beyond it is invalid, not
  // a wrapped or undefined value (found by the config_yaml fuzzer: "233e63h").
  ASSERT_TRUE(ParseGoDuration("2562047h", ns));
  EXPECT_EQ(ns, int64_t{2562047} * 3600 * 1000000000);
  EXPECT_FALSE(ParseGoDuration("2562048h", ns));
  EXPECT_FALSE(ParseGoDuration("233333333333333333333333333333333333333333333333333333333333333333h", ns));
  EXPECT_FALSE(ParseGoDuration("-2562048h", ns));
}

}  // namespace
}  // namespace mesh::config
