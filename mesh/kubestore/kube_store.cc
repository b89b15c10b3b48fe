#include "mesh/kubestore/kube_store.h"

#include <cstdio>

#include "mesh/common/strings.h"
#include "mesh/config/resource.h"
#include "mesh/config/schema.h"
#include "mesh/config/validation.h"
#include "mesh/config/yaml_loader.h"

namespace mesh::kubestore {

using common::StrCat;
using config::Node;

namespace {

const char* const kIstioGroups[] = {"networking.istio.io", "security.istio.io"};
const char* const kIstioVersionPreference[] = {"v1", "v1beta1", "v1alpha3"};

std::string KindId(const std::string& group, const std::string& kind) { return StrCat(group, "/", kind); }

bool HasKey(const Node& data, std::string_view key) { return data[key].Defined(); }

// Secrets that can carry a credential for gateways or DestinationRules; everything else
// (service-account tokens, registry credentials, application secrets) is not kept.
bool IsCredentialSecret(const Node& secret) {
  const std::string& type = secret["type"].Str();
  if (type == "kubernetes.io/tls") {
    return true;
  }
  if (type != "Opaque" && !type.empty() && type != "istio.io/key-and-cert") {
    return false;
  }
  const Node& data = secret["data"];
  return (HasKey(data, "tls.crt") && HasKey(data, "tls.key")) || (HasKey(data, "cert") && HasKey(data, "key")) ||
         HasKey(data, "cacert") || HasKey(data, "ca.crt");
}

// Pods are kept with what the registry reads only: they are the bulk of a cluster.
Node TrimPod(const Node& pod) {
  Node out = Node::Map();
  out.Set("apiVersion", pod["apiVersion"]);
  out.Set("kind", pod["kind"]);
  out.Set("metadata", pod["metadata"]);
  Node spec = Node::Map();
  for (const char* field : {"serviceAccountName", "nodeName", "hostNetwork"}) {
    if (pod["spec"][field].Defined()) {
      spec.Set(field, pod["spec"][field]);
    }
  }
  Node containers = Node::Sequence();
  for (const Node& c : pod["spec"]["containers"].items()) {
    Node trimmed = Node::Map();
    trimmed.Set("name", c["name"]);
    if (c["ports"].Defined()) {
      trimmed.Set("ports", c["ports"]);
    }
    containers.Append(std::move(trimmed));
  }
  spec.Set("containers", std::move(containers));
  out.Set("spec", std::move(spec));
  Node status = Node::Map();
  for (const char* field : {"phase", "podIP", "podIPs"}) {
    if (pod["status"][field].Defined()) {
      status.Set(field, pod["status"][field]);
    }
  }
  out.Set("status", std::move(status));
  return out;
}

int64_t ParseResourceVersion(const std::string& rv) {
  Node n = Node::Scalar(rv);
  return n.Int().value_or(0);
}

}  // namespace

std::vector<WatchedKind> DefaultWatchedKinds(const std::string& istio_namespace) {
  std::vector<WatchedKind> kinds = {
      {"", "Namespace", {"v1"}, true},
      {"", "Service", {"v1"}, true},
      {"discovery.k8s.io", "EndpointSlice", {"v1"}, true},
      {"", "Pod", {"v1"}, true},
      {"", "Secret", {"v1"}, true},
      {"", "ConfigMap", {"v1"}, true, istio_namespace},
  };
  for (const config::KindSchema& k : config::AllKinds()) {
    bool wanted = false;
    for (const char* g : kIstioGroups) {
      wanted = wanted || (k.istio && k.group == g);
    }
    if (!wanted) {
      continue;
    }
    WatchedKind w{k.group, k.kind, {}, false};
    for (const char* v : kIstioVersionPreference) {
      if (std::find(k.versions.begin(), k.versions.end(), v) != k.versions.end()) {
        w.versions.push_back(v);
      }
    }
    kinds.push_back(std::move(w));
  }
  return kinds;
}

pilot::MeshSettings MeshSettingsFromResources(const std::vector<config::Resource>& resources,
                                              const pilot::MeshSettings& defaults,
                                              const std::string& istio_namespace, std::vector<std::string>* ignored) {
  pilot::MeshSettings mesh = defaults;
  for (const config::Resource& r : resources) {
    if (!r.gvk().group.empty() || r.kind() != "ConfigMap" || r.name() != "istio" || r.ns() != istio_namespace) {
      continue;
    }
    const Node& text = r.root()["data"]["mesh"];
    if (!text.IsScalar() || text.Str().empty()) {
      break;
    }
    auto parsed = config::ParseYamlNode(text.Str(), "ConfigMap " + istio_namespace + "/istio data.mesh");
    if (!parsed.ok() || !parsed->IsMap()) {
      if (ignored != nullptr) {
        ignored->push_back(parsed.ok() ? "data.mesh (not a mapping)" : std::string(parsed.status().message()));
      }
      break;
    }
    if ((*parsed)["trustDomain"].IsScalar() && !(*parsed)["trustDomain"].Str().empty()) {
      mesh.trust_domain = (*parsed)["trustDomain"].Str();
    }
    if ((*parsed)["rootNamespace"].IsScalar() && !(*parsed)["rootNamespace"].Str().empty()) {
      mesh.root_namespace = (*parsed)["rootNamespace"].Str();
    }
    if (ignored != nullptr) {
      for (const auto& [key, value] : parsed->entries()) {
        if (key != "trustDomain" && key != "rootNamespace") {
          ignored->push_back(key);
        }
      }
    }
    break;
  }
  return mesh;
}

std::vector<RequiredPermission> RequiredPermissions() {
  std::vector<RequiredPermission> out;
  for (const WatchedKind& k : DefaultWatchedKinds()) {
    const config::KindSchema* schema = config::FindKind(k.group, k.kind);
    std::string plural = schema != nullptr ? schema->plural : common::ToLower(k.kind) + "s";
    out.push_back({k.group, plural, {"list", "watch"}});
  }
  out.push_back({"authentication.k8s.io", "tokenreviews", {"create"}});
  // The elected replica's writes (leader_duties.h); the Lease itself is in the Role.
  out.push_back({"", "configmaps", {"create", "patch"}});
  out.push_back({"admissionregistration.k8s.io", "mutatingwebhookconfigurations", {"list", "patch"}});
  out.push_back({"admissionregistration.k8s.io", "validatingwebhookconfigurations", {"list", "patch"}});
  return out;
}

struct KubeStore::Reflector {
  WatchedKind kind;
  std::string api_version;  // resolved
  std::string resource_version;
  std::shared_ptr<kube::WatchCancel> cancel = std::make_shared<kube::WatchCancel>();
  std::thread thread;
  KindStats stats;  // guarded by KubeStore::mu_
  std::string last_error;  // reflector thread only
};

KubeStore::KubeStore(KubeStoreOptions options) : options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<KubeStore>> KubeStore::Start(KubeStoreOptions options) {
  if (options.client == nullptr) {
    return absl::InvalidArgumentError("the Kubernetes store needs a client");
  }
  if (options.kinds.empty()) {
    return absl::InvalidArgumentError("the Kubernetes store needs kinds to watch");
  }
  std::unique_ptr<KubeStore> store(new KubeStore(std::move(options)));
  for (const WatchedKind& k : store->options_.kinds) {
    auto r = std::make_unique<Reflector>();
    r->kind = k;
    store->reflectors_.push_back(std::move(r));
  }
  for (auto& r : store->reflectors_) {
    Reflector* raw = r.get();
    KubeStore* self = store.get();
    r->thread = std::thread([self, raw] { self->Run(*raw); });
  }
  return store;
}

KubeStore::~KubeStore() { Stop(); }

void KubeStore::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) {
      return;
    }
    stopping_ = true;
    cv_.notify_all();
  }
  for (auto& r : reflectors_) {
    r->cancel->Cancel();
  }
  for (auto& r : reflectors_) {
    if (r->thread.joinable()) {
      r->thread.join();
    }
  }
}

