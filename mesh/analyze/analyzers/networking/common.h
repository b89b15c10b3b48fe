#pragma once

// Helpers shared by the networking analyzers: Istio's service host index (ServiceEntries
// plus Kubernetes Services keyed by export scope), name/host conventions and route
// destinations of a VirtualService.

#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "mesh/analyze/analyzer.h"
#include "mesh/config/node.h"
#include "mesh/config/resource.h"

namespace mesh::analyze::networking {

inline constexpr std::string_view kExportToAll = "*";
inline constexpr std::string_view kExportToLocal = ".";
inline constexpr std::string_view kMeshGateway = "mesh";

// An analyzer whose metadata is fixed at construction.
class AnalyzerBase : public Analyzer {
 public:
  explicit AnalyzerBase(AnalyzerMetadata metadata) : metadata_(std::move(metadata)) {}
  const AnalyzerMetadata& Metadata() const override { return metadata_; }

 private:
  AnalyzerMetadata metadata_;
};

// Istio's ConvertHostToFQDN: a short name ("reviews") in a namespace becomes
// "reviews.<ns>.svc.cluster.local"; wildcards, dotted names and names without a namespace
// are kept.
std::string HostToFqdn(std::string_view ns, std::string_view host);
// "scope/fqdn" (Istio's ScopedFqdn).
std::string ScopedFqdn(std::string_view scope, std::string_view ns, std::string_view host);

// exportTo empty or containing "*".
bool ExportsToAll(const std::vector<std::string>& export_to);

// "ns/name" reference resolution (Istio's NewShortOrFullName): "a/b" is namespace a,
// name b; "b" is `default_ns`/b.
std::pair<std::string, std::string> ShortOrFullName(std::string_view default_ns, std::string_view ref);
// "ns/name", or "name" when ns is empty (resource.FullName.String()).
std::string FullNameString(std::string_view ns, std::string_view name);

// Istio's host.Name.Matches: '*' prefixed names match by suffix on either side.
bool HostNamesMatch(std::string_view a, std::string_view b);

// The label selector string Kubernetes prints ("a=b,c=d", sorted), and its first key.
std::string SelectorText(const config::StringMap& selector);
std::string FirstSelectorKey(const config::StringMap& selector);

// A service as destination analysis sees it: a ServiceEntry, or a Kubernetes Service
// turned into one (hosts + ports, no workload selector).
struct KnownService {
  const config::Resource* resource = nullptr;
  std::vector<int64_t> ports;
  config::StringMap workload_selector;
};

// Istio's InitServiceEntryHostMap + GetDestinationHost: services keyed by
// "scope/fqdn", where scope is "*" or the namespace that may see them.
class ServiceHostIndex {
 public:
  explicit ServiceHostIndex(const World& world);
  // The service `host` (as written in `source_ns`) resolves to, or null.
  const KnownService* Lookup(std::string_view source_ns, const std::vector<std::string>& export_to,
                             std::string_view host) const;

 private:
  void Put(const std::string& key, const KnownService* service);

  std::deque<KnownService> services_;
  std::unordered_map<std::string, const KnownService*> by_scoped_fqdn_;
  // Wildcard hosts, checked last: suffix after '*' (".example.com") -> scopes.
  std::unordered_map<std::string, std::vector<std::string>> wildcard_scopes_;
};

// A destination in a VirtualService route (Istio's AnnotatedDestination).
struct RouteDestination {
  std::string rule;  // "tcp", "tls", "http" or "http.mirror"
  int rule_index = 0;
  int destination_index = 0;
  const config::Node* destination = nullptr;  // {host, subset, port}
};
std::vector<RouteDestination> RouteDestinations(const config::Node& vs_spec);
std::vector<RouteDestination> MirrorDestinations(const config::Node& vs_spec);

// Line of the destination's host field (falls back to the destination).
int DestinationHostLine(const RouteDestination& d);

// Pods indexed by label so selector lookups do not scan every pod.
class PodIndex {
 public:
  explicit PodIndex(const World& world);
  // Pods whose labels include every label of `selector` (an empty selector selects all),
  // in input order; only those in `ns` when it is given.
  std::vector<const config::Resource*> Matching(const config::StringMap& selector,
                                                const std::string* ns = nullptr) const;
  // The first of Matching(selector), or null.
  const config::Resource* FirstMatching(const config::StringMap& selector) const;

 private:
  const std::vector<const config::Resource*>& Candidates(const config::StringMap& selector,
                                                         const std::string* ns) const;

  std::vector<const config::Resource*> all_;
  std::unordered_map<std::string, std::vector<const config::Resource*>> by_ns_;
  std::unordered_map<std::string, std::vector<const config::Resource*>> by_label_;  // "k=v"
};

}  // namespace mesh::analyze::networking
