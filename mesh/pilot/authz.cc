#include "mesh/pilot/authz.h"

#include <algorithm>
#include <functional>
#include <regex>
#include <set>

#include "mesh/common/strings.h"

namespace mesh::pilot {
namespace {

namespace pc = proxyconfig;
using common::StrCat;
using config::Node;
using config::Resource;

constexpr char kDryRunAnnotation[] = "istio.io/dry-run";
constexpr char kGatewayNameLabel[] = "gateway.networking.k8s.io/gateway-name";

// ---- matcher building blocks ----------------------------------------------------------

std::string RegexEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (std::string_view("\\^$.|?*+()[]{}").find(c) != std::string_view::npos) {
      out.push_back('\\');
    }
    out.push_back(c);
  }
  return out;
}

pc::StringMatcher Matcher(pc::StringMatcher::Kind kind, std::string value, bool ignore_case = false) {
  pc::StringMatcher m;
  m.kind = kind;
  m.value = ignore_case && kind != pc::StringMatcher::Kind::kRegex ? common::ToLower(value) : std::move(value);
  m.ignore_case = ignore_case;
  if (kind == pc::StringMatcher::Kind::kRegex) {
    auto flags = std::regex::ECMAScript | std::regex::optimize;
    if (ignore_case) {
      flags |= std::regex::icase;
    }
    m.regex = std::make_shared<const std::regex>(m.value, flags);  // built from escaped text: valid
  }
  return m;
}

// Istio's value semantics: "*" anything non-empty, "abc*" prefix, "*abc" suffix, else exact.
pc::StringMatcher ValueMatcher(std::string_view v, std::string_view add_prefix = "") {
  using K = pc::StringMatcher::Kind;
  if (v == "*") {
    return Matcher(K::kRegex, ".+");
  }
  if (v.size() > 1 && v.back() == '*') {
    return Matcher(K::kPrefix, StrCat(add_prefix, v.substr(0, v.size() - 1)));
  }
  if (v.size() > 1 && v.front() == '*') {
    return Matcher(K::kSuffix, std::string(v.substr(1)));
  }
  return Matcher(K::kExact, StrCat(add_prefix, v));
}

pc::RbacPermission PermAny() { return pc::RbacPermission{}; }
pc::RbacPermission PermList(pc::RbacPermission::Kind kind, std::vector<pc::RbacPermission> rules) {
  pc::RbacPermission p;
  p.kind = kind;
  p.rules = std::move(rules);
  return p;
}
pc::RbacPermission PermNot(pc::RbacPermission inner) {
  return PermList(pc::RbacPermission::Kind::kNotRule, {std::move(inner)});
}
pc::RbacPermission PermNever() { return PermNot(PermAny()); }
pc::RbacPermission PermHeader(std::string name, std::optional<pc::StringMatcher> m) {
  pc::RbacPermission p;
  p.kind = pc::RbacPermission::Kind::kHeader;
  pc::HeaderMatcher h;
  h.name = common::ToLower(name);
  h.string_match = std::move(m);
  h.present_match = !h.string_match.has_value();
  p.header = std::move(h);
  return p;
}

pc::RbacPrincipal IdAny() { return pc::RbacPrincipal{}; }
pc::RbacPrincipal IdList(pc::RbacPrincipal::Kind kind, std::vector<pc::RbacPrincipal> ids) {
  pc::RbacPrincipal p;
  p.kind = kind;
  p.ids = std::move(ids);
  return p;
}
pc::RbacPrincipal IdNot(pc::RbacPrincipal inner) { return IdList(pc::RbacPrincipal::Kind::kNotId, {std::move(inner)}); }
pc::RbacPrincipal IdNever() { return IdNot(IdAny()); }
pc::RbacPrincipal IdAuthenticated(pc::StringMatcher m) {
  pc::RbacPrincipal p;
  p.kind = pc::RbacPrincipal::Kind::kAuthenticated;
  p.principal_name = std::move(m);
  return p;
}

