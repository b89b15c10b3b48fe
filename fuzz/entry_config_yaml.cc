// Fuzz entry point: see fuzz/entry_points.h.
#include "fuzz/entry_points.h"

#include "mesh/config/emit.h"
#include "mesh/config/validation.h"
#include "mesh/config/yaml_loader.h"

namespace mesh::fuzz {

void FuzzConfigYaml(std::string_view data) {
  config::LoadResult loaded = config::LoadText(data, "fuzz.yaml");
  for (const config::Resource& r : loaded.resources) {
    config::ValidationResult v = config::ValidateIstioResource(r);
    (void)v.Describe();
    (void)config::EmitYaml(r.root());
    (void)config::EmitJson(r.root());
    if (r.root()["mesh"].IsMap()) {
      (void)config::ValidateMeshConfig(r.root()["mesh"]);
    }
    if (r.root()["networks"].IsMap()) {
      (void)config::ValidateMeshNetworks(r.root()["networks"]);
    }
  }
  for (const config::LoadError& e : loaded.errors) {
    (void)e.ToString();
  }
  // A whole document as mesh config (the `mesh` key of the istio ConfigMap).
  absl::StatusOr<config::Node> node = config::ParseYamlNode(data, "mesh.yaml");
  if (node.ok() && node->IsMap()) {
    (void)config::ValidateMeshConfig(*node);
  }
}

}  // namespace mesh::fuzz
