#include "mesh/dashboard/config_view.h"

#include <algorithm>
#include <set>

#include "mesh/analyze/analysis.h"
#include "mesh/analyze/world.h"
#include "mesh/common/strings.h"
#include "mesh/config/emit.h"
#include "mesh/config/yaml_loader.h"

namespace mesh::dashboard {

std::string ResolveHost(const std::string& host, const std::string& ns) {
  if (host.empty() || host.find('*') != std::string::npos) {
    return host;
  }
  size_t dots = static_cast<size_t>(std::count(host.begin(), host.end(), '.'));
  if (dots == 0) {
    return common::StrCat(host, ".", ns, ".svc.cluster.local");
  }
  if (dots == 1) {
    return host + ".svc.cluster.local";
  }
  if (host.ends_with(".svc")) {
    return host + ".cluster.local";
  }
  return host;
}

namespace {

std::string KeyOf(const std::string& kind, const std::string& ns, const std::string& name) {
  return ns.empty() ? common::StrCat(kind, " ", name) : common::StrCat(kind, " ", ns, "/", name);
}

bool HostMatches(const std::string& pattern, const std::string& fqdn) {
  if (pattern == "*") {
    return true;
  }
  if (pattern.starts_with("*")) {
    return fqdn.ends_with(pattern.substr(1));
  }
  return pattern == fqdn;
}

// Every destination host a VirtualService routes to (http/tcp/tls routes and mirrors).
std::set<std::string> RouteDestinations(const config::Resource& vs) {
  std::set<std::string> out;
  for (const char* section : {"http", "tcp", "tls"}) {
    for (const config::Node& rule : vs.spec()[section].items()) {
      for (const config::Node& route : rule["route"].items()) {
        const std::string& host = route.At({"destination", "host"}).Str();
        if (!host.empty()) {
          out.insert(ResolveHost(host, vs.ns()));
        }
      }
      const std::string& mirror = rule.At({"mirror", "host"}).Str();
      if (!mirror.empty()) {
        out.insert(ResolveHost(mirror, vs.ns()));
      }
    }
  }
  return out;
}

// A workload selector (`selector.matchLabels` or `workloadSelector.labels`) against the
// service's known workloads. No selector: namespace-wide.
enum class SelectorMatch { kNamespaceWide, kSelects, kNoMatch, kUnknown };
SelectorMatch MatchSelector(const config::Resource& r, const ServiceInfo& svc,
                            const std::vector<const KnownWorkload*>& workloads) {
  const config::Node* labels = &r.spec().At({"selector", "matchLabels"});
  if (!labels->Defined()) {
    labels = &r.spec().At({"workloadSelector", "labels"});
  }
  if (!labels->Defined() || labels->size() == 0) {
    return SelectorMatch::kNamespaceWide;
  }
  if (workloads.empty() || r.ns() != svc.ns) {
    return r.ns() != svc.ns ? SelectorMatch::kNoMatch : SelectorMatch::kUnknown;
  }
  for (const KnownWorkload* w : workloads) {
    bool all = true;
    for (const auto& [k, v] : labels->StringMap()) {
      auto it = w->labels.find(k);
      all = all && it != w->labels.end() && it->second == v;
    }
    if (all) {
      return SelectorMatch::kSelects;
    }
  }
  return SelectorMatch::kNoMatch;
}

}  // namespace

std::shared_ptr<const ConfigView> ConfigView::Build(std::vector<config::Resource> resources,
                                                    const std::vector<KnownWorkload>& workloads, bool analyze,
                                                    std::string root_namespace) {
  auto view = std::make_shared<ConfigView>();
  view->resources_ = std::move(resources);
  view->workloads_ = workloads;
  view->root_namespace_ = std::move(root_namespace);

  if (analyze) {
    analyze::World world;
    for (const config::Resource& r : view->resources_) {
      world.Add(r);
    }
    // In local mode the connected proxies are the pods: without them every Gateway
    // selector would be reported as matching nothing.
    for (const KnownWorkload& w : workloads) {
      if (world.Find(analyze::kinds::kPod, w.ns, w.name) != nullptr) {
        continue;
      }
      std::vector<std::string> labels;
      for (const auto& [k, v] : w.labels) {
        labels.push_back(common::StrCat(config::JsonQuote(k), ": ", config::JsonQuote(v)));
      }
      auto pod = config::ParseYamlNode(
          common::StrCat("{\"apiVersion\": \"v1\", \"kind\": \"Pod\", \"metadata\": {\"name\": ", config::JsonQuote(w.name),
                         ", \"namespace\": ", config::JsonQuote(w.ns), ", \"labels\": {", common::Join(labels, ", "),
                         "}}, \"spec\": {\"containers\": [{\"name\": \"istio-proxy\", \"image\": \"meshctl\"}]}}"),
          "connected proxy");
      if (pod.ok()) {
        if (auto r = config::Resource::FromNode(std::move(*pod), {}); r.ok()) {
          world.Add(std::move(*r));
        }
      }
    }
    std::vector<const analyze::Analyzer*> analyzers;
    for (const analyze::AnalyzerPtr& a : analyze::AllAnalyzers()) {
      analyzers.push_back(a.get());
    }
    for (const analyze::Message& m : analyze::RunAnalyzers(world, analyzers)) {
      if (!m.has_origin || m.type == nullptr) {
        continue;
      }
      ++view->message_count_;
      view->findings_[KeyOf(m.origin.kind, m.origin.ns, m.origin.name)].push_back(
          {std::string(analyze::LevelName(m.type->level)), m.type->code, m.Text()});
    }
  }

  // Services: Service objects, ServiceEntry hosts, and what connected sidecars serve.
  std::map<std::string, ServiceInfo> services;
  for (const config::Resource& r : view->resources_) {
    if (r.kind() == "Service" && r.gvk().group.empty()) {
      std::string fqdn = common::StrCat(r.name(), ".", r.ns(), ".svc.cluster.local");
      services[fqdn] = {fqdn, r.name(), r.ns(), "Service", {}};
    } else if (r.kind() == "ServiceEntry") {
      for (const std::string& host : r.spec()["hosts"].StringList()) {
        std::string fqdn = ResolveHost(host, r.ns());
        services.try_emplace(fqdn, ServiceInfo{fqdn, host, r.ns(), "ServiceEntry", {}});
      }
    }
  }
  for (const KnownWorkload& w : workloads) {
    for (const std::string& fqdn : w.services) {
      auto parts = common::Split(fqdn, '.');
      if (parts.size() < 2) {
        continue;
      }
      auto [it, added] = services.try_emplace(fqdn, ServiceInfo{fqdn, parts[0], parts[1], "proxy", {}});
      std::vector<std::string> kv;
      for (const auto& [k, v] : w.labels) {
        kv.push_back(k + "=" + v);
      }
      it->second.workload_labels_text.push_back(common::Join(kv, ","));
    }
  }
  for (auto& [fqdn, info] : services) {
    view->services_.push_back(std::move(info));
  }

  // What applies to each service.
  for (const ServiceInfo& svc : view->services_) {
    std::vector<const KnownWorkload*> serving;
    for (const KnownWorkload& w : view->workloads_) {
      if (std::find(w.services.begin(), w.services.end(), svc.fqdn) != w.services.end()) {
        serving.push_back(&w);
      }
    }
    // Without a connected proxy, the Service's own selector stands for its workloads.
    KnownWorkload from_selector;
    if (serving.empty()) {
      for (const config::Resource& r : view->resources_) {
        if (r.kind() == "Service" && r.gvk().group.empty() && r.ns() == svc.ns && r.name() == svc.name &&
            r.spec()["selector"].size() > 0) {
          for (const auto& [k, v] : r.spec()["selector"].StringMap()) {
            from_selector.labels[k] = v;
          }
          serving.push_back(&from_selector);
        }
      }
    }
    std::vector<AppliedResource> applied;
    std::set<std::string> gateways;
    for (const config::Resource& r : view->resources_) {
      const std::string& kind = r.kind();
      std::string relation;
      if (kind == "VirtualService") {
        for (const std::string& h : r.spec()["hosts"].StringList()) {
          if (HostMatches(ResolveHost(h, r.ns()), svc.fqdn)) {
            relation = "hosts";
          }
        }
        if (relation.empty() && RouteDestinations(r).contains(svc.fqdn)) {
          relation = "routes to";
        }
        if (!relation.empty()) {
          for (const std::string& g : r.spec()["gateways"].StringList()) {
            if (g != "mesh") {
              gateways.insert(g.find('/') == std::string::npos ? r.ns() + "/" + g : g);
            }
          }
        }
      } else if (kind == "DestinationRule") {
        if (HostMatches(ResolveHost(r.spec()["host"].Str(), r.ns()), svc.fqdn)) {
          relation = "host";
        }
      } else if (kind == "PeerAuthentication" || kind == "AuthorizationPolicy" || kind == "RequestAuthentication" ||
                 kind == "Sidecar") {
        if (r.ns() == svc.ns || r.ns() == view->root_namespace_) {
          switch (MatchSelector(r, svc, serving)) {
            case SelectorMatch::kNamespaceWide:
              relation = r.ns() == view->root_namespace_ && r.ns() != svc.ns ? "mesh-wide" : "namespace";
              break;
            case SelectorMatch::kSelects:
              relation = "selects its workloads";
              break;
            case SelectorMatch::kUnknown:
              relation = "selector (no workload connected to check)";
              break;
            case SelectorMatch::kNoMatch:
              break;
          }
        }
      }
      if (!relation.empty()) {
        AppliedResource a;
        a.resource = &r;
        a.relation = std::move(relation);
        applied.push_back(std::move(a));
      }
    }
    for (const config::Resource& r : view->resources_) {
      if (r.kind() == "Gateway" && gateways.contains(r.ns() + "/" + r.name())) {
        applied.push_back({&r, "bound by a VirtualService", {}});
      }
      if (r.kind() == "Service" && r.gvk().group.empty() && r.ns() == svc.ns && r.name() == svc.name) {
        applied.insert(applied.begin(), AppliedResource{&r, "the service", {}});
      }
    }
    for (AppliedResource& a : applied) {
      auto f = view->findings_.find(KeyOf(a.resource->kind(), a.resource->ns(), a.resource->name()));
      if (f != view->findings_.end()) {
        a.findings = f->second;
      }
    }
    view->applied_[svc.fqdn] = std::move(applied);
  }
  return view;
}

const ServiceInfo* ConfigView::FindService(const std::string& ns, const std::string& name) const {
  for (const ServiceInfo& s : services_) {
    if (s.ns == ns && s.name == name) {
      return &s;
    }
  }
  return nullptr;
}

std::vector<AppliedResource> ConfigView::ForService(const ServiceInfo& service) const {
  auto it = applied_.find(service.fqdn);
  return it == applied_.end() ? std::vector<AppliedResource>{} : it->second;
}

size_t ConfigView::FindingCount(const ServiceInfo& service) const {
  size_t n = 0;
  for (const AppliedResource& a : ForService(service)) {
    n += a.findings.size();
  }
  return n;
}

}  // namespace mesh::dashboard
