#pragma once

// Rendering the merged configuration into Kubernetes objects: CRDs from the schema table
// and the templates in manifests/templates for the enabled components.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "mesh/config/node.h"
#include "mesh/install/iop.h"

namespace mesh::install {

using config::Node;

// Component names as istioctl prints them in labels (operator.istio.io/component).
inline constexpr const char* kComponentBase = "Base";
inline constexpr const char* kComponentPilot = "Pilot";
inline constexpr const char* kComponentIngress = "IngressGateways";
inline constexpr const char* kComponentEgress = "EgressGateways";

// Components in install order (dependencies first).
const std::vector<std::string>& ComponentOrder();
// "Istio core", "Istiod", "Ingress gateways", "Egress gateways".
std::string ComponentDisplayName(const std::string& component);

struct RenderedObject {
  std::string component;
  Node object;
  // Identity, read from the object.
  std::string api_version;
  std::string kind;
  std::string ns;
  std::string name;
};

struct Manifest {
  std::vector<RenderedObject> objects;  // in output order (see SortObjects)
  std::vector<std::string> enabled_components;  // in install order
  std::string istio_namespace;
  std::string revision;  // "default" unless --revision
  std::string version;   // the image tag, recorded in labels
};

absl::StatusOr<Manifest> RenderManifest(const MergedConfig& config);

// istioctl's output order: kind rank (CRDs first, Services last), then group, kind, name.
int KindRank(const std::string& kind);
void SortObjects(std::vector<RenderedObject>& objects);

// The objects as YAML documents (keys sorted), each followed by "---".
std::string ManifestToYaml(const std::vector<RenderedObject>& objects);

}  // namespace mesh::install