// ---- one policy -----------------------------------------------------------------------

// Compiles the rules of one policy for one kind of chain.
class PolicyCompiler {
 public:
  PolicyCompiler(const Resource& policy, bool deny, bool http, std::function<uint32_t(uint32_t)> map_port,
                 std::vector<std::string>* warnings)
      : policy_(policy), deny_(deny), http_(http), map_port_(std::move(map_port)), warnings_(warnings) {}

  // Adds "ns[NS]-policy[NAME]-rule[i]" policies to `out`.
  void Compile(std::map<std::string, pc::RbacPolicy>& out) {
    const Node& rules = policy_.spec()["rules"];
    for (size_t i = 0; i < rules.items().size(); ++i) {
      rule_index_ = i;
      std::optional<pc::RbacPolicy> compiled = Rule(rules.items()[i]);
      if (compiled) {
        out[StrCat("ns[", policy_.ns(), "]-policy[", policy_.name(), "]-rule[", i, "]")] = std::move(*compiled);
      }
    }
  }

 private:
  void Warn(const std::string& what) {
    if (warnings_ != nullptr) {
      warnings_->push_back(
          StrCat("AuthorizationPolicy ", policy_.ns(), "/", policy_.name(), " rule ", rule_index_, ": ", what));
    }
  }

  // A condition that cannot be evaluated: an ALLOW rule cannot match, a DENY rule drops
  // the condition (denies more). Returns true when the caller should add "never".
  bool Unenforceable() const { return !deny_; }

  // Values and notValues of one field, each value turned into a condition by `one`.
  template <typename T, typename Fn>
  static void AddField(const Node& holder, std::string_view field, std::string_view not_field,
                       std::vector<T>& conds, Fn one, typename T::Kind or_kind, T (*negate)(T)) {
    auto build = [&](const std::vector<std::string>& values) {
      std::vector<T> alternatives;
      for (const std::string& v : values) {
        alternatives.push_back(one(v));
      }
      T any_of;
      any_of.kind = or_kind;
      if constexpr (std::is_same_v<T, pc::RbacPermission>) {
        any_of.rules = std::move(alternatives);
      } else {
        any_of.ids = std::move(alternatives);
      }
      return any_of;
    };
    std::vector<std::string> values = holder[field].StringList();
    std::vector<std::string> not_values = holder[not_field].StringList();
    if (!values.empty()) {
      conds.push_back(build(values));
    }
    if (!not_values.empty()) {
      conds.push_back(negate(build(not_values)));
    }
  }

  void PrincipalFields(const Node& holder, std::string_view field, std::string_view not_field,
                       std::vector<pc::RbacPrincipal>& conds, const std::function<pc::RbacPrincipal(const std::string&)>& one) {
    AddField<pc::RbacPrincipal>(holder, field, not_field, conds, one, pc::RbacPrincipal::Kind::kOrIds, &IdNot);
  }
  void PermissionFields(const Node& holder, std::string_view field, std::string_view not_field,
                        std::vector<pc::RbacPermission>& conds,
                        const std::function<pc::RbacPermission(const std::string&)>& one) {
    AddField<pc::RbacPermission>(holder, field, not_field, conds, one, pc::RbacPermission::Kind::kOrRules, &PermNot);
  }

  static pc::RbacPrincipal Principal(const std::string& v) { return IdAuthenticated(ValueMatcher(v, "spiffe://")); }

  static pc::RbacPrincipal Namespace(const std::string& v) {
    // Principals look like spiffe://<trust domain>/ns/<namespace>/sa/<account>.
    std::string ns;
    if (v == "*") {
      ns = "[^/]+";
    } else if (v.size() > 1 && v.back() == '*') {
      ns = RegexEscape(v.substr(0, v.size() - 1)) + "[^/]*";
    } else if (v.size() > 1 && v.front() == '*') {
      ns = "[^/]*" + RegexEscape(v.substr(1));
    } else {
      ns = RegexEscape(v);
    }
    return IdAuthenticated(Matcher(pc::StringMatcher::Kind::kRegex, StrCat(".*/ns/", ns, "/.*")));
  }

