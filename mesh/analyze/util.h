#pragma once

// Small helpers shared by analyzers: selectors, host names, ports.

#include <string>
#include <string_view>
#include <vector>

#include "mesh/config/node.h"
#include "mesh/config/resource.h"

namespace mesh::analyze::util {

inline constexpr std::string_view kDefaultDomainSuffix = "cluster.local";

// Whether every key/value of `selector` (a map Node; null or empty selects everything)
// is in `labels`.
bool SelectorMatches(const config::Node& selector, const config::StringMap& labels);
bool SelectorMatches(const config::StringMap& selector, const config::StringMap& labels);
// Istio's label string: "k1=v1,k2=v2" sorted by key.
std::string SelectorString(const config::Node& selector);
std::string SelectorString(const config::StringMap& selector);
config::StringMap ToStringMap(const config::Node& map);

// Fully qualifies a service host as Istio does: "reviews" in namespace "default" becomes
// "reviews.default.svc.cluster.local"; names with a dot or a '*' prefix are kept.
std::string ResolveShortName(std::string_view host, std::string_view ns);
// "name.ns.svc.cluster.local" for a Service.
std::string ServiceFqdn(const config::Resource& service);
// Host matching with '*' wildcards on either side ("*.example.com" matches "a.example.com";
// "*" matches all).
bool HostsMatch(std::string_view a, std::string_view b);
// Whether `host` is covered by `pattern` (pattern may be a wildcard, host may not).
bool HostCoveredBy(std::string_view host, std::string_view pattern);

// Line of the node (its key when it is a map value), or 0.
int LineOf(const config::Node& node);

// Port protocol from an Istio port name ("http-web" -> "http", "grpc" -> "grpc"), or "".
std::string ProtocolFromPortName(std::string_view port_name);

}  // namespace mesh::analyze::util
