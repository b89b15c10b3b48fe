// VirtualService analyzers: mesh-gateway host conflicts, destination hosts and subsets,
// gateway references and JWT-claim routing without RequestAuthentication.

#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "mesh/analyze/analyzers/networking/analyzers.h"
#include "mesh/analyze/analyzers/networking/common.h"
#include "mesh/analyze/util.h"
#include "mesh/common/strings.h"

namespace mesh::analyze::networking {
namespace {

std::vector<std::string> ExportTo(const config::Resource& r) { return r.spec()["exportTo"].StringList(); }

// ---------------------------------------------------------------- ConflictingMeshGatewayHostsAnalyzer

class ConflictingMeshGatewayHostsAnalyzer : public AnalyzerBase {
 public:
  ConflictingMeshGatewayHostsAnalyzer()
      : AnalyzerBase({"virtualservice.ConflictingMeshGatewayHostsAnalyzer",
                      "Checks if multiple virtual services associated with the mesh gateway have conflicting hosts",
                      {kinds::kVirtualService}}) {}

  void Analyze(Context& ctx) const override {
    // "scope/fqdn" -> VirtualServices bound to the mesh gateway defining that host.
    std::vector<std::string> order;
    std::unordered_map<std::string, std::vector<const config::Resource*>> by_host;
    // Hosts exported everywhere, for matching namespace-scoped ones.
    std::unordered_map<std::string, std::vector<const config::Resource*>*> exported_exact;
    std::vector<std::pair<std::string, std::vector<const config::Resource*>*>> exported_wildcards;

    for (const config::Resource* vs : ctx.world().Of(kinds::kVirtualService)) {
      std::vector<std::string> gateways = vs->spec()["gateways"].StringList();
      bool on_mesh = gateways.empty();
      for (const std::string& g : gateways) {
        on_mesh = on_mesh || g == kMeshGateway;
      }
      if (!on_mesh) {
        continue;
      }
      std::vector<std::string> export_to = ExportTo(*vs);
      std::set<std::string> scopes;
      if (ExportsToAll(export_to)) {
        scopes.insert(std::string(kExportToAll));
      } else {
        for (const std::string& e : export_to) {
          scopes.insert(e == kExportToLocal ? vs->ns() : e);
        }
      }
      for (const std::string& scope : scopes) {
        for (const std::string& h : vs->spec()["hosts"].StringList()) {
          std::string key = ScopedFqdn(scope, vs->ns(), h);
          auto [it, inserted] = by_host.try_emplace(key);
          if (inserted) {
            order.push_back(key);
          }
          it->second.push_back(vs);
        }
      }
    }
    for (const std::string& key : order) {
      if (key.compare(0, 2, "*/") == 0) {
        std::string fqdn = key.substr(2);
        if (!fqdn.empty() && fqdn[0] == '*') {
          exported_wildcards.emplace_back(fqdn, &by_host[key]);
        } else {
          exported_exact[fqdn] = &by_host[key];
        }
      }
    }

    const MessageType& type = MessageTypeNamed("ConflictingMeshGatewayVirtualServiceHosts");
    std::unordered_set<const config::Resource*> reported;
    for (const std::string& key : order) {
      std::vector<const config::Resource*> list = by_host[key];
      if (key.compare(0, 2, "*/") != 0) {
        // A namespace-scoped host also conflicts with exported ones that match it.
        std::string fqdn = key.substr(key.find('/') + 1);
        if (!fqdn.empty() && fqdn[0] == '*') {
          for (const auto& [exported, vss] : exported_exact) {
            if (HostNamesMatch(fqdn, exported)) {
              list.insert(list.end(), vss->begin(), vss->end());
            }
          }
        } else if (auto it = exported_exact.find(fqdn); it != exported_exact.end()) {
          list.insert(list.end(), it->second->begin(), it->second->end());
        }
        for (const auto& [exported, vss] : exported_wildcards) {
          if (HostNamesMatch(fqdn, exported)) {
            list.insert(list.end(), vss->begin(), vss->end());
          }
        }
      }
      if (list.size() <= 1) {
        continue;
      }
      std::vector<std::string> names;
      for (const config::Resource* vs : list) {
        names.push_back(vs->FullName());
      }
      std::string joined = common::Join(names, ",");
      for (const config::Resource* vs : list) {
        if (!reported.insert(vs).second) {
          continue;
        }
        ctx.Report(type, vs, {joined, key}, util::LineOf(vs->metadata()["name"]));
      }
    }
  }
};

// ---------------------------------------------------------------- DestinationHostAnalyzer

class DestinationHostAnalyzer : public AnalyzerBase {
 public:
  DestinationHostAnalyzer()
      : AnalyzerBase({"virtualservice.DestinationHostAnalyzer",
                      "Checks the destination hosts associated with each virtual service",
                      {kinds::kServiceEntry, kinds::kVirtualService, kinds::kService}}) {}

