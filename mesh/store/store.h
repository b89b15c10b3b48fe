#pragma once

// The mesh's configuration state: Kubernetes-style objects keyed by (group, kind,
// namespace, name). `meshctl apply/get/delete/install` write it; the control plane reads
// it and notices changes through Generation() (a counter bumped by every write) and the
// per-object resourceVersion.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "mesh/config/node.h"

namespace mesh::store {

using config::Node;

struct ObjectKey {
  std::string group;  // "" for the core group
  std::string kind;
  std::string ns;     // "" for cluster-scoped objects
  std::string name;
  // "Kind ns/name" or "Kind name".
  std::string ToString() const;
  auto operator<=>(const ObjectKey&) const = default;
};

// Reads the key of an object (apiVersion, kind, metadata.name/namespace).
absl::StatusOr<ObjectKey> KeyOf(const Node& object);

struct StoredObject {
  ObjectKey key;
  Node object;  // as stored, with metadata.resourceVersion
  int64_t resource_version = 0;
};

enum class ApplyOutcome { kCreated, kConfigured, kUnchanged };
const char* ApplyOutcomeVerb(ApplyOutcome outcome);  // "created", "configured", "unchanged"

struct ApplyResult {
  ObjectKey key;
  ApplyOutcome outcome = ApplyOutcome::kUnchanged;
  int64_t resource_version = 0;
};

struct ListOptions {
  std::string group;  // with kind: only this kind; both empty: every kind
  std::string kind;
  std::string ns;     // empty: every namespace
};

class ConfigStore {
 public:
  virtual ~ConfigStore() = default;

  virtual absl::StatusOr<std::vector<StoredObject>> List(const ListOptions& options) const = 0;
  virtual absl::StatusOr<std::optional<StoredObject>> Get(const ObjectKey& key) const = 0;
  // Creates or replaces the object. Writing identical content is a no-op (kUnchanged,
  // no new resourceVersion), which makes repeated installs idempotent.
  virtual absl::StatusOr<ApplyResult> Apply(const Node& object) = 0;
  // False when the object did not exist.
  virtual absl::StatusOr<bool> Delete(const ObjectKey& key) = 0;
  // Bumped by every change; readers poll it and re-list when it moves.
  virtual absl::StatusOr<int64_t> Generation() const = 0;
  // Runs `fn` while holding the store's exclusive lock, so a multi-object change
  // (install, apply -f dir) is not interleaved with another process's writes.
  virtual absl::Status Transaction(const std::function<absl::Status()>& fn) = 0;
};

}  // namespace mesh::store

namespace mesh::store {

// Whether two objects have the same content, ignoring what the store maintains itself
// (resourceVersion, creationTimestamp, generation).
bool SameContent(const config::Node& a, const config::Node& b);

}  // namespace mesh::store
