#include "mesh/install/inject.h"

#include "mesh/common/status_macros.h"
#include "mesh/common/strings.h"
#include "mesh/install/installer.h"

namespace mesh::install {
namespace {

constexpr const char* kInjectionLabel = "istio-injection";
constexpr const char* kRevLabel = "istio.io/rev";
constexpr const char* kPodInjectLabel = "sidecar.istio.io/inject";

const char* Find(const Labels& labels, const char* key) {
  auto it = labels.find(key);
  return it == labels.end() ? nullptr : it->second.c_str();
}

Labels ToLabels(const config::Node& n) {
  Labels out;
  for (const auto& [k, v] : n.entries()) {
    out[k] = v.Str();
  }
  return out;
}

}  // namespace

InjectionDecision DecideInjection(const InjectionInput& in) {
  InjectionDecision d;
  static const std::set<std::string> kSystemNamespaces = {"kube-system", "kube-public", "kube-node-lease",
                                                          "local-path-storage"};
  if (kSystemNamespaces.count(in.namespace_name) > 0) {
    d.reason = common::StrCat("namespace ", in.namespace_name, " is a system namespace");
    return d;
  }
  if (in.host_network) {
    d.reason = "pod uses hostNetwork";
    return d;
  }
  const char* ns_injection = Find(in.namespace_labels, kInjectionLabel);
  const char* ns_rev = Find(in.namespace_labels, kRevLabel);
  const char* pod_inject = Find(in.pod_labels, kPodInjectLabel);
  const char* pod_rev = Find(in.pod_labels, kRevLabel);

  if (ns_injection != nullptr && std::string(ns_injection) == "disabled") {
    d.reason = "namespace label istio-injection=disabled";
    return d;
  }
  if (pod_inject != nullptr && std::string(pod_inject) == "false") {
    d.reason = "pod label sidecar.istio.io/inject=false";
    return d;
  }
  if (ns_injection != nullptr && std::string(ns_injection) == "enabled") {
    d.revision = "default";
    d.reason = ns_rev != nullptr ? "namespace label istio-injection=enabled (wins over istio.io/rev)"
                                 : "namespace label istio-injection=enabled";
  } else if (ns_injection != nullptr) {
    // Only "enabled" matches a webhook; other values select nothing.
    d.reason = common::StrCat("namespace label istio-injection=", ns_injection, " matches no webhook");
    return d;
  } else if (ns_rev != nullptr) {
    d.revision = ns_rev;
    d.reason = common::StrCat("namespace label istio.io/rev=", ns_rev);
  } else if (pod_rev != nullptr) {
    d.revision = pod_rev;
    d.reason = common::StrCat("pod label istio.io/rev=", pod_rev);
  } else if (pod_inject != nullptr && std::string(pod_inject) == "true") {
    d.revision = "default";
    d.reason = "pod label sidecar.istio.io/inject=true";
  } else if (pod_inject == nullptr && in.enable_namespaces_by_default) {
    d.revision = "default";
    d.reason = "no injection labels; sidecarInjectorWebhook.enableNamespacesByDefault is on";
  } else {
    d.reason = "no injection label on the namespace (istio-injection or istio.io/rev) or the pod";
    return d;
  }
  if (in.installed_revisions.count(d.revision) == 0) {
    d.reason += common::StrCat(", but no injector for revision ", d.revision, " is installed");
    return d;
  }
  d.injected = true;
  return d;
}

absl::StatusOr<std::vector<WorkloadInjection>> CheckInjection(const store::ConfigStore& store,
                                                              const std::string& ns, const std::string& name) {
  std::vector<WorkloadInjection> out;
  // Installed injectors, by the revision label of their MutatingWebhookConfigurations.
  std::set<std::string> revisions;
  bool by_default = false;
  MESH_ASSIGN_OR_RETURN(auto mwcs, store.List({"admissionregistration.k8s.io", "MutatingWebhookConfiguration", ""}));
  for (const store::StoredObject& m : mwcs) {
    const config::Node& labels = m.object["metadata"]["labels"];
    if (labels[kComponentLabel].Defined()) {
      revisions.insert(labels[kRevLabel].Str().empty() ? "default" : labels[kRevLabel].Str());
      for (const config::Node& w : m.object["webhooks"].items()) {
        if (w["name"].Str() == "auto.sidecar-injector.istio.io") {
          by_default = true;
        }
      }
    }
  }
  struct PodKind {
    const char* group;
    const char* kind;
  };
  for (const PodKind& pk : {PodKind{"", "Pod"}, PodKind{"apps", "Deployment"}, PodKind{"apps", "StatefulSet"},
                            PodKind{"apps", "DaemonSet"}, PodKind{"apps", "ReplicaSet"}, PodKind{"batch", "Job"},
                            PodKind{"batch", "CronJob"}}) {
    MESH_ASSIGN_OR_RETURN(auto objects, store.List({pk.group, pk.kind, ns}));
    for (const store::StoredObject& o : objects) {
      if (!name.empty() && o.key.name != name) {
        continue;
      }
      InjectionInput in;
      in.namespace_name = o.key.ns.empty() ? "default" : o.key.ns;
      MESH_ASSIGN_OR_RETURN(auto nsobj, store.Get(store::ObjectKey{"", "Namespace", "", in.namespace_name}));
      if (nsobj.has_value()) {
        in.namespace_labels = ToLabels(nsobj->object["metadata"]["labels"]);
      }
      const config::Node* pod_meta = &o.object["metadata"];
      const config::Node* pod_spec = &o.object["spec"];
      if (std::string(pk.kind) == "CronJob") {
        pod_meta = &o.object["spec"]["jobTemplate"]["spec"]["template"]["metadata"];
        pod_spec = &o.object["spec"]["jobTemplate"]["spec"]["template"]["spec"];
      } else if (std::string(pk.kind) != "Pod") {
        pod_meta = &o.object["spec"]["template"]["metadata"];
        pod_spec = &o.object["spec"]["template"]["spec"];
      }
      in.pod_labels = ToLabels((*pod_meta)["labels"]);
      in.host_network = (*pod_spec)["hostNetwork"].Bool().value_or(false);
      in.enable_namespaces_by_default = by_default;
      in.installed_revisions = revisions;
      out.push_back(WorkloadInjection{o.key, DecideInjection(in)});
    }
  }
  return out;
}

}  // namespace mesh::install