absl::Status KubeStore::WaitForSync(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  auto all_synced = [&] {
    for (const auto& r : reflectors_) {
      if (!r->stats.synced) {
        return false;
      }
    }
    return true;
  };
  if (cv_.wait_for(lock, timeout, [&] { return all_synced() || stopping_; }) && all_synced()) {
    return absl::OkStatus();
  }
  std::vector<std::string> missing;
  for (const auto& r : reflectors_) {
    if (!r->stats.synced) {
      missing.push_back(KindId(r->kind.group, r->kind.kind));
    }
  }
  return absl::DeadlineExceededError(StrCat("not synced with the API server yet: ", common::Join(missing, ", ")));
}

std::map<std::string, KindStats> KubeStore::Stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::map<std::string, KindStats> out;
  for (const auto& r : reflectors_) {
    out[KindId(r->kind.group, r->kind.kind)] = r->stats;
  }
  return out;
}

void KubeStore::Log(const std::string& line) const {
  if (options_.log) {
    options_.log(line);
  } else {
    std::fprintf(stderr, "kube-store: %s\n", line.c_str());
  }
}

void KubeStore::LogError(Reflector& r, const std::string& line) {
  // While the API server stays unreachable every retry fails the same way: say it once.
  if (line != r.last_error) {
    r.last_error = line;
    Log(line);
  }
}

