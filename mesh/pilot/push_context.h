#pragma once

// The control plane's immutable snapshot of the world (Istio's PushContext): services,
// workload instances and the Istio configuration, indexed for the lookups translation
// needs. Built once per change from plain inputs, then shared read-only
// (std::shared_ptr<const PushContext>) by every proxy's generators.

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "mesh/config/resource.h"

namespace mesh::pilot {

struct ServicePort {
  std::string name;
  uint32_t port = 0;
  uint32_t target_port = 0;  // 0: same as port
  std::string protocol;      // HTTP, HTTP2, GRPC, HTTPS, TLS, TCP (from name/appProtocol)
};

struct Service {
  std::string hostname;  // name.ns.svc.cluster.local or a ServiceEntry host
  std::string name;
  std::string ns;
  std::vector<ServicePort> ports;
  config::StringMap selector;  // pods behind it (empty: none / explicit endpoints)
  bool mesh_external = false;  // ServiceEntry MESH_EXTERNAL
  std::string resolution;      // STATIC, DNS, NONE (ServiceEntry), "" for Kubernetes
  std::vector<std::string> export_to;
  const ServicePort* FindPort(uint32_t port) const;
};

// A running workload (a pod in Kubernetes; a registered process in local mode).
struct WorkloadInstance {
  std::string name;
  std::string ns;
  std::string service_account = "default";
  config::StringMap labels;
  std::string address = "127.0.0.1";
  // Where mesh traffic for each service port arrives (the sidecar's inbound port in local
  // mode; the target port in Kubernetes). Keyed by service target port.
  std::map<uint32_t, uint32_t> endpoint_ports;
  uint32_t default_endpoint_port = 0;  // used when a target port is not in the map
  std::vector<std::string> services;   // explicit membership (local mode): Service names in ns
  bool has_sidecar = true;             // speaks ISTIO_MUTUAL
  std::string locality;                // region/zone/subzone
  uint32_t EndpointPortFor(uint32_t target_port) const;
};

struct Endpoint {
  const WorkloadInstance* instance = nullptr;
  std::string address;
  uint32_t port = 0;
};

struct MeshSettings {
  std::string trust_domain = "cluster.local";
  std::string root_namespace = "istio-system";
  std::string domain_suffix = "cluster.local";
};

class PushContext {
 public:
  // Builds the snapshot. `resources` are the stored objects (Services, Istio config,
  // Secrets, Namespaces, ...); `workloads` the registered instances.
  static std::shared_ptr<const PushContext> Build(std::vector<config::Resource> resources,
                                                  std::vector<WorkloadInstance> workloads, MeshSettings mesh = {});

  const MeshSettings& mesh() const { return mesh_; }
  uint64_t version() const { return version_; }

  const std::vector<Service>& services() const { return services_; }
  const Service* FindService(std::string_view hostname) const;
  // Endpoints of a service port, optionally restricted to a subset's labels.
  std::vector<Endpoint> EndpointsFor(const Service& service, const ServicePort& port,
                                     const config::StringMap& subset_labels = {}) const;
  const std::vector<WorkloadInstance>& workloads() const { return workloads_; }

  // Gateways whose selector matches these workload labels.
  std::vector<const config::Resource*> GatewaysFor(const config::StringMap& labels) const;
  // VirtualServices bound to gateway "ns/name".
  std::vector<const config::Resource*> VirtualServicesForGateway(const std::string& gateway) const;
  // VirtualServices bound to the mesh (no gateways, or "mesh" listed), visible from `ns`.
  std::vector<const config::Resource*> MeshVirtualServices(const std::string& proxy_ns) const;
  // The DestinationRule for a host as seen from a proxy namespace (proxy ns, then the
  // service's namespace, then the root namespace).
  const config::Resource* DestinationRuleFor(const std::string& proxy_ns, const Service& service) const;
  // Istio's PeerAuthentication precedence: workload selector, namespace, mesh (root ns).
  // Returns "STRICT", "PERMISSIVE" or "DISABLE" for the workload (port-level when set).
  std::string MtlsModeFor(const WorkloadInstance& workload, uint32_t port) const;
  // AuthorizationPolicies that apply to a workload (root namespace and its namespace).
  std::vector<const config::Resource*> AuthorizationPoliciesFor(const WorkloadInstance& workload) const;
  // A Secret by namespace and name.
  const config::Resource* FindSecret(const std::string& ns, const std::string& name) const;
  const config::Resource* FindSidecarConfig(const WorkloadInstance& workload) const;

  const std::vector<config::Resource>& resources() const { return resources_; }
  // Label names used by any DestinationRule's localityLbSetting.failoverPriority, sorted.
  const std::vector<std::string>& failover_priority_labels() const { return failover_priority_labels_; }

 private:
  std::vector<const config::Resource*> OfKind(std::string_view group, std::string_view kind) const;

  MeshSettings mesh_;
  uint64_t version_ = 0;
  std::vector<config::Resource> resources_;
  std::vector<WorkloadInstance> workloads_;
  std::vector<Service> services_;
  std::unordered_map<std::string, size_t> service_by_host_;
  std::unordered_map<std::string, std::vector<const config::Resource*>> by_kind_;
  std::unordered_map<std::string, std::vector<const config::Resource*>> vs_by_gateway_;
  std::vector<const config::Resource*> mesh_vs_;
  std::vector<std::string> failover_priority_labels_;
};

// A workload's locality ("region/zone/subzone") from Istio's istio-locality label
// ("region.zone.subzone") or the Kubernetes topology labels; "" when none is set.
std::string LocalityFromLabels(const config::StringMap& labels);

using PushContextConstSharedPtr = std::shared_ptr<const PushContext>;

// "reviews" in "default" -> "reviews.default.svc.cluster.local".
std::string QualifyHost(std::string_view host, std::string_view ns, std::string_view suffix = "cluster.local");
// Protocol from a port name / appProtocol ("http-web" -> "HTTP", "grpc" -> "GRPC", "" -> "TCP").
std::string ProtocolForPort(std::string_view name, std::string_view app_protocol = "");
bool IsHttpProtocol(std::string_view protocol);

}  // namespace mesh::pilot
