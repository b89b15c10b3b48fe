#include "mesh/store/change_tracker.h"

#include "mesh/common/status_macros.h"

namespace mesh::store {

absl::StatusOr<ChangeSet> ChangeTracker::Poll() {
  ChangeSet out;
  MESH_ASSIGN_OR_RETURN(int64_t generation, store_.Generation());
  out.generation = generation;
  if (primed_ && generation == generation_) {
    return out;
  }
  MESH_ASSIGN_OR_RETURN(auto objects, store_.List({}));
  std::map<ObjectKey, int64_t> now;
  for (StoredObject& o : objects) {
    now[o.key] = o.resource_version;
    auto it = versions_.find(o.key);
    if (!primed_ || it == versions_.end() || it->second != o.resource_version) {
      out.upserted.push_back(std::move(o));
    }
  }
  for (const auto& [key, rv] : versions_) {
    if (now.count(key) == 0) {
      out.deleted.push_back(key);
    }
  }
  versions_ = std::move(now);
  generation_ = generation;
  primed_ = true;
  return out;
}

}  // namespace mesh::store