  void Analyze(Context& ctx) const override {
    ServiceHostIndex services(ctx.world());
    // Destination host -> VirtualServices routing to a subset of one of their own hosts
    // (one entry per such destination).
    std::unordered_map<std::string, std::vector<const config::Resource*>> subset_routes;
    for (const config::Resource* vs : ctx.world().Of(kinds::kVirtualService)) {
      std::vector<std::string> hosts = vs->spec()["hosts"].StringList();
      for (const config::Node& http : vs->spec()["http"].items()) {
        for (const config::Node& route : http["route"].items()) {
          const config::Node& dest = route["destination"];
          if (dest["subset"].Str().empty()) {
            continue;
          }
          for (const std::string& h : hosts) {
            if (dest["host"].Str() == h) {
              subset_routes[h].push_back(vs);
            }
          }
        }
      }
    }
    for (const config::Resource* vs : ctx.world().Of(kinds::kVirtualService)) {
      CheckDestinations(ctx, *vs, services);
      CheckIngressSubsets(ctx, *vs, subset_routes);
    }
  }

 private:
  static void CheckDestinations(Context& ctx, const config::Resource& vs, const ServiceHostIndex& services) {
    const MessageType& not_found = MessageTypeNamed("ReferencedResourceNotFound");
    std::vector<std::string> export_to = ExportTo(vs);
    for (bool mirror : {false, true}) {
      for (const RouteDestination& d : mirror ? MirrorDestinations(vs.spec()) : RouteDestinations(vs.spec())) {
        const std::string& host = (*d.destination)["host"].Str();
        const KnownService* s = services.Lookup(vs.ns(), export_to, host);
        if (s == nullptr) {
          ctx.Report(not_found, &vs, {mirror ? "mirror host" : "host", host}, DestinationHostLine(d));
          continue;
        }
        CheckPorts(ctx, vs, d, *s);
      }
    }
  }

  static void CheckPorts(Context& ctx, const config::Resource& vs, const RouteDestination& d, const KnownService& s) {
    const config::Node& port = (*d.destination)["port"];
    const std::string& host = (*d.destination)["host"].Str();
    if (!port.Defined()) {
      // Without a port the destination is ambiguous only when the service has several.
      if (s.ports.size() > 1) {
        std::vector<std::string> numbers;
        for (int64_t p : s.ports) {
          numbers.push_back(std::to_string(p));
        }
        ctx.Report(MessageTypeNamed("VirtualServiceDestinationPortSelectorRequired"), &vs,
                   {host, common::GoList(numbers)}, DestinationHostLine(d));
      }
      return;
    }
    int64_t number = port["number"].Int().value_or(0);
    for (int64_t p : s.ports) {
      if (p == number) {
        return;
      }
    }
    ctx.Report(MessageTypeNamed("ReferencedResourceNotFound"), &vs,
               {"host:port", common::StrCat(host, ":", number)}, DestinationHostLine(d));
  }

