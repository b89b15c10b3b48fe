#pragma once

// The workload analyzer group: Kubernetes workloads, injection, webhooks, security,
// telemetry, EnvoyFilter and mesh networks analyzers. Each factory builds one analyzer.

#include <functional>

#include "mesh/analyze/analyzer.h"

namespace mesh::analyze::workload {

// An analyzer made of metadata and a function (most analyzers need no state).
AnalyzerPtr MakeAnalyzer(AnalyzerMetadata metadata, std::function<void(Context&)> analyze);

AnalyzerPtr NewK8sAnnotationsAnalyzer();
AnalyzerPtr NewAlphaAnnotationsAnalyzer();
AnalyzerPtr NewApplicationUidAnalyzer();
AnalyzerPtr NewMultiServiceAnalyzer();
AnalyzerPtr NewInjectionAnalyzer();
AnalyzerPtr NewInjectionImageAnalyzer();
AnalyzerPtr NewImageAutoAnalyzer();
AnalyzerPtr NewPortNameAnalyzer();
AnalyzerPtr NewWebhookAnalyzer();
AnalyzerPtr NewExternalControlPlaneAnalyzer();
AnalyzerPtr NewAuthorizationPoliciesAnalyzer();
AnalyzerPtr NewBlockedCidrsAnalyzer();
AnalyzerPtr NewConditionAnalyzer();
AnalyzerPtr NewDeprecationAnalyzer();
AnalyzerPtr NewEnvoyPatchAnalyzer();
AnalyzerPtr NewTelemetryDefaultSelectorAnalyzer();
AnalyzerPtr NewTelemetryLightstepAnalyzer();
AnalyzerPtr NewTelemetryProviderAnalyzer();
AnalyzerPtr NewTelemetrySelectorAnalyzer();
AnalyzerPtr NewMeshNetworksAnalyzer();

// Shared helpers.
// The pod spec of a Pod (spec) or of a Deployment's pod template (spec.template.spec).
const config::Node& PodSpecOf(const config::Resource& resource);
// Labels of the pods a Deployment creates (spec.template.metadata.labels).
config::StringMap PodTemplateLabels(const config::Resource& deployment);
// Kubernetes LabelSelector (matchLabels and matchExpressions) matching; a null selector
// matches everything.
bool LabelSelectorMatches(const config::Node& selector, const config::StringMap& labels);
// Whether the workload is in the mesh (Istio's inMesh): an istio-proxy container with an
// image, else the sidecar.istio.io/inject label or annotation, else the namespace's
// istio-injection=enabled label.
bool WorkloadInMesh(const World& world, const config::StringMap& annotations, const config::StringMap& labels,
                    const std::string& ns, const config::Node& pod_spec);
// Namespaces Istio never injects (kube-system, kube-public, kube-node-lease, local-path-storage).
bool IsSystemNamespace(std::string_view ns);
// Istio control plane components carry an `istio` label or release=istio.
bool IsIstioControlPlane(const config::Resource& resource);
// Line of the annotation `key` under metadata.annotations, or 0.
int AnnotationLine(const config::Resource& resource, const std::string& key);

}  // namespace mesh::analyze::workload
