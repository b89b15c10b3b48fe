#pragma once

// ConfigStore on a local directory (default ".meshctl"):
//   <root>/generation                                   change counter (decimal)
//   <root>/objects/<group|core>/<Kind>/<ns|_cluster>/<name>.yaml   one file per object
//   <root>/.lock                                        flock(2) lock file
// Every file is written with WriteFileAtomic (temp file, fsync, rename), so a crash
// leaves the old or the new object, never a torn one. The generation file moves before
// the first object a write changes; inside a Transaction it is written once more at the
// end (so readers that listed mid-transaction re-list). Writers hold an exclusive flock,
// readers a shared one, so concurrent meshctl processes serialise.
// List() keeps what it parsed, keyed by path and the file's identity (device, inode,
// size, mtime, ctime): a later List() re-parses only files that changed, were added or
// replaced (an atomic rename gives a new inode), and forgets deleted ones.

#include <sys/types.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "mesh/common/time_source.h"
#include "mesh/store/store.h"

namespace mesh::store {

class LocalStore : public ConfigStore {
 public:
  // Creates the directory layout if missing.
  static absl::StatusOr<std::unique_ptr<LocalStore>> Open(
      const std::string& root, std::shared_ptr<const common::TimeSource> clock = nullptr);
  ~LocalStore() override;

  absl::StatusOr<std::vector<StoredObject>> List(const ListOptions& options) const override;
  absl::StatusOr<std::optional<StoredObject>> Get(const ObjectKey& key) const override;
  absl::StatusOr<ApplyResult> Apply(const Node& object) override;
  absl::StatusOr<bool> Delete(const ObjectKey& key) override;
  absl::StatusOr<int64_t> Generation() const override;
  absl::Status Transaction(const std::function<absl::Status()>& fn) override;

  const std::string& root() const { return root_; }
  // Path of the file that holds `key` (exposed for tests and diagnostics).
  std::string PathFor(const ObjectKey& key) const;
  // How many object files List() has parsed so far (tests: unchanged files are not).
  uint64_t ListParses() const;

 private:
  LocalStore(std::string root, int lock_fd, std::shared_ptr<const common::TimeSource> clock);

  // Re-entrant within the process: only the outermost call takes the flock.
  class LockGuard;
  absl::Status LockShared() const;
  absl::Status LockExclusive() const;
  void Unlock() const;

  absl::StatusOr<int64_t> ReadGeneration() const;
  // Next resourceVersion; moves the generation file (once per transaction).
  absl::StatusOr<int64_t> BumpGeneration();
  absl::StatusOr<StoredObject> ReadObjectFile(const std::string& path) const;

  // What List() parsed, with the identity of the file it came from.
  struct FileIdentity {
    dev_t device = 0;
    ino_t inode = 0;
    off_t size = 0;
    int64_t mtime_ns = 0;
    int64_t ctime_ns = 0;
    bool operator==(const FileIdentity&) const = default;
  };
  struct ParsedFile {
    FileIdentity identity;
    StoredObject object;
  };

  std::string root_;
  int lock_fd_;
  std::shared_ptr<const common::TimeSource> clock_;
  mutable std::recursive_mutex mu_;
  mutable int lock_depth_ = 0;
  mutable bool exclusive_ = false;
  int txn_depth_ = 0;                    // nesting of Transaction() (under the lock)
  int64_t txn_generation_ = 0;           // last resourceVersion handed out in the transaction
  int64_t txn_written_generation_ = 0;   // what the generation file says
  mutable std::map<std::string, ParsedFile> parsed_;  // by path; under mu_
  mutable uint64_t list_parses_ = 0;                  // under mu_
};

}  // namespace mesh::store