  // Subsets chosen by mesh-internal VirtualServices do not apply to requests routed by a
  // gateway VirtualService to the same host without a subset.
  static void CheckIngressSubsets(Context& ctx, const config::Resource& vs,
                                  const std::unordered_map<std::string, std::vector<const config::Resource*>>& subset_routes) {
    if (vs.spec()["gateways"].size() == 0) {
      return;
    }
    const MessageType& type = MessageTypeNamed("IngressRouteRulesNotAffected");
    for (const config::Node& http : vs.spec()["http"].items()) {
      for (const config::Node& route : http["route"].items()) {
        const config::Node& dest = route["destination"];
        if (!dest["subset"].Str().empty()) {
          continue;
        }
        auto it = subset_routes.find(dest["host"].Str());
        if (it == subset_routes.end()) {
          continue;
        }
        for (const config::Resource* other : it->second) {
          ctx.Report(type, &vs, {other->FullName(), vs.FullName()}, util::LineOf(dest["host"]));
        }
      }
    }
  }
};

// ---------------------------------------------------------------- DestinationRuleAnalyzer

// Istio's GetResourceNameFromHost: "name.ns.svc.cluster.local" -> "ns/name", anything
// else -> "<default ns>/host".
std::string ResourceNameFromHost(std::string_view default_ns, std::string_view host) {
  std::string_view rest = host;
  if (common::ConsumeSuffix(rest, ".svc.cluster.local")) {
    size_t dot = rest.rfind('.');
    if (dot != std::string_view::npos && dot > 0 && dot + 1 < rest.size()) {
      return common::StrCat(rest.substr(dot + 1), "/", rest.substr(0, dot));
    }
  }
  return common::StrCat(default_ns, "/", host);
}

class DestinationRuleAnalyzer : public AnalyzerBase {
 public:
  DestinationRuleAnalyzer()
      : AnalyzerBase({"virtualservice.DestinationRuleAnalyzer",
                      "Checks the destination rules associated with each virtual service",
                      {kinds::kVirtualService, kinds::kDestinationRule}}) {}

  void Analyze(Context& ctx) const override {
    std::unordered_set<std::string> host_subsets;  // "ns/name+subset"
    for (const config::Resource* dr : ctx.world().Of(kinds::kDestinationRule)) {
      std::string name = ResourceNameFromHost(dr->ns(), dr->spec()["host"].Str());
      for (const config::Node& subset : dr->spec()["subsets"].items()) {
        host_subsets.insert(common::StrCat(name, "+", subset["name"].Str()));
      }
    }
    const MessageType& not_found = MessageTypeNamed("ReferencedResourceNotFound");
    for (const config::Resource* vs : ctx.world().Of(kinds::kVirtualService)) {
      for (bool mirror : {false, true}) {
        for (const RouteDestination& d : mirror ? MirrorDestinations(vs->spec()) : RouteDestinations(vs->spec())) {
          const std::string& host = (*d.destination)["host"].Str();
          const std::string& subset = (*d.destination)["subset"].Str();
          if (subset.empty() ||
              host_subsets.count(common::StrCat(ResourceNameFromHost(vs->ns(), host), "+", subset)) > 0) {
            continue;
          }
          ctx.Report(not_found, vs,
                     {mirror ? "mirror+subset in destinationrule" : "host+subset in destinationrule",
                      common::StrCat(host, "+", subset)},
                     DestinationHostLine(d));
        }
      }
    }
  }
};

// ---------------------------------------------------------------- GatewayAnalyzer

// Gateway server hosts as a VirtualService in `vs_ns` sees them: "./h" is the gateway's
// namespace, "*/h" any namespace; hosts for other namespaces are dropped.
std::vector<std::string> GatewayHostsVisibleFrom(const config::Resource& gw, std::string_view vs_ns) {
  std::vector<std::string> visible;
  for (const config::Node& server : gw.spec()["servers"].items()) {
    for (const std::string& raw : server["hosts"].StringList()) {
      std::string h = raw;
      size_t slash = h.find('/');
      if (slash != std::string::npos) {
        std::string ns = h.substr(0, slash);
        std::string name = h.substr(slash + 1);
        if (ns == "*" || ns == vs_ns || (ns == "." && gw.ns() == vs_ns)) {
          h = name;
        } else {
          continue;
        }
      }
      visible.push_back(h);
    }
  }
  return visible;
}

bool AnyHostMatches(const std::vector<std::string>& gateway_hosts, const std::vector<std::string>& vs_hosts) {
  for (const std::string& gh : gateway_hosts) {
    for (const std::string& vh : vs_hosts) {
      if (HostNamesMatch(gh, vh)) {
        return true;
      }
    }
  }
  return false;
}

// "[ns/]<gateway>~istio-autogenerated-k8s-gateway~<listener>": the Istio Gateway generated
// for a Kubernetes Gateway listener.
bool IsInternalGatewayReference(std::string_view ref) {
  size_t slash = ref.find('/');
  std::string_view name = slash == std::string_view::npos ? ref : ref.substr(slash + 1);
  return name.find("~istio-autogenerated-k8s-gateway~") != std::string_view::npos;
}

class GatewayAnalyzer : public AnalyzerBase {
 public:
  GatewayAnalyzer()
      : AnalyzerBase({"virtualservice.GatewayAnalyzer",
                      "Checks the gateways associated with each virtual service",
                      {kinds::kGateway, kinds::kK8sGateway, kinds::kVirtualService}}) {}

