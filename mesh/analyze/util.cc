#include "mesh/analyze/util.h"

#include <algorithm>

#include "mesh/common/strings.h"

namespace mesh::analyze::util {

config::StringMap ToStringMap(const config::Node& map) {
  config::StringMap out;
  for (auto& [k, v] : map.StringMap()) {
    out[k] = v;
  }
  return out;
}

bool SelectorMatches(const config::Node& selector, const config::StringMap& labels) {
  for (const auto& [k, v] : selector.entries()) {
    auto it = labels.find(k);
    if (it == labels.end() || it->second != v.Str()) {
      return false;
    }
  }
  return true;
}

bool SelectorMatches(const config::StringMap& selector, const config::StringMap& labels) {
  for (const auto& [k, v] : selector) {
    auto it = labels.find(k);
    if (it == labels.end() || it->second != v) {
      return false;
    }
  }
  return true;
}

std::string SelectorString(const config::StringMap& selector) {
  std::vector<std::string> parts;
  for (const auto& [k, v] : selector) {
    parts.push_back(k + "=" + v);
  }
  return common::Join(parts, ",");
}

std::string SelectorString(const config::Node& selector) { return SelectorString(ToStringMap(selector)); }

std::string ResolveShortName(std::string_view host, std::string_view ns) {
  if (host.empty() || host.find('.') != std::string_view::npos || host[0] == '*') {
    return std::string(host);
  }
  return common::StrCat(host, ".", ns, ".svc.", kDefaultDomainSuffix);
}

std::string ServiceFqdn(const config::Resource& service) {
  return common::StrCat(service.name(), ".", service.ns(), ".svc.", kDefaultDomainSuffix);
}

bool HostCoveredBy(std::string_view host, std::string_view pattern) {
  if (pattern == "*") {
    return true;
  }
  if (!pattern.empty() && pattern[0] == '*') {
    std::string_view suffix = pattern.substr(1);  // ".example.com"
    if (!host.empty() && host[0] == '*') {
      std::string_view host_suffix = host.substr(1);
      return host_suffix.size() >= suffix.size() &&
             host_suffix.substr(host_suffix.size() - suffix.size()) == suffix;
    }
    return host.size() > suffix.size() && host.substr(host.size() - suffix.size()) == suffix;
  }
  return host == pattern;
}

bool HostsMatch(std::string_view a, std::string_view b) { return HostCoveredBy(a, b) || HostCoveredBy(b, a); }

int LineOf(const config::Node& node) {
  if (node.key_mark().line > 0) {
    return node.key_mark().line;
  }
  return node.mark().line;
}

std::string ProtocolFromPortName(std::string_view port_name) {
  static const std::vector<std::string> kProtocols = {"grpc-web", "grpc", "http2", "http", "https", "tcp",
                                                      "tls",      "udp",  "mongo", "redis", "mysql"};
  std::string name = common::ToLower(port_name);
  for (const std::string& p : kProtocols) {
    if (name == p || (name.size() > p.size() && name.compare(0, p.size(), p) == 0 && name[p.size()] == '-')) {
      return p;
    }
  }
  return "";
}

}  // namespace mesh::analyze::util