  pc::RbacPrincipal Ip(const std::string& v, pc::RbacPrincipal::Kind kind) {
    std::string address = v;
    std::optional<uint32_t> len;
    size_t slash = v.find('/');
    if (slash != std::string::npos) {
      address = v.substr(0, slash);
      try {
        len = static_cast<uint32_t>(std::stoul(v.substr(slash + 1)));
      } catch (const std::exception&) {
        len = 999;  // rejected below
      }
    }
    if (!len) {
      len = address.find(':') != std::string::npos ? 128 : 32;
    }
    auto range = pc::MakeCidrRange(address, *len);
    if (!range) {
      Warn(StrCat("\"", v, "\" is not an IP address or CIDR range; it matches nothing"));
      return IdNever();
    }
    pc::RbacPrincipal p;
    p.kind = kind;
    p.cidr = *range;
    return p;
  }

  static pc::RbacPermission Host(const std::string& v) {
    using K = pc::StringMatcher::Kind;
    if (v == "*") {
      return PermHeader(":authority", std::nullopt);
    }
    // Case-insensitive; a port in the Host header does not stop a match.
    std::string re;
    if (v.size() > 1 && v.back() == '*') {
      re = RegexEscape(v.substr(0, v.size() - 1)) + ".*";
    } else if (v.size() > 1 && v.front() == '*') {
      re = ".*" + RegexEscape(v.substr(1)) + "(:[0-9]+)?";
    } else {
      re = RegexEscape(v) + "(:[0-9]+)?";
    }
    return PermHeader(":authority", Matcher(K::kRegex, re, true));
  }

  static pc::RbacPermission Method(const std::string& v) {
    if (v == "*") {
      return PermAny();
    }
    return PermHeader(":method", Matcher(pc::StringMatcher::Kind::kExact, v));
  }

  static pc::RbacPermission Path(const std::string& v) {
    pc::RbacPermission p;
    p.kind = pc::RbacPermission::Kind::kUrlPath;
    p.path = ValueMatcher(v);
    return p;
  }

  pc::RbacPermission Port(const std::string& v) {
    uint32_t port = 0;
    try {
      port = static_cast<uint32_t>(std::stoul(v));
    } catch (const std::exception&) {
      port = 0;
    }
    if (port == 0 || port > 65535) {
      Warn(StrCat("port \"", v, "\" is not a port number; it matches nothing"));
      return PermNever();
    }
    pc::RbacPermission p;
    p.kind = pc::RbacPermission::Kind::kDestinationPort;
    p.port = map_port_(port);
    return p;
  }

  pc::RbacPermission DestinationIp(const std::string& v) {
    pc::RbacPrincipal as_principal = Ip(v, pc::RbacPrincipal::Kind::kDirectRemoteIp);
    if (as_principal.kind != pc::RbacPrincipal::Kind::kDirectRemoteIp) {
      return PermNever();
    }
    pc::RbacPermission p;
    p.kind = pc::RbacPermission::Kind::kDestinationIp;
    p.cidr = as_principal.cidr;
    return p;
  }

  // HTTP-only fields on a TCP chain.
  void HttpOnly(const Node& holder, std::initializer_list<std::string_view> fields, bool& never) {
    if (http_) {
      return;
    }
    for (std::string_view f : fields) {
      if (holder[f].IsSequence() && !holder[f].items().empty()) {
        if (Unenforceable()) {
          never = true;
        }
      }
    }
  }

