#include "mesh/kube/resource_names.h"

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
