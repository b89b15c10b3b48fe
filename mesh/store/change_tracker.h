#pragma once

// Detects what changed in a ConfigStore between two polls: cheap when nothing changed
// (one read of the generation counter), otherwise one List compared by resourceVersion.
// The control plane polls this to learn about `meshctl apply/delete/install`.

#include <cstdint>
#include <map>
#include <vector>

#include "absl/status/statusor.h"
#include "mesh/store/store.h"

namespace mesh::store {

struct ChangeSet {
  int64_t generation = 0;
  std::vector<StoredObject> upserted;  // created or modified since the last poll
  std::vector<ObjectKey> deleted;
  bool empty() const { return upserted.empty() && deleted.empty(); }
};

class ChangeTracker {
 public:
  // Does not own the store; it must outlive the tracker.
  explicit ChangeTracker(const ConfigStore& store) : store_(store) {}

  // The first call reports every object as upserted.
  absl::StatusOr<ChangeSet> Poll();

 private:
  const ConfigStore& store_;
  bool primed_ = false;
  int64_t generation_ = -1;
  std::map<ObjectKey, int64_t> versions_;
};

}  // namespace mesh::store
