#include "mesh/kube/resource_names.h"

#include <optional>

#include "mesh/common/strings.h"
#include "mesh/config/schema.h"

namespace mesh::kube {

std::string ApiVersionOf(const ResourceInfo& info) {
  return info.group.empty() ? info.version : common::StrCat(info.group, "/", info.version);
}

absl::StatusOr<ResourceInfo> ResolveResourceName(KubeClient& client, const std::string& name) {
  if (const config::KindSchema* ks = config::FindKindByAnyName(name)) {
    // Newest version first: it is the one the cluster most likely serves.
    for (auto it = ks->versions.rbegin(); it != ks->versions.rend(); ++it) {
      std::string api_version = ks->group.empty() ? *it : common::StrCat(ks->group, "/", *it);
      auto info = client.Resolve(api_version, ks->kind);
      if (info.ok()) {
        return info;
      }
      if (!absl::IsNotFound(info.status())) {
        return info.status();
      }
    }
  }
  auto all = client.DiscoverAll();
  if (!all.ok()) {
    return all.status();
  }
  std::string lower = common::ToLower(name);
  for (const ResourceInfo& r : *all) {
    std::string kind_lower = common::ToLower(r.kind);
    if (r.resource == lower || kind_lower == lower || common::StrCat(r.resource, ".", r.group) == lower ||
        common::StrCat(kind_lower, ".", r.group) == lower) {
      return r;
    }
  }
  return absl::NotFoundError(common::StrCat("the server doesn't have a resource type \"", name, "\""));
}

}  // namespace mesh::kube

namespace mesh::kube {

absl::StatusOr<std::vector<config::Node>> ListKnownObjects(KubeClient& client) {
  std::vector<config::Node> out;
  for (const config::KindSchema& ks : config::AllKinds()) {
    std::optional<ResourceInfo> served;
    for (auto it = ks.versions.rbegin(); it != ks.versions.rend() && !served; ++it) {
      auto info = client.Resolve(ks.group.empty() ? *it : common::StrCat(ks.group, "/", *it), ks.kind);
      if (info.ok()) {
        served = *info;
      } else if (!absl::IsNotFound(info.status())) {
        return info.status();
      }
    }
    if (!served) {
      continue;
    }
    std::string api_version = ApiVersionOf(*served);
    auto listed = client.ListAll({api_version, served->kind, "", ""}, {.limit = 500});
    if (!listed.ok()) {
      return listed.status();
    }
    for (config::Node& item : listed->items) {
      item.Set("apiVersion", config::Node::Scalar(api_version, true));
      item.Set("kind", config::Node::Scalar(served->kind, true));
      out.push_back(std::move(item));
    }
  }
  return out;
}

}  // namespace mesh::kube
