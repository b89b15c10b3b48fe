// The RBAC engine on its own: filter order, details, and what a TCP connection cannot show.

#include "mesh/proxy/rbac.h"

#include "gtest/gtest.h"

namespace mesh::proxy {
namespace {

using namespace proxyconfig;

RbacPermission PathIs(const std::string& path) {
  RbacPermission p;
  p.kind = RbacPermission::Kind::kUrlPath;
  p.path = StringMatcher{StringMatcher::Kind::kExact, path};
  return p;
}

RbacPrincipal PrincipalIs(const std::string& id) {
  RbacPrincipal p;
  p.kind = RbacPrincipal::Kind::kAuthenticated;
  p.principal_name = StringMatcher{StringMatcher::Kind::kExact, id};
  return p;
}

RbacConfig Filter(RbacRules::Action action, std::map<std::string, RbacPolicy> policies) {
  RbacConfig c;
  c.rules = RbacRules{action, std::move(policies)};
  return c;
}

RbacInput Http(std::string_view path, std::string_view principal) {
  RbacInput in;
  in.is_http = true;
  in.method = "GET";
  in.path = path;
  in.authenticated = !principal.empty();
  in.principal = principal;
  return in;
}

TEST(Rbac, DenyFirstThenAllow) {
  std::vector<RbacConfig> filters = {
      Filter(RbacRules::Action::kDeny, {{"deny-blocked", {{PathIs("/blocked")}, {RbacPrincipal{}}}}}),
      Filter(RbacRules::Action::kAllow, {{"only-gw", {{RbacPermission{}}, {PrincipalIs("spiffe://td/ns/a/sa/gw")}}}}),
  };
  RbacDecision d = EvaluateRbac(filters, Http("/blocked", "spiffe://td/ns/a/sa/gw"));
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.details, "rbac_access_denied_matched_policy[deny-blocked]");
  EXPECT_TRUE(EvaluateRbac(filters, Http("/?blocked", "spiffe://td/ns/a/sa/gw")).allowed);
  d = EvaluateRbac(filters, Http("/", "spiffe://td/ns/a/sa/other"));
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.details, "rbac_access_denied_matched_policy[none]");
  // No certificate: no principal, even if one was claimed.
  RbacInput spoofed = Http("/", "spiffe://td/ns/a/sa/gw");
  spoofed.authenticated = false;
  EXPECT_FALSE(EvaluateRbac(filters, spoofed).allowed);
}

TEST(Rbac, FiltersWithoutRulesAndEmptyAllow) {
  EXPECT_TRUE(EvaluateRbac({RbacConfig{}}, Http("/", "")).allowed);
  EXPECT_FALSE(EvaluateRbac({Filter(RbacRules::Action::kAllow, {})}, Http("/", "")).allowed);
  EXPECT_TRUE(EvaluateRbac({Filter(RbacRules::Action::kDeny, {})}, Http("/", "")).allowed);
}

TEST(Rbac, NetworkFilterCannotSeeRequests) {
  RbacPermission header;
  header.kind = RbacPermission::Kind::kHeader;
  header.header = HeaderMatcher{":method", std::nullopt, true, false};
  std::vector<RbacConfig> allow = {Filter(RbacRules::Action::kAllow, {{"p", {{header}, {RbacPrincipal{}}}}})};
  RbacInput tcp;
  EXPECT_FALSE(EvaluateRbac(allow, tcp).allowed);
  EXPECT_TRUE(EvaluateRbac(allow, Http("/", "")).allowed);
}

TEST(Rbac, CidrAndPorts) {
  RbacPrincipal ip;
  ip.kind = RbacPrincipal::Kind::kDirectRemoteIp;
  ip.cidr = *MakeCidrRange("10.0.0.0", 8);
  RbacPermission port;
  port.kind = RbacPermission::Kind::kDestinationPort;
  port.port = 15006;
  std::vector<RbacConfig> deny = {Filter(RbacRules::Action::kDeny, {{"p", {{port}, {ip}}}})};
  RbacInput in;
  in.direct_remote_ip = "10.9.8.7";
  in.destination_port = 15006;
  EXPECT_FALSE(EvaluateRbac(deny, in).allowed);
  in.direct_remote_ip = "::ffff:10.9.8.7";  // IPv4-mapped
  EXPECT_FALSE(EvaluateRbac(deny, in).allowed);
  in.direct_remote_ip = "11.0.0.1";
  EXPECT_TRUE(EvaluateRbac(deny, in).allowed);
  in.direct_remote_ip = "10.9.8.7";
  in.destination_port = 15007;
  EXPECT_TRUE(EvaluateRbac(deny, in).allowed);
  EXPECT_FALSE(MakeCidrRange("10.0.0.0", 33).has_value());
  EXPECT_FALSE(MakeCidrRange("not-an-ip", 8).has_value());
}

}  // namespace
}  // namespace mesh::proxy
