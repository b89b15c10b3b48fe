#pragma once

// Which workloads get a sidecar, by Istio's webhook selector table:
//   namespace istio-injection=disabled or pod sidecar.istio.io/inject=false -> never
//   namespace istio-injection=enabled -> the default revision (beats istio.io/rev)
//   namespace istio.io/rev=X -> revision X
//   unlabelled namespace: pod inject=true -> default; pod istio.io/rev=X -> X; else none
// plus the injector's own rules (system namespaces and hostNetwork pods are skipped).

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "mesh/store/store.h"

namespace mesh::install {

using Labels = std::map<std::string, std::string>;

struct InjectionDecision {
  bool injected = false;
  std::string revision;  // the revision whose webhook matches ("" when none)
  std::string reason;
};

struct InjectionInput {
  std::string namespace_name;
  Labels namespace_labels;
  Labels pod_labels;
  bool host_network = false;
  bool enable_namespaces_by_default = false;
  // Revisions with an installed injector; a match for another revision injects nothing.
  std::set<std::string> installed_revisions = {"default"};
};

InjectionDecision DecideInjection(const InjectionInput& input);

struct WorkloadInjection {
  store::ObjectKey workload;
  InjectionDecision decision;
};

// Evaluates every pod-bearing object in the store (Pods, Deployments, StatefulSets,
// DaemonSets, ReplicaSets, Jobs, CronJobs), optionally limited to a namespace / name.
absl::StatusOr<std::vector<WorkloadInjection>> CheckInjection(const store::ConfigStore& store,
                                                              const std::string& ns, const std::string& name);

}  // namespace mesh::install
