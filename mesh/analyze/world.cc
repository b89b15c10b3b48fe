#include "mesh/analyze/world.h"

#include <algorithm>

#include "mesh/common/strings.h"
#include "mesh/config/yaml_loader.h"

namespace mesh::analyze {

World::World() : mesh_config_(DefaultMeshConfig()) {}

std::string World::KindKey(std::string_view group, std::string_view kind) {
  return common::StrCat(group, "/", kind);
}

void World::Add(config::Resource resource) {
  std::string kind_key = KindKey(resource.gvk().group, resource.kind());
  std::string name_key = common::StrCat(kind_key, "/", resource.ns(), "/", resource.name());
  auto& list = by_kind_[kind_key];
  auto it = by_name_.find(name_key);
  if (it != by_name_.end()) {
    // Replace in place so the kind list keeps one entry per object.
    const config::Resource* old = it->second;
    storage_.push_back(std::move(resource));
    const config::Resource* now = &storage_.back();
    std::replace(list.begin(), list.end(), old, now);
    it->second = now;
    return;
  }
  storage_.push_back(std::move(resource));
  const config::Resource* now = &storage_.back();
  list.push_back(now);
  by_name_.emplace(std::move(name_key), now);
  ++count_;
}

const std::vector<const config::Resource*>& World::Of(const KindRef& kind) const {
  static const std::vector<const config::Resource*> kEmpty;
  auto it = by_kind_.find(KindKey(kind.group, kind.kind));
  return it == by_kind_.end() ? kEmpty : it->second;
}

const config::Resource* World::Find(const KindRef& kind, std::string_view ns, std::string_view name) const {
  auto it = by_name_.find(common::StrCat(kind.group, "/", kind.kind, "/", ns, "/", name));
  return it == by_name_.end() ? nullptr : it->second;
}

config::Node World::DefaultMeshConfig() {
  // The fields analyzers read, with Istio's defaults.
  static const char* kDefaults =
      "rootNamespace: istio-system\n"
      "trustDomain: cluster.local\n"
      "ingressService: istio-ingressgateway\n"
      "ingressControllerMode: STRICT\n"
      "ingressClass: istio\n"
      "ingressSelector: ingressgateway\n"
      "enableAutoMtls: true\n"
      "defaultConfig:\n"
      "  discoveryAddress: istiod.istio-system.svc:15012\n"
      "  proxyMetadata: {}\n";
  auto n = config::ParseYamlNode(kDefaults, "default mesh config");
  return n.ok() ? *n : config::Node::Map();
}

}  // namespace mesh::analyze
