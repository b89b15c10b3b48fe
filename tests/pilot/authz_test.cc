// AuthorizationPolicy translation, checked by behaviour: each case compiles policies for a
// proxy, sends the RBAC filters through the discovery encoding and the proxy's decoder,
// and asks the proxy's RBAC engine whether a request passes. A golden shows the rendering.

#include "mesh/pilot/authz.h"

#include "gtest/gtest.h"
#include "mesh/common/strings.h"
#include "mesh/config/emit.h"
#include "mesh/config/yaml_loader.h"
#include "mesh/pilot/generator.h"
#include "mesh/proxy/rbac.h"
#include "mesh/proxyconfig/decode.h"
#include "mesh/proxyconfig/encode.h"
#include "tests/common/test_util.h"

namespace mesh::pilot {
namespace {

using config::Node;

constexpr char kGatewayId[] = "spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account";
constexpr char kSleepId[] = "spiffe://cluster.local/ns/devops/sa/sleep";
constexpr char kOtherNsId[] = "spiffe://cluster.local/ns/other/sa/client";

constexpr char kServices[] = R"(
apiVersion: v1
kind: Service
metadata: {name: helloworldsvc, namespace: devops}
spec:
  selector: {app: helloworld}
  ports:
  - {name: http, port: 80, targetPort: 8080}
)";

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

ProxyRole Gateway() {
  ProxyRole r;
  r.type = ProxyRole::Type::kRouter;
  r.workload.name = "istio-ingressgateway";
  r.workload.ns = "istio-system";
  r.workload.service_account = "istio-ingressgateway-service-account";
  r.workload.labels = {{"istio", "ingressgateway"}};
  r.gateway_ports = {{443, 8443}};
  return r;
}

std::shared_ptr<const PushContext> Push(const std::string& policies) {
  auto loaded = config::LoadText(std::string(kServices) + "---\n" + policies, "policies.yaml");
  EXPECT_TRUE(loaded.errors.empty()) << (loaded.errors.empty() ? "" : loaded.errors[0].message);
  return PushContext::Build(std::move(loaded.resources), {});
}

// The filters as the proxy gets them: encoded for discovery, then decoded.
std::vector<proxyconfig::RbacConfig> OverTheWire(const std::vector<proxyconfig::RbacConfig>& filters) {
  proxyconfig::Listener l;
  l.name = "l";
  proxyconfig::FilterChain chain;
  proxyconfig::HttpConnectionManager hcm;
  hcm.rds_route_config_name = "r";
  hcm.rbac = filters;
  hcm.http_filters.assign(filters.size(), proxyconfig::kHttpRbacFilter);
  hcm.http_filters.push_back("envoy.filters.http.router");
  chain.filter = hcm;
  l.filter_chains.push_back(chain);
  auto decoded = proxyconfig::DecodeListener(proxyconfig::EncodeListener(l), "listener");
  EXPECT_TRUE(decoded.ok()) << decoded.status();
  if (!decoded.ok()) {
    return {};
  }
  return std::get<proxyconfig::HttpConnectionManager>(decoded->filter_chains[0].filter).rbac;
}

struct Request {
  std::string principal;  // "" = plaintext (no peer certificate)
  std::string path = "/";
  std::string method = "GET";
  std::string host = "helloworldsvc.devops.svc.cluster.local";
  std::string remote_ip = "127.0.0.1";
  uint32_t port = 15101;
  std::map<std::string, std::string> headers;
};

bool Allowed(const std::vector<proxyconfig::RbacConfig>& filters, const Request& r) {
  proxy::RbacInput in;
  in.is_http = true;
  in.method = r.method;
  in.path = r.path;
  in.authority = r.host;
  in.header = [&r](std::string_view name) -> std::optional<std::string_view> {
    auto it = r.headers.find(std::string(name));
    if (it == r.headers.end()) {
      return std::nullopt;
    }
    return std::string_view(it->second);
  };
  in.direct_remote_ip = r.remote_ip;
  in.remote_ip = r.remote_ip;
  in.destination_ip = "127.0.0.1";
  in.destination_port = r.port;
  in.authenticated = !r.principal.empty();
  in.principal = r.principal;
  return proxy::EvaluateRbac(filters, in).allowed;
}

Request From(const std::string& principal) {
  Request r;
  r.principal = principal;
  return r;
}
Request Path(const std::string& principal, const std::string& path) {
  Request r = From(principal);
  r.path = path;
  return r;
}

std::string Policy(const std::string& name, const std::string& ns, const std::string& spec) {
  return common::StrCat("apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: ", name,
                        ", namespace: ", ns, "}\nspec:\n", spec, "\n---\n");
}

struct Case {
  std::string name;
  std::string policies;
  std::vector<std::pair<Request, bool>> expectations;  // request -> allowed?
};

TEST(Authz, TranslationHasIstioSemantics) {
  const std::string deny_blocked = Policy("deny-blocked", "devops",
                                          "  selector: {matchLabels: {app: helloworld}}\n  action: DENY\n"
                                          "  rules:\n  - to:\n    - operation: {paths: [/blocked]}");
  const std::string allow_gateway =
      Policy("gateway-only", "devops",
             "  action: ALLOW\n  rules:\n  - from:\n    - source: {principals: "
             "[cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account]}");
  Request post = From(kGatewayId);
  post.method = "POST";
  Request other_host = From(kGatewayId);
  other_host.host = "evil.example.com";
  Request host_with_port = From(kGatewayId);
  host_with_port.host = "HelloWorld.panamaxil.com:443";
  Request ten_net = From(kGatewayId);
  ten_net.remote_ip = "10.1.2.3";
  Request admin_header = From(kGatewayId);
  admin_header.headers["x-user"] = "admin";
  Request app_port = From(kGatewayId);
  Request wrong_port = From(kGatewayId);
  wrong_port.port = 15999;

  std::vector<Case> cases = {
      {"no policy: everything passes", "", {{From(""), true}, {From(kSleepId), true}}},
      {"DENY exact path",
       deny_blocked,
       {{Path(kGatewayId, "/blocked"), false},
        {Path(kGatewayId, "/blocked?q=1"), false},
        {Path(kGatewayId, "/"), true},
        {Path(kGatewayId, "/blocked/more"), true}}},
      {"DENY path prefix and suffix",
       Policy("p", "devops", "  action: DENY\n  rules:\n  - to:\n    - operation: {paths: [\"/admin*\", \"*.php\"]}"),
       {{Path(kGatewayId, "/admin/users"), false}, {Path(kGatewayId, "/x/index.php"), false},
        {Path(kGatewayId, "/index.html"), true}}},
      {"ALLOW only the gateway's principal",
       allow_gateway,
       {{From(kGatewayId), true}, {From(kSleepId), false}, {From(""), false}}},
      {"ALLOW with no rules denies everything",
       Policy("deny-all", "devops", "  {}"),
       {{From(kGatewayId), false}, {From(""), false}}},
      {"ALLOW with an empty rule admits everything",
       Policy("allow-all", "devops", "  rules:\n  - {}"),
       {{From(kGatewayId), true}, {From(""), true}}},
      {"ALLOW namespaces",
       Policy("p", "devops", "  rules:\n  - from:\n    - source: {namespaces: [istio-system]}"),
       {{From(kGatewayId), true}, {From(kSleepId), false}, {From(""), false}}},
      {"ALLOW notNamespaces",
       Policy("p", "devops", "  rules:\n  - from:\n    - source: {notNamespaces: [devops]}"),
       {{From(kGatewayId), true}, {From(kSleepId), false}, {From(kOtherNsId), true}}},
      {"ALLOW principal prefix",
       Policy("p", "devops", "  rules:\n  - from:\n    - source: {principals: [\"cluster.local/ns/devops/*\"]}"),
       {{From(kSleepId), true}, {From(kGatewayId), false}}},
      {"ALLOW methods", Policy("p", "devops", "  rules:\n  - to:\n    - operation: {methods: [GET]}"),
       {{From(kGatewayId), true}, {post, false}}},
      {"ALLOW hosts (case-insensitive, any port)",
       Policy("p", "devops", "  rules:\n  - to:\n    - operation: {hosts: [helloworld.panamaxil.com]}"),
       {{host_with_port, true}, {other_host, false}}},
      {"DENY ipBlocks", Policy("p", "devops", "  action: DENY\n  rules:\n  - from:\n    - source: {ipBlocks: [10.0.0.0/8]}"),
       {{ten_net, false}, {From(kGatewayId), true}}},
      {"DENY when request.headers",
       Policy("p", "devops",
              "  action: DENY\n  rules:\n  - when:\n    - key: request.headers[X-User]\n      values: [admin]"),
       {{admin_header, false}, {From(kGatewayId), true}}},
      {"ALLOW when source.namespace",
       Policy("p", "devops", "  rules:\n  - when:\n    - key: source.namespace\n      values: [istio-system]"),
       {{From(kGatewayId), true}, {From(kSleepId), false}}},
      {"ALLOW ports: the workload port maps to the inbound listener",
       Policy("p", "devops", "  rules:\n  - to:\n    - operation: {ports: [\"8080\"]}"),
       {{app_port, true}, {wrong_port, false}}},
      {"a selector that does not match: no effect",
       Policy("p", "devops", "  selector: {matchLabels: {app: other}}"),
       {{From(kGatewayId), true}}},
      {"root namespace policies apply mesh-wide",
       Policy("p", "istio-system", "  action: DENY\n  rules:\n  - to:\n    - operation: {paths: [/blocked]}"),
       {{Path(kGatewayId, "/blocked"), false}, {Path(kGatewayId, "/"), true}}},
      {"another namespace's policy: no effect", Policy("p", "other", "  {}"), {{From(kGatewayId), true}}},
      {"DENY wins over ALLOW",
       deny_blocked + allow_gateway,
       {{Path(kGatewayId, "/blocked"), false}, {Path(kGatewayId, "/"), true}, {From(kSleepId), false}}},
      {"several ALLOW policies: any one admits",
       allow_gateway + Policy("p2", "devops", "  rules:\n  - from:\n    - source: {principals: [\"*/sa/sleep\"]}"),
       {{From(kGatewayId), true}, {From(kSleepId), true}, {From(kOtherNsId), false}}},
      {"CUSTOM is not supported: the requests it selects are denied",
       Policy("p", "devops",
              "  action: CUSTOM\n  provider: {name: ext}\n  rules:\n  - to:\n    - operation: {paths: [/login]}"),
       {{Path(kGatewayId, "/login"), false}, {Path(kGatewayId, "/"), true}}},
      {"AUDIT has no effect", Policy("p", "devops", "  action: AUDIT\n  rules:\n  - {}"), {{From(""), true}}},
      {"requestPrincipals never match without JWT",
       Policy("p", "devops", "  rules:\n  - from:\n    - source: {requestPrincipals: [\"*\"]}"),
       {{From(kGatewayId), false}}},
      {"unsupported when key: an ALLOW rule never matches",
       Policy("p", "devops", "  rules:\n  - when:\n    - key: request.auth.claims[iss]\n      values: [x]"),
       {{From(kGatewayId), false}}},
      {"unsupported when key: a DENY rule ignores the condition",
       Policy("p", "devops",
              "  action: DENY\n  rules:\n  - to:\n    - operation: {paths: [/x]}\n    when:\n"
              "    - key: connection.sni\n      values: [x]"),
       {{Path(kGatewayId, "/x"), false}, {Path(kGatewayId, "/"), true}}},
      {"targetRef to a Service the workload serves",
       Policy("p", "devops", "  targetRef: {kind: Service, group: \"\", name: helloworldsvc}"),
       {{From(kGatewayId), false}}},
      {"targetRef to another Service: no effect",
       Policy("p", "devops", "  targetRef: {kind: Service, group: \"\", name: other}"),
       {{From(kGatewayId), true}}},
  };
  for (const Case& c : cases) {
    auto push = Push(c.policies);
    AuthorizationFilters filters = BuildAuthorizationFilters(Sidecar(), *push);
    std::vector<proxyconfig::RbacConfig> wire = OverTheWire(filters.http);
    for (size_t i = 0; i < c.expectations.size(); ++i) {
      const auto& [request, allowed] = c.expectations[i];
      EXPECT_EQ(Allowed(wire, request), allowed)
          << c.name << ": request " << i << " (" << request.principal << " " << request.method << " " << request.path
          << ")";
    }
  }
}

TEST(Authz, PoliciesSelectWorkloads) {
  auto push = Push(Policy("mesh", "istio-system", "  {}") +
                   Policy("gw", "istio-system", "  selector: {matchLabels: {istio: ingressgateway}}") +
                   Policy("hw", "devops", "  selector: {matchLabels: {app: helloworld}}") +
                   Policy("elsewhere", "other", "  {}"));
  auto names = [](const std::vector<const config::Resource*>& rs) {
    std::vector<std::string> out;
    for (const auto* r : rs) {
      out.push_back(r->ns() + "/" + r->name());
    }
    return common::Join(out, ",");
  };
  EXPECT_EQ(names(AuthorizationPoliciesForWorkload(*push, Sidecar().workload)), "devops/hw,istio-system/mesh");
  EXPECT_EQ(names(AuthorizationPoliciesForWorkload(*push, Gateway().workload)), "istio-system/gw,istio-system/mesh");
}

TEST(Authz, OnlyProxiesAPolicyAppliesToGetFilters) {
  auto push = Push(Policy("hw", "devops", "  selector: {matchLabels: {app: helloworld}}"));
  proxyconfig::Resources gw = GenerateResources(Gateway(), *push);
  for (const auto& l : gw.listeners) {
    for (const auto& c : l.filter_chains) {
      EXPECT_TRUE(std::get<proxyconfig::HttpConnectionManager>(c.filter).rbac.empty());
    }
  }
  proxyconfig::Resources sc = GenerateResources(Sidecar(), *push);
  for (const auto& l : sc.listeners) {
    for (const auto& c : l.filter_chains) {
      const auto& hcm = std::get<proxyconfig::HttpConnectionManager>(c.filter);
      bool inbound = l.traffic_direction == proxyconfig::Listener::Direction::kInbound;
      EXPECT_EQ(hcm.rbac.size(), inbound ? 1u : 0u) << l.name;
      if (inbound) {
        EXPECT_EQ(hcm.http_filters.front(), proxyconfig::kHttpRbacFilter);
        EXPECT_EQ(hcm.http_filters.back(), "envoy.filters.http.router");
      }
    }
  }
}

TEST(Authz, GatewayPolicyUsesMappedPorts) {
  auto push = Push(Policy("gw", "istio-system",
                          "  selector: {matchLabels: {istio: ingressgateway}}\n  action: DENY\n  rules:\n"
                          "  - to:\n    - operation: {ports: [\"443\"], paths: [/blocked]}"));
  AuthorizationFilters f = BuildAuthorizationFilters(Gateway(), *push);
  auto wire = OverTheWire(f.http);
  Request blocked = Path("", "/blocked");
  blocked.port = 8443;  // the local port Gateway port 443 listens on
  EXPECT_FALSE(Allowed(wire, blocked));
  blocked.port = 9443;
  EXPECT_TRUE(Allowed(wire, blocked));
}

TEST(Authz, TcpChainsGetNetworkFiltersWithoutHttpConditions) {
  auto push = Push(Policy("allow-paths", "devops", "  rules:\n  - to:\n    - operation: {paths: [/x]}") +
                   Policy("deny-ns", "devops",
                          "  action: DENY\n  rules:\n  - from:\n    - source: {namespaces: [other]}\n"
                          "    to:\n    - operation: {methods: [POST]}"));
  AuthorizationFilters f = BuildAuthorizationFilters(Sidecar(), *push);
  ASSERT_EQ(f.network.size(), 2u);
  proxy::RbacInput in;
  in.destination_port = 15101;
  in.authenticated = true;
  in.principal = kGatewayId;
  // The ALLOW rule needs a path, which TCP cannot show: nothing is admitted.
  EXPECT_FALSE(proxy::EvaluateRbac(f.network, in).allowed);
  // The DENY rule drops its method condition and denies the namespace outright.
  in.principal = kOtherNsId;
  proxy::RbacDecision d = proxy::EvaluateRbac(f.network, in);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.details, "rbac_access_denied_matched_policy[ns[devops]-policy[deny-ns]-rule[0]]");
}

