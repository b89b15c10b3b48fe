#include "mesh/store/local_store.h"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include "fmt/format.h"
#include "mesh/common/file_util.h"
#include "mesh/common/status_macros.h"
#include "mesh/common/strings.h"
#include "mesh/config/emit.h"
#include "mesh/config/yaml_loader.h"

namespace mesh::store {
namespace fs = std::filesystem;

namespace {

constexpr const char* kClusterScopeDir = "_cluster";
constexpr const char* kCoreGroupDir = "core";

bool SafePathSegment(const std::string& s) {
  if (s.empty() || s.size() > 253 || s.front() == '.') {
    return false;
  }
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
              c == '.' || c == '_';
    if (!ok) {
      return false;
    }
  }
  return true;
}

std::string Rfc3339(std::chrono::system_clock::time_point t) {
  std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec);
}

// Objects are stored with map keys sorted, as the Kubernetes API server returns them.
Node SortedKeys(const Node& n) {
  if (n.IsMap()) {
    std::vector<const Node::MapEntry*> entries;
    for (const auto& e : n.entries()) {
      entries.push_back(&e);
    }
    std::sort(entries.begin(), entries.end(), [](auto* a, auto* b) { return a->first < b->first; });
    Node out = Node::Map(n.mark());
    for (const auto* e : entries) {
      out.Set(e->first, SortedKeys(e->second));
    }
    return out;
  }
  if (n.IsSequence()) {
    Node out = Node::Sequence(n.mark());
    for (const Node& item : n.items()) {
      out.Append(SortedKeys(item));
    }
    return out;
  }
  return n;
}

}  // namespace

class LocalStore::LockGuard {
 public:
  LockGuard(const LocalStore& store, bool exclusive) : store_(store) {
    status_ = exclusive ? store.LockExclusive() : store.LockShared();
  }
  ~LockGuard() {
    if (status_.ok()) {
      store_.Unlock();
    }
  }
  const absl::Status& status() const { return status_; }

 private:
  const LocalStore& store_;
  absl::Status status_;
};

absl::StatusOr<std::unique_ptr<LocalStore>> LocalStore::Open(const std::string& root,
                                                             std::shared_ptr<const common::TimeSource> clock) {
  MESH_RETURN_IF_ERROR(common::MakeDirs(root + "/objects"));
  std::string lock_path = root + "/.lock";
  int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::InternalError(common::StrCat("open ", lock_path, ": ", std::strerror(errno)));
  }
  if (!clock) {
    clock = std::make_shared<common::RealTimeSource>();
  }
  return std::unique_ptr<LocalStore>(new LocalStore(root, fd, std::move(clock)));
}

LocalStore::LocalStore(std::string root, int lock_fd, std::shared_ptr<const common::TimeSource> clock)
    : root_(std::move(root)), lock_fd_(lock_fd), clock_(std::move(clock)) {}

LocalStore::~LocalStore() { ::close(lock_fd_); }

absl::Status LocalStore::LockShared() const {
  mu_.lock();
  if (lock_depth_++ > 0) {
    return absl::OkStatus();  // already held (shared or exclusive) by this process
  }
  while (::flock(lock_fd_, LOCK_SH) != 0) {
    if (errno != EINTR) {
      --lock_depth_;
      mu_.unlock();
      return absl::InternalError(common::StrCat("lock ", root_, ": ", std::strerror(errno)));
    }
  }
  exclusive_ = false;
  return absl::OkStatus();
}

absl::Status LocalStore::LockExclusive() const {
  mu_.lock();
  if (lock_depth_ > 0 && exclusive_) {
    ++lock_depth_;
    return absl::OkStatus();
  }
  if (lock_depth_ > 0) {
    mu_.unlock();
    return absl::FailedPreconditionError("bug: write inside a read-locked section of the store");
  }
  while (::flock(lock_fd_, LOCK_EX) != 0) {
    if (errno != EINTR) {
      mu_.unlock();
      return absl::InternalError(common::StrCat("lock ", root_, ": ", std::strerror(errno)));
    }
  }
  ++lock_depth_;
  exclusive_ = true;
  return absl::OkStatus();
}

void LocalStore::Unlock() const {
  if (--lock_depth_ == 0) {
    ::flock(lock_fd_, LOCK_UN);
    exclusive_ = false;
  }
  mu_.unlock();
}