bool KubeStore::Sleep(std::chrono::milliseconds d) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, d, [&] { return stopping_; });
  return !stopping_;
}

void KubeStore::Run(Reflector& r) {
  std::chrono::milliseconds backoff = options_.backoff_initial;
  bool after_gone = false;
  while (true) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) {
        return;
      }
    }
    if (r.api_version.empty()) {
      absl::Status last = absl::NotFoundError("no version");
      for (const std::string& v : r.kind.versions) {
        std::string api_version = r.kind.group.empty() ? v : StrCat(r.kind.group, "/", v);
        auto info = options_.client->Resolve(api_version, r.kind.kind);
        if (info.ok()) {
          r.api_version = api_version;
          break;
        }
        last = info.status();
        if (last.code() != absl::StatusCode::kNotFound) {
          break;
        }
      }
      if (r.api_version.empty()) {
        bool not_served = last.code() == absl::StatusCode::kNotFound && !r.kind.required;
        {
          std::lock_guard<std::mutex> lock(mu_);
          ++r.stats.errors;
          if (not_served) {
            r.stats.synced = true;  // nothing to wait for: the CRD is not installed
          }
          cv_.notify_all();
        }
        if (!not_served) {
          LogError(r, StrCat(KindId(r.kind.group, r.kind.kind), ": ", last.message()));
        }
        if (!Sleep(not_served ? options_.missing_kind_retry : backoff)) {
          return;
        }
        if (!not_served) {
          backoff = std::min(backoff * 2, options_.backoff_max);
        } else {
          options_.client->InvalidateDiscovery();
        }
        continue;
      }
      std::lock_guard<std::mutex> lock(mu_);
      r.stats.api_version = r.api_version;
    }
    if (!ListAndReplace(r, after_gone)) {
      if (!Sleep(backoff)) {
        return;
      }
      backoff = std::min(backoff * 2, options_.backoff_max);
      continue;
    }
    backoff = options_.backoff_initial;
    after_gone = false;
    // Watch from the list's resourceVersion; resume after each normal end.
    while (true) {
      WatchEnd end = WatchOnce(r);
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (stopping_) {
          return;
        }
      }
      if (end == WatchEnd::kGone) {
        after_gone = true;
        break;  // relist
      }
      if (end == WatchEnd::kEnded) {
        // The server's timeoutSeconds: resume from the last version (a short pause keeps
        // a proxy that closes watches at once from turning this into a busy loop).
        backoff = options_.backoff_initial;
        if (!Sleep(options_.backoff_initial)) {
          return;
        }
        continue;
      }
      if (!Sleep(backoff)) {
        return;
      }
      backoff = std::min(backoff * 2, options_.backoff_max);
    }
  }
}

