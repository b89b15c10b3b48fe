#pragma once

// The control plane's configuration source in Kubernetes mode: a read-only ConfigStore
// filled by one reflector per kind (Istio's informers). Each reflector lists (paged),
// then watches from the list's resourceVersion with bookmarks; a watch that ends is
// resumed from the last resourceVersion seen, a 410 Gone relists (replacing that kind's
// objects, so deletions made meanwhile are not lost), and errors back off exponentially.
// Generation() moves on every change, which is how the control plane (polling it like
// the local store's counter) notices.
//
// What it keeps: Namespaces, Services, EndpointSlices (discovery.k8s.io/v1), Pods (trimmed
// to what the registry reads), Secrets that can hold credentials (kubernetes.io/tls, and
// Istio's generic key/cert/cacert or tls.crt/tls.key/ca.crt secrets; never
// service-account tokens), and the Istio kinds of networking.istio.io and
// security.istio.io at the best served version (v1, v1beta1, v1alpha3). Istio objects
// that fail validation (mesh/config) are left out and reported, like objects the
// validating webhook would have refused.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "mesh/config/resource.h"
#include "mesh/kube/client.h"
#include "mesh/pilot/push_context.h"
#include "mesh/store/store.h"

namespace mesh::kubestore {

// One kind to reflect; versions in order of preference.
struct WatchedKind {
  std::string group;
  std::string kind;
  std::vector<std::string> versions;
  // Core kinds must be served; an Istio kind whose CRD is missing is retried later.
  bool required = false;
  std::string ns;  // list and watch only this namespace; "": all
};

// Namespaces, Services, EndpointSlices, Pods, Secrets, the Istio kinds, and the
// ConfigMaps `istio` (mesh config) and `istio-sidecar-injector` of `istio_namespace`.
std::vector<WatchedKind> DefaultWatchedKinds(const std::string& istio_namespace = "istio-system");

// The mesh settings from ConfigMap <istio_namespace>/istio (`data.mesh`, MeshConfig YAML)
// among `resources`, over `defaults`: trustDomain and rootNamespace are used; fields
// meshctl does not apply are listed in `ignored` (e.g. "outboundTrafficPolicy").
pilot::MeshSettings MeshSettingsFromResources(const std::vector<config::Resource>& resources,
                                              const pilot::MeshSettings& defaults,
                                              const std::string& istio_namespace = "istio-system",
                                              std::vector<std::string>* ignored = nullptr);

// RBAC the reflectors and the TokenReview authenticator need, as ClusterRole rules would
// say it: (apiGroup, resource plural, verbs). Checked against the rendered ClusterRole.
struct RequiredPermission {
  std::string api_group;
  std::string resource;
  std::vector<std::string> verbs;
};
std::vector<RequiredPermission> RequiredPermissions();

struct KubeStoreOptions {
  std::shared_ptr<kube::KubeClient> client;
  std::vector<WatchedKind> kinds = DefaultWatchedKinds();
  int64_t page_size = 500;
  int watch_timeout_seconds = 300;  // the server ends the watch; it is resumed at once
  std::chrono::milliseconds backoff_initial{250};
  std::chrono::milliseconds backoff_max{30000};
  std::chrono::milliseconds missing_kind_retry{30000};  // re-discover CRDs not yet installed
  std::function<void(const std::string&)> log;           // null: stderr
};

struct KindStats {
  std::string api_version;  // resolved; empty while the kind is not served
  std::string resource_version;
  bool synced = false;  // listed at least once (or known not to be served)
  size_t objects = 0;
  uint64_t lists = 0;
  uint64_t watches = 0;
  uint64_t relists_gone = 0;  // lists caused by 410 Gone
  uint64_t errors = 0;
  uint64_t rejected = 0;  // objects left out by validation
};

class KubeStore : public store::ConfigStore {
 public:
  // Starts the reflectors (one thread each); does not wait for the first lists.
  static absl::StatusOr<std::unique_ptr<KubeStore>> Start(KubeStoreOptions options);
  ~KubeStore() override;

  // Waits until every kind has listed once. DeadlineExceeded names the kinds missing.
  absl::Status WaitForSync(std::chrono::milliseconds timeout);
  void Stop();
  // Per "group/Kind" ("" group for core).
  std::map<std::string, KindStats> Stats() const;

  // store::ConfigStore. Writes are refused: the API server is the source of truth.
  absl::StatusOr<std::vector<store::StoredObject>> List(const store::ListOptions& options) const override;
  absl::StatusOr<std::optional<store::StoredObject>> Get(const store::ObjectKey& key) const override;
  absl::StatusOr<store::ApplyResult> Apply(const config::Node& object) override;
  absl::StatusOr<bool> Delete(const store::ObjectKey& key) override;
  absl::StatusOr<int64_t> Generation() const override;
  absl::Status Transaction(const std::function<absl::Status()>& fn) override;

 private:
  struct Reflector;
  explicit KubeStore(KubeStoreOptions options);
  void Run(Reflector& r);
  bool ListAndReplace(Reflector& r, bool after_gone);
  enum class WatchEnd { kEnded, kGone, kError };
  WatchEnd WatchOnce(Reflector& r);
  // Normalizes an object of r's kind; false when it is left out (filtered or invalid).
  bool Admit(Reflector& r, config::Node& object);
  void Upsert(Reflector& r, config::Node object);
  void Erase(Reflector& r, const config::Node& object);
  bool Sleep(std::chrono::milliseconds d);  // false when stopping
  void Log(const std::string& line) const;
  void LogError(Reflector& r, const std::string& line);

  KubeStoreOptions options_;
  std::vector<std::unique_ptr<Reflector>> reflectors_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  int64_t generation_ = 1;
  std::map<store::ObjectKey, store::StoredObject> objects_;
};

}  // namespace mesh::kubestore