  void Analyze(Context& ctx) const override {
    const World& world = ctx.world();
    const MessageType& internal = MessageTypeNamed("ReferencedInternalGateway");
    const MessageType& not_found = MessageTypeNamed("ReferencedResourceNotFound");
    const MessageType& host_not_found = MessageTypeNamed("VirtualServiceHostNotFoundInGateway");
    for (const config::Resource* vs : world.Of(kinds::kVirtualService)) {
      std::vector<std::string> vs_hosts = vs->spec()["hosts"].StringList();
      const auto& refs = vs->spec()["gateways"].items();
      for (const config::Node& ref : refs) {
        const std::string& gw_name = ref.Str();
        if (gw_name == kMeshGateway) {
          continue;
        }
        int line = util::LineOf(ref);
        // Gateways generated for Kubernetes Gateway resources are implementation details.
        if (IsInternalGatewayReference(gw_name)) {
          ctx.Report(internal, vs, {vs->FullName(), gw_name}, line);
          continue;
        }
        auto [ns, name] = ShortOrFullName(vs->ns(), gw_name);
        const config::Resource* gw = world.Find(kinds::kGateway, ns, name);
        const config::Resource* k8s_gw = gw == nullptr ? world.Find(kinds::kK8sGateway, ns, name) : nullptr;
        if (gw == nullptr && k8s_gw == nullptr) {
          ctx.Report(not_found, vs, {"gateway", gw_name}, line);
        }
        bool hosts_match = false;
        if (k8s_gw != nullptr) {
          hosts_match = KubernetesGatewayAccepts(*k8s_gw, vs_hosts);
        } else if (gw != nullptr) {
          hosts_match = AnyHostMatches(GatewayHostsVisibleFrom(*gw, vs->ns()), vs_hosts);
        }
        if (!hosts_match) {
          ctx.Report(host_not_found, vs, {common::GoList(vs_hosts), vs->FullName(), FullNameString(ns, name)}, line);
        }
      }
    }
  }

