#pragma once

// The snapshot analyzers read: every input resource indexed by kind and by name, plus the
// mesh config and mesh networks. Built once, then read-only (analyzers run over a const
// World). Lookups are hash-based so no analyzer needs to be quadratic.

#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "mesh/config/node.h"
#include "mesh/config/resource.h"

namespace mesh::analyze {

// A kind as analyzers name it: API group + kind.
struct KindRef {
  std::string_view group;
  std::string_view kind;
  // Istio's collection name for messages and --list-analyzers ("KubernetesGateway" for the
  // Gateway API Gateway, else the kind).
  std::string_view display;
};

namespace kinds {
inline constexpr KindRef kGateway{"networking.istio.io", "Gateway", "Gateway"};
inline constexpr KindRef kVirtualService{"networking.istio.io", "VirtualService", "VirtualService"};
inline constexpr KindRef kDestinationRule{"networking.istio.io", "DestinationRule", "DestinationRule"};
inline constexpr KindRef kServiceEntry{"networking.istio.io", "ServiceEntry", "ServiceEntry"};
inline constexpr KindRef kSidecar{"networking.istio.io", "Sidecar", "Sidecar"};
inline constexpr KindRef kWorkloadEntry{"networking.istio.io", "WorkloadEntry", "WorkloadEntry"};
inline constexpr KindRef kWorkloadGroup{"networking.istio.io", "WorkloadGroup", "WorkloadGroup"};
inline constexpr KindRef kEnvoyFilter{"networking.istio.io", "EnvoyFilter", "EnvoyFilter"};
inline constexpr KindRef kProxyConfig{"networking.istio.io", "ProxyConfig", "ProxyConfig"};
inline constexpr KindRef kPeerAuthentication{"security.istio.io", "PeerAuthentication", "PeerAuthentication"};
inline constexpr KindRef kAuthorizationPolicy{"security.istio.io", "AuthorizationPolicy", "AuthorizationPolicy"};
inline constexpr KindRef kRequestAuthentication{"security.istio.io", "RequestAuthentication", "RequestAuthentication"};
inline constexpr KindRef kTelemetry{"telemetry.istio.io", "Telemetry", "Telemetry"};
inline constexpr KindRef kWasmPlugin{"extensions.istio.io", "WasmPlugin", "WasmPlugin"};
inline constexpr KindRef kTrafficExtension{"extensions.istio.io", "TrafficExtension", "TrafficExtension"};
inline constexpr KindRef kK8sGateway{"gateway.networking.k8s.io", "Gateway", "KubernetesGateway"};
inline constexpr KindRef kGatewayClass{"gateway.networking.k8s.io", "GatewayClass", "GatewayClass"};
inline constexpr KindRef kHTTPRoute{"gateway.networking.k8s.io", "HTTPRoute", "HTTPRoute"};
inline constexpr KindRef kGRPCRoute{"gateway.networking.k8s.io", "GRPCRoute", "GRPCRoute"};
inline constexpr KindRef kNamespace{"", "Namespace", "Namespace"};
inline constexpr KindRef kService{"", "Service", "Service"};
inline constexpr KindRef kPod{"", "Pod", "Pod"};
inline constexpr KindRef kSecret{"", "Secret", "Secret"};
inline constexpr KindRef kConfigMap{"", "ConfigMap", "ConfigMap"};
inline constexpr KindRef kNode{"", "Node", "Node"};
inline constexpr KindRef kDeployment{"apps", "Deployment", "Deployment"};
inline constexpr KindRef kIngress{"networking.k8s.io", "Ingress", "Ingress"};
inline constexpr KindRef kMutatingWebhook{"admissionregistration.k8s.io", "MutatingWebhookConfiguration",
                                          "MutatingWebhookConfiguration"};
inline constexpr KindRef kValidatingWebhook{"admissionregistration.k8s.io", "ValidatingWebhookConfiguration",
                                            "ValidatingWebhookConfiguration"};
inline constexpr KindRef kCRD{"apiextensions.k8s.io", "CustomResourceDefinition", "CustomResourceDefinition"};
// Synthetic inputs (not resources in files).
inline constexpr KindRef kMeshConfig{"", "MeshConfig", "MeshConfig"};
inline constexpr KindRef kMeshNetworks{"", "MeshNetworks", "MeshNetworks"};
}  // namespace kinds

class World {
 public:
  World();

  // Adds a resource (before analysis). Resources with the same kind, namespace and name
  // replace earlier ones, like applying them in order.
  void Add(config::Resource resource);

  const std::vector<const config::Resource*>& Of(const KindRef& kind) const;
  const config::Resource* Find(const KindRef& kind, std::string_view ns, std::string_view name) const;
  size_t size() const { return count_; }

  // Mesh config: defaults merged with --meshConfigFile; always a map.
  const config::Node& mesh_config() const { return mesh_config_; }
  void set_mesh_config(config::Node mesh_config) { mesh_config_ = std::move(mesh_config); }
  // Where the mesh config came from (for messages about it); empty for defaults.
  const std::string& mesh_config_file() const { return mesh_config_file_; }
  void set_mesh_config_file(std::string f) { mesh_config_file_ = std::move(f); }
  const config::Node& mesh_networks() const { return mesh_networks_; }
  void set_mesh_networks(config::Node n, std::string file) {
    mesh_networks_ = std::move(n);
    mesh_networks_file_ = std::move(file);
  }
  const std::string& mesh_networks_file() const { return mesh_networks_file_; }
  bool has_mesh_networks() const { return mesh_networks_.Defined(); }

  const std::string& istio_namespace() const { return istio_namespace_; }
  void set_istio_namespace(std::string ns) { istio_namespace_ = std::move(ns); }

  // Istio's default mesh config (ingressService istio-ingressgateway, rootNamespace
  // istio-system, ...).
  static config::Node DefaultMeshConfig();

 private:
  static std::string KindKey(std::string_view group, std::string_view kind);

  std::deque<config::Resource> storage_;
  std::unordered_map<std::string, std::vector<const config::Resource*>> by_kind_;
  std::unordered_map<std::string, const config::Resource*> by_name_;
  size_t count_ = 0;
  config::Node mesh_config_;
  std::string mesh_config_file_;
  config::Node mesh_networks_;
  std::string mesh_networks_file_;
  std::string istio_namespace_ = "istio-system";
};

}  // namespace mesh::analyze