bool KubeStore::ListAndReplace(Reflector& r, bool after_gone) {
  kube::ListOptions lo;
  lo.limit = options_.page_size;
  auto list = options_.client->ListAll({r.api_version, r.kind.kind, r.kind.ns, ""}, lo);
  if (!list.ok()) {
    LogError(r, StrCat("list ", KindId(r.kind.group, r.kind.kind), ": ", list.status().message()));
    std::lock_guard<std::mutex> lock(mu_);
    ++r.stats.errors;
    return false;
  }
  std::map<store::ObjectKey, store::StoredObject> fresh;
  uint64_t rejected = 0;
  for (Node& item : list->items) {
    if (!Admit(r, item)) {
      ++rejected;
      continue;
    }
    auto key = store::KeyOf(item);
    if (!key.ok()) {
      continue;
    }
    int64_t rv = ParseResourceVersion(item.At({"metadata", "resourceVersion"}).Str());
    fresh[*key] = store::StoredObject{*key, std::move(item), rv};
  }
  std::lock_guard<std::mutex> lock(mu_);
  // Replace this kind's objects; deletions missed while not watching disappear here.
  bool changed = false;
  for (auto it = objects_.begin(); it != objects_.end();) {
    if (it->first.group == r.kind.group && it->first.kind == r.kind.kind) {
      auto f = fresh.find(it->first);
      if (f == fresh.end()) {
        it = objects_.erase(it);
        changed = true;
        continue;
      }
      if (!(f->second.object == it->second.object)) {
        changed = true;
      }
    }
    ++it;
  }
  size_t count = fresh.size();
  for (auto& [key, obj] : fresh) {
    auto [it, inserted] = objects_.insert_or_assign(key, std::move(obj));
    (void)it;
    changed = changed || inserted;
  }
  if (changed) {
    ++generation_;
  }
  r.resource_version = list->resource_version;
  r.stats.resource_version = r.resource_version;
  r.stats.objects = count;
  r.stats.rejected = rejected;
  ++r.stats.lists;
  if (after_gone) {
    ++r.stats.relists_gone;
  }
  r.stats.synced = true;
  r.last_error.clear();
  cv_.notify_all();
  return true;
}

KubeStore::WatchEnd KubeStore::WatchOnce(Reflector& r) {
  kube::WatchOptions wo;
  wo.resource_version = r.resource_version;
  wo.allow_bookmarks = true;
  wo.timeout_seconds = options_.watch_timeout_seconds;
  wo.cancel = r.cancel;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++r.stats.watches;
  }
  absl::Status st = options_.client->Watch(
      {r.api_version, r.kind.kind, r.kind.ns, ""}, wo, [&](const kube::WatchEvent& ev) {
        std::string rv = ev.object.At({"metadata", "resourceVersion"}).Str();
        if (ev.type == "ADDED" || ev.type == "MODIFIED") {
          Node object = ev.object;
          if (Admit(r, object)) {
            Upsert(r, std::move(object));
          } else {
            Erase(r, ev.object);  // an update that is now filtered out or invalid
          }
        } else if (ev.type == "DELETED") {
          Erase(r, ev.object);
        }
        if (!rv.empty()) {
          r.resource_version = rv;
          std::lock_guard<std::mutex> lock(mu_);
          r.stats.resource_version = rv;
        }
        return true;
      });
  if (st.ok()) {
    return WatchEnd::kEnded;
  }
  if (kube::IsGone(st)) {
    return WatchEnd::kGone;
  }
  if (st.code() != absl::StatusCode::kCancelled) {
    LogError(r, StrCat("watch ", KindId(r.kind.group, r.kind.kind), ": ", st.message()));
    std::lock_guard<std::mutex> lock(mu_);
    ++r.stats.errors;
  }
  return WatchEnd::kError;
}

