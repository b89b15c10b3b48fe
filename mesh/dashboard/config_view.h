#pragma once

// The configuration side of the dashboard, built once per store generation: the mesh's
// services, and for each the resources that apply to it (VirtualServices that host or
// route to it, DestinationRules, PeerAuthentication/AuthorizationPolicy/
// RequestAuthentication/Sidecar in its namespace or the root namespace, Gateways its
// VirtualServices bind to) with the analyzers' findings on those resources. Immutable
// once built, shared by HTTP handlers.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "mesh/analyze/message.h"
#include "mesh/config/resource.h"

namespace mesh::dashboard {

struct ServiceInfo {
  std::string fqdn;  // name.ns.svc.cluster.local, or a ServiceEntry host
  std::string name;
  std::string ns;
  std::string source;  // "Service", "ServiceEntry" or "proxy" (known from a sidecar only)
  std::vector<std::string> workload_labels_text;  // "app=helloworld,version=v1" per known workload
};

struct Finding {
  std::string level;  // "Error", "Warning", "Info"
  std::string code;   // "IST0101"
  std::string text;
};

struct AppliedResource {
  const config::Resource* resource = nullptr;
  std::string relation;  // why it applies: "hosts", "routes to", "host", "namespace", ...
  std::vector<Finding> findings;
};

// A workload known from a connected proxy, for selector matching.
struct KnownWorkload {
  std::string ns;
  std::string name;
  std::map<std::string, std::string> labels;
  std::vector<std::string> services;  // FQDNs
};

class ConfigView {
 public:
  // `analyze`: run every analyzer over the resources (findings are empty otherwise).
  static std::shared_ptr<const ConfigView> Build(std::vector<config::Resource> resources,
                                                 const std::vector<KnownWorkload>& workloads, bool analyze,
                                                 std::string root_namespace = "istio-system");

  const std::vector<ServiceInfo>& services() const { return services_; }
  const ServiceInfo* FindService(const std::string& ns, const std::string& name) const;
  // What applies to the service: the Service first, then in store order, bound Gateways last.
  std::vector<AppliedResource> ForService(const ServiceInfo& service) const;
  // Findings on the service object itself and on everything that applies to it.
  size_t FindingCount(const ServiceInfo& service) const;
  size_t resource_count() const { return resources_.size(); }
  size_t analyzer_messages() const { return message_count_; }

 private:
  std::vector<config::Resource> resources_;
  std::vector<ServiceInfo> services_;
  std::vector<KnownWorkload> workloads_;
  std::map<std::string, std::vector<Finding>> findings_;  // "Kind ns/name"
  std::map<std::string, std::vector<AppliedResource>> applied_;  // by fqdn, computed at build
  std::string root_namespace_;
  size_t message_count_ = 0;
};

// Resolves a host as written in a resource of namespace `ns` to an FQDN
// ("reviews" -> "reviews.<ns>.svc.cluster.local", "reviews.prod" -> "reviews.prod.svc.cluster.local").
std::string ResolveHost(const std::string& host, const std::string& ns);

}  // namespace mesh::dashboard