  pc::RbacPrincipal Source(const Node& source, const std::vector<pc::RbacPrincipal>& when) {
    std::vector<pc::RbacPrincipal> conds;
    PrincipalFields(source, "principals", "notPrincipals", conds, &Principal);
    PrincipalFields(source, "namespaces", "notNamespaces", conds, &Namespace);
    PrincipalFields(source, "ipBlocks", "notIpBlocks", conds,
                    [this](const std::string& v) { return Ip(v, pc::RbacPrincipal::Kind::kDirectRemoteIp); });
    PrincipalFields(source, "remoteIpBlocks", "notRemoteIpBlocks", conds,
                    [this](const std::string& v) { return Ip(v, pc::RbacPrincipal::Kind::kRemoteIp); });
    bool never = false;
    if (!source["requestPrincipals"].StringList().empty() || !source["notRequestPrincipals"].StringList().empty()) {
      Warn("requestPrincipals/notRequestPrincipals need JWT authentication, which meshctl does not implement: "
           "no request has a request principal (requestPrincipals never match, notRequestPrincipals always do)");
      if (!source["requestPrincipals"].StringList().empty() && (http_ || Unenforceable())) {
        never = true;
      }
    }
    if (!source["serviceAccounts"].StringList().empty() || !source["notServiceAccounts"].StringList().empty()) {
      PrincipalFields(source, "serviceAccounts", "notServiceAccounts", conds, [this](const std::string& v) {
        size_t slash = v.find('/');
        std::string ns = slash == std::string::npos ? policy_.ns() : v.substr(0, slash);
        std::string sa = slash == std::string::npos ? v : v.substr(slash + 1);
        return IdAuthenticated(
            Matcher(pc::StringMatcher::Kind::kRegex, StrCat(".*/ns/", RegexEscape(ns), "/sa/", RegexEscape(sa))));
      });
    }
    if (never) {
      return IdNever();
    }
    conds.insert(conds.end(), when.begin(), when.end());
    if (conds.empty()) {
      return IdAny();
    }
    return IdList(pc::RbacPrincipal::Kind::kAndIds, std::move(conds));
  }

  pc::RbacPermission Operation(const Node& op, const std::vector<pc::RbacPermission>& when) {
    std::vector<pc::RbacPermission> conds;
    bool never = false;
    HttpOnly(op, {"hosts", "notHosts", "methods", "notMethods", "paths", "notPaths"}, never);
    if (never) {
      return PermNever();
    }
    if (http_) {
      PermissionFields(op, "hosts", "notHosts", conds, &Host);
      PermissionFields(op, "methods", "notMethods", conds, &Method);
      PermissionFields(op, "paths", "notPaths", conds, &Path);
    }
    PermissionFields(op, "ports", "notPorts", conds, [this](const std::string& v) { return Port(v); });
    conds.insert(conds.end(), when.begin(), when.end());
    if (conds.empty()) {
      return PermAny();
    }
    return PermList(pc::RbacPermission::Kind::kAndRules, std::move(conds));
  }

  // `when` conditions split into the request side and the peer side.
  bool When(const Node& rule, std::vector<pc::RbacPermission>& perms, std::vector<pc::RbacPrincipal>& ids) {
    bool never = false;
    for (const Node& c : rule["when"].items()) {
      std::string key = c["key"].Str();
      if (key.rfind("request.headers[", 0) == 0 && key.size() > 17 && key.back() == ']') {
        std::string name = key.substr(16, key.size() - 17);
        if (!http_) {
          never = never || Unenforceable();
          continue;
        }
        PermissionFields(c, "values", "notValues", perms, [&name](const std::string& v) {
          return PermHeader(name, v == "*" ? std::nullopt : std::optional<pc::StringMatcher>(ValueMatcher(v)));
        });
      } else if (key == "source.ip") {
        PrincipalFields(c, "values", "notValues", ids,
                        [this](const std::string& v) { return Ip(v, pc::RbacPrincipal::Kind::kDirectRemoteIp); });
      } else if (key == "remote.ip") {
        PrincipalFields(c, "values", "notValues", ids,
                        [this](const std::string& v) { return Ip(v, pc::RbacPrincipal::Kind::kRemoteIp); });
      } else if (key == "source.namespace") {
        PrincipalFields(c, "values", "notValues", ids, &Namespace);
      } else if (key == "source.principal") {
        PrincipalFields(c, "values", "notValues", ids, &Principal);
      } else if (key == "destination.port") {
        PermissionFields(c, "values", "notValues", perms, [this](const std::string& v) { return Port(v); });
      } else if (key == "destination.ip") {
        PermissionFields(c, "values", "notValues", perms, [this](const std::string& v) { return DestinationIp(v); });
      } else {
        Warn(StrCat("condition key \"", key,
                    "\" is not supported (supported: request.headers[...], source.ip, remote.ip, source.namespace, "
                    "source.principal, destination.ip, destination.port); ",
                    deny_ ? "this DENY rule ignores the condition" : "this ALLOW rule never matches"));
        never = never || Unenforceable();
      }
    }
    return !never;
  }

