#pragma once

// Installing a rendered manifest into a ConfigStore the way `istioctl install` does:
// create the namespace, apply components in dependency order (Base, Pilot, gateways),
// label what it owns, prune what the new render no longer contains, and record the
// merged IstioOperator as IstioOperator/installed-state.

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "mesh/install/iop.h"
#include "mesh/install/render.h"
#include "mesh/store/store.h"

namespace mesh::install {

inline constexpr const char* kInstalledStateName = "installed-state";
// "installed-state" for the default revision, "installed-state-<rev>" otherwise.
std::string InstalledStateName(const std::string& revision);
// On the installed-state record: the metadata.name of the user's IstioOperator.
inline constexpr const char* kInstalledNameAnnotation = "install.meshctl.io/iop-name";
inline constexpr const char* kComponentLabel = "operator.istio.io/component";
inline constexpr const char* kManagedLabel = "operator.istio.io/managed";
inline constexpr const char* kVersionLabel = "operator.istio.io/version";
inline constexpr const char* kOwnerNamespaceLabel = "install.operator.istio.io/owning-resource-namespace";

enum class ChangeAction { kCreate, kUpdate, kUnchanged, kPrune };
const char* ChangeActionName(ChangeAction action);  // "create", "update", ...

struct PlannedChange {
  std::string component;  // "" for the namespace and the installed-state record
  store::ObjectKey key;
  ChangeAction action = ChangeAction::kUnchanged;
  Node object;  // what will be written (empty for prunes)
};

struct InstallPlan {
  std::vector<PlannedChange> changes;  // in apply order; prunes last
  std::vector<std::string> components;  // enabled, in install order
  int Count(ChangeAction action) const;
  bool NoChanges() const;
};

// The object as install writes it: the rendered object with the owner labels added
// (keys sorted, as the store keeps them).
Node ObjectToInstall(const RenderedObject& rendered, const Manifest& manifest);

// Compares the manifest with the store; changes nothing.
absl::StatusOr<InstallPlan> PlanInstall(const store::ConfigStore& store, const Manifest& manifest,
                                        const MergedConfig& config);

// Executes a plan inside one store transaction. `on_component_done` is called after
// each component's objects are applied (for the "✔ Istiod installed" lines).
absl::Status ExecuteInstall(store::ConfigStore& store, const InstallPlan& plan,
                            const std::function<void(const std::string& component)>& on_component_done);

// Reads IstioOperator/installed-state from the store (NotFound when absent).
absl::StatusOr<Node> ReadInstalledState(const store::ConfigStore& store, const std::string& ns = "istio-system",
                                        const std::string& revision = "default");

struct UninstallPlan {
  std::vector<store::ObjectKey> deletes;  // in delete order (reverse dependency order)
};
// purge: every object carrying the component label (CRDs included) plus the Istio config
// objects of the deleted CRDs and the installed-state record. Otherwise: the control
// plane and gateways of `revision`, keeping CRDs and Base.
absl::StatusOr<UninstallPlan> PlanUninstall(const store::ConfigStore& store, bool purge, const std::string& revision);
absl::Status ExecuteUninstall(store::ConfigStore& store, const UninstallPlan& plan,
                              const std::function<void(const store::ObjectKey&)>& on_removed);

// verify-install: each rendered object against the store.
struct VerifyResult {
  struct Item {
    store::ObjectKey key;
    bool ok = false;
    std::string problem;  // "missing" or the first differing field
  };
  std::vector<Item> items;
  std::vector<store::ObjectKey> extra;  // labelled as installed but not rendered
  bool ok() const;
};
absl::StatusOr<VerifyResult> VerifyInstall(const store::ConfigStore& store, const Manifest& manifest);

// First difference between two trees as "path: want X, got Y" ("" when equal).
std::string FirstDifference(const Node& want, const Node& got, const std::string& path = "");

}  // namespace mesh::install
