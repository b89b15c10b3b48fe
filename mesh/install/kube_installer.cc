#include "mesh/install/kube_installer.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <thread>
#include <tuple>

#include "mesh/common/status_macros.h"
#include "mesh/common/strings.h"
#include "mesh/config/emit.h"
#include "mesh/config/yaml_loader.h"
#include "mesh/install/installer.h"
#include "mesh/install/tree.h"

namespace mesh::install {
namespace {

using common::StrCat;
using std::chrono::milliseconds;

struct KindRef {
  const char* api_version;
  const char* kind;
};

// What install may prune and uninstall removes (istioctl's list), with the API version
// to find them under. CRDs are only removed by uninstall --purge.
const std::vector<KindRef>& OwnedKinds() {
  static const std::vector<KindRef> kKinds = {
      {"apps/v1", "Deployment"},
      {"apps/v1", "DaemonSet"},
      {"autoscaling/v2", "HorizontalPodAutoscaler"},
      {"policy/v1", "PodDisruptionBudget"},
      {"v1", "Service"},
      {"v1", "ConfigMap"},
      {"v1", "Secret"},
      {"v1", "ServiceAccount"},
      {"rbac.authorization.k8s.io/v1", "Role"},
      {"rbac.authorization.k8s.io/v1", "RoleBinding"},
      {"rbac.authorization.k8s.io/v1", "ClusterRole"},
      {"rbac.authorization.k8s.io/v1", "ClusterRoleBinding"},
      {"admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration"},
      {"admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration"},
      {"networking.istio.io/v1alpha3", "EnvoyFilter"},
  };
  return kKinds;
}

std::string RevisionOf(const Node& labels) {
  return labels["istio.io/rev"].Str().empty() ? "default" : labels["istio.io/rev"].Str();
}

std::string Describe(const std::string& kind, const std::string& ns, const std::string& name) {
  return ns.empty() ? StrCat(kind, " ", name) : StrCat(kind, " ", ns, "/", name);
}

std::string DescribeObject(const Node& o) {
  return Describe(o["kind"].Str(), o["metadata"]["namespace"].Str(), o["metadata"]["name"].Str());
}

// Go's time.Duration format for whole seconds and milliseconds ("300ms", "2s", "5m0s").
std::string FormatDuration(milliseconds d) {
  int64_t ms = d.count();
  if (ms < 1000) {
    return StrCat(ms, "ms");
  }
  int64_t s = ms / 1000;
  std::string frac = ms % 1000 == 0 ? "" : StrCat(".", std::to_string(1000 + ms % 1000).substr(1));
  while (!frac.empty() && frac.back() == '0') {
    frac.pop_back();
  }
  if (s < 60) {
    return StrCat(s, frac, "s");
  }
  if (s < 3600) {
    return StrCat(s / 60, "m", s % 60, frac, "s");
  }
  return StrCat(s / 3600, "h", (s % 3600) / 60, "m", s % 60, frac, "s");
}

class Waiter {
 public:
  explicit Waiter(const KubeInstallOptions& o)
      : clock_(o.clock ? o.clock : std::make_shared<common::RealTimeSource>()),
        sleep_(o.sleep ? o.sleep : [](milliseconds d) { std::this_thread::sleep_for(d); }),
        interval_(o.poll_interval) {}
  std::chrono::steady_clock::time_point Now() const { return clock_->MonotonicNow(); }
  void Sleep(std::chrono::steady_clock::time_point deadline) const {
    auto left = std::chrono::duration_cast<milliseconds>(deadline - Now());
    sleep_(std::max(milliseconds(1), std::min(interval_, left)));
  }