  std::optional<pc::RbacPolicy> Rule(const Node& rule) {
    std::vector<pc::RbacPermission> when_perms;
    std::vector<pc::RbacPrincipal> when_ids;
    if (!When(rule, when_perms, when_ids)) {
      return std::nullopt;  // an ALLOW rule that can never match
    }
    pc::RbacPolicy out;
    for (const Node& to : rule["to"].items()) {
      out.permissions.push_back(Operation(to["operation"], when_perms));
    }
    if (out.permissions.empty()) {
      out.permissions.push_back(when_perms.empty() ? PermAny()
                                                   : PermList(pc::RbacPermission::Kind::kAndRules, when_perms));
    }
    for (const Node& from : rule["from"].items()) {
      out.principals.push_back(Source(from["source"], when_ids));
    }
    if (out.principals.empty()) {
      out.principals.push_back(when_ids.empty() ? IdAny() : IdList(pc::RbacPrincipal::Kind::kAndIds, when_ids));
    }
    return out;
  }

  const Resource& policy_;
  bool deny_;
  bool http_;
  std::function<uint32_t(uint32_t)> map_port_;
  std::vector<std::string>* warnings_;
  size_t rule_index_ = 0;
};

bool LabelsSelect(const std::vector<std::pair<std::string, std::string>>& selector, const config::StringMap& labels) {
  for (const auto& [k, v] : selector) {
    auto it = labels.find(k);
    if (it == labels.end() || it->second != v) {
      return false;
    }
  }
  return true;
}

bool ServesService(const PushContext& push, const WorkloadInstance& w, const std::string& ns, const std::string& name) {
  if (ns != w.ns) {
    return false;
  }
  if (std::find(w.services.begin(), w.services.end(), name) != w.services.end()) {
    return true;
  }
  for (const Service& s : push.services()) {
    if (s.ns == ns && s.name == name && !s.selector.empty()) {
      std::vector<std::pair<std::string, std::string>> sel(s.selector.begin(), s.selector.end());
      return LabelsSelect(sel, w.labels);
    }
  }
  return false;
}

std::vector<const Node*> TargetRefs(const Resource& ap) {
  std::vector<const Node*> refs;
  if (ap.spec()["targetRef"].IsMap()) {
    refs.push_back(&ap.spec()["targetRef"]);
  }
  for (const Node& r : ap.spec()["targetRefs"].items()) {
    refs.push_back(&r);
  }
  return refs;
}

bool TargetRefSupported(const Node& ref) {
  std::string kind = ref["kind"].Str();
  return kind == "Service" || kind == "Gateway";
}

bool TargetRefSelects(const PushContext& push, const Resource& ap, const Node& ref, const WorkloadInstance& w) {
  std::string kind = ref["kind"].Str();
  std::string name = ref["name"].Str();
  std::string ns = ref["namespace"].Str().empty() ? ap.ns() : ref["namespace"].Str();
  if (kind == "Service") {
    return ServesService(push, w, ns, name);
  }
  if (kind == "Gateway") {
    auto it = w.labels.find(kGatewayNameLabel);
    return w.ns == ns && it != w.labels.end() && it->second == name;
  }
  return false;
}

