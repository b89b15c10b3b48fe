#include "mesh/proxyconfig/types.h"

#include <arpa/inet.h>

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

bool CidrRange::Contains(std::string_view ip) const {
  uint8_t bytes[16];
  std::string text(ip);
  size_t size = 0;
  if (inet_pton(AF_INET, text.c_str(), bytes) == 1) {
    size = 4;
  } else if (inet_pton(AF_INET6, text.c_str(), bytes) == 1) {
    size = 16;
    // An IPv4-mapped IPv6 address (::ffff:a.b.c.d) matches IPv4 ranges.
    static const uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (network.size() == 4 && std::equal(kMapped, kMapped + 12, bytes)) {
      std::copy(bytes + 12, bytes + 16, bytes);
      size = 4;
    }
  }
  if (size == 0 || size != network.size()) {
    return false;
  }
  uint32_t bits = prefix_len;
  for (size_t i = 0; i < size && bits > 0; ++i) {
    uint8_t mask = bits >= 8 ? 0xff : static_cast<uint8_t>(0xff << (8 - bits));
    if ((bytes[i] & mask) != network[i]) {
      return false;
    }
    bits = bits >= 8 ? bits - 8 : 0;
  }
  return true;
}

std::optional<CidrRange> MakeCidrRange(const std::string& address_prefix, uint32_t prefix_len) {
  uint8_t bytes[16];
  size_t size = 0;
  if (inet_pton(AF_INET, address_prefix.c_str(), bytes) == 1) {
    size = 4;
  } else if (inet_pton(AF_INET6, address_prefix.c_str(), bytes) == 1) {
    size = 16;
  }
  if (size == 0 || prefix_len > size * 8) {
    return std::nullopt;
  }
  CidrRange c;
  c.address_prefix = address_prefix;
  c.prefix_len = prefix_len;
  uint32_t bits = prefix_len;
  for (size_t i = 0; i < size; ++i) {
    uint8_t mask = bits >= 8 ? 0xff : bits == 0 ? 0 : static_cast<uint8_t>(0xff << (8 - bits));
    c.network.push_back(static_cast<uint8_t>(bytes[i] & mask));
    bits = bits >= 8 ? bits - 8 : 0;
  }
  return c;
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
