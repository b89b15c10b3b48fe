#include "mesh/proxy/rbac.h"

#include "mesh/common/strings.h"

namespace mesh::proxy {
namespace {

using proxyconfig::HeaderMatcher;
using proxyconfig::RbacConfig;
using proxyconfig::RbacPermission;
using proxyconfig::RbacPrincipal;
using proxyconfig::RbacRules;

bool HeaderMatches(const HeaderMatcher& m, const RbacInput& in) {
  if (!in.is_http) {
    return false;
  }
  std::optional<std::string_view> value;
  if (m.name == ":method") {
    value = in.method;
  } else if (m.name == ":path") {
    value = in.path;
  } else if (m.name == ":authority" || m.name == "host") {
    value = in.authority;
  } else if (in.header) {
    value = in.header(m.name);
  }
  bool matched = m.string_match ? value.has_value() && m.string_match->Matches(*value) : value.has_value();
  return matched != m.invert_match;
}

}  // namespace

bool PermissionMatches(const RbacPermission& p, const RbacInput& in) {
  switch (p.kind) {
    case RbacPermission::Kind::kAny:
      return true;
    case RbacPermission::Kind::kAndRules:
      for (const auto& r : p.rules) {
        if (!PermissionMatches(r, in)) {
          return false;
        }
      }
      return true;
    case RbacPermission::Kind::kOrRules:
      for (const auto& r : p.rules) {
        if (PermissionMatches(r, in)) {
          return true;
        }
      }
      return false;
    case RbacPermission::Kind::kNotRule:
      return !p.rules.empty() && !PermissionMatches(p.rules.front(), in);
    case RbacPermission::Kind::kHeader:
      return HeaderMatches(*p.header, in);
    case RbacPermission::Kind::kUrlPath:
      // Envoy's url_path compares the path without the query string.
      return in.is_http && p.path->Matches(in.path.substr(0, in.path.find('?')));
    case RbacPermission::Kind::kDestinationPort:
      return in.destination_port == p.port;
    case RbacPermission::Kind::kDestinationIp:
      return p.cidr.Contains(in.destination_ip);
  }
  return false;
}

bool PrincipalMatches(const RbacPrincipal& p, const RbacInput& in) {
  switch (p.kind) {
    case RbacPrincipal::Kind::kAny:
      return true;
    case RbacPrincipal::Kind::kAndIds:
      for (const auto& r : p.ids) {
        if (!PrincipalMatches(r, in)) {
          return false;
        }
      }
      return true;
    case RbacPrincipal::Kind::kOrIds:
      for (const auto& r : p.ids) {
        if (PrincipalMatches(r, in)) {
          return true;
        }
      }
      return false;
    case RbacPrincipal::Kind::kNotId:
      return !p.ids.empty() && !PrincipalMatches(p.ids.front(), in);
    case RbacPrincipal::Kind::kAuthenticated:
      // Only a certificate that verified counts; its URI SAN is the principal.
      if (!in.authenticated) {
        return false;
      }
      return !p.principal_name || p.principal_name->Matches(in.principal);
    case RbacPrincipal::Kind::kDirectRemoteIp:
      return p.cidr.Contains(in.direct_remote_ip);
    case RbacPrincipal::Kind::kRemoteIp:
      return p.cidr.Contains(in.remote_ip.empty() ? in.direct_remote_ip : in.remote_ip);
    case RbacPrincipal::Kind::kHeader:
      return HeaderMatches(*p.header, in);
  }
  return false;
}

namespace {

// The first policy (by name) that matches, if any.
const std::string* MatchingPolicy(const RbacRules& rules, const RbacInput& in) {
  for (const auto& [name, policy] : rules.policies) {
    bool permitted = false;
    for (const auto& p : policy.permissions) {
      if (PermissionMatches(p, in)) {
        permitted = true;
        break;
      }
    }
    if (!permitted) {
      continue;
    }
    for (const auto& p : policy.principals) {
      if (PrincipalMatches(p, in)) {
        return &name;
      }
    }
  }
  return nullptr;
}

}  // namespace

RbacDecision EvaluateRbac(const std::vector<RbacConfig>& filters, const RbacInput& in) {
  RbacDecision d;
  for (const RbacConfig& f : filters) {
    if (!f.rules) {
      continue;
    }
    const std::string* matched = MatchingPolicy(*f.rules, in);
    if (f.rules->action == RbacRules::Action::kDeny && matched != nullptr) {
      d.allowed = false;
      d.details = common::StrCat("rbac_access_denied_matched_policy[", *matched, "]");
      return d;
    }
    if (f.rules->action == RbacRules::Action::kAllow && matched == nullptr) {
      d.allowed = false;
      d.details = "rbac_access_denied_matched_policy[none]";
      return d;
    }
  }
  return d;
}

}  // namespace mesh::proxy
