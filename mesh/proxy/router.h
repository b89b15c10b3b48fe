#pragma once

// Route selection, independent of sockets: virtual host by authority, then the first
// route whose path, header and query matchers all match. Unit-tested without a network.

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "mesh/proxyconfig/types.h"

namespace mesh::proxy {

// What the matchers look at. `header` returns nullopt when absent; names are lower case.
struct RequestView {
  std::string_view method;
  std::string_view path;       // with query
  std::string_view authority;  // Host header
  std::function<std::optional<std::string_view>(std::string_view)> header;
};

// Envoy's order: exact domain, then longest suffix wildcard ("*.foo.com"), then longest
// prefix wildcard ("foo.*"), then "*". The port is ignored unless a domain names one.
const proxyconfig::VirtualHost* SelectVirtualHost(const proxyconfig::RouteConfiguration& rc,
                                                  std::string_view authority);

const proxyconfig::Route* SelectRoute(const proxyconfig::VirtualHost& vh, const RequestView& request);

// Splits "a=1&b=2" and returns the (undecoded) value of `name`, "" for a bare key.
std::optional<std::string> QueryParameter(std::string_view path, std::string_view name);

// Path after prefix_rewrite (query preserved).
std::string RewritePrefix(std::string_view path, const proxyconfig::RouteMatch& match,
                          std::string_view replacement);

// Picks a weighted cluster for a value in [0, total weight).
const std::string& PickWeightedCluster(const std::vector<proxyconfig::WeightedCluster>& clusters,
                                       uint64_t random);

// Location for a redirect action; `scheme` is the request's.
std::string RedirectLocation(const proxyconfig::RedirectAction& r, const proxyconfig::RouteMatch& match,
                             std::string_view scheme, std::string_view authority, std::string_view path);

}  // namespace mesh::proxy
