#include "mesh/install/installer.h"

#include <algorithm>
#include <map>
#include <set>

#include "mesh/common/status_macros.h"
#include "mesh/common/strings.h"
#include "mesh/config/emit.h"
#include "mesh/install/tree.h"

namespace mesh::install {
namespace {

// Objects without istio.io/rev (Base) belong to the default revision.
std::string RevisionOf(const Node& labels) {
  return labels["istio.io/rev"].Str().empty() ? "default" : labels["istio.io/rev"].Str();
}

// Kinds install may delete when a later render drops them (istioctl's prune list).
// CRDs are never pruned: deleting one deletes every object of its kind.
const std::set<std::string>& PrunableKinds() {
  static const std::set<std::string> kKinds = {
      "Deployment", "DaemonSet", "Service", "ConfigMap", "Pod", "Secret", "ServiceAccount", "Role", "RoleBinding",
      "PodDisruptionBudget", "HorizontalPodAutoscaler", "EnvoyFilter", "MutatingWebhookConfiguration",
      "ValidatingWebhookConfiguration", "ClusterRole", "ClusterRoleBinding"};
  return kKinds;
}

std::string GroupOf(const std::string& api_version) {
  size_t slash = api_version.find('/');
  return slash == std::string::npos ? "" : api_version.substr(0, slash);
}

store::ObjectKey KeyOfRendered(const RenderedObject& o) {
  return store::ObjectKey{GroupOf(o.api_version), o.kind, o.ns, o.name};
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

std::string Describe(const Node& n) {
  if (n.IsNull()) {
    return "<none>";
  }
  if (n.IsScalar()) {
    return config::JsonQuote(n.Str());
  }
  std::string json = config::EmitJson(n, {.indent = 0});
  return json.size() > 80 ? json.substr(0, 77) + "..." : json;
}

}  // namespace

const char* ChangeActionName(ChangeAction action) {
  switch (action) {
    case ChangeAction::kCreate:
      return "create";
    case ChangeAction::kUpdate:
      return "update";
    case ChangeAction::kUnchanged:
      return "unchanged";
    case ChangeAction::kPrune:
      return "prune";
  }
  return "?";
}

int InstallPlan::Count(ChangeAction action) const {
  return static_cast<int>(std::count_if(changes.begin(), changes.end(),
                                        [&](const PlannedChange& c) { return c.action == action; }));
}

bool InstallPlan::NoChanges() const {
  return std::all_of(changes.begin(), changes.end(),
                     [](const PlannedChange& c) { return c.action == ChangeAction::kUnchanged; });
}

Node ObjectToInstall(const RenderedObject& rendered, const Manifest& manifest) {
  Node obj = rendered.object;
  Node* meta = obj.FindMutable("metadata");
  if (meta != nullptr) {
    Node* labels = meta->FindMutable("labels");
    if (labels == nullptr || !labels->IsMap()) {
      labels = &meta->Set("labels", Node::Map());
    }
    labels->Set(kManagedLabel, StringNode("Reconcile"));
    labels->Set(kVersionLabel, StringNode(manifest.version));
    labels->Set(kOwnerNamespaceLabel, StringNode(manifest.istio_namespace));
  }
  return SortedKeys(obj);
}

absl::StatusOr<InstallPlan> PlanInstall(const store::ConfigStore& store, const Manifest& manifest,
                                        const MergedConfig& config) {
  InstallPlan plan;
  plan.components = manifest.enabled_components;
  auto plan_apply = [&](const std::string& component, Node object) -> absl::Status {
    MESH_ASSIGN_OR_RETURN(store::ObjectKey key, store::KeyOf(object));
    MESH_ASSIGN_OR_RETURN(auto existing, store.Get(key));
    PlannedChange c;
    c.component = component;
    c.key = key;
    if (!existing.has_value()) {
      c.action = ChangeAction::kCreate;
    } else if (store::SameContent(existing->object, object)) {
      c.action = ChangeAction::kUnchanged;
    } else {
      c.action = ChangeAction::kUpdate;
    }
    c.object = std::move(object);
    plan.changes.push_back(std::move(c));
    return absl::OkStatus();
  };

  // The namespace exists before anything goes into it (and is never pruned).
  std::set<std::string> namespaces = {manifest.istio_namespace};
  for (const RenderedObject& o : manifest.objects) {
    if (!o.ns.empty()) {
      namespaces.insert(o.ns);
    }
  }
  for (const std::string& ns : namespaces) {
    MESH_ASSIGN_OR_RETURN(auto existing, store.Get(store::ObjectKey{"", "Namespace", "", ns}));
    if (!existing.has_value()) {
      MESH_RETURN_IF_ERROR(plan_apply("", NamespaceObject(ns)));
    }
  }

  std::set<store::ObjectKey> rendered;
  for (const std::string& component : ComponentOrder()) {
    for (const RenderedObject& o : manifest.objects) {
      if (o.component == component) {
        rendered.insert(KeyOfRendered(o));
        MESH_RETURN_IF_ERROR(plan_apply(component, ObjectToInstall(o, manifest)));
      }
    }
  }

  // The record of what was installed: the merged IstioOperator.
  Node record = SortedKeys(config.iop);
  Node* meta = record.FindMutable("metadata");
  Node annotations = Node::Map();
  annotations.Set(kInstalledNameAnnotation, StringNode(config.iop["metadata"]["name"].Str()));
  meta->Set("annotations", std::move(annotations));
  meta->Set("name", StringNode(InstalledStateName(manifest.revision)));
  meta->Set("namespace", StringNode(manifest.istio_namespace));
  MESH_RETURN_IF_ERROR(plan_apply("", record));

  // Prune: objects this installer labelled earlier that the new render lacks.
  MESH_ASSIGN_OR_RETURN(auto all, store.List({}));
  for (const store::StoredObject& s : all) {
    const Node& labels = s.object["metadata"]["labels"];
    if (!labels[kComponentLabel].Defined() || labels[kManagedLabel].Str() != "Reconcile" ||
        labels[kOwnerNamespaceLabel].Str() != manifest.istio_namespace || RevisionOf(labels) != manifest.revision) {
      continue;
    }
    if (PrunableKinds().count(s.key.kind) == 0 || rendered.count(s.key) > 0) {
      continue;
    }
    PlannedChange c;
    c.component = labels[kComponentLabel].Str();
    c.key = s.key;
    c.action = ChangeAction::kPrune;
    plan.changes.push_back(std::move(c));
  }
  return plan;
}

absl::Status ExecuteInstall(store::ConfigStore& store, const InstallPlan& plan,
                            const std::function<void(const std::string& component)>& on_component_done) {
  return store.Transaction([&]() -> absl::Status {
    std::string current;
    for (const PlannedChange& c : plan.changes) {
      if (c.action == ChangeAction::kPrune) {
        continue;
      }
      if (!c.component.empty() && c.component != current) {
        if (!current.empty() && on_component_done) {
          on_component_done(current);
        }
        current = c.component;
      }
      if (c.action != ChangeAction::kUnchanged) {
        auto r = store.Apply(c.object);
        if (!r.ok()) {
          return absl::Status(r.status().code(), common::StrCat(c.key.ToString(), ": ", r.status().message()));
        }
      }
    }
    for (const PlannedChange& c : plan.changes) {
      if (c.action == ChangeAction::kPrune) {
        MESH_RETURN_IF_ERROR(store.Delete(c.key).status());
      }
    }
    if (!current.empty() && on_component_done) {
      on_component_done(current);
    }
    return absl::OkStatus();
  });
}

std::string InstalledStateName(const std::string& revision) {
  return revision.empty() || revision == "default" ? kInstalledStateName
                                                   : common::StrCat(kInstalledStateName, "-", revision);
}

absl::StatusOr<Node> ReadInstalledState(const store::ConfigStore& store, const std::string& ns,
                                        const std::string& revision) {
  std::string name = InstalledStateName(revision);
  MESH_ASSIGN_OR_RETURN(auto obj, store.Get(store::ObjectKey{"install.istio.io", "IstioOperator", ns, name}));
  if (!obj.has_value()) {
    return absl::NotFoundError(
        common::StrCat("no installation found (IstioOperator ", ns, "/", name, " is missing)"));
  }
  // Back to what the user gave: their IstioOperator's own name, no store fields.
  Node iop = obj->object;
  Node meta = Node::Map();
  std::string iop_name = iop["metadata"]["annotations"][kInstalledNameAnnotation].Str();
  if (!iop_name.empty()) {
    meta.Set("name", StringNode(iop_name));
  }
  meta.Set("namespace", StringNode(ns));
  iop.Set("metadata", std::move(meta));
  return iop;
}

absl::StatusOr<UninstallPlan> PlanUninstall(const store::ConfigStore& store, bool purge,
                                            const std::string& revision) {
  UninstallPlan plan;
  MESH_ASSIGN_OR_RETURN(auto all, store.List({}));
  std::set<std::pair<std::string, std::string>> deleted_crd_kinds;  // (group, plural)
  std::vector<store::ObjectKey> deletes;
  for (const store::StoredObject& s : all) {
    const Node& labels = s.object["metadata"]["labels"];
    if (!labels[kComponentLabel].Defined()) {
      continue;
    }
    if (!purge) {
      if (labels[kComponentLabel].Str() == kComponentBase) {
        continue;
      }
      if (RevisionOf(labels) != revision) {
        continue;
      }
    }
    if (s.key.kind == "CustomResourceDefinition") {
      deleted_crd_kinds.insert({s.object["spec"]["group"].Str(), s.object["spec"]["names"]["kind"].Str()});
    }
    deletes.push_back(s.key);
  }
  // Deleting a CRD deletes its objects (as the API server does).
  for (const store::StoredObject& s : all) {
    if (deleted_crd_kinds.count({s.key.group, s.key.kind}) > 0) {
      deletes.push_back(s.key);
    }
  }
  // The record of what was installed goes too (every revision's with --purge).
  for (const store::StoredObject& s : all) {
    if (s.key.kind != "IstioOperator" || s.key.group != "install.istio.io") {
      continue;
    }
    if (purge ? s.key.name.rfind(kInstalledStateName, 0) == 0 : s.key.name == InstalledStateName(revision)) {
      deletes.push_back(s.key);
    }
  }
  // Dependents first: gateways, then istiod, then the base; Services before Deployments.
  auto component_rank = [&](const store::ObjectKey& k) {
    for (const store::StoredObject& s : all) {
      if (s.key == k) {
        std::string c = s.object["metadata"]["labels"][kComponentLabel].Str();
        auto order = ComponentOrder();
        auto it = std::find(order.begin(), order.end(), c);
        return it == order.end() ? 100 : static_cast<int>(it - order.begin());
      }
    }
    return 100;
  };
  std::sort(deletes.begin(), deletes.end());
  deletes.erase(std::unique(deletes.begin(), deletes.end()), deletes.end());
  std::stable_sort(deletes.begin(), deletes.end(), [&](const store::ObjectKey& a, const store::ObjectKey& b) {
    return std::make_tuple(-component_rank(a), -KindRank(a.kind)) < std::make_tuple(-component_rank(b), -KindRank(b.kind));
  });
  plan.deletes = std::move(deletes);
  return plan;
}

absl::Status ExecuteUninstall(store::ConfigStore& store, const UninstallPlan& plan,
                              const std::function<void(const store::ObjectKey&)>& on_removed) {
  return store.Transaction([&]() -> absl::Status {
    for (const store::ObjectKey& k : plan.deletes) {
      MESH_ASSIGN_OR_RETURN(bool removed, store.Delete(k));
      if (removed && on_removed) {
        on_removed(k);
      }
    }
    return absl::OkStatus();
  });
}

std::string FirstDifference(const Node& want, const Node& got, const std::string& path) {
  if (want.type() != got.type()) {
    return common::StrCat(path.empty() ? "." : path, ": want ", Describe(want), ", got ", Describe(got));
  }
  switch (want.type()) {
    case Node::Type::kNull:
      return "";
    case Node::Type::kScalar:
      return want.Str() == got.Str()
                 ? ""
                 : common::StrCat(path.empty() ? "." : path, ": want ", Describe(want), ", got ", Describe(got));
    case Node::Type::kSequence: {
      size_t n = std::max(want.items().size(), got.items().size());
      for (size_t i = 0; i < n; ++i) {
        const Node& w = i < want.items().size() ? want.items()[i] : Node::NullNode();
        const Node& g = i < got.items().size() ? got.items()[i] : Node::NullNode();
        std::string d = FirstDifference(w, g, common::StrCat(path, "[", i, "]"));
        if (!d.empty()) {
          return d;
        }
      }
      return "";
    }
    case Node::Type::kMap: {
      for (const auto& [k, w] : want.entries()) {
        std::string d = FirstDifference(w, got[k], path.empty() ? k : path + "." + k);
        if (!d.empty()) {
          return d;
        }
      }
      for (const auto& [k, g] : got.entries()) {
        if (want.Find(k) == nullptr) {
          return FirstDifference(Node(), g, path.empty() ? k : path + "." + k);
        }
      }
      return "";
    }
  }
  return "";
}

bool VerifyResult::ok() const {
  return extra.empty() && std::all_of(items.begin(), items.end(), [](const Item& i) { return i.ok; });
}

absl::StatusOr<VerifyResult> VerifyInstall(const store::ConfigStore& store, const Manifest& manifest) {
  VerifyResult result;
  std::set<store::ObjectKey> rendered;
  for (const std::string& component : ComponentOrder()) {
    for (const RenderedObject& o : manifest.objects) {
      if (o.component != component) {
        continue;
      }
      VerifyResult::Item item;
      item.key = KeyOfRendered(o);
      rendered.insert(item.key);
      MESH_ASSIGN_OR_RETURN(auto stored, store.Get(item.key));
      if (!stored.has_value()) {
        item.problem = "missing";
      } else {
        Node want = ObjectToInstall(o, manifest);
        Node got = stored->object;
        if (Node* meta = got.FindMutable("metadata")) {
          meta->Erase("resourceVersion");
          meta->Erase("creationTimestamp");
          meta->Erase("generation");
        }
        item.problem = FirstDifference(want, got);
        item.ok = item.problem.empty();
      }
      result.items.push_back(std::move(item));
    }
  }
  MESH_ASSIGN_OR_RETURN(auto all, store.List({}));
  for (const store::StoredObject& s : all) {
    const Node& labels = s.object["metadata"]["labels"];
    if (labels[kComponentLabel].Defined() && labels[kOwnerNamespaceLabel].Str() == manifest.istio_namespace &&
        RevisionOf(labels) == manifest.revision && rendered.count(s.key) == 0 &&
        PrunableKinds().count(s.key.kind) > 0) {
      result.extra.push_back(s.key);
    }
  }
  return result;
}

}  // namespace mesh::install