 private:
  // A listener without hostname accepts every host.
  static bool KubernetesGatewayAccepts(const config::Resource& gw, const std::vector<std::string>& vs_hosts) {
    std::vector<std::string> hostnames;
    for (const config::Node& listener : gw.spec()["listeners"].items()) {
      const std::string& h = listener["hostname"].Str();
      if (h.empty()) {
        return true;
      }
      hostnames.push_back(h);
    }
    return AnyHostMatches(hostnames, vs_hosts);
  }
};

// ---------------------------------------------------------------- JWTClaimRouteAnalyzer

inline constexpr std::string_view kJwtClaimHeaderPrefix = "@request.auth.claims";

// The first header key (in document order) that routes on a JWT claim, or "".
std::string JwtClaimRouteKey(const config::Node& vs_spec) {
  for (const config::Node& http : vs_spec["http"].items()) {
    for (const config::Node& match : http["match"].items()) {
      for (std::string_view field : {"headers", "withoutHeaders"}) {
        for (const auto& [key, value] : match[field].entries()) {
          (void)value;
          if (key.compare(0, kJwtClaimHeaderPrefix.size(), kJwtClaimHeaderPrefix) == 0) {
            return key;
          }
        }
      }
    }
  }
  return "";
}

class JwtClaimRouteAnalyzer : public AnalyzerBase {
 public:
  JwtClaimRouteAnalyzer()
      : AnalyzerBase({"virtualservice.JWTClaimRouteAnalyzer",
                      "Checks the VirtualService using JWT claim based routing has corresponding "
                      "RequestAuthentication",
                      {kinds::kVirtualService, kinds::kRequestAuthentication, kinds::kGateway, kinds::kPod}}) {}

  void Analyze(Context& ctx) const override {
    const World& world = ctx.world();
    std::unordered_map<std::string, std::vector<config::StringMap>> authn_selectors_by_ns;
    for (const config::Resource* ra : world.Of(kinds::kRequestAuthentication)) {
      authn_selectors_by_ns[ra->ns()].push_back(util::ToStringMap(ra->spec().At({"selector", "matchLabels"})));
    }
    auto has_authn = [&](const config::Resource& pod) {
      for (const std::string& ns : {std::string("istio-system"), pod.ns()}) {
        auto it = authn_selectors_by_ns.find(ns);
        if (it == authn_selectors_by_ns.end()) {
          continue;
        }
        for (const config::StringMap& sel : it->second) {
          if (util::SelectorMatches(sel, pod.labels())) {
            return true;
          }
        }
      }
      return false;
    };
    const MessageType& type = MessageTypeNamed("JwtClaimBasedRoutingWithoutRequestAuthN");
    PodIndex pods(world);
    for (const config::Resource* vs : world.Of(kinds::kVirtualService)) {
      std::string key = JwtClaimRouteKey(vs->spec());
      if (key.empty()) {
        continue;
      }
      for (const std::string& gw_name : vs->spec()["gateways"].StringList()) {
        if (gw_name == kMeshGateway) {
          continue;
        }
        auto [ns, name] = ShortOrFullName(vs->ns(), gw_name);
        const config::Resource* gw = world.Find(kinds::kGateway, ns, name);
        if (gw == nullptr) {
          continue;  // reported by virtualservice.GatewayAnalyzer
        }
        config::StringMap selector = util::ToStringMap(gw->spec()["selector"]);
        for (const config::Resource* pod : pods.Matching(selector)) {
          if (!has_authn(*pod)) {
            ctx.Report(type, vs, {key, FullNameString(ns, name), pod->name()});
          }
        }
      }
    }
  }
};

}  // namespace

AnalyzerPtr NewConflictingMeshGatewayHostsAnalyzer() { return std::make_unique<ConflictingMeshGatewayHostsAnalyzer>(); }
AnalyzerPtr NewDestinationHostAnalyzer() { return std::make_unique<DestinationHostAnalyzer>(); }
AnalyzerPtr NewVirtualServiceDestinationRuleAnalyzer() { return std::make_unique<DestinationRuleAnalyzer>(); }
AnalyzerPtr NewVirtualServiceGatewayAnalyzer() { return std::make_unique<GatewayAnalyzer>(); }
AnalyzerPtr NewJwtClaimRouteAnalyzer() { return std::make_unique<JwtClaimRouteAnalyzer>(); }

}  // namespace mesh::analyze::networking
