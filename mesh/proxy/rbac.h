#pragma once

// Envoy's RBAC filters (envoy.filters.http.rbac and envoy.filters.network.rbac) as pure
// functions over what a connection or request shows, so they are testable without
// sockets. A chain's filters run in order: any DENY filter whose policy matches rejects;
// an ALLOW filter (with rules) rejects unless one of its policies matches.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mesh/proxyconfig/types.h"

namespace mesh::proxy {

// What the RBAC matchers look at. For the network filter there is no request:
// `is_http` is false and header / url_path matchers never match (as in Envoy).
struct RbacInput {
  bool is_http = false;
  std::string_view method;
  std::string_view path;       // request target, with query
  std::string_view authority;  // Host header
  // Lower-case header name -> value; nullopt when absent.
  std::function<std::optional<std::string_view>(std::string_view)> header;
  std::string_view direct_remote_ip;  // the connection's peer address
  std::string_view remote_ip;         // from x-forwarded-for when trusted; else the peer
  std::string_view destination_ip;
  uint32_t destination_port = 0;  // the listener's port
  bool authenticated = false;     // the peer presented a certificate that verified
  std::string_view principal;     // its SPIFFE URI SAN ("spiffe://td/ns/NS/sa/SA")
};

struct RbacDecision {
  bool allowed = true;
  // Envoy's response code details when denied:
  // "rbac_access_denied_matched_policy[<policy>]" or "...[none]" (no ALLOW policy matched).
  std::string details;
};

// Runs the filters in order.
RbacDecision EvaluateRbac(const std::vector<proxyconfig::RbacConfig>& filters, const RbacInput& input);

bool PermissionMatches(const proxyconfig::RbacPermission& p, const RbacInput& input);
bool PrincipalMatches(const proxyconfig::RbacPrincipal& p, const RbacInput& input);

// The body Envoy answers denied HTTP requests with.
inline constexpr char kRbacDeniedBody[] = "RBAC: access denied";

}  // namespace mesh::proxy
