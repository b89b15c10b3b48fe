#include "mesh/proxy/router.h"

#include "mesh/common/strings.h"

namespace mesh::proxy {

using proxyconfig::HeaderMatcher;
using proxyconfig::RouteConfiguration;
using proxyconfig::RouteMatch;
using proxyconfig::VirtualHost;

namespace {

bool DomainMatches(std::string_view domain, std::string_view host, int& score) {
  // score: 4 exact, 3 suffix wildcard, 2 prefix wildcard, 1 "*"; longer is better inside.
  if (domain == "*") {
    score = 1;
    return true;
  }
  if (domain == host) {
    score = 4;
    return true;
  }
  if (domain.size() > 1 && domain[0] == '*') {
    std::string_view suffix = domain.substr(1);
    if (host.size() > suffix.size() && host.substr(host.size() - suffix.size()) == suffix) {
      score = 3;
      return true;
    }
  }
  if (domain.size() > 1 && domain.back() == '*') {
    std::string_view prefix = domain.substr(0, domain.size() - 1);
    if (host.size() > prefix.size() && host.substr(0, prefix.size()) == prefix) {
      score = 2;
      return true;
    }
  }
  return false;
}

bool HeaderMatches(const HeaderMatcher& m, const RequestView& request) {
  std::optional<std::string_view> value;
  if (m.name == ":method") {
    value = request.method;
  } else if (m.name == ":path") {
    value = request.path;
  } else if (m.name == ":authority" || m.name == "host") {
    value = request.authority;
  } else if (request.header) {
    value = request.header(m.name);
  }
  bool matched;
  if (m.string_match) {
    matched = value.has_value() && m.string_match->Matches(*value);
  } else {
    matched = value.has_value();
  }
  return matched != m.invert_match;
}

bool PathMatches(const RouteMatch& m, std::string_view path) {
  std::string_view without_query = path.substr(0, path.find('?'));
  std::string lowered;
  std::string_view candidate = without_query;
  if (!m.case_sensitive && m.path_kind != RouteMatch::PathKind::kSafeRegex) {
    lowered = common::ToLower(without_query);
    candidate = lowered;
    std::string pattern = common::ToLower(m.path);
    if (m.path_kind == RouteMatch::PathKind::kPrefix) {
      return candidate.substr(0, pattern.size()) == pattern;
    }
    return candidate == pattern;
  }
  switch (m.path_kind) {
    case RouteMatch::PathKind::kPrefix:
      return candidate.substr(0, m.path.size()) == m.path;
    case RouteMatch::PathKind::kPath:
      return candidate == m.path;
    case RouteMatch::PathKind::kSafeRegex:
      return m.regex != nullptr && std::regex_match(candidate.begin(), candidate.end(), *m.regex);
  }
  return false;
}

}  // namespace

const VirtualHost* SelectVirtualHost(const RouteConfiguration& rc, std::string_view authority) {
  std::string host = common::ToLower(authority);
  std::string host_no_port = host;
  if (auto colon = host.rfind(':'); colon != std::string::npos && host.find(']', colon) == std::string::npos) {
    host_no_port = host.substr(0, colon);
  }
  const VirtualHost* best = nullptr;
  int best_score = 0;
  size_t best_len = 0;
  for (const auto& vh : rc.virtual_hosts) {
    for (const auto& d : vh.domains) {
      int score = 0;
      bool hit = DomainMatches(d, host, score) || DomainMatches(d, host_no_port, score);
      if (hit && (score > best_score || (score == best_score && d.size() > best_len))) {
        best = &vh;
        best_score = score;
        best_len = d.size();
      }
    }
  }
  return best;
}

std::optional<std::string> QueryParameter(std::string_view path, std::string_view name) {
  auto q = path.find('?');
  if (q == std::string_view::npos) {
    return std::nullopt;
  }
  for (const auto& part : common::Split(path.substr(q + 1), '&', true)) {
    auto eq = part.find('=');
    std::string_view key = std::string_view(part).substr(0, eq);
    if (key == name) {
      return eq == std::string::npos ? std::string() : part.substr(eq + 1);
    }
  }
  return std::nullopt;
}

const proxyconfig::Route* SelectRoute(const VirtualHost& vh, const RequestView& request) {
  for (const auto& route : vh.routes) {
    const RouteMatch& m = route.match;
    if (!PathMatches(m, request.path)) {
      continue;
    }
    bool ok = true;
    for (const auto& h : m.headers) {
      if (!HeaderMatches(h, request)) {
        ok = false;
        break;
      }
    }
    for (size_t i = 0; ok && i < m.query_parameters.size(); ++i) {
      const auto& q = m.query_parameters[i];
      auto value = QueryParameter(request.path, q.name);
      ok = value.has_value() && (!q.string_match || q.string_match->Matches(*value));
    }
    if (ok) {
      return &route;
    }
  }
  return nullptr;
}

std::string RewritePrefix(std::string_view path, const RouteMatch& match, std::string_view replacement) {
  if (match.path_kind == RouteMatch::PathKind::kPrefix && path.size() >= match.path.size()) {
    std::string out(replacement);
    out.append(path.substr(match.path.size()));
    if (out.empty() || out[0] != '/') {
      out.insert(out.begin(), '/');
    }
    return out;
  }
  if (match.path_kind == RouteMatch::PathKind::kPath) {
    auto q = path.find('?');
    std::string out(replacement);
    if (q != std::string_view::npos) {
      out.append(path.substr(q));
    }
    return out;
  }
  return std::string(path);
}

const std::string& PickWeightedCluster(const std::vector<proxyconfig::WeightedCluster>& clusters,
                                       uint64_t random) {
  uint64_t total = 0;
  for (const auto& c : clusters) {
    total += c.weight;
  }
  if (total == 0) {
    return clusters.front().name;
  }
  uint64_t point = random % total;
  for (const auto& c : clusters) {
    if (point < c.weight) {
      return c.name;
    }
    point -= c.weight;
  }
  return clusters.back().name;
}

std::string RedirectLocation(const proxyconfig::RedirectAction& r, const RouteMatch& match,
                             std::string_view scheme, std::string_view authority, std::string_view path) {
  std::string new_scheme = r.scheme_redirect.empty() ? std::string(scheme) : r.scheme_redirect;
  std::string host(authority);
  std::string port;
  if (auto colon = host.rfind(':'); colon != std::string::npos && host.find(']', colon) == std::string::npos) {
    port = host.substr(colon + 1);
    host = host.substr(0, colon);
  }
  if (!r.host_redirect.empty()) {
    host = r.host_redirect;
  }
  if (r.port_redirect != 0) {
    port = std::to_string(r.port_redirect);
  }
  // Default ports are dropped, and a scheme change drops the old scheme's port.
  if (!r.scheme_redirect.empty() && r.scheme_redirect != scheme && r.port_redirect == 0) {
    port.clear();
  }
  if ((new_scheme == "http" && port == "80") || (new_scheme == "https" && port == "443")) {
    port.clear();
  }
  std::string new_path;
  if (!r.path_redirect.empty()) {
    new_path = r.path_redirect;
    auto q = path.find('?');
    if (new_path.find('?') == std::string::npos && q != std::string_view::npos) {
      new_path.append(path.substr(q));
    }
  } else if (!r.prefix_rewrite.empty()) {
    new_path = RewritePrefix(path, match, r.prefix_rewrite);
  } else {
    new_path = std::string(path);
  }
  if (r.strip_query) {
    new_path = new_path.substr(0, new_path.find('?'));
  }
  return common::StrCat(new_scheme, "://", host, port.empty() ? "" : ":", port, new_path);
}

}  // namespace mesh::proxy