TEST(Authz, WarningsNameWhatIsNotEnforced) {
  auto push = Push(Policy("audit", "devops", "  action: AUDIT\n  rules:\n  - {}") +
                   Policy("custom", "devops", "  action: CUSTOM\n  provider: {name: oauth}\n  rules:\n  - {}") +
                   Policy("jwt", "devops", "  rules:\n  - from:\n    - source: {requestPrincipals: [\"*\"]}") +
                   Policy("sni", "devops", "  rules:\n  - when:\n    - key: connection.sni\n      values: [a]") +
                   Policy("fine", "devops", "  rules:\n  - from:\n    - source: {namespaces: [devops]}"));
  std::string all = common::Join(AuthorizationWarnings(*push), "\n");
  EXPECT_NE(all.find("devops/audit: action AUDIT is not supported"), std::string::npos) << all;
  EXPECT_NE(all.find("devops/custom: action CUSTOM (ext_authz provider \"oauth\") is not supported"), std::string::npos)
      << all;
  EXPECT_NE(all.find("devops/jwt rule 0: requestPrincipals"), std::string::npos) << all;
  EXPECT_NE(all.find("devops/sni rule 0: condition key \"connection.sni\" is not supported"), std::string::npos) << all;
  EXPECT_EQ(all.find("devops/fine"), std::string::npos) << all;
}

TEST(Authz, RenderingGolden) {
  auto push = Push(
      Policy("deny-blocked", "devops",
             "  action: DENY\n  rules:\n  - to:\n    - operation: {paths: [/blocked], methods: [GET, POST]}\n"
             "    when:\n    - key: request.headers[x-debug]\n      notValues: [\"1\"]") +
      Policy("allow-gateway", "devops",
             "  rules:\n  - from:\n    - source:\n        principals: "
             "[cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account]\n"
             "    - source: {namespaces: [devops], ipBlocks: [127.0.0.0/8]}\n"
             "    to:\n    - operation: {hosts: [\"*.panamaxil.com\"], notPaths: [\"/internal*\"], ports: [\"8080\"]}"));
  proxyconfig::Resources r = GenerateResources(Sidecar(), *push);
  Node listeners = Node::Sequence();
  for (const auto& l : r.listeners) {
    if (l.traffic_direction == proxyconfig::Listener::Direction::kInbound) {
      listeners.Append(proxyconfig::EncodeListener(l));
    }
  }
  EXPECT_EQ(testing::CompareGolden("pilot/authz.golden.yaml", config::EmitYaml(listeners)), "");
}

}  // namespace
}  // namespace mesh::pilot
