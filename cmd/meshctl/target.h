#pragma once

// Which mesh a command works on: the local state directory or a Kubernetes cluster.
// The rules (docs/KUBERNETES.md, "Choosing the target"), first match wins:
//   1. --kubeconfig or --context                      -> cluster (with --state-dir: usage error)
//   2. --state-dir                                    -> local
//   3. MESHCTL_STATE_DIR set                          -> local (scripts and tests set it, so a
//                                                        developer's kubeconfig is never touched)
//   4. KUBECONFIG set, ~/.kube/config exists, or in-cluster (KUBERNETES_SERVICE_HOST) -> cluster
//   5. otherwise                                      -> local (.meshctl)

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "cmd/meshctl/commands.h"
#include "cmd/meshctl/local_state.h"
#include "mesh/common/strings.h"
#include "mesh/kube/client.h"
#include "mesh/kube/kubeconfig.h"

namespace meshctl {

struct Target {
  bool kube = false;
  std::string state_dir;  // local
  std::string why;        // "--kubeconfig", "KUBECONFIG", "~/.kube/config", "in-cluster", ...
};

inline std::string EnvOr(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

inline absl::StatusOr<Target> ResolveTarget(const CliContext& ctx) {
  Target t;
  if (!ctx.kubeconfig.empty() || !ctx.kube_context.empty()) {
    if (!ctx.state_dir.empty()) {
      return absl::InvalidArgumentError("--state-dir (local mode) cannot be combined with --kubeconfig/--context");
    }
    t.kube = true;
    t.why = ctx.kubeconfig.empty() ? "--context" : "--kubeconfig";
    return t;
  }
  if (!ctx.state_dir.empty()) {
    t.state_dir = ctx.state_dir;
    t.why = "--state-dir";
    return t;
  }
  if (!EnvOr("MESHCTL_STATE_DIR").empty()) {
    t.state_dir = EnvOr("MESHCTL_STATE_DIR");
    t.why = "MESHCTL_STATE_DIR";
    return t;
  }
  std::error_code ec;
  if (!EnvOr("KUBECONFIG").empty()) {
    t.kube = true;
    t.why = "KUBECONFIG";
  } else if (!EnvOr("HOME").empty() && std::filesystem::exists(EnvOr("HOME") + "/.kube/config", ec)) {
    t.kube = true;
    t.why = "~/.kube/config";
  } else if (!EnvOr("KUBERNETES_SERVICE_HOST").empty() && !EnvOr("KUBERNETES_SERVICE_PORT").empty()) {
    t.kube = true;
    t.why = "in-cluster";
  } else {
    t.state_dir = ".meshctl";
    t.why = "no cluster configured";
  }
  return t;
}

// The cluster's client, with a line on stderr saying which cluster is used.
struct KubeTarget {
  mesh::kube::RestConfig config;
  std::unique_ptr<mesh::kube::KubeClient> client;
  std::string description;  // context "x" (https://...)
};

inline absl::StatusOr<KubeTarget> OpenKubeTarget(const CliContext& ctx, const Target& target,
                                                 const std::string& namespace_override = "") {
  mesh::kube::KubeconfigOptions opts;
  opts.kubeconfig_path = ctx.kubeconfig;
  opts.context = ctx.kube_context;
  opts.namespace_override = namespace_override;
  auto config = mesh::kube::LoadRestConfig(opts);
  if (!config.ok()) {
    return config.status();
  }
  auto client = mesh::kube::NewKubeClient(*config);
  if (!client.ok()) {
    return client.status();
  }
  KubeTarget kt;
  kt.config = *config;
  kt.client = std::move(*client);
  kt.description = config->in_cluster
                       ? mesh::common::StrCat("in-cluster (", config->server, ")")
                       : mesh::common::StrCat("context \"", config->context_name, "\" (", config->server, ")");
  std::cerr << "Target: Kubernetes cluster, " << kt.description << " [" << target.why << "]\n";
  return kt;
}

inline void PrintLocalTarget(const Target& target) {
  std::cerr << "Target: local mesh state " << target.state_dir << " [" << target.why << "]\n";
}

// Adds --kubeconfig and --context to a subcommand (bound to the shared CliContext).
inline void AddTargetFlags(CLI::App* cmd, CliContext& ctx) {
  AddStateDirFlag(cmd, ctx);
  cmd->add_option("--kubeconfig", ctx.kubeconfig, "Kubeconfig file: work on that cluster instead of the local state");
  cmd->add_option("--context", ctx.kube_context, "Kubeconfig context: work on that cluster");
}

}  // namespace meshctl