bool KubeStore::Admit(Reflector& r, Node& object) {
  // List items of built-in kinds come without apiVersion/kind.
  object.Set("apiVersion", Node::Scalar(r.api_version, true));
  object.Set("kind", Node::Scalar(r.kind.kind, true));
  if (Node* meta = object.FindMutable("metadata")) {
    meta->Erase("managedFields");
  }
  if (r.kind.group.empty() && r.kind.kind == "Secret") {
    return IsCredentialSecret(object);
  }
  if (r.kind.group.empty() && r.kind.kind == "ConfigMap") {
    // The mesh config and the injector's settings; application ConfigMaps are not ours.
    const std::string& name = object.At({"metadata", "name"}).Str();
    return (r.kind.ns.empty() || object.At({"metadata", "namespace"}).Str() == r.kind.ns) &&
           (name == "istio" || name == "istio-sidecar-injector");
  }
  if (r.kind.group.empty() && r.kind.kind == "Pod") {
    object = TrimPod(object);
    return true;
  }
  const config::KindSchema* schema = config::FindKind(r.kind.group, r.kind.kind);
  if (schema == nullptr || !schema->istio) {
    return true;
  }
  auto resource = config::Resource::FromNode(object, {});
  if (!resource.ok()) {
    Log(StrCat(r.kind.kind, ": ", resource.status().message()));
    return false;
  }
  config::ValidationResult result = config::ValidateIstioResource(*resource, {.report_unknown_fields = false});
  if (result.HasErrors()) {
    Log(StrCat("ignoring invalid ", resource->FriendlyName(), ": ", common::Join(result.Describe(), "; ")));
    std::lock_guard<std::mutex> lock(mu_);
    ++r.stats.rejected;
    return false;
  }
  return true;
}

void KubeStore::Upsert(Reflector& r, Node object) {
  auto key = store::KeyOf(object);
  if (!key.ok()) {
    return;
  }
  int64_t rv = ParseResourceVersion(object.At({"metadata", "resourceVersion"}).Str());
  std::lock_guard<std::mutex> lock(mu_);
  auto it = objects_.find(*key);
  if (it != objects_.end() && it->second.object == object) {
    return;
  }
  bool inserted = it == objects_.end();
  objects_[*key] = store::StoredObject{*key, std::move(object), rv};
  if (inserted) {
    ++r.stats.objects;
  }
  ++generation_;
}

void KubeStore::Erase(Reflector& r, const Node& object) {
  Node copy = object;
  copy.Set("apiVersion", Node::Scalar(r.api_version, true));
  copy.Set("kind", Node::Scalar(r.kind.kind, true));
  auto key = store::KeyOf(copy);
  if (!key.ok()) {
    return;
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (objects_.erase(*key) > 0) {
    if (r.stats.objects > 0) {
      --r.stats.objects;
    }
    ++generation_;
  }
}

absl::StatusOr<std::vector<store::StoredObject>> KubeStore::List(const store::ListOptions& options) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<store::StoredObject> out;
  for (const auto& [key, obj] : objects_) {
    if (!options.kind.empty() && (key.kind != options.kind || key.group != options.group)) {
      continue;
    }
    if (!options.ns.empty() && key.ns != options.ns) {
      continue;
    }
    out.push_back(obj);
  }
  return out;
}

absl::StatusOr<std::optional<store::StoredObject>> KubeStore::Get(const store::ObjectKey& key) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = objects_.find(key);
  if (it == objects_.end()) {
    return std::optional<store::StoredObject>();
  }
  return std::optional<store::StoredObject>(it->second);
}

absl::StatusOr<store::ApplyResult> KubeStore::Apply(const Node&) {
  return absl::FailedPreconditionError("the Kubernetes store is read-only: change objects through the API server");
}

absl::StatusOr<bool> KubeStore::Delete(const store::ObjectKey&) {
  return absl::FailedPreconditionError("the Kubernetes store is read-only: change objects through the API server");
}

absl::StatusOr<int64_t> KubeStore::Generation() const {
  std::lock_guard<std::mutex> lock(mu_);
  return generation_;
}

absl::Status KubeStore::Transaction(const std::function<absl::Status()>& fn) { return fn(); }

}  // namespace mesh::kubestore