std::string Action(const Resource& ap) {
  std::string action = ap.spec()["action"].Str();
  return action.empty() ? "ALLOW" : action;
}

bool DryRun(const Resource& ap) {
  auto it = ap.annotations().find(kDryRunAnnotation);
  return it != ap.annotations().end() && common::ToLower(it->second) == "true";
}

std::function<uint32_t(uint32_t)> PortMapper(const ProxyRole& proxy, const PushContext& push) {
  if (proxy.type == ProxyRole::Type::kRouter) {
    std::map<uint32_t, uint32_t> ports = proxy.gateway_ports;
    return [ports](uint32_t p) {
      auto it = ports.find(p);
      return it == ports.end() ? p : it->second;
    };
  }
  // Sidecars: every workload port arrives on the inbound listener in local mode.
  const WorkloadInstance& w = proxy.workload;
  std::set<uint32_t> workload_ports;
  if (proxy.app_port != 0) {
    workload_ports.insert(proxy.app_port);
  }
  for (const auto& [target, endpoint] : w.endpoint_ports) {
    workload_ports.insert(target);
  }
  for (const Service& s : push.services()) {
    if (s.ns != w.ns) {
      continue;
    }
    bool member = std::find(w.services.begin(), w.services.end(), s.name) != w.services.end();
    if (!member && !s.selector.empty()) {
      std::vector<std::pair<std::string, std::string>> sel(s.selector.begin(), s.selector.end());
      member = LabelsSelect(sel, w.labels);
    }
    if (member) {
      for (const ServicePort& p : s.ports) {
        workload_ports.insert(p.target_port != 0 ? p.target_port : p.port);
      }
    }
  }
  uint32_t inbound = w.default_endpoint_port;
  return [workload_ports, inbound](uint32_t p) { return workload_ports.count(p) && inbound != 0 ? inbound : p; };
}

std::vector<pc::RbacConfig> Filters(const std::vector<const Resource*>& policies, bool http,
                                    const std::function<uint32_t(uint32_t)>& map_port) {
  pc::RbacRules deny{pc::RbacRules::Action::kDeny, {}};
  pc::RbacRules allow{pc::RbacRules::Action::kAllow, {}};
  bool any_deny = false, any_allow = false;
  for (const Resource* ap : policies) {
    std::string action = Action(*ap);
    if (action == "DENY" || action == "CUSTOM") {
      any_deny = true;
      PolicyCompiler(*ap, true, http, map_port, nullptr).Compile(deny.policies);
    } else if (action == "ALLOW") {
      any_allow = true;
      PolicyCompiler(*ap, false, http, map_port, nullptr).Compile(allow.policies);
    }
  }
  std::vector<pc::RbacConfig> out;
  std::string stat_prefix = http ? "" : "tcp.";
  if (any_deny) {
    out.push_back(pc::RbacConfig{deny, stat_prefix});
  }
  if (any_allow) {
    out.push_back(pc::RbacConfig{allow, stat_prefix});
  }
  return out;
}

void AddToChain(pc::FilterChain& chain, const AuthorizationFilters& filters) {
  if (auto* hcm = std::get_if<pc::HttpConnectionManager>(&chain.filter)) {
    hcm->rbac = filters.http;
    if (hcm->http_filters.empty()) {
      hcm->http_filters.push_back("envoy.filters.http.router");
    }
    // RBAC runs first, as in Istio's filter order.
    hcm->http_filters.insert(hcm->http_filters.begin(), filters.http.size(), pc::kHttpRbacFilter);
  } else {
    chain.network_rbac = filters.network;
  }
}

}  // namespace

