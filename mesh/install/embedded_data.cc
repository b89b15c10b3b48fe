#include "mesh/install/embedded_data.h"

#include <utility>

#include "mesh/install/data/profiles_default_yaml.h"
#include "mesh/install/data/profiles_demo_yaml.h"
#include "mesh/install/data/profiles_minimal_yaml.h"
#include "mesh/install/data/profiles_empty_yaml.h"
#include "mesh/install/data/profiles_remote_yaml.h"
#include "mesh/install/data/profiles_preview_yaml.h"
#include "mesh/install/data/manifests_values_yaml.h"
#include "mesh/install/data/manifests_iop_schema_yaml.h"
#include "mesh/install/data/manifests_helm_profiles_demo_yaml.h"
#include "mesh/install/data/manifests_helm_profiles_preview_yaml.h"
#include "mesh/install/data/manifests_helm_profiles_remote_yaml.h"
#include "mesh/install/data/manifests_templates_base_yaml.h"
#include "mesh/install/data/manifests_templates_pilot_yaml.h"
#include "mesh/install/data/manifests_templates_gateway_yaml.h"
#include "mesh/install/data/manifests_templates_sidecar_injection_yaml.h"

namespace mesh::install {

namespace {
struct EmbeddedEntry {
  std::string_view path;
  std::string_view text;
};

constexpr EmbeddedEntry kEntries[] = {
    {"profiles/default.yaml", k_profiles_default_yaml},
    {"profiles/demo.yaml", k_profiles_demo_yaml},
    {"profiles/minimal.yaml", k_profiles_minimal_yaml},
    {"profiles/empty.yaml", k_profiles_empty_yaml},
    {"profiles/remote.yaml", k_profiles_remote_yaml},
    {"profiles/preview.yaml", k_profiles_preview_yaml},
    {"manifests/values.yaml", k_manifests_values_yaml},
    {"manifests/iop-schema.yaml", k_manifests_iop_schema_yaml},
    {"manifests/helm-profiles/demo.yaml", k_manifests_helm_profiles_demo_yaml},
    {"manifests/helm-profiles/preview.yaml", k_manifests_helm_profiles_preview_yaml},
    {"manifests/helm-profiles/remote.yaml", k_manifests_helm_profiles_remote_yaml},
    {"manifests/templates/base.yaml", k_manifests_templates_base_yaml},
    {"manifests/templates/pilot.yaml", k_manifests_templates_pilot_yaml},
    {"manifests/templates/gateway.yaml", k_manifests_templates_gateway_yaml},
    {"manifests/templates/sidecar-injection.yaml", k_manifests_templates_sidecar_injection_yaml},
};
}  // namespace

std::string_view EmbeddedFile(std::string_view relative_path) {
  for (const EmbeddedEntry& e : kEntries) {
    if (e.path == relative_path) {
      return e.text;
    }
  }
  return {};
}

const std::vector<std::string>& BuiltinProfileNames() {
  static const std::vector<std::string> kNames = {"default", "demo", "empty", "minimal", "preview", "remote"};
  return kNames;
}

}  // namespace mesh::install
