#pragma once

// A Kubernetes API client following the API conventions: discovery to map kinds to
// paths, GET/LIST (paginated)/WATCH, server-side apply, merge patch and DELETE. Errors
// carry the API server's Status message, mapped to absl codes.

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "mesh/common/time_source.h"
#include "mesh/config/node.h"
#include "mesh/kube/kubeconfig.h"

namespace mesh::kube {

// Which object (or collection, when name is empty).
struct ObjectRef {
  std::string api_version;  // "v1", "apps/v1", "networking.istio.io/v1beta1"
  std::string kind;
  std::string ns;  // ignored for cluster-scoped kinds
  std::string name;
};

// One resource of the discovery documents.
struct ResourceInfo {
  std::string group;
  std::string version;
  std::string kind;
  std::string resource;  // plural, e.g. "configmaps"
  bool namespaced = false;
};

struct ListOptions {
  std::string label_selector;
  std::string field_selector;
  int64_t limit = 0;  // 0: no paging
  std::string continue_token;
};

struct ListResult {
  std::vector<config::Node> items;
  std::string resource_version;
  std::string continue_token;  // empty on the last page
};

struct ApplyOptions {
  std::string field_manager = "meshctl";
  bool force = false;  // --force-conflicts
};

struct DeleteOptions {
  std::string propagation_policy;  // "", "Foreground", "Background", "Orphan"
};

// Stops a running Watch from another thread (a component's Stop()).
class WatchCancel {
 public:
  void Cancel() {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled_ = true;
    if (closer_) {
      closer_();
    }
  }
  bool cancelled() const {
    std::lock_guard<std::mutex> lock(mu_);
    return cancelled_;
  }
  // For the client: how to interrupt the running request; false if already cancelled.
  bool SetCloser(std::function<void()> closer) {
    std::lock_guard<std::mutex> lock(mu_);
    closer_ = std::move(closer);
    return !cancelled_;
  }

 private:
  mutable std::mutex mu_;
  bool cancelled_ = false;
  std::function<void()> closer_;
};

struct WatchOptions {
  std::string resource_version;
  std::string label_selector;
  bool allow_bookmarks = true;
  int timeout_seconds = 0;  // server-side timeout; 0: server default
  std::shared_ptr<WatchCancel> cancel;  // optional; Watch then returns kCancelled
};

struct WatchEvent {
  std::string type;  // ADDED, MODIFIED, DELETED, BOOKMARK, ERROR
  config::Node object;
};

// Callback returns false to stop watching.
using WatchHandler = std::function<bool(const WatchEvent&)>;

class KubeClient {
 public:
  virtual ~KubeClient() = default;

  virtual absl::StatusOr<ResourceInfo> Resolve(const std::string& api_version,
                                               const std::string& kind) = 0;
  // All resources of /api and /apis (preferred and other served versions).
  virtual absl::StatusOr<std::vector<ResourceInfo>> DiscoverAll() = 0;
  virtual void InvalidateDiscovery() = 0;

  virtual absl::StatusOr<config::Node> Get(const ObjectRef& ref) = 0;
  // One page; follow continue_token for the next.
  virtual absl::StatusOr<ListResult> List(const ObjectRef& collection, const ListOptions& options) = 0;
  // Every page (page size options.limit).
  absl::StatusOr<ListResult> ListAll(const ObjectRef& collection, ListOptions options);
  virtual absl::StatusOr<config::Node> Apply(const config::Node& object, const ApplyOptions& options) = 0;
  virtual absl::StatusOr<config::Node> MergePatch(const ObjectRef& ref, const config::Node& patch) = 0;
  // POST to the object's collection: create, and the create-only review APIs
  // (TokenReview, SubjectAccessReview). Returns the server's object. Not pure so that
  // test fakes that never create need not implement it.
  virtual absl::StatusOr<config::Node> Create(const config::Node& object);
  virtual absl::Status Delete(const ObjectRef& ref, const DeleteOptions& options) = 0;
  // Blocks until the server ends the stream (OK), the handler returns false (OK), or an
  // error. A 410 Gone (HTTP or ERROR event) returns a status for which IsGone() is true:
  // the caller must relist.
  virtual absl::Status Watch(const ObjectRef& collection, const WatchOptions& options,
                             const WatchHandler& handler) = 0;
};

absl::StatusOr<std::unique_ptr<KubeClient>> NewKubeClient(
    const RestConfig& config, std::shared_ptr<const common::TimeSource> clock = nullptr);

// Collection/object URL path for a resolved resource.
std::string ResourcePath(const ResourceInfo& info, const std::string& ns, const std::string& name);

// Maps an HTTP status and response body (a Status object when the server sent one).
absl::Status StatusFromResponse(int http_code, const std::string& body, const std::string& what);
// The `reason` of the API server's Status ("NotFound", "AlreadyExists", "Conflict", "Expired" ...).
std::string KubeReason(const absl::Status& status);
// The API server's Status.message alone, without the request prefix (kubectl's
// "Error from server (Reason): <message>"); the status message when there is none.
std::string KubeMessage(const absl::Status& status);
// A watch/list resourceVersion is too old (410 Gone): relist.
bool IsGone(const absl::Status& status);
// `object` as a server-side apply body: without the metadata the server maintains
// (managedFields, resourceVersion, uid, creationTimestamp, generation ...).
config::Node ApplyBody(config::Node object);

}  // namespace mesh::kube
