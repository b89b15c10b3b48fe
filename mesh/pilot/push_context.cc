#include "mesh/pilot/push_context.h"

#include <algorithm>
#include <atomic>
#include <set>

#include "mesh/common/strings.h"

namespace mesh::pilot {
namespace {

using config::Node;
using config::Resource;

std::string Key(std::string_view group, std::string_view kind) { return common::StrCat(group, "/", kind); }

config::StringMap ToMap(const Node& n) {
  config::StringMap out;
  for (auto& [k, v] : n.StringMap()) {
    out[k] = v;
  }
  return out;
}

bool Selects(const config::StringMap& selector, const config::StringMap& labels) {
  for (const auto& [k, v] : selector) {
    auto it = labels.find(k);
    if (it == labels.end() || it->second != v) {
      return false;
    }
  }
  return true;
}

bool HostMatches(std::string_view pattern, std::string_view host) {
  if (pattern == "*") {
    return true;
  }
  if (!pattern.empty() && pattern[0] == '*') {
    std::string_view suffix = pattern.substr(1);
    return host.size() > suffix.size() && host.substr(host.size() - suffix.size()) == suffix;
  }
  return pattern == host;
}

bool ExportedTo(const Resource& r, const std::string& ns) {
  const Node& export_to = r.spec()["exportTo"];
  if (!export_to.IsSequence() || export_to.items().empty()) {
    return true;
  }
  for (const std::string& e : export_to.StringList()) {
    if (e == "*" || e == ns || (e == "." && r.ns() == ns)) {
      return true;
    }
  }
  return false;
}

std::atomic<uint64_t> g_versions{0};

}  // namespace

const ServicePort* Service::FindPort(uint32_t p) const {
  for (const ServicePort& sp : ports) {
    if (sp.port == p) {
      return &sp;
    }
  }
  return nullptr;
}

uint32_t WorkloadInstance::EndpointPortFor(uint32_t target_port) const {
  auto it = endpoint_ports.find(target_port);
  if (it != endpoint_ports.end()) {
    return it->second;
  }
  return default_endpoint_port ? default_endpoint_port : target_port;
}

std::string QualifyHost(std::string_view host, std::string_view ns, std::string_view suffix) {
  if (host.empty() || host.find('.') != std::string_view::npos || host[0] == '*') {
    return std::string(host);
  }
  return common::StrCat(host, ".", ns, ".svc.", suffix);
}

std::string ProtocolForPort(std::string_view name, std::string_view app_protocol) {
  std::string p = common::ToLower(app_protocol.empty() ? name : app_protocol);
  std::string prefix = p.substr(0, p.find('-'));
  if (prefix == "http" || prefix == "http2" || prefix == "grpc" || prefix == "https" || prefix == "tls" ||
      prefix == "tcp" || prefix == "grpc-web") {
    std::string upper = prefix;
    for (char& c : upper) {
      c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    return upper;
  }
  if (p == "h2c") {
    return "HTTP2";
  }
  return "TCP";
}

std::string LocalityFromLabels(const config::StringMap& labels) {
  auto get = [&](const char* key) {
    auto it = labels.find(key);
    return it == labels.end() ? std::string() : it->second;
  };
  // Istio's istio-locality label separates with dots (slashes are not allowed in label values).
  std::string locality = get("istio-locality");
  if (!locality.empty()) {
    for (char& c : locality) {
      c = c == '.' ? '/' : c;
    }
    return locality;
  }
  std::string region = get("topology.kubernetes.io/region"), zone = get("topology.kubernetes.io/zone"),
              subzone = get("topology.istio.io/subzone");
  if (region.empty() && zone.empty() && subzone.empty()) {
    return "";
  }
  return subzone.empty() ? common::StrCat(region, "/", zone) : common::StrCat(region, "/", zone, "/", subzone);
}

bool IsHttpProtocol(std::string_view protocol) {
  return protocol == "HTTP" || protocol == "HTTP2" || protocol == "GRPC" || protocol == "GRPC-WEB";
}

std::shared_ptr<const PushContext> PushContext::Build(std::vector<Resource> resources,
                                                      std::vector<WorkloadInstance> workloads, MeshSettings mesh) {
  auto pc = std::shared_ptr<PushContext>(new PushContext());
  pc->mesh_ = std::move(mesh);
  pc->version_ = ++g_versions;
  pc->resources_ = std::move(resources);
  pc->workloads_ = std::move(workloads);
  for (const Resource& r : pc->resources_) {
    pc->by_kind_[Key(r.gvk().group, r.kind())].push_back(&r);
  }

  // Services from Kubernetes Services.
  for (const Resource* r : pc->OfKind("", "Service")) {
    Service s;
    s.name = r->name();
    s.ns = r->ns();
    s.hostname = common::StrCat(s.name, ".", s.ns, ".svc.", pc->mesh_.domain_suffix);
    s.selector = ToMap(r->spec()["selector"]);
    for (const Node& p : r->spec()["ports"].items()) {
      ServicePort sp;
      sp.name = p["name"].Str();
      sp.port = static_cast<uint32_t>(p["port"].Int().value_or(0));
      sp.target_port = static_cast<uint32_t>(p["targetPort"].Int().value_or(sp.port));
      sp.protocol = ProtocolForPort(sp.name, p["appProtocol"].Str());
      s.ports.push_back(std::move(sp));
    }
    pc->services_.push_back(std::move(s));
  }
  // Services from ServiceEntries (one per host); their endpoints become instances.
  for (const Resource* r : pc->OfKind("networking.istio.io", "ServiceEntry")) {
    const Node& spec = r->spec();
    for (const std::string& host : spec["hosts"].StringList()) {
      Service s;
      s.hostname = host;
      s.name = host;
      s.ns = r->ns();
      s.mesh_external = spec["location"].Str() != "MESH_INTERNAL";
      s.resolution = spec["resolution"].Str().empty() ? "NONE" : spec["resolution"].Str();
      s.selector = ToMap(spec.At({"workloadSelector", "labels"}));
      s.export_to = spec["exportTo"].StringList();
      for (const Node& p : spec["ports"].items()) {
        ServicePort sp;
        sp.name = p["name"].Str();
        sp.port = static_cast<uint32_t>(p["number"].Int().value_or(0));
        sp.target_port = static_cast<uint32_t>(p["targetPort"].Int().value_or(sp.port));
        sp.protocol = p["protocol"].Str().empty() ? ProtocolForPort(sp.name) : common::ToLower(p["protocol"].Str());
        for (char& c : sp.protocol) {
          c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        }
        s.ports.push_back(std::move(sp));
      }
      int index = 0;
      for (const Node& e : spec["endpoints"].items()) {
        WorkloadInstance w;
        w.name = common::StrCat(r->name(), "-", index++);
        w.ns = r->ns();
        w.address = e["address"].Str();
        w.labels = ToMap(e["labels"]);
        w.services = {host};
        w.has_sidecar = false;
        w.locality = e["locality"].Str();
        for (const auto& [port_name, port_value] : e["ports"].entries()) {
          for (const ServicePort& sp : s.ports) {
            if (sp.name == port_name) {
              w.endpoint_ports[sp.target_port] = static_cast<uint32_t>(port_value.Int().value_or(sp.target_port));
            }
          }
        }
        pc->workloads_.push_back(std::move(w));
      }
      pc->services_.push_back(std::move(s));
    }
  }
  // WorkloadEntries are workloads outside the registry's processes.
  for (const Resource* r : pc->OfKind("networking.istio.io", "WorkloadEntry")) {
    WorkloadInstance w;
    w.name = r->name();
    w.ns = r->ns();
    w.address = r->spec()["address"].Str();
    w.labels = ToMap(r->spec()["labels"]);
    w.locality = r->spec()["locality"].Str();
    if (r->spec()["serviceAccount"].IsScalar()) {
      w.service_account = r->spec()["serviceAccount"].Str();
    }
    w.has_sidecar = false;
    for (const auto& [port_name, port_value] : r->spec()["ports"].entries()) {
      (void)port_name;
      w.default_endpoint_port = static_cast<uint32_t>(port_value.Int().value_or(0));
    }
    pc->workloads_.push_back(std::move(w));
  }
  for (WorkloadInstance& w : pc->workloads_) {
    if (w.locality.empty()) {
      w.locality = LocalityFromLabels(w.labels);
    }
  }
  // Labels that DestinationRules' failoverPriority compares (proxies differing in them see
  // different endpoint priorities).
  std::set<std::string> failover_labels;
  for (const Resource* dr : pc->OfKind("networking.istio.io", "DestinationRule")) {
    auto collect = [&](const Node& policy) {
      for (const std::string& label : policy.At({"loadBalancer", "localityLbSetting", "failoverPriority"}).StringList()) {
        failover_labels.insert(label.substr(0, label.find('=')));
      }
    };
    collect(dr->spec()["trafficPolicy"]);
    for (const Node& pls : dr->spec().At({"trafficPolicy", "portLevelSettings"}).items()) {
      collect(pls);
    }
    for (const Node& subset : dr->spec()["subsets"].items()) {
      collect(subset["trafficPolicy"]);
    }
  }
  pc->failover_priority_labels_.assign(failover_labels.begin(), failover_labels.end());
  std::sort(pc->services_.begin(), pc->services_.end(),
            [](const Service& a, const Service& b) { return a.hostname < b.hostname; });
  for (size_t i = 0; i < pc->services_.size(); ++i) {
    pc->service_by_host_.emplace(pc->services_[i].hostname, i);
  }

  // VirtualServices by gateway.
  for (const Resource* vs : pc->OfKind("networking.istio.io", "VirtualService")) {
    std::vector<std::string> gateways = vs->spec()["gateways"].StringList();
    if (gateways.empty()) {
      pc->mesh_vs_.push_back(vs);
    }
    for (const std::string& g : gateways) {
      if (g == "mesh") {
        pc->mesh_vs_.push_back(vs);
      } else if (g.find('/') != std::string::npos) {
        pc->vs_by_gateway_[g].push_back(vs);
      } else {
        pc->vs_by_gateway_[common::StrCat(vs->ns(), "/", g)].push_back(vs);
      }
    }
  }
  return pc;
}

std::vector<const Resource*> PushContext::OfKind(std::string_view group, std::string_view kind) const {
  auto it = by_kind_.find(Key(group, kind));
  return it == by_kind_.end() ? std::vector<const Resource*>{} : it->second;
}

const Service* PushContext::FindService(std::string_view hostname) const {
  auto it = service_by_host_.find(std::string(hostname));
  return it == service_by_host_.end() ? nullptr : &services_[it->second];
}

std::vector<Endpoint> PushContext::EndpointsFor(const Service& service, const ServicePort& port,
                                                const config::StringMap& subset_labels) const {
  std::vector<Endpoint> out;
  for (const WorkloadInstance& w : workloads_) {
    if (w.ns != service.ns) {
      continue;
    }
    bool member = std::find(w.services.begin(), w.services.end(), service.name) != w.services.end() ||
                  std::find(w.services.begin(), w.services.end(), service.hostname) != w.services.end() ||
                  (!service.selector.empty() && Selects(service.selector, w.labels));
    if (!member || !Selects(subset_labels, w.labels)) {
      continue;
    }
    out.push_back(Endpoint{&w, w.address, w.EndpointPortFor(port.target_port ? port.target_port : port.port)});
  }
  std::sort(out.begin(), out.end(), [](const Endpoint& a, const Endpoint& b) {
    return std::tie(a.address, a.port) < std::tie(b.address, b.port);
  });
  return out;
}

std::vector<const Resource*> PushContext::GatewaysFor(const config::StringMap& labels) const {
  std::vector<const Resource*> out;
  for (const Resource* g : OfKind("networking.istio.io", "Gateway")) {
    if (Selects(ToMap(g->spec()["selector"]), labels)) {
      out.push_back(g);
    }
  }
  return out;
}

std::vector<const Resource*> PushContext::VirtualServicesForGateway(const std::string& gateway) const {
  auto it = vs_by_gateway_.find(gateway);
  return it == vs_by_gateway_.end() ? std::vector<const Resource*>{} : it->second;
}

std::vector<const Resource*> PushContext::MeshVirtualServices(const std::string& proxy_ns) const {
  std::vector<const Resource*> out;
  for (const Resource* vs : mesh_vs_) {
    if (ExportedTo(*vs, proxy_ns)) {
      out.push_back(vs);
    }
  }
  return out;
}

const Resource* PushContext::DestinationRuleFor(const std::string& proxy_ns, const Service& service) const {
  const Resource* best[3] = {nullptr, nullptr, nullptr};  // proxy ns, service ns, root ns
  for (const Resource* dr : OfKind("networking.istio.io", "DestinationRule")) {
    std::string host = QualifyHost(dr->spec()["host"].Str(), dr->ns(), mesh_.domain_suffix);
    if (!HostMatches(host, service.hostname) || !ExportedTo(*dr, proxy_ns)) {
      continue;
    }
    int rank = dr->ns() == proxy_ns ? 0 : dr->ns() == service.ns ? 1 : dr->ns() == mesh_.root_namespace ? 2 : -1;
    if (rank < 0) {
      continue;
    }
    // An exact host beats a wildcard at the same rank.
    if (best[rank] == nullptr || host == service.hostname) {
      best[rank] = dr;
    }
  }
  for (const Resource* r : best) {
    if (r != nullptr) {
      return r;
    }
  }
  return nullptr;
}

std::string PushContext::MtlsModeFor(const WorkloadInstance& workload, uint32_t port) const {
  const Resource* workload_level = nullptr;
  const Resource* ns_level = nullptr;
  const Resource* mesh_level = nullptr;
  for (const Resource* pa : OfKind("security.istio.io", "PeerAuthentication")) {
    const Node& selector = pa->spec().At({"selector", "matchLabels"});
    if (pa->ns() == workload.ns && selector.IsMap() && !selector.entries().empty()) {
      if (Selects(ToMap(selector), workload.labels)) {
        workload_level = pa;
      }
    } else if (pa->ns() == workload.ns && workload.ns != mesh_.root_namespace) {
      ns_level = pa;
    } else if (pa->ns() == mesh_.root_namespace && (!selector.IsMap() || selector.entries().empty())) {
      mesh_level = pa;
    }
  }
  std::string mode = "PERMISSIVE";
  for (const Resource* pa : {mesh_level, ns_level, workload_level}) {
    if (pa == nullptr) {
      continue;
    }
    std::string m = pa->spec().At({"mtls", "mode"}).Str();
    if (!m.empty() && m != "UNSET") {
      mode = m;
    }
    if (pa == workload_level) {
      const Node& port_level = pa->spec()["portLevelMtls"];
      for (const auto& [p, settings] : port_level.entries()) {
        if (p == std::to_string(port)) {
          std::string pm = settings["mode"].Str();
          if (!pm.empty() && pm != "UNSET") {
            mode = pm;
          }
        }
      }
    }
  }
  return mode;
}

std::vector<const Resource*> PushContext::AuthorizationPoliciesFor(const WorkloadInstance& workload) const {
  std::vector<const Resource*> out;
  for (const Resource* ap : OfKind("security.istio.io", "AuthorizationPolicy")) {
    if (ap->ns() != workload.ns && ap->ns() != mesh_.root_namespace) {
      continue;
    }
    const Node& selector = ap->spec().At({"selector", "matchLabels"});
    if (selector.IsMap() && !Selects(ToMap(selector), workload.labels)) {
      continue;
    }
    out.push_back(ap);
  }
  return out;
}

const Resource* PushContext::FindSecret(const std::string& ns, const std::string& name) const {
  for (const Resource* s : OfKind("", "Secret")) {
    if (s->ns() == ns && s->name() == name) {
      return s;
    }
  }
  return nullptr;
}

const Resource* PushContext::FindSidecarConfig(const WorkloadInstance& workload) const {
  const Resource* ns_default = nullptr;
  const Resource* root_default = nullptr;
  for (const Resource* sc : OfKind("networking.istio.io", "Sidecar")) {
    const Node& selector = sc->spec().At({"workloadSelector", "labels"});
    bool has_selector = selector.IsMap() && !selector.entries().empty();
    if (sc->ns() == workload.ns && has_selector && Selects(ToMap(selector), workload.labels)) {
      return sc;
    }
    if (sc->ns() == workload.ns && !has_selector) {
      ns_default = sc;
    } else if (sc->ns() == mesh_.root_namespace && !has_selector) {
      root_default = sc;
    }
  }
  return ns_default ? ns_default : root_default;
}

}  // namespace mesh::pilot