std::string LocalStore::PathFor(const ObjectKey& key) const {
  return common::StrCat(root_, "/objects/", key.group.empty() ? kCoreGroupDir : key.group, "/", key.kind, "/",
                        key.ns.empty() ? kClusterScopeDir : key.ns, "/", key.name, ".yaml");
}

absl::StatusOr<int64_t> LocalStore::ReadGeneration() const {
  auto text = common::ReadFile(root_ + "/generation");
  if (!text.ok()) {
    if (absl::IsNotFound(text.status())) {
      return 0;
    }
    return text.status();
  }
  std::string_view s = common::StripWhitespace(*text);
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') {
      return absl::DataLossError(common::StrCat(root_, "/generation: not a number"));
    }
    v = v * 10 + (c - '0');
  }
  return v;
}

absl::StatusOr<int64_t> LocalStore::Generation() const {
  LockGuard lock(*this, false);
  MESH_RETURN_IF_ERROR(lock.status());
  return ReadGeneration();
}

absl::StatusOr<StoredObject> LocalStore::ReadObjectFile(const std::string& path) const {
  MESH_ASSIGN_OR_RETURN(std::string text, common::ReadFile(path));
  MESH_ASSIGN_OR_RETURN(Node root, config::ParseYamlNode(text, path));
  StoredObject out;
  MESH_ASSIGN_OR_RETURN(out.key, KeyOf(root));
  out.resource_version = root["metadata"]["resourceVersion"].Int().value_or(0);
  out.object = std::move(root);
  return out;
}

absl::StatusOr<std::vector<StoredObject>> LocalStore::List(const ListOptions& options) const {
  LockGuard lock(*this, false);
  MESH_RETURN_IF_ERROR(lock.status());
  std::vector<StoredObject> out;
  fs::path objects = fs::path(root_) / "objects";
  std::vector<fs::path> kind_dirs;
  std::error_code ec;
  if (!options.kind.empty()) {
    kind_dirs.push_back(objects / (options.group.empty() ? kCoreGroupDir : options.group) / options.kind);
  } else {
    for (const auto& g : fs::directory_iterator(objects, ec)) {
      for (const auto& k : fs::directory_iterator(g.path(), ec)) {
        kind_dirs.push_back(k.path());
      }
    }
  }
  std::vector<std::string> files;
  for (const fs::path& kd : kind_dirs) {
    if (!fs::is_directory(kd, ec)) {
      continue;
    }
    for (const auto& nsdir : fs::directory_iterator(kd, ec)) {
      std::string ns = nsdir.path().filename().string();
      if (!options.ns.empty() && ns != options.ns && ns != kClusterScopeDir) {
        continue;
      }
      for (const auto& f : fs::directory_iterator(nsdir.path(), ec)) {
        std::string name = f.path().filename().string();
        // Dot files are WriteFileAtomic's temporaries (possibly left by a crash).
        if (name.empty() || name.front() == '.' || f.path().extension() != ".yaml") {
          continue;
        }
        files.push_back(f.path().string());
      }
    }
  }
  std::sort(files.begin(), files.end());
  for (const std::string& f : files) {
    // The identity is taken before reading: a file replaced in between is read new and
    // recorded old, so the next List() reads it again (never the other way round).
    struct stat st {};
    if (::stat(f.c_str(), &st) != 0) {
      if (errno == ENOENT) {
        continue;  // deleted since the directory was read
      }
      return absl::InternalError(common::StrCat("stat ", f, ": ", std::strerror(errno)));
    }
    FileIdentity id{st.st_dev,
                    st.st_ino,
                    st.st_size,
                    static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec,
                    static_cast<int64_t>(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec};
    auto cached = parsed_.find(f);
    if (cached == parsed_.end() || !(cached->second.identity == id)) {
      auto obj = ReadObjectFile(f);
      if (!obj.ok()) {
        parsed_.erase(f);
        return obj.status();
      }
      ++list_parses_;
      cached = parsed_.insert_or_assign(f, ParsedFile{id, std::move(*obj)}).first;
    }
    out.push_back(cached->second.object);
  }
  if (options.group.empty() && options.kind.empty() && options.ns.empty()) {
    // A full listing saw every file: forget the deleted ones.
    std::erase_if(parsed_, [&files](const auto& entry) {
      return !std::binary_search(files.begin(), files.end(), entry.first);
    });
  }
  return out;
}

uint64_t LocalStore::ListParses() const {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  return list_parses_;
}

absl::StatusOr<std::optional<StoredObject>> LocalStore::Get(const ObjectKey& key) const {
  if (!SafePathSegment(key.name) || (!key.ns.empty() && !SafePathSegment(key.ns))) {
    return std::optional<StoredObject>();
  }
  LockGuard lock(*this, false);
  MESH_RETURN_IF_ERROR(lock.status());
  std::string path = PathFor(key);
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    return std::optional<StoredObject>();
  }
  MESH_ASSIGN_OR_RETURN(StoredObject obj, ReadObjectFile(path));
  return std::optional<StoredObject>(std::move(obj));
}

