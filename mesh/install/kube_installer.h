#pragma once

// Installing a rendered manifest into a Kubernetes cluster the way `istioctl install`
// does: server-side apply (field manager meshctl) in dependency order, CRDs first and
// waited for until Established, owner labels on everything, pruning of owned objects the
// new render lacks, then a readiness wait for each component's Deployments.

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "mesh/common/time_source.h"
#include "mesh/install/iop.h"
#include "mesh/install/render.h"
#include "mesh/kube/client.h"

namespace mesh::install {

// On the ConfigMap that records the merged IstioOperator in the cluster
// (istio-system/installed-state[-<rev>], key "istiooperator.yaml").
inline constexpr const char* kInstalledStateLabel = "install.meshctl.io/installed-state";
inline constexpr const char* kInstalledStateKey = "istiooperator.yaml";

struct KubeInstallOptions {
  bool force_conflicts = false;
  bool wait = true;  // --wait=false skips the readiness wait (CRDs are still waited for)
  std::chrono::milliseconds readiness_timeout{std::chrono::seconds(300)};
  std::chrono::milliseconds crd_timeout{std::chrono::seconds(60)};
  std::chrono::milliseconds poll_interval{std::chrono::milliseconds(500)};
  std::shared_ptr<const common::TimeSource> clock;   // default: real time
  std::function<void(std::chrono::milliseconds)> sleep;  // default: this_thread::sleep_for
  // One line per step ("✔ Istio core installed", "- Waiting for ...").
  std::function<void(const std::string& line)> progress;
};

struct KubeInstallResult {
  int applied = 0;
  std::vector<std::string> pruned;  // "Kind ns/name"
};

// Readiness timeouts return DeadlineExceeded with a message naming the component and
// every Deployment that is not ready (and why, from its status).
absl::StatusOr<KubeInstallResult> InstallToCluster(kube::KubeClient& client, const Manifest& manifest,
                                                   const MergedConfig& config, const KubeInstallOptions& options);

// The recorded IstioOperator of `revision` (NotFound when absent).
absl::StatusOr<Node> ReadClusterInstalledState(kube::KubeClient& client, const std::string& ns,
                                               const std::string& revision);

struct KubeUninstallOptions {
  bool purge = false;  // CRDs too (the API server then deletes their objects)
  std::string revision = "default";
  std::string propagation_policy = "Background";
  bool dry_run = false;
  std::function<void(const std::string& line)> progress;
};
// Deletes what install owns (found by owner labels): gateways, then istiod, then (with
// purge) the base and CRDs. Returns the removed objects as "Kind ns/name".
absl::StatusOr<std::vector<std::string>> UninstallFromCluster(kube::KubeClient& client,
                                                              const KubeUninstallOptions& options);

struct KubeVerifyItem {
  std::string kind, ns, name;
  bool ok = false;
  std::string problem;  // "missing", or the first rendered field the cluster differs in
};
struct KubeVerifyResult {
  std::vector<KubeVerifyItem> items;
  std::vector<std::string> extra;  // owned by the install but no longer rendered
  bool ok() const;
};
// Every rendered field must be in the cluster's object with the same value (the server
// adds defaults and status, which are not drift).
absl::StatusOr<KubeVerifyResult> VerifyClusterInstall(kube::KubeClient& client, const Manifest& manifest);

// First field of `want` that `got` lacks or holds differently ("" when `got` contains
// all of `want`). Lists are compared element by element.
std::string FirstMissingField(const Node& want, const Node& got, const std::string& path = "");

}  // namespace mesh::install