std::vector<const Resource*> AuthorizationPoliciesForWorkload(const PushContext& push,
                                                              const WorkloadInstance& workload) {
  std::vector<const Resource*> out;
  for (const Resource& r : push.resources()) {
    if (r.kind() != "AuthorizationPolicy" || r.gvk().group != "security.istio.io") {
      continue;
    }
    bool root = r.ns() == push.mesh().root_namespace;
    std::vector<const Node*> refs = TargetRefs(r);
    if (!refs.empty()) {
      bool selected = false;
      for (const Node* ref : refs) {
        selected = selected || TargetRefSelects(push, r, *ref, workload);
      }
      if (selected) {
        out.push_back(&r);
      }
      continue;
    }
    if (r.ns() != workload.ns && !root) {
      continue;
    }
    const Node& selector = r.spec().At({"selector", "matchLabels"});
    if (selector.IsMap() && !LabelsSelect(selector.StringMap(), workload.labels)) {
      continue;
    }
    out.push_back(&r);
  }
  std::sort(out.begin(), out.end(), [](const Resource* a, const Resource* b) {
    return std::tie(a->ns(), a->name()) < std::tie(b->ns(), b->name());
  });
  return out;
}

AuthorizationFilters BuildAuthorizationFilters(const ProxyRole& proxy, const PushContext& push) {
  std::vector<const Resource*> enforced;
  for (const Resource* ap : AuthorizationPoliciesForWorkload(push, proxy.workload)) {
    if (!DryRun(*ap) && Action(*ap) != "AUDIT") {
      enforced.push_back(ap);
    }
  }
  AuthorizationFilters out;
  if (enforced.empty()) {
    return out;
  }
  auto map_port = PortMapper(proxy, push);
  out.http = Filters(enforced, true, map_port);
  out.network = Filters(enforced, false, map_port);
  return out;
}

void ApplyAuthorization(const ProxyRole& proxy, const PushContext& push, pc::Resources& out) {
  AuthorizationFilters filters = BuildAuthorizationFilters(proxy, push);
  if (filters.empty()) {
    return;
  }
  for (pc::Listener& l : out.listeners) {
    bool applies = proxy.type == ProxyRole::Type::kRouter || l.traffic_direction == pc::Listener::Direction::kInbound;
    if (!applies) {
      continue;
    }
    for (pc::FilterChain& chain : l.filter_chains) {
      AddToChain(chain, filters);
    }
  }
}

std::vector<std::string> AuthorizationWarnings(const PushContext& push) {
  std::vector<std::string> out;
  auto identity = [](uint32_t p) { return p; };
  for (const Resource& r : push.resources()) {
    if (r.kind() != "AuthorizationPolicy" || r.gvk().group != "security.istio.io") {
      continue;
    }
    std::string who = StrCat("AuthorizationPolicy ", r.ns(), "/", r.name(), ": ");
    std::string action = Action(r);
    if (DryRun(r)) {
      out.push_back(who + "istio.io/dry-run: not enforced (meshctl has no shadow rules)");
      continue;
    }
    if (action == "AUDIT") {
      out.push_back(who + "action AUDIT is not supported (no audit logging); the policy has no effect");
      continue;
    }
    if (action == "CUSTOM") {
      out.push_back(who + "action CUSTOM (ext_authz provider \"" + r.spec().At({"provider", "name"}).Str() +
                    "\") is not supported; the requests it selects are denied");
    } else if (action != "ALLOW" && action != "DENY") {
      out.push_back(who + "unknown action \"" + action + "\"; the policy is ignored");
      continue;
    }
    for (const Node* ref : TargetRefs(r)) {
      if (!TargetRefSupported(*ref)) {
        out.push_back(who + "targetRef kind \"" + ref->At({"kind"}).Str() +
                      "\" is not supported (Service, Gateway); it selects nothing");
      }
    }
    std::map<std::string, pc::RbacPolicy> ignored;
    PolicyCompiler(r, action != "ALLOW", true, identity, &out).Compile(ignored);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace mesh::pilot
