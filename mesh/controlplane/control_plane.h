#pragma once

// The istiod role in one object: watches the config store, keeps the registry of
// connected workloads, rebuilds the PushContext on change (debounced), serves discovery
// to proxies and signs workload certificates. Translation itself is a Generator function
// (mesh/pilot) so that it can be tested without sockets.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "mesh/ca/authenticator.h"
#include "mesh/ca/ca.h"
#include "mesh/ca/token.h"
#include "mesh/controlplane/registry.h"
#include "mesh/dashboard/dashboard.h"
#include "mesh/pilot/push_context.h"
#include "mesh/store/store.h"
#include "mesh/xds/server.h"

namespace mesh::controlplane {

// Builds one type's resources for one proxy from the current snapshot.
using Generator = std::function<xds::ResourceList(const ProxyIdentity& proxy, const pilot::PushContext& push,
                                                  const std::string& type_url)>;

// Workload instances derived from the configuration itself (Kubernetes: EndpointSlices
// and Pods, see mesh/kubestore). When set, it is the service registry and proxies that
// connect no longer register their own workload as an endpoint.
using WorkloadDiscovery = std::function<std::vector<pilot::WorkloadInstance>(
    const std::vector<config::Resource>& resources, const pilot::MeshSettings& mesh)>;

struct ControlPlaneOptions {
  std::shared_ptr<store::ConfigStore> store;
  std::string ca_dir;          // <state-dir>/ca
  std::string token_key_file;  // <state-dir>/token-key (used when authenticator is null)
  // Who may claim which identity; null: bootstrap tokens signed with token_key_file.
  std::shared_ptr<ca::Authenticator> authenticator;
  WorkloadDiscovery workload_discovery;  // null: workloads register by connecting
  std::string address = "127.0.0.1";
  uint16_t port = 15010;  // 0: pick one
  // Discovery and CA also over TLS (Istio's 15012), with a serving certificate from the
  // mesh CA for `tls_dns_names`; nullopt: off, 0: pick a port.
  std::optional<uint16_t> tls_port;
  std::vector<std::string> tls_dns_names = {"istiod.istio-system.svc", "istiod.istio-system.svc.cluster.local",
                                            "istiod", "localhost"};
  std::chrono::milliseconds debounce_quiet{100};
  std::chrono::milliseconds debounce_max{1000};
  std::chrono::milliseconds store_poll{100};
  std::chrono::milliseconds workload_grace{10000};
  // Where the workload registry is saved (<state-dir>/workloads.json) so a restarted
  // control plane keeps serving the endpoints of proxies that are still reconnecting;
  // "": not saved. Unused with workload_discovery.
  std::string registry_file;
  std::chrono::seconds workload_cert_ttl{24 * 3600};
  // Discovery streams are closed after this age so proxies rebalance; 0: never.
  std::chrono::milliseconds max_connection_age{0};
  // Extra plain-HTTP listeners on `address` serving the same HTTP endpoints as the
  // discovery port (/ready, /metrics, /debug/*, the dashboard) but no discovery
  // streams: istiod's debug port 8080 (its readiness probe) and monitoring port 15014.
  std::optional<uint16_t> debug_port;
  std::optional<uint16_t> monitoring_port;
  pilot::MeshSettings mesh;
  // When set, the mesh settings are derived from the configuration on every rebuild
  // (Kubernetes: the `istio` ConfigMap), starting from `mesh`.
  std::function<pilot::MeshSettings(const std::vector<config::Resource>& resources, const pilot::MeshSettings& defaults)>
      mesh_from_config;
  Generator generator;
  // The web dashboard on the same port (/dashboard/): scrapes the proxies' metrics.
  bool dashboard_enabled = true;
  dashboard::DashboardOptions dashboard;
};

struct ControlPlaneStats {
  uint64_t pushes = 0;          // PushContext rebuilds that were pushed
  uint64_t certificates = 0;    // workload certificates signed
  size_t connected_proxies = 0;
  uint64_t push_context_version = 0;
};

class ControlPlane {
 public:
  virtual ~ControlPlane() = default;
  virtual uint16_t port() const = 0;
  // The TLS discovery port; 0 when TLS is off.
  virtual uint16_t tls_port() const = 0;
  virtual xds::XdsServer& xds() = 0;
  virtual ControlPlaneStats Stats() const = 0;
  // Rebuild and push now (tests; normally the store watch does it).
  virtual void TriggerPush() = 0;
  virtual void Stop() = 0;
};

absl::StatusOr<std::unique_ptr<ControlPlane>> StartControlPlane(ControlPlaneOptions options);

// Request/response of the CA endpoint (POST /v1/certificate, Authorization: Bearer
// <bootstrap token, or the pod's service-account token in Kubernetes mode>): {"csr": PEM} -> {"certChain": PEM, "rootCert": PEM}.
struct CertificateRequest {
  std::string csr_pem;
};
std::string EncodeCertificateRequest(const CertificateRequest& r);

}  // namespace mesh::controlplane
