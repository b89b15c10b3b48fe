// meshnetworks.MeshNetworksAnalyzer: every `fromRegistry` in MeshNetworks must name a
// known service registry (Kubernetes, Mock, External, or a cluster from a remote secret).

#include <set>
#include <string>

#include "mesh/analyze/analyzers/workload/workload.h"

namespace mesh::analyze::workload {
namespace {

void AnalyzeMeshNetworks(Context& context) {
  const World& world = context.world();
  if (!world.has_mesh_networks()) {
    return;
  }
  std::set<std::string> registries = {"Kubernetes", "Mock", "External"};
  for (const config::Resource* secret : world.Of(kinds::kSecret)) {
    auto it = secret->labels().find("istio/multiCluster");
    if (it == secret->labels().end() || it->second != "true") {
      continue;
    }
    // Only `data` names clusters; `stringData` is write-only in Kubernetes.
    for (const auto& [cluster, unused] : secret->root()["data"].entries()) {
      registries.insert(cluster);
    }
  }
  Origin origin;
  origin.kind = "MeshNetworks";
  origin.ns = world.istio_namespace();
  origin.name = "meshnetworks";
  origin.file = world.mesh_networks_file();
  for (const auto& [network, spec] : world.mesh_networks()["networks"].entries()) {
    for (const config::Node& endpoint : spec["endpoints"].items()) {
      const config::Node& registry = endpoint["fromRegistry"];
      if (registry.Defined() && !registries.count(registry.Str())) {
        Origin o = origin;
        o.line = registry.mark().line;
        context.ReportWithOrigin(MessageTypeNamed("UnknownMeshNetworksServiceRegistry"), o,
                                 {registry.Str(), network});
      }
    }
  }
}

}  // namespace

AnalyzerPtr NewMeshNetworksAnalyzer() {
  return MakeAnalyzer({"meshnetworks.MeshNetworksAnalyzer", "Check the validity of MeshNetworks in the cluster",
                       {kinds::kMeshNetworks, kinds::kSecret}},
                      AnalyzeMeshNetworks);
}

}  // namespace mesh::analyze::workload
