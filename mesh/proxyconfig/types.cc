#include "mesh/proxyconfig/types.h"

#include <algorithm>

#include "mesh/common/strings.h"

namespace mesh::proxyconfig {

bool StringMatcher::Matches(std::string_view text) const {
  std::string lowered;
  if (ignore_case && kind != Kind::kRegex) {
    lowered = common::ToLower(text);
    text = lowered;
  }
  switch (kind) {
    case Kind::kExact:
      return text == value;
    case Kind::kPrefix:
      return text.substr(0, value.size()) == value;
    case Kind::kSuffix:
      return text.size() >= value.size() && text.substr(text.size() - value.size()) == value;
    case Kind::kContains:
      return text.find(value) != std::string_view::npos;
    case Kind::kRegex:
      return regex != nullptr && std::regex_match(text.begin(), text.end(), *regex);
  }
  return false;
}

bool RetryPolicy::RetriesOn(std::string_view condition) const {
  return std::find(retry_on.begin(), retry_on.end(), condition) != retry_on.end();
}

std::string NodeInfo::Metadata(std::string_view key) const {
  for (const auto& [k, v] : metadata) {
    if (k == key) {
      return v;
    }
  }
  return "";
}

namespace {
template <typename T>
const T* FindByName(const std::vector<T>& items, std::string_view name) {
  for (const auto& item : items) {
    if (item.name == name) {
      return &item;
    }
  }
  return nullptr;
}
}  // namespace

const Cluster* Resources::FindCluster(std::string_view name) const { return FindByName(clusters, name); }
const RouteConfiguration* Resources::FindRouteConfig(std::string_view name) const {
  return FindByName(route_configs, name);
}
const Secret* Resources::FindSecret(std::string_view name) const { return FindByName(secrets, name); }
const ClusterLoadAssignment* Resources::FindEndpoints(std::string_view name) const {
  for (const auto& e : endpoints) {
    if (e.cluster_name == name) {
      return &e;
    }
  }
  return nullptr;
}

}  // namespace mesh::proxyconfig