absl::StatusOr<ApplyResult> LocalStore::Apply(const Node& object) {
  MESH_ASSIGN_OR_RETURN(ObjectKey key, KeyOf(object));
  if (!SafePathSegment(key.name) || (!key.ns.empty() && !SafePathSegment(key.ns)) || !SafePathSegment(key.kind) ||
      (!key.group.empty() && !SafePathSegment(key.group))) {
    return absl::InvalidArgumentError(common::StrCat(key.ToString(), ": invalid name"));
  }
  LockGuard lock(*this, true);
  MESH_RETURN_IF_ERROR(lock.status());
  std::string path = PathFor(key);
  ApplyResult result;
  result.key = key;
  Node to_write = object;
  std::string created_at;
  std::error_code ec;
  if (fs::exists(path, ec)) {
    MESH_ASSIGN_OR_RETURN(StoredObject old, ReadObjectFile(path));
    if (SameContent(old.object, object)) {
      result.outcome = ApplyOutcome::kUnchanged;
      result.resource_version = old.resource_version;
      return result;
    }
    created_at = old.object["metadata"]["creationTimestamp"].Str();
    result.outcome = ApplyOutcome::kConfigured;
  } else {
    result.outcome = ApplyOutcome::kCreated;
  }
  if (created_at.empty()) {
    created_at = Rfc3339(clock_->SystemNow());
  }
  MESH_ASSIGN_OR_RETURN(int64_t rv, BumpGeneration());
  Node* meta = to_write.FindMutable("metadata");
  meta->Set("creationTimestamp", Node::Scalar(created_at, true));
  meta->Set("resourceVersion", Node::Scalar(std::to_string(rv), true));
  MESH_RETURN_IF_ERROR(common::MakeDirs(fs::path(path).parent_path().string()));
  MESH_RETURN_IF_ERROR(common::WriteFileAtomic(path, config::EmitYaml(SortedKeys(to_write))));
  result.resource_version = rv;
  return result;
}

absl::StatusOr<bool> LocalStore::Delete(const ObjectKey& key) {
  if (!SafePathSegment(key.name) || (!key.ns.empty() && !SafePathSegment(key.ns))) {
    return false;
  }
  LockGuard lock(*this, true);
  MESH_RETURN_IF_ERROR(lock.status());
  std::string path = PathFor(key);
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    return false;
  }
  MESH_RETURN_IF_ERROR(BumpGeneration().status());
  if (::unlink(path.c_str()) != 0) {
    return absl::InternalError(common::StrCat("delete ", path, ": ", std::strerror(errno)));
  }
  return true;
}

absl::StatusOr<int64_t> LocalStore::BumpGeneration() {
  if (txn_depth_ > 0 && txn_generation_ > 0) {
    // Later writes of a transaction: the file already moved; it is brought up to date
    // when the transaction ends (one fsynced write instead of one per object).
    return ++txn_generation_;
  }
  MESH_ASSIGN_OR_RETURN(int64_t generation, ReadGeneration());
  int64_t next = generation + 1;
  // The counter moves before the object: a crash in between only makes readers re-list.
  MESH_RETURN_IF_ERROR(common::WriteFileAtomic(root_ + "/generation", std::to_string(next) + "\n"));
  if (txn_depth_ > 0) {
    txn_generation_ = next;
    txn_written_generation_ = next;
  }
  return next;
}

absl::Status LocalStore::Transaction(const std::function<absl::Status()>& fn) {
  LockGuard lock(*this, true);
  MESH_RETURN_IF_ERROR(lock.status());
  if (txn_depth_++ == 0) {
    txn_generation_ = 0;
    txn_written_generation_ = 0;
  }
  absl::Status st = fn();
  if (--txn_depth_ == 0 && txn_generation_ > txn_written_generation_) {
    absl::Status flush =
        common::WriteFileAtomic(root_ + "/generation", std::to_string(txn_generation_) + "\n");
    if (st.ok()) {
      st = flush;
    }
  }
  return st;
}

}  // namespace mesh::store