 private:
  std::shared_ptr<const common::TimeSource> clock_;
  std::function<void(milliseconds)> sleep_;
  milliseconds interval_;
};

bool CrdEstablished(const Node& crd) {
  for (const Node& c : crd["status"]["conditions"].items()) {
    if (c["type"].Str() == "Established" && c["status"].Str() == "True") {
      return true;
    }
  }
  return false;
}

// "" when ready; otherwise why not, from the Deployment's status.
std::string DeploymentNotReady(const Node& d) {
  int64_t want = d["spec"]["replicas"].Int().value_or(1);
  const Node& st = d["status"];
  int64_t generation = d["metadata"]["generation"].Int().value_or(0);
  int64_t observed = st["observedGeneration"].Int().value_or(0);
  int64_t ready = st["readyReplicas"].Int().value_or(0);
  int64_t updated = st["updatedReplicas"].Int().value_or(0);
  int64_t available = st["availableReplicas"].Int().value_or(0);
  if (observed >= generation && ready >= want && updated >= want && available >= want) {
    return "";
  }
  std::string why = StrCat(ready, "/", want, " replicas ready, ", updated, " updated, ", available, " available");
  if (!st.Defined() || !st["observedGeneration"].Defined()) {
    why += "; the Deployment has no status yet (no controller has processed it)";
  }
  for (const Node& c : st["conditions"].items()) {
    if (c["status"].Str() != "True" && !c["message"].Str().empty()) {
      why += StrCat("; ", c["type"].Str(), ": ", c["message"].Str());
    }
  }
  return why;
}

absl::Status ApplyOne(kube::KubeClient& client, const Node& object, const KubeInstallOptions& options) {
  auto applied = client.Apply(object, {.field_manager = "meshctl", .force = options.force_conflicts});
  if (!applied.ok()) {
    std::string hint = kube::KubeReason(applied.status()) == "Conflict" ? " (use --force-conflicts to take the fields over)"
                                                              : "";
    return absl::Status(applied.status().code(),
                        StrCat(DescribeObject(object), ": ", kube::KubeMessage(applied.status()), hint));
  }
  return absl::OkStatus();
}

Node NamespaceObject(const std::string& name) {
  Node ns = Node::Map();
  ns.Set("apiVersion", Node::Scalar("v1"));
  ns.Set("kind", Node::Scalar("Namespace"));
  Node meta = Node::Map();
  meta.Set("name", StringNode(name));
  ns.Set("metadata", std::move(meta));
  return ns;
}

std::string OwnerSelector(const std::string& istio_namespace) {
  return StrCat(kComponentLabel, ",", kManagedLabel, "=Reconcile,", kOwnerNamespaceLabel, "=", istio_namespace);
}

struct OwnedObject {
  std::string api_version, kind, ns, name, component, revision;
};

// Objects carrying the owner labels, of every kind install renders (skipping kinds the
// server does not serve).
absl::StatusOr<std::vector<OwnedObject>> ListOwned(kube::KubeClient& client, const std::string& selector,
                                                   bool include_crds) {
  std::vector<KindRef> kinds = OwnedKinds();
  if (include_crds) {
    kinds.push_back({"apiextensions.k8s.io/v1", "CustomResourceDefinition"});
  }
  std::vector<OwnedObject> out;
  for (const KindRef& k : kinds) {
    auto listed = client.ListAll({k.api_version, k.kind, "", ""}, {.label_selector = selector, .limit = 500});
    if (!listed.ok()) {
      if (absl::IsNotFound(listed.status())) {
        continue;  // kind not served by this cluster
      }
      return absl::Status(listed.status().code(), StrCat("listing ", k.kind, ": ", listed.status().message()));
    }
    for (const Node& item : listed->items) {
      const Node& labels = item["metadata"]["labels"];
      out.push_back({k.api_version, k.kind, item["metadata"]["namespace"].Str(), item["metadata"]["name"].Str(),
                     labels[kComponentLabel].Str(), RevisionOf(labels)});
    }
  }
  return out;
}


std::tuple<std::string, std::string, std::string, std::string> KeyOf(const std::string& api_version,
                                                                     const std::string& kind, const std::string& ns,
                                                                     const std::string& name) {
  size_t slash = api_version.find('/');
  std::string group = slash == std::string::npos ? "" : api_version.substr(0, slash);
  return {group, kind, ns, name};
}

}  // namespace

absl::StatusOr<KubeInstallResult> InstallToCluster(kube::KubeClient& client, const Manifest& manifest,
                                                   const MergedConfig& config, const KubeInstallOptions& options) {
  auto progress = [&](const std::string& line) {
    if (options.progress) {
      options.progress(line);
    }
  };
  Waiter waiter(options);
  KubeInstallResult result;

  // Namespaces first (not labelled: uninstall leaves them, as istioctl does).
  std::set<std::string> namespaces = {manifest.istio_namespace};
  for (const RenderedObject& o : manifest.objects) {
    if (!o.ns.empty()) {
      namespaces.insert(o.ns);
    }
  }
  for (const std::string& ns : namespaces) {
    Node object = NamespaceObject(ns);
    auto applied = client.Apply(object, {.field_manager = "meshctl", .force = options.force_conflicts});
    if (!applied.ok()) {
      return ApplyOne(client, object, options);  // the same error, described
    }
    // Updating a Terminating namespace is allowed, creating in it is not, and whatever is
    // there goes once the namespace controller runs (never, on a bare API server).
    const std::string deleting_since = (*applied)["metadata"]["deletionTimestamp"].Str();
    if (!deleting_since.empty()) {
      return absl::FailedPreconditionError(
          StrCat("Namespace ", ns, " is being deleted (Terminating since ", deleting_since,
                 "): wait until it is gone before installing (without a namespace controller it never goes: "
                 "remove its finalizers, or install into another namespace)"));
    }
  }

  std::set<std::tuple<std::string, std::string, std::string, std::string>> rendered;
  for (const std::string& component : ComponentOrder()) {
    std::vector<const RenderedObject*> objects;
    for (const RenderedObject& o : manifest.objects) {
      if (o.component == component) {
        objects.push_back(&o);
        rendered.insert(KeyOf(o.api_version, o.kind, o.ns, o.name));
      }
    }
    if (objects.empty()) {
      continue;
    }
    // CRDs before anything else, and Established before objects that may use them.
    std::vector<std::string> crds;
    for (const RenderedObject* o : objects) {
      if (o->kind == "CustomResourceDefinition") {
        MESH_RETURN_IF_ERROR(ApplyOne(client, ObjectToInstall(*o, manifest), options));
        crds.push_back(o->name);
        ++result.applied;
      }
    }
    if (!crds.empty()) {
      progress(StrCat("- Waiting for ", crds.size(), " CustomResourceDefinitions to be Established"));
      auto deadline = waiter.Now() + options.crd_timeout;
      for (const std::string& name : crds) {
        while (true) {
          MESH_ASSIGN_OR_RETURN(Node crd, client.Get({"apiextensions.k8s.io/v1", "CustomResourceDefinition", "", name}));
          if (CrdEstablished(crd)) {
            break;
          }
          if (waiter.Now() >= deadline) {
            return absl::DeadlineExceededError(
                StrCat("CustomResourceDefinition ", name, " is not Established after ",
                       FormatDuration(options.crd_timeout)));
          }
          waiter.Sleep(deadline);
        }
      }
      client.InvalidateDiscovery();
    }
    for (const RenderedObject* o : objects) {
      if (o->kind != "CustomResourceDefinition") {
        MESH_RETURN_IF_ERROR(ApplyOne(client, ObjectToInstall(*o, manifest), options));
        ++result.applied;
      }
    }
    progress(StrCat("\u2714 ", ComponentDisplayName(component), " applied (", objects.size(), " objects)"));
  }

  // The record of what was installed (verify-install reads it back).
  Node record = Node::Map();
  record.Set("apiVersion", Node::Scalar("v1"));
  record.Set("kind", Node::Scalar("ConfigMap"));
  Node meta = Node::Map();
  meta.Set("name", StringNode(InstalledStateName(manifest.revision)));
  meta.Set("namespace", StringNode(manifest.istio_namespace));
  Node labels = Node::Map();
  labels.Set(kInstalledStateLabel, StringNode(manifest.revision));
  labels.Set("app.kubernetes.io/managed-by", StringNode("meshctl"));
  meta.Set("labels", std::move(labels));
  record.Set("metadata", std::move(meta));
  Node data = Node::Map();
  data.Set(kInstalledStateKey, StringNode(config::EmitYaml(SortedKeys(config.iop))));
  record.Set("data", std::move(data));
  MESH_RETURN_IF_ERROR(ApplyOne(client, record, options));

  // Prune what this install (namespace, revision) owned earlier and no longer renders.
  MESH_ASSIGN_OR_RETURN(auto owned, ListOwned(client, OwnerSelector(manifest.istio_namespace), false));
  for (const OwnedObject& o : owned) {
    if (o.revision != manifest.revision || rendered.count(KeyOf(o.api_version, o.kind, o.ns, o.name)) > 0) {
      continue;
    }
    absl::Status st = client.Delete({o.api_version, o.kind, o.ns, o.name}, {"Background"});
    if (!st.ok() && !absl::IsNotFound(st)) {
      return absl::Status(st.code(), StrCat("pruning ", Describe(o.kind, o.ns, o.name), ": ", st.message()));
    }
    result.pruned.push_back(Describe(o.kind, o.ns, o.name));
    progress(StrCat("  Pruned ", Describe(o.kind, o.ns, o.name)));
  }

  if (!options.wait) {
    progress("- Not waiting for readiness (--wait=false)");
    return result;
  }
  auto deadline = waiter.Now() + options.readiness_timeout;
  for (const std::string& component : ComponentOrder()) {
    std::vector<const RenderedObject*> deployments;
    bool any = false;
    for (const RenderedObject& o : manifest.objects) {
      if (o.component == component) {
        any = true;
        if (o.kind == "Deployment") {
          deployments.push_back(&o);
        }
      }
    }
    if (!any) {
      continue;
    }
    if (!deployments.empty()) {
      std::vector<std::string> names;
      for (const RenderedObject* d : deployments) {
        names.push_back(StrCat("Deployment/", d->ns, "/", d->name));
      }
      progress(StrCat("- Processing resources for ", ComponentDisplayName(component), ". Waiting for ",
                      common::Join(names, ", ")));
    }
    while (true) {
      std::vector<std::string> not_ready;
      for (const RenderedObject* d : deployments) {
        MESH_ASSIGN_OR_RETURN(Node live, client.Get({d->api_version, d->kind, d->ns, d->name}));
        std::string why = DeploymentNotReady(live);
        if (!why.empty()) {
          not_ready.push_back(StrCat("Deployment/", d->ns, "/", d->name, ": ", why));
        }
      }
      if (not_ready.empty()) {
        break;
      }
      if (waiter.Now() >= deadline) {
        return absl::DeadlineExceededError(
            StrCat(ComponentDisplayName(component), " is not ready after ", FormatDuration(options.readiness_timeout),
                   " (--readiness-timeout): ", common::Join(not_ready, "; ")));
      }
      waiter.Sleep(deadline);
    }
    progress(StrCat("\u2714 ", ComponentDisplayName(component), " installed"));
  }
  return result;
}

absl::StatusOr<Node> ReadClusterInstalledState(kube::KubeClient& client, const std::string& ns,
                                               const std::string& revision) {
  std::string name = InstalledStateName(revision);
  auto cm = client.Get({"v1", "ConfigMap", ns, name});
  if (!cm.ok()) {
    if (absl::IsNotFound(cm.status())) {
      return absl::NotFoundError(StrCat("no installation found (ConfigMap ", ns, "/", name, " is missing)"));
    }
    return cm.status();
  }
  return config::ParseYamlNode((*cm)["data"][kInstalledStateKey].Str(), StrCat("ConfigMap ", ns, "/", name));
}

absl::StatusOr<std::vector<std::string>> UninstallFromCluster(kube::KubeClient& client,
                                                              const KubeUninstallOptions& options) {
  MESH_ASSIGN_OR_RETURN(auto owned, ListOwned(client, kComponentLabel, options.purge));
  std::vector<OwnedObject> deletes;
  for (const OwnedObject& o : owned) {
    if (!options.purge && (o.component == kComponentBase || o.revision != options.revision)) {
      continue;
    }
    deletes.push_back(o);
  }
  // Dependents first: gateways, istiod, base; within a component Services before
  // Deployments before RBAC; CRDs last.
  auto rank = [](const OwnedObject& o) {
    const auto& order = ComponentOrder();
    auto it = std::find(order.begin(), order.end(), o.component);
    int component = it == order.end() ? 100 : static_cast<int>(it - order.begin());
    return std::make_tuple(-component, -KindRank(o.kind), o.kind, o.ns, o.name);
  };
  std::stable_sort(deletes.begin(), deletes.end(),
                   [&](const OwnedObject& a, const OwnedObject& b) { return rank(a) < rank(b); });
  // The installed-state records.
  std::string record_selector =
      options.purge ? std::string(kInstalledStateLabel) : StrCat(kInstalledStateLabel, "=", options.revision);
  auto records = client.ListAll({"v1", "ConfigMap", "", ""}, {.label_selector = record_selector});
  if (!records.ok()) {
    return records.status();
  }
  for (const Node& r : records->items) {
    deletes.push_back({"v1", "ConfigMap", r["metadata"]["namespace"].Str(), r["metadata"]["name"].Str(), "", ""});
  }
  std::vector<std::string> removed;
  for (const OwnedObject& o : deletes) {
    std::string what = Describe(o.kind, o.ns, o.name);
    if (options.dry_run) {
      removed.push_back(what);
      continue;
    }
    absl::Status st = client.Delete({o.api_version, o.kind, o.ns, o.name}, {options.propagation_policy});
    if (absl::IsNotFound(st)) {
      continue;
    }
    if (!st.ok()) {
      return absl::Status(st.code(), StrCat("deleting ", what, ": ", st.message()));
    }
    removed.push_back(what);
    if (options.progress) {
      options.progress(StrCat("  Removed ", what));
    }
  }
  return removed;
}

namespace {

// A resource.Quantity ("2000m", "1Gi", "1e3", "0.5") as a number; nullopt otherwise.
std::optional<long double> QuantityValue(const std::string& s) {
  // Digits, sign, point and a decimal exponent only (strtold would also take hex, inf, nan).
  if (s.empty() || s.find_first_not_of("0123456789+-.eEkmMGTPi") != std::string::npos ||
      !(std::isdigit(static_cast<unsigned char>(s[0])) || s[0] == '+' || s[0] == '-' || s[0] == '.')) {
    return std::nullopt;
  }
  char* end = nullptr;
  long double number = std::strtold(s.c_str(), &end);
  if (end == s.c_str()) {
    return std::nullopt;
  }
  static const std::map<std::string, long double> kSuffixes = {
      {"", 1.0L},          {"m", 1e-3L},        {"k", 1e3L},         {"M", 1e6L},         {"G", 1e9L},
      {"T", 1e12L},        {"P", 1e15L},        {"E", 1e18L},        {"Ki", 1024.0L},     {"Mi", 1048576.0L},
      {"Gi", 1073741824.0L}, {"Ti", 1099511627776.0L}, {"Pi", 1125899906842624.0L}, {"Ei", 1152921504606846976.0L}};
  auto it = kSuffixes.find(std::string(end));
  if (it == kSuffixes.end()) {
    return std::nullopt;
  }
  return number * it->second;
}

// The API server stores quantities in canonical form ("2000m" comes back as "2",
// "1024Mi" as "1Gi").
bool SameQuantity(const std::string& a, const std::string& b) {
  auto x = QuantityValue(a), y = QuantityValue(b);
  if (!x || !y) {
    return false;
  }
  long double scale = std::max(std::fabs(*x), std::fabs(*y));
  return std::fabs(*x - *y) <= scale * 1e-12L;
}

}  // namespace

std::string FirstMissingField(const Node& want, const Node& got, const std::string& path) {
  auto describe = [](const Node& n) {
    if (n.IsNull()) {
      return std::string("<none>");
    }
    if (n.IsScalar()) {
      return config::JsonQuote(n.Str());
    }
    std::string json = config::EmitJson(n, {.indent = 0});
    return json.size() > 80 ? json.substr(0, 77) + "..." : json;
  };
  std::string where = path.empty() ? "." : path;
  switch (want.type()) {
    case Node::Type::kNull:
      return "";
    case Node::Type::kScalar:
      if (got.IsScalar() && (got.Str() == want.Str() || SameQuantity(want.Str(), got.Str()))) {
        return "";
      }
      if (got.IsNull() && want.quoted() && want.Str().empty()) {
        return "";  // empty strings are omitted from what the server stores (omitempty)
      }
      return StrCat(where, ": want ", describe(want), ", got ", describe(got));
    case Node::Type::kSequence: {
      if (got.IsNull() && want.items().empty()) {
        return "";  // so are empty lists
      }
      if (!got.IsSequence() || got.items().size() != want.items().size()) {
        return StrCat(where, ": want ", describe(want), ", got ", describe(got));
      }
      for (size_t i = 0; i < want.items().size(); ++i) {
        std::string d = FirstMissingField(want.items()[i], got.items()[i], StrCat(path, "[", i, "]"));
        if (!d.empty()) {
          return d;
        }
      }
      return "";
    }
    case Node::Type::kMap: {
      if (!got.IsMap()) {
        return want.size() == 0 ? "" : StrCat(where, ": want ", describe(want), ", got ", describe(got));
      }
      for (const auto& [k, w] : want.entries()) {
        std::string d = FirstMissingField(w, got[k], path.empty() ? k : path + "." + k);
        if (!d.empty()) {
          return d;
        }
      }
      return "";
    }
  }
  return "";
}

bool KubeVerifyResult::ok() const {
  return extra.empty() && std::all_of(items.begin(), items.end(), [](const KubeVerifyItem& i) { return i.ok; });
}

absl::StatusOr<KubeVerifyResult> VerifyClusterInstall(kube::KubeClient& client, const Manifest& manifest) {
  KubeVerifyResult result;
  std::set<std::tuple<std::string, std::string, std::string, std::string>> rendered;
  for (const std::string& component : ComponentOrder()) {
    for (const RenderedObject& o : manifest.objects) {
      if (o.component != component) {
        continue;
      }
      rendered.insert(KeyOf(o.api_version, o.kind, o.ns, o.name));
      KubeVerifyItem item{o.kind, o.ns, o.name};
      auto live = client.Get({o.api_version, o.kind, o.ns, o.name});
      if (!live.ok()) {
        if (!absl::IsNotFound(live.status())) {
          return live.status();
        }
        item.problem = "missing";
      } else {
        item.problem = FirstMissingField(ObjectToInstall(o, manifest), *live);
        item.ok = item.problem.empty();
      }
      result.items.push_back(std::move(item));
    }
  }
  MESH_ASSIGN_OR_RETURN(auto owned, ListOwned(client, OwnerSelector(manifest.istio_namespace), false));
  for (const OwnedObject& o : owned) {
    if (o.revision == manifest.revision && rendered.count(KeyOf(o.api_version, o.kind, o.ns, o.name)) == 0) {
      result.extra.push_back(Describe(o.kind, o.ns, o.name));
    }
  }
  return result;
}

}  // namespace mesh::install
