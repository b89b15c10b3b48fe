// Fuzz entry point: see fuzz/entry_points.h.
#include "fuzz/entry_points.h"

#include <string>

#include "mesh/config/yaml_loader.h"
#include "mesh/proxyconfig/decode.h"

namespace mesh::fuzz {

void FuzzProxyconfigDecode(std::string_view data) {
  absl::StatusOr<proxyconfig::Bootstrap> boot = proxyconfig::LoadBootstrapText(std::string(data), "fuzz.yaml");
  (void)boot;
  absl::StatusOr<config::Node> node = config::ParseYamlNode(data, "fuzz.yaml");
  if (!node.ok()) {
    return;
  }
  // The same node as each resource type (as it would arrive over xDS).
  (void)proxyconfig::DecodeListener(*node, "listener");
  (void)proxyconfig::DecodeRouteConfiguration(*node, "route");
  (void)proxyconfig::DecodeCluster(*node, "cluster");
  (void)proxyconfig::DecodeClusterLoadAssignment(*node, "endpoints");
  (void)proxyconfig::DecodeSecret(*node, "secret");
  if (node->IsScalar()) {
    absl::StatusOr<proxyconfig::Duration> d = proxyconfig::ParseDuration(node->Str());
    if (d.ok()) {
      (void)proxyconfig::FormatDuration(*d);
    }
  }
}

}  // namespace mesh::fuzz
