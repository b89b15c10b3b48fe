#include "mesh/analyze/analyzers/networking/common.h"

#include "mesh/analyze/util.h"
#include "mesh/common/strings.h"

namespace mesh::analyze::networking {

std::string HostToFqdn(std::string_view ns, std::string_view host) {
  if (!host.empty() && host[0] != '*' && host.find('.') == std::string_view::npos && !ns.empty()) {
    return common::StrCat(host, ".", ns, ".svc.", util::kDefaultDomainSuffix);
  }
  return std::string(host);
}

std::string ScopedFqdn(std::string_view scope, std::string_view ns, std::string_view host) {
  return common::StrCat(scope, "/", HostToFqdn(ns, host));
}

bool ExportsToAll(const std::vector<std::string>& export_to) {
  if (export_to.empty()) {
    return true;
  }
  for (const std::string& e : export_to) {
    if (e == kExportToAll) {
      return true;
    }
  }
  return false;
}

std::pair<std::string, std::string> ShortOrFullName(std::string_view default_ns, std::string_view ref) {
  size_t slash = ref.find('/');
  if (slash != std::string_view::npos) {
    return {std::string(ref.substr(0, slash)), std::string(ref.substr(slash + 1))};
  }
  return {std::string(default_ns), std::string(ref)};
}

std::string FullNameString(std::string_view ns, std::string_view name) {
  return ns.empty() ? std::string(name) : common::StrCat(ns, "/", name);
}

namespace {
bool HasSuffix(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}
}  // namespace

bool HostNamesMatch(std::string_view a, std::string_view b) {
  bool a_wild = !a.empty() && a[0] == '*';
  bool b_wild = !b.empty() && b[0] == '*';
  if (a_wild && b_wild) {
    return a.size() < b.size() ? HasSuffix(b.substr(1), a.substr(1)) : HasSuffix(a.substr(1), b.substr(1));
  }
  if (a_wild) {
    return HasSuffix(b, a.substr(1));
  }
  if (b_wild) {
    return HasSuffix(a, b.substr(1));
  }
  return a == b;
}

std::string SelectorText(const config::StringMap& selector) { return util::SelectorString(selector); }

std::string FirstSelectorKey(const config::StringMap& selector) {
  return selector.empty() ? std::string() : selector.begin()->first;
}

ServiceHostIndex::ServiceHostIndex(const World& world) {
  for (const config::Resource* r : world.Of(kinds::kServiceEntry)) {
    const config::Node& spec = r->spec();
    KnownService& s = services_.emplace_back();
    s.resource = r;
    for (const config::Node& p : spec["ports"].items()) {
      s.ports.push_back(p["number"].Int().value_or(0));
    }
    s.workload_selector = util::ToStringMap(spec.At({"workloadSelector", "labels"}));
    std::vector<std::string> export_to = spec["exportTo"].StringList();
    std::vector<std::string> scopes;
    if (ExportsToAll(export_to)) {
      scopes.emplace_back(kExportToAll);
    } else {
      for (const std::string& e : export_to) {
        scopes.push_back(e == kExportToLocal ? r->ns() : e);
      }
    }
    for (const std::string& scope : scopes) {
      for (const std::string& h : spec["hosts"].StringList()) {
        Put(ScopedFqdn(scope, r->ns(), h), &s);
      }
    }
  }
  // Kubernetes Services count as ServiceEntries for their FQDN, visible where the
  // networking.istio.io/exportTo annotation says (everywhere by default).
  for (const config::Resource* r : world.Of(kinds::kService)) {
    KnownService& s = services_.emplace_back();
    s.resource = r;
    for (const config::Node& p : r->spec()["ports"].items()) {
      s.ports.push_back(p["port"].Int().value_or(0));
    }
    std::vector<std::string> scopes;
    auto anno = r->annotations().find("networking.istio.io/exportTo");
    if (anno == r->annotations().end() || anno->second.empty()) {
      scopes.emplace_back(kExportToAll);
    } else {
      for (const std::string& ns : common::Split(anno->second, ',')) {
        scopes.push_back(ns == kExportToLocal ? r->ns() : ns);
      }
    }
    for (const std::string& scope : scopes) {
      Put(ScopedFqdn(scope, r->ns(), r->name()), &s);
    }
  }
}

void ServiceHostIndex::Put(const std::string& key, const KnownService* service) {
  bool inserted = by_scoped_fqdn_.insert_or_assign(key, service).second;
  size_t slash = key.find('/');
  if (inserted && slash + 1 < key.size() && key[slash + 1] == '*') {
    wildcard_scopes_[key.substr(slash + 2)].push_back(key.substr(0, slash));
  }
}

const KnownService* ServiceHostIndex::Lookup(std::string_view source_ns, const std::vector<std::string>& export_to,
                                             std::string_view host) const {
  auto find = [&](std::string_view scope) -> const KnownService* {
    auto it = by_scoped_fqdn_.find(ScopedFqdn(scope, source_ns, host));
    return it == by_scoped_fqdn_.end() ? nullptr : it->second;
  };
  if (const KnownService* s = find(kExportToAll)) {
    return s;
  }
  if (export_to.empty()) {
    if (const KnownService* s = find(source_ns)) {
      return s;
    }
  } else {
    for (const std::string& e : export_to) {
      if (const KnownService* s = find(e == kExportToLocal ? source_ns : std::string_view(e))) {
        return s;
      }
    }
  }
  std::string_view bare_host = host;
  if (!bare_host.empty() && bare_host[0] == '*') {
    bare_host.remove_prefix(1);
  }
  // Wildcard entries visible here whose suffix ends the host, longest suffix first.
  for (size_t i = 0; i <= bare_host.size(); ++i) {
    auto it = wildcard_scopes_.find(std::string(bare_host.substr(i)));
    if (it == wildcard_scopes_.end()) {
      continue;
    }
    for (const std::string& scope : it->second) {
      if (scope == kExportToAll || scope == source_ns) {
        return by_scoped_fqdn_.at(common::StrCat(scope, "/*", it->first));
      }
    }
  }
  return nullptr;
}

namespace {
void AppendRoutes(const config::Node& spec, std::string_view rule, std::vector<RouteDestination>& out) {
  const auto& rules = spec[rule].items();
  for (size_t i = 0; i < rules.size(); ++i) {
    const auto& routes = rules[i]["route"].items();
    for (size_t j = 0; j < routes.size(); ++j) {
      out.push_back(RouteDestination{std::string(rule), static_cast<int>(i), static_cast<int>(j),
                                     &routes[j]["destination"]});
    }
  }
}
}  // namespace

std::vector<RouteDestination> RouteDestinations(const config::Node& vs_spec) {
  std::vector<RouteDestination> out;
  AppendRoutes(vs_spec, "tcp", out);
  AppendRoutes(vs_spec, "tls", out);
  AppendRoutes(vs_spec, "http", out);
  return out;
}

std::vector<RouteDestination> MirrorDestinations(const config::Node& vs_spec) {
  std::vector<RouteDestination> out;
  const auto& rules = vs_spec["http"].items();
  for (size_t i = 0; i < rules.size(); ++i) {
    if (rules[i]["mirror"].Defined()) {
      out.push_back(RouteDestination{"http.mirror", static_cast<int>(i), 0, &rules[i]["mirror"]});
    }
  }
  return out;
}

int DestinationHostLine(const RouteDestination& d) {
  int line = util::LineOf((*d.destination)["host"]);
  return line > 0 ? line : util::LineOf(*d.destination);
}

PodIndex::PodIndex(const World& world) {
  for (const config::Resource* p : world.Of(kinds::kPod)) {
    all_.push_back(p);
    by_ns_[p->ns()].push_back(p);
    for (const auto& [k, v] : p->labels()) {
      by_label_[common::StrCat(k, "=", v)].push_back(p);
    }
  }
}

const std::vector<const config::Resource*>& PodIndex::Candidates(const config::StringMap& selector,
                                                                 const std::string* ns) const {
  static const std::vector<const config::Resource*> kNone;
  const std::vector<const config::Resource*>* best = &all_;
  if (ns != nullptr) {
    auto it = by_ns_.find(*ns);
    best = it == by_ns_.end() ? &kNone : &it->second;
  }
  // The rarest selector label bounds the pods worth checking.
  for (const auto& [k, v] : selector) {
    auto it = by_label_.find(common::StrCat(k, "=", v));
    if (it == by_label_.end()) {
      return kNone;
    }
    if (it->second.size() < best->size()) {
      best = &it->second;
    }
  }
  return *best;
}

std::vector<const config::Resource*> PodIndex::Matching(const config::StringMap& selector,
                                                        const std::string* ns) const {
  std::vector<const config::Resource*> out;
  for (const config::Resource* p : Candidates(selector, ns)) {
    if ((ns == nullptr || p->ns() == *ns) && util::SelectorMatches(selector, p->labels())) {
      out.push_back(p);
    }
  }
  return out;
}

const config::Resource* PodIndex::FirstMatching(const config::StringMap& selector) const {
  for (const config::Resource* p : Candidates(selector, nullptr)) {
    if (util::SelectorMatches(selector, p->labels())) {
      return p;
    }
  }
  return nullptr;
}

}  // namespace mesh::analyze::networking
