#include "mesh/analyze/analyzers/schema/reporting.h"
#include "mesh/analyze/analyzers/schema/schema_analyzers.h"

namespace mesh::analyze::schema {
namespace {

// MeshConfig and MeshNetworks are not resources in files: messages name a synthetic
// object in the Istio namespace, as istioctl does.
class MeshValidationAnalyzer : public Analyzer {
 public:
  enum class Target { kMeshConfig, kMeshNetworks };

  explicit MeshValidationAnalyzer(Target target) : target_(target) {
    const KindRef& kind = target == Target::kMeshConfig ? kinds::kMeshConfig : kinds::kMeshNetworks;
    metadata_ = AnalyzerMetadata{std::string("schema.ValidationAnalyzer.") + std::string(kind.display),
                                 "Runs schema validation as an analyzer on '" + std::string(kind.display) +
                                     "' resources",
                                 {kind}};
  }

  const AnalyzerMetadata& Metadata() const override { return metadata_; }

  void Analyze(Context& context) const override {
    const World& world = context.world();
    config::ValidationResult result;
    Origin origin;
    origin.ns = world.istio_namespace();
    if (target_ == Target::kMeshConfig) {
      result = config::ValidateMeshConfig(world.mesh_config());
      origin.kind = "MeshConfig";
      origin.name = "meshconfig";
      origin.file = world.mesh_config_file();
    } else {
      if (!world.has_mesh_networks()) {
        return;
      }
      result = config::ValidateMeshNetworks(world.mesh_networks());
      origin.kind = "MeshNetworks";
      origin.name = "meshnetworks";
      origin.file = world.mesh_networks_file();
    }
    ReportValidation(result, [&](const MessageType& type, std::vector<std::string> args, int line) {
      Origin o = origin;
      o.line = o.file.empty() ? 0 : line;
      context.ReportWithOrigin(type, std::move(o), std::move(args));
    });
  }

 private:
  Target target_;
  AnalyzerMetadata metadata_;
};

}  // namespace

AnalyzerPtr NewMeshConfigValidationAnalyzer() {
  return std::make_unique<MeshValidationAnalyzer>(MeshValidationAnalyzer::Target::kMeshConfig);
}

AnalyzerPtr NewMeshNetworksValidationAnalyzer() {
  return std::make_unique<MeshValidationAnalyzer>(MeshValidationAnalyzer::Target::kMeshNetworks);
}

}  // namespace mesh::analyze::schema
