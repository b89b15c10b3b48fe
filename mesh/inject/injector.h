#pragma once

// Sidecar injection: Istio's injection rules applied to a Pod or to the pod template of
// a workload (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob), adding our
// sidecar instead of Envoy: an `istio-init` init container running `meshctl proxy init`
// (iptables REDIRECT) and an `istio-proxy` container running `meshctl proxy sidecar`.
// Pure functions over parsed Nodes; used by `meshctl kube-inject` and the admission
// webhook.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "mesh/config/node.h"
#include "mesh/install/inject.h"

namespace mesh::inject {

using config::Node;
using install::Labels;

// What the injected containers look like; parsed once from the injector's values
// (the `values` key of ConfigMap istio-sidecar-injector, i.e. the merged Helm values).
struct InjectionSettings {
  std::string image = "docker.io/istio/meshctl:1.29.0";  // {{hub}}/meshctl:{{tag}}
  std::string image_pull_policy;                         // "" leaves the cluster default
  std::string revision = "default";
  std::string istio_namespace = "istio-system";
  // Where `meshctl proxy sidecar` reaches discovery and the CA.
  std::string control_plane_address = "istiod.istio-system.svc:15010";
  std::string trust_domain = "cluster.local";
  std::string cluster_id = "Kubernetes";
  int64_t proxy_uid = 1337;
  int64_t proxy_gid = 1337;
  Node resources;  // values.global.proxy.resources (requests/limits), may be null
  int64_t readiness_failure_threshold = 4;
  int64_t readiness_initial_delay_seconds = 0;
  int64_t readiness_period_seconds = 15;
  // Interception defaults (istio-iptables flags), overridable per pod by the
  // traffic.sidecar.istio.io/* annotations.
  std::string include_ip_ranges = "*";
  std::string exclude_ip_ranges;
  std::string exclude_inbound_ports;   // added to the always-excluded 15090,15021,15020
  std::string exclude_outbound_ports;
  bool enable_namespaces_by_default = false;
  // Rewrite the app containers' HTTP and TCP probes to the sidecar's status port
  // (sidecarInjectorWebhook.rewriteAppHTTPProbe; per pod:
  // sidecar.istio.io/rewriteAppHTTPProbers: "false").
  bool rewrite_app_probes = true;
  // The injector ConfigMap's `config.policy`: "disabled" injects only pods that ask with
  // sidecar.istio.io/inject=true (label or annotation); "enabled" (default) all selected.
  bool policy_enabled = true;
};

// Reads the settings from merged values (unknown or absent keys keep the defaults).
// `values` may be the JSON/YAML of ConfigMap istio-sidecar-injector's `values` key.
absl::StatusOr<InjectionSettings> SettingsFromValues(const Node& values);

// Who is asking. With `namespace_labels` the full selector table decides (as
// `meshctl x check-inject` does); without, the caller has already matched the
// namespace (the API server applied the webhook's selectors, or kube-inject was asked
// explicitly) and only the pod's own opt-out, hostNetwork and system namespaces count.
struct InjectionTarget {
  std::string ns;  // the pod's namespace ("" -> "default")
  std::optional<Labels> namespace_labels;
};

struct InjectionOutcome {
  bool injected = false;
  std::string reason;  // why (not) injected, for messages and logs
};

// Injects into one object in place: a Pod, or a workload's pod template. Objects of
// other kinds are left alone (not an error). Errors: malformed pod specs (containers
// not a list, ...).
absl::StatusOr<InjectionOutcome> InjectObject(Node& object, const InjectionTarget& target,
                                              const InjectionSettings& settings);

// Injects into a pod given as its metadata and spec (webhook path). `workload_kind`
// and `workload_name` name the owner for ISTIO_META_OWNER / canonical names; empty
// means "derive from the pod's ownerReferences / generateName / name".
absl::StatusOr<InjectionOutcome> InjectPod(Node& pod_metadata, Node& pod_spec, const InjectionTarget& target,
                                           const InjectionSettings& settings, const std::string& workload_kind = "",
                                           const std::string& workload_name = "");

// `meshctl kube-inject`: every document of a YAML stream, injected where it is a
// workload (kind: List items too), other documents kept; re-emitted as YAML documents
// separated by "---". A document that does not parse is an error naming file:line.
struct ManifestInjection {
  std::string yaml;
  std::vector<std::string> notes;  // "Deployment ns/name: reason" for workloads left alone
  int injected = 0;
};
absl::StatusOr<ManifestInjection> InjectManifest(std::string_view text, const std::string& file,
                                                 const InjectionSettings& settings);

// Ports the sidecar and init containers use (Istio's numbers).
inline constexpr int kOutboundPort = 15001;
inline constexpr int kInboundPort = 15006;
inline constexpr int kHealthPort = 15021;
inline constexpr int kStatsPort = 15090;
inline constexpr int kStatusPort = 15020;  // rewritten app probes (/app-health/...)
inline constexpr const char* kAlwaysExcludedInboundPorts = "15090,15021,15020";
inline constexpr const char* kStatusAnnotation = "sidecar.istio.io/status";

}  // namespace mesh::inject
