// kubectl-style commands on the local mesh state: apply, get, delete, label, create
// namespace / secret tls, x check-inject. Flags and printing only; the work is in
// mesh/store and mesh/install.

#include <cctype>
#include <ctime>
#include <iostream>
#include <memory>
#include <set>

#include "cmd/meshctl/commands.h"
#include "cmd/meshctl/exit_codes.h"
#include "cmd/meshctl/local_state.h"
#include "cmd/meshctl/target.h"
#include "mesh/common/file_util.h"
#include "mesh/common/status_macros.h"
#include "mesh/common/strings.h"
#include "mesh/config/emit.h"
#include "mesh/config/schema.h"
#include "mesh/config/yaml_loader.h"
#include "mesh/install/crd.h"
#include "mesh/install/inject.h"
#include "mesh/install/tls_secret.h"
#include "mesh/install/tree.h"
#include "mesh/kube/resource_names.h"
#include "mesh/store/labels.h"

namespace meshctl {
namespace {

using mesh::config::Node;
using mesh::store::ObjectKey;
using mesh::store::StoredObject;

int Fail(const absl::Status& status) {
  PrintError(status);
  return ExitCodeFor(status);
}

// "deployment.apps/istiod", "service/istiod" (kubectl's resource/name form).
std::string ResourceRef(const ObjectKey& key) {
  std::string kind = mesh::common::ToLower(key.kind);
  return key.group.empty() ? kind + "/" + key.name : kind + "." + key.group + "/" + key.name;
}
std::string ResourceType(const ObjectKey& key) {
  std::string kind = mesh::common::ToLower(key.kind);
  return key.group.empty() ? kind : kind + "." + key.group;
}

std::string PluralOf(const ObjectKey& key) {
  const mesh::config::KindSchema* ks = mesh::config::FindKind(key.group, key.kind);
  return ks != nullptr ? ks->plural : mesh::common::ToLower(key.kind) + "s";
}

// kubectl's HumanDuration, enough of it for an AGE column.
std::string Age(const std::string& timestamp) {
  std::tm tm{};
  if (timestamp.size() < 19 || strptime(timestamp.c_str(), "%Y-%m-%dT%H:%M:%S", &tm) == nullptr) {
    return "<unknown>";
  }
  long secs = static_cast<long>(std::time(nullptr) - timegm(&tm));
  if (secs < 0) {
    secs = 0;
  }
  if (secs < 120) {
    return std::to_string(secs) + "s";
  }
  long mins = secs / 60;
  if (mins < 10) {
    return mesh::common::StrCat(mins, "m", secs % 60, "s");
  }
  if (mins < 180) {
    return std::to_string(mins) + "m";
  }
  long hours = mins / 60;
  if (hours < 8) {
    return mesh::common::StrCat(hours, "h", mins % 60, "m");
  }
  if (hours < 48) {
    return std::to_string(hours) + "h";
  }
  long days = hours / 24;
  if (days < 8) {
    return mesh::common::StrCat(days, "d", hours % 24, "h");
  }
  return std::to_string(days) + "d";
}

// Columns separated by three spaces, like kubectl's tabwriter.
void PrintTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()), 0);
    for (size_t i = 0; i < row.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) {
        line += std::string(widths[i] - row[i].size() + 3, ' ');
      }
    }
    std::cout << line << "\n";
  }
}

std::string ServicePorts(const Node& svc) {
  std::vector<std::string> parts;
  for (const Node& p : svc["spec"]["ports"].items()) {
    std::string protocol = p["protocol"].Str().empty() ? "TCP" : p["protocol"].Str();
    std::string s = p["port"].Str();
    if (p["nodePort"].Defined()) {
      s += ":" + p["nodePort"].Str();
    }
    parts.push_back(s + "/" + protocol);
  }
  return parts.empty() ? "<none>" : mesh::common::Join(parts, ",");
}

std::string SelectorText(const Node& labels) {
  std::vector<std::string> parts;
  for (const auto& [k, v] : labels.entries()) {
    parts.push_back(k + "=" + v.Str());
  }
  return parts.empty() ? "<none>" : mesh::common::Join(parts, ",");
}

std::vector<std::vector<std::string>> TableFor(const std::string& kind, const std::vector<StoredObject>& objects,
                                               bool all_namespaces, bool wide) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> header;
  if (all_namespaces) {
    header.push_back("NAMESPACE");
  }
  if (kind == "Deployment") {
    header.insert(header.end(), {"NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"});
    if (wide) {
      header.insert(header.end(), {"CONTAINERS", "IMAGES", "SELECTOR"});
    }
  } else if (kind == "Service") {
    header.insert(header.end(), {"NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"});
    if (wide) {
      header.push_back("SELECTOR");
    }
  } else if (kind == "Namespace") {
    header.insert(header.end(), {"NAME", "STATUS", "AGE"});
  } else if (kind == "Secret") {
    header.insert(header.end(), {"NAME", "TYPE", "DATA", "AGE"});
  } else if (kind == "ConfigMap") {
    header.insert(header.end(), {"NAME", "DATA", "AGE"});
  } else {
    header.push_back("NAME");
    for (const auto& c : mesh::install::PrinterColumns(kind)) {
      std::string upper = c.name;
      for (char& ch : upper) {
        ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      }
      header.push_back(upper);
    }
    header.push_back("AGE");
  }
  rows.push_back(header);
  for (const StoredObject& o : objects) {
    const Node& obj = o.object;
    std::vector<std::string> row;
    if (all_namespaces) {
      row.push_back(o.key.ns);
    }
    std::string age = Age(obj["metadata"]["creationTimestamp"].Str());
    if (kind == "Deployment") {
      int64_t want = obj["spec"]["replicas"].Int().value_or(1);
      int64_t ready = obj["status"]["readyReplicas"].Int().value_or(0);
      row.insert(row.end(), {o.key.name, mesh::common::StrCat(ready, "/", want),
                             std::to_string(obj["status"]["updatedReplicas"].Int().value_or(0)),
                             std::to_string(obj["status"]["availableReplicas"].Int().value_or(0)), age});
      if (wide) {
        std::vector<std::string> names, images;
        for (const Node& c : obj["spec"]["template"]["spec"]["containers"].items()) {
          names.push_back(c["name"].Str());
          images.push_back(c["image"].Str());
        }
        row.insert(row.end(), {mesh::common::Join(names, ","), mesh::common::Join(images, ","),
                               SelectorText(obj["spec"]["selector"]["matchLabels"])});
      }
    } else if (kind == "Service") {
      std::string type = obj["spec"]["type"].Str().empty() ? "ClusterIP" : obj["spec"]["type"].Str();
      std::string cluster_ip = obj["spec"]["clusterIP"].Str().empty() ? "<none>" : obj["spec"]["clusterIP"].Str();
      std::string external = type == "LoadBalancer" ? "<pending>" : "<none>";
      row.insert(row.end(), {o.key.name, type, cluster_ip, external, ServicePorts(obj), age});
      if (wide) {
        row.push_back(SelectorText(obj["spec"]["selector"]));
      }
    } else if (kind == "Namespace") {
      row.insert(row.end(), {o.key.name, "Active", age});
    } else if (kind == "Secret") {
      row.insert(row.end(), {o.key.name, obj["type"].Str().empty() ? "Opaque" : obj["type"].Str(),
                             std::to_string(obj["data"].size()), age});
    } else if (kind == "ConfigMap") {
      row.insert(row.end(), {o.key.name, std::to_string(obj["data"].size()), age});
    } else {
      row.push_back(o.key.name);
      for (const auto& c : mesh::install::PrinterColumns(kind)) {
        row.push_back(mesh::install::PrinterColumnValue(obj, c));
      }
      row.push_back(age);
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

// "a=b,c" -> all must match (equality and existence only).
bool MatchesSelector(const Node& labels, const std::string& selector) {
  if (selector.empty()) {
    return true;
  }
  for (const std::string& term : mesh::common::Split(selector, ',', true)) {
    size_t eq = term.find('=');
    if (eq == std::string::npos) {
      if (!labels[term].Defined()) {
        return false;
      }
      continue;
    }
    std::string key = term.substr(0, eq);
    std::string value = term.substr(eq + 1);
    bool negate = !key.empty() && key.back() == '!';
    if (negate) {
      key.pop_back();
    }
    if (!value.empty() && value.front() == '=') {
      value.erase(0, 1);
    }
    bool equal = labels[key].Defined() && labels[key].Str() == value;
    if (equal == negate) {
      return false;
    }
  }
  return true;
}

struct ValidatedObjects {
  std::vector<Node> objects;
  std::vector<std::string> errors;
  std::vector<std::string> warnings;
};

// Loads and validates every object before anything is written.
absl::StatusOr<ValidatedObjects> LoadAndValidate(const std::vector<std::string>& paths, const std::string& flag_ns,
                                                 const std::string& default_ns = "default") {
  auto loaded = mesh::config::LoadPaths(paths);
  if (!loaded.ok()) {
    return loaded.status();
  }
  ValidatedObjects out;
  for (const auto& e : loaded->errors) {
    out.errors.push_back(e.ToString());
  }
  for (const std::string& f : loaded->skipped_files) {
    out.warnings.push_back(mesh::common::StrCat(f, ": skipped (not .yaml, .yml or .json)"));
  }
  for (const mesh::config::Resource& r : loaded->resources) {
    std::string where = mesh::common::StrCat(r.source().file, ":", r.source().line, ":", r.source().column);
    const mesh::config::KindSchema* ks = mesh::config::FindKind(r.gvk().group, r.kind());
    if (ks == nullptr) {
      out.errors.push_back(mesh::common::StrCat(where, ": no matches for kind \"", r.kind(), "\" in version \"",
                                                r.gvk().ApiVersion(), "\""));
      continue;
    }
    if (std::find(ks->versions.begin(), ks->versions.end(), r.gvk().version) == ks->versions.end()) {
      out.errors.push_back(mesh::common::StrCat(where, ": no matches for kind \"", r.kind(), "\" in version \"",
                                                r.gvk().ApiVersion(), "\" (served: ",
                                                mesh::common::Join(ks->versions, ", "), ")"));
      continue;
    }
    if (r.name().empty()) {
      out.errors.push_back(mesh::common::StrCat(where, ": ", r.kind(), ": metadata.name is required"));
      continue;
    }
    if (!mesh::store::IsDns1123Subdomain(r.name())) {
      out.errors.push_back(mesh::common::StrCat(
          where, ": ", r.kind(), " \"", r.name(), "\" is invalid: metadata.name: a lowercase RFC 1123 subdomain must "
          "consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric "
          "character"));
      continue;
    }
    if (!r.ns().empty() && !mesh::store::IsDns1123Label(r.ns())) {
      out.errors.push_back(mesh::common::StrCat(where, ": ", r.kind(), " ", r.name(), ": metadata.namespace \"",
                                                r.ns(), "\" is not a valid namespace name"));
      continue;
    }
    bool bad_labels = false;
    for (const auto& [k, v] : r.labels()) {
      for (const absl::Status& st : {mesh::store::ValidateLabelKey(k), mesh::store::ValidateLabelValue(v)}) {
        if (!st.ok()) {
          out.errors.push_back(mesh::common::StrCat(where, ": ", r.kind(), " ", r.name(), ": metadata.labels: ",
                                                    std::string(st.message())));
          bad_labels = true;
        }
      }
    }
    if (bad_labels) {
      continue;
    }
    Node obj = r.root();
    Node* meta = obj.FindMutable("metadata");
    if (ks->namespaced) {
      std::string ns = r.ns();
      if (!flag_ns.empty() && !ns.empty() && ns != flag_ns) {
        out.errors.push_back(mesh::common::StrCat(
            where, ": the namespace from the provided object \"", ns, "\" does not match the namespace \"", flag_ns,
            "\". You must pass '--namespace=", ns, "' to perform this operation."));
        continue;
      }
      if (ns.empty()) {
        meta->Set("namespace", mesh::install::StringNode(flag_ns.empty() ? default_ns : flag_ns));
      }
    } else {
      meta->Erase("namespace");
    }
    // A spec type without fields is "not described yet" in the schema table: nothing to check.
    bool described = ks->spec && !(ks->spec->type == mesh::config::FieldType::kStruct && ks->spec->fields.empty());
    if (described) {
      std::vector<mesh::config::FieldIssue> issues;
      mesh::config::ValidateNode(r.spec(), *ks->spec, "spec", {}, issues);
      for (const auto& issue : issues) {
        std::string msg = mesh::common::StrCat(r.source().file, ":", issue.mark.line, ":", issue.mark.column, ": ",
                                               r.FriendlyName(), ": ", issue.message);
        (issue.is_warning ? out.warnings : out.errors).push_back(msg);
      }
    }
    out.objects.push_back(std::move(obj));
  }
  return out;
}

// ---- Kubernetes target: the same commands against the cluster's API server. ----

// Resolves the target; prints which one is used. nullopt: local (after printing).
struct KubeOrLocal {
  bool kube = false;
  KubeTarget cluster;
  int exit_code = kExitOk;  // non-zero: stop with it
};

KubeOrLocal PickTarget(CliContext& ctx, const std::string& namespace_override = "") {
  KubeOrLocal out;
  auto target = ResolveTarget(ctx);
  if (!target.ok()) {
    PrintError(target.status());
    out.exit_code = kExitUsage;
    return out;
  }
  if (!target->kube) {
    PrintLocalTarget(*target);
    return out;
  }
  auto kube = OpenKubeTarget(ctx, *target, namespace_override);
  if (!kube.ok()) {
    out.exit_code = Fail(kube.status());
    return out;
  }
  out.kube = true;
  out.cluster = std::move(*kube);
  return out;
}

// kubectl prints the server's message after "Error from server (Reason): ".
int FailFromServer(const absl::Status& status) {
  std::string reason = mesh::kube::KubeReason(status);
  if (!reason.empty()) {
    std::cerr << "Error from server (" << reason << "): " << mesh::kube::KubeMessage(status) << "\n";
    return kExitFailure;
  }
  return Fail(status);
}

std::string KubeRef(const mesh::kube::ResourceInfo& info, const std::string& name) {
  std::string kind = mesh::common::ToLower(info.kind);
  return info.group.empty() ? kind + "/" + name : kind + "." + info.group + "/" + name;
}

// What `get -o yaml` shows: no managedFields (kubectl hides them too).
Node ForDisplay(Node obj) {
  if (Node* meta = obj.FindMutable("metadata")) {
    meta->Erase("managedFields");
  }
  return obj;
}

int KubeApply(KubeTarget& kube, std::vector<Node> objects, bool force_conflicts) {
  // Namespaces and CRDs before what may live in them (kubectl would fail instead).
  std::stable_sort(objects.begin(), objects.end(), [](const Node& a, const Node& b) {
    auto rank = [](const Node& n) {
      return n["kind"].Str() == "Namespace" ? 0 : n["kind"].Str() == "CustomResourceDefinition" ? 1 : 2;
    };
    return rank(a) < rank(b);
  });
  int status = kExitOk;
  for (const Node& obj : objects) {
    auto info = kube.client->Resolve(obj["apiVersion"].Str(), obj["kind"].Str());
    if (!info.ok()) {
      std::cerr << "error: " << std::string(info.status().message()) << "\n";
      status = kExitFailure;
      continue;
    }
    std::string name = obj["metadata"]["name"].Str();
    mesh::kube::ObjectRef ref{obj["apiVersion"].Str(), obj["kind"].Str(), obj["metadata"]["namespace"].Str(), name};
    auto before = kube.client->Get(ref);
    if (!before.ok() && !absl::IsNotFound(before.status())) {
      status = FailFromServer(before.status());
      continue;
    }
    auto after = kube.client->Apply(obj, {.field_manager = "meshctl", .force = force_conflicts});
    if (!after.ok()) {
      status = FailFromServer(after.status());
      continue;
    }
    std::string verb = !before.ok() ? "created"
                       : (*before)["metadata"]["resourceVersion"].Str() == (*after)["metadata"]["resourceVersion"].Str()
                           ? "unchanged"
                           : "configured";
    std::cout << KubeRef(*info, name) << " " << verb << "\n";
  }
  return status;
}

int KubeDelete(KubeTarget& kube, const std::vector<mesh::kube::ObjectRef>& refs, bool ignore_not_found) {
  int status = kExitOk;
  for (const auto& ref : refs) {
    auto info = kube.client->Resolve(ref.api_version, ref.kind);
    if (!info.ok()) {
      std::cerr << "error: " << std::string(info.status().message()) << "\n";
      status = kExitFailure;
      continue;
    }
    absl::Status st = kube.client->Delete(ref, {"Background"});
    if (absl::IsNotFound(st) && ignore_not_found) {
      continue;
    }
    if (!st.ok()) {
      status = FailFromServer(st);
      continue;
    }
    std::string kind = mesh::common::ToLower(info->kind);
    std::cout << (info->group.empty() ? kind : kind + "." + info->group) << " \"" << ref.name << "\" deleted\n";
  }
  return status;
}

int KubeCreate(KubeTarget& kube, const Node& obj) {
  mesh::kube::ObjectRef ref{obj["apiVersion"].Str(), obj["kind"].Str(), obj["metadata"]["namespace"].Str(),
                            obj["metadata"]["name"].Str()};
  auto info = kube.client->Resolve(ref.api_version, ref.kind);
  if (!info.ok()) {
    return Fail(info.status());
  }
  // POST, as kubectl create: the server answers 409 AlreadyExists for an existing object.
  auto created = kube.client->Create(obj);
  if (!created.ok()) {
    return FailFromServer(created.status());
  }
  std::cout << KubeRef(*info, ref.name) << " created\n";
  return kExitOk;
}

int KubeLabel(KubeTarget& kube, const std::string& kind_name, const std::string& name, const std::string& ns,
              const std::vector<mesh::store::LabelChange>& changes, bool overwrite) {
  auto info = mesh::kube::ResolveResourceName(*kube.client, kind_name);
  if (!info.ok()) {
    std::cerr << "error: " << std::string(info.status().message()) << "\n";
    return kExitFailure;
  }
  mesh::kube::ObjectRef ref{mesh::kube::ApiVersionOf(*info), info->kind, info->namespaced ? ns : "", name};
  auto obj = kube.client->Get(ref);
  if (!obj.ok()) {
    return FailFromServer(obj.status());
  }
  Node updated = *obj;
  auto changed = mesh::store::ApplyLabelChanges(updated, changes, overwrite);
  if (!changed.ok()) {
    std::cerr << "error: " << std::string(changed.status().message()) << "\n";
    return kExitFailure;
  }
  if (!*changed) {
    std::cout << KubeRef(*info, name) << " not labeled\n";
    return kExitOk;
  }
  // A merge patch of just the labels (null removes), like kubectl label.
  Node labels = Node::Map();
  for (const auto& c : changes) {
    labels.Set(c.key, c.remove ? Node() : mesh::install::StringNode(c.value));
  }
  Node meta = Node::Map();
  meta.Set("labels", std::move(labels));
  Node patch = Node::Map();
  patch.Set("metadata", std::move(meta));
  auto patched = kube.client->MergePatch(ref, patch);
  if (!patched.ok()) {
    return FailFromServer(patched.status());
  }
  bool only_removals = std::all_of(changes.begin(), changes.end(), [](const auto& c) { return c.remove; });
  std::cout << KubeRef(*info, name) << (only_removals ? " unlabeled" : " labeled") << "\n";
  return kExitOk;
}

struct NsFlags {
  std::string ns;
  bool all = false;
};

void PrintObjects(const std::vector<StoredObject>& found, const std::vector<std::string>& names, size_t kinds,
                  const std::string& output) {
  if (output == "name") {
    for (const StoredObject& o : found) {
      std::cout << ResourceRef(o.key) << "\n";
    }
  } else if (output == "yaml" || output == "json") {
    Node doc;
    if (found.size() == 1 && !names.empty() && kinds == 1) {
      doc = found.front().object;
    } else {
      doc = Node::Map();
      doc.Set("apiVersion", Node::Scalar("v1"));
      Node items = Node::Sequence();
      for (const StoredObject& o : found) {
        items.Append(o.object);
      }
      doc.Set("items", std::move(items));
      doc.Set("kind", Node::Scalar("List"));
      Node meta = Node::Map();
      meta.Set("resourceVersion", mesh::install::StringNode(""));
      doc.Set("metadata", std::move(meta));
    }
    if (!found.empty() || names.empty()) {
      std::cout << (output == "yaml" ? mesh::config::EmitYaml(doc) : mesh::config::EmitJson(doc) + "\n");
    }
  }
}

int KubeGet(KubeTarget& kube, const std::vector<std::string>& args, const NsFlags& nsf, const std::string& output,
            const std::string& selector) {
  std::vector<std::string> kinds = mesh::common::Split(args[0], ',', true);
  std::vector<std::string> names(args.begin() + 1, args.end());
  std::string ns = kube.config.namespace_name;
  std::vector<StoredObject> found;
  bool tables = output.empty() || output == "wide";
  bool first_table = true;
  int status = kExitOk;
  for (const std::string& kind_name : kinds) {
    auto info = mesh::kube::ResolveResourceName(*kube.client, kind_name);
    if (!info.ok()) {
      std::cerr << "error: " << std::string(info.status().message()) << "\n";
      return kExitFailure;
    }
    std::string api_version = mesh::kube::ApiVersionOf(*info);
    std::vector<StoredObject> objects;
    auto add = [&](const Node& obj) {
      StoredObject so;
      so.key = ObjectKey{info->group, info->kind, obj["metadata"]["namespace"].Str(), obj["metadata"]["name"].Str()};
      so.object = ForDisplay(obj);
      objects.push_back(std::move(so));
    };
    if (!names.empty()) {
      for (const std::string& name : names) {
        auto obj = kube.client->Get({api_version, info->kind, info->namespaced ? ns : "", name});
        if (!obj.ok()) {
          status = FailFromServer(obj.status());
          continue;
        }
        add(*obj);
      }
    } else {
      std::string list_ns = !info->namespaced || nsf.all ? "" : ns;
      auto listed = kube.client->ListAll({api_version, info->kind, list_ns, ""},
                                         {.label_selector = selector, .limit = 500});
      if (!listed.ok()) {
        return FailFromServer(listed.status());
      }
      for (const Node& obj : listed->items) {
        Node full = obj;
        // List items carry no apiVersion/kind; -o yaml shows them like kubectl.
        full.Set("apiVersion", mesh::install::StringNode(api_version));
        full.Set("kind", mesh::install::StringNode(info->kind));
        add(mesh::install::SortedKeys(full));
      }
    }
    if (tables && !objects.empty()) {
      if (!first_table) {
        std::cout << "\n";
      }
      first_table = false;
      PrintTable(TableFor(info->kind, objects, nsf.all && info->namespaced, output == "wide"));
    }
    for (StoredObject& o : objects) {
      found.push_back(std::move(o));
    }
  }
  if (found.empty() && names.empty()) {
    if (nsf.all) {
      std::cerr << "No resources found\n";
    } else {
      std::cerr << "No resources found in " << ns << " namespace.\n";
    }
  }
  PrintObjects(found, names, kinds.size(), output);
  return status;
}

void RegisterApply(CLI::App& app, CliContext& ctx) {
  auto* cmd = app.add_subcommand("apply", "Create or update objects in the cluster (server-side apply) or the local mesh state");
  auto files = std::make_shared<std::vector<std::string>>();
  auto ns = std::make_shared<std::string>();
  auto dry_run = std::make_shared<bool>(false);
  cmd->add_option("-f,--filename", *files, "Files or directories (recursive) to apply; \"-\" reads stdin")
      ->required()
      ->delimiter(',');
  cmd->add_option("-n,--namespace", *ns, "Namespace for objects that do not name one (default: default)");
  cmd->add_flag("--dry-run", *dry_run, "Validate only");
  auto force = std::make_shared<bool>(false);
  cmd->add_flag("--force-conflicts", *force, "Cluster: take over fields another field manager owns");
  AddTargetFlags(cmd, ctx);
  cmd->callback([files, ns, dry_run, force, &ctx] {
    auto pick = PickTarget(ctx, *ns);
    if (pick.exit_code != kExitOk) {
      ctx.exit_code = pick.exit_code;
      return;
    }
    // Objects without a namespace go to -n, else the context's namespace (cluster), else default.
    auto validated = LoadAndValidate(*files, *ns, pick.kube ? pick.cluster.config.namespace_name : "default");
    if (!validated.ok()) {
      ctx.exit_code = Fail(validated.status());
      return;
    }
    for (const std::string& w : validated->warnings) {
      std::cerr << "Warning: " << w << "\n";
    }
    if (!validated->errors.empty()) {
      for (const std::string& e : validated->errors) {
        std::cerr << "error: " << e << "\n";
      }
      std::cerr << "error: no objects applied (" << validated->errors.size() << " error(s))\n";
      ctx.exit_code = kExitDataError;
      return;
    }
    if (*dry_run) {
      for (const Node& obj : validated->objects) {
        auto key = mesh::store::KeyOf(obj);
        std::cout << ResourceRef(*key) << " (dry run)\n";
      }
      ctx.exit_code = kExitOk;
      return;
    }
    if (pick.kube) {
      ctx.exit_code = KubeApply(pick.cluster, validated->objects, *force);
      return;
    }
    auto store = OpenState(ctx);
    if (!store.ok()) {
      ctx.exit_code = Fail(store.status());
      return;
    }
    std::vector<std::string> lines;
    auto st = (*store)->Transaction([&]() -> absl::Status {
      for (const Node& obj : validated->objects) {
        auto r = (*store)->Apply(obj);
        if (!r.ok()) {
          return r.status();
        }
        lines.push_back(ResourceRef(r->key) + " " + mesh::store::ApplyOutcomeVerb(r->outcome));
      }
      return absl::OkStatus();
    });
    for (const std::string& l : lines) {
      std::cout << l << "\n";
    }
    ctx.exit_code = st.ok() ? kExitOk : Fail(st);
  });
}

void RegisterGet(CLI::App& app, CliContext& ctx) {
  auto* cmd = app.add_subcommand("get", "Show objects of the cluster or the local mesh state (like kubectl get)");
  auto args = std::make_shared<std::vector<std::string>>();
  auto nsf = std::make_shared<NsFlags>();
  auto output = std::make_shared<std::string>();
  auto selector = std::make_shared<std::string>();
  cmd->add_option("args", *args, "KIND[,KIND...] [NAME...]")->required();
  cmd->add_option("-n,--namespace", nsf->ns, "Namespace (default: default)");
  cmd->add_flag("-A,--all-namespaces", nsf->all, "List across all namespaces");
  cmd->add_option("-o,--output", *output, "Output format: yaml|json|wide|name")
      ->check(CLI::IsMember({"", "yaml", "json", "wide", "name"}));
  cmd->add_option("-l,--selector", *selector, "Label selector (k=v, k!=v, k; comma-separated)");
  AddTargetFlags(cmd, ctx);
  cmd->callback([args, nsf, output, selector, &ctx] {
    auto pick = PickTarget(ctx, nsf->ns);
    if (pick.exit_code != kExitOk || pick.kube) {
      ctx.exit_code = pick.kube ? KubeGet(pick.cluster, *args, *nsf, *output, *selector) : pick.exit_code;
      return;
    }
    ReadState state(ctx);
    auto& store = state.store;
    if (!store.ok()) {
      ctx.exit_code = Fail(store.status());
      return;
    }
    std::vector<std::string> kinds = mesh::common::Split((*args)[0], ',', true);
    std::vector<std::string> names(args->begin() + 1, args->end());
    std::string ns = nsf->ns.empty() ? "default" : nsf->ns;
    std::vector<StoredObject> found;
    bool tables = *output == "" || *output == "wide";
    int status = kExitOk;
    bool first_table = true;
    for (const std::string& kind_name : kinds) {
      const mesh::config::KindSchema* ks = mesh::config::FindKindByAnyName(kind_name);
      if (ks == nullptr) {
        std::cerr << "error: the server doesn't have a resource type \"" << kind_name << "\"\n";
        ctx.exit_code = kExitFailure;
        return;
      }
      std::string list_ns = !ks->namespaced || nsf->all ? "" : ns;
      std::vector<StoredObject> objects;
      if (!names.empty()) {
        for (const std::string& name : names) {
          auto obj = (*store)->Get(ObjectKey{ks->group, ks->kind, ks->namespaced ? ns : "", name});
          if (!obj.ok()) {
            ctx.exit_code = Fail(obj.status());
            return;
          }
          if (!obj->has_value()) {
            std::cerr << "Error from server (NotFound): " << ks->plural
                      << (ks->group.empty() ? "" : "." + ks->group) << " \"" << name << "\" not found\n";
            status = kExitFailure;
            continue;
          }
          objects.push_back(std::move(**obj));
        }
      } else {
        auto listed = (*store)->List({ks->group, ks->kind, list_ns});
        if (!listed.ok()) {
          ctx.exit_code = Fail(listed.status());
          return;
        }
        for (StoredObject& o : *listed) {
          if (MatchesSelector(o.object["metadata"]["labels"], *selector)) {
            objects.push_back(std::move(o));
          }
        }
      }
      if (tables && !objects.empty()) {
        if (!first_table) {
          std::cout << "\n";
        }
        first_table = false;
        PrintTable(TableFor(ks->kind, objects, nsf->all && ks->namespaced, *output == "wide"));
      }
      for (StoredObject& o : objects) {
        found.push_back(std::move(o));
      }
    }
    if (found.empty() && names.empty()) {
      if (nsf->all) {
        std::cerr << "No resources found\n";
      } else {
        std::cerr << "No resources found in " << ns << " namespace.\n";
      }
    }
    PrintObjects(found, names, kinds.size(), *output);
    ctx.exit_code = status;
  });
}

void RegisterDelete(CLI::App& app, CliContext& ctx) {
  auto* cmd = app.add_subcommand("delete", "Delete objects from the cluster or the local mesh state (by file or KIND NAME)");
  auto files = std::make_shared<std::vector<std::string>>();
  auto args = std::make_shared<std::vector<std::string>>();
  auto ns = std::make_shared<std::string>();
  auto ignore = std::make_shared<bool>(false);
  cmd->add_option("-f,--filename", *files, "Files or directories whose objects to delete")->delimiter(',');
  cmd->add_option("args", *args, "KIND NAME...");
  cmd->add_option("-n,--namespace", *ns, "Namespace (default: default)");
  cmd->add_flag("--ignore-not-found", *ignore, "Do not fail when an object does not exist");
  AddTargetFlags(cmd, ctx);
  cmd->callback([files, args, ns, ignore, &ctx] {
    auto pick = PickTarget(ctx, *ns);
    if (pick.exit_code != kExitOk) {
      ctx.exit_code = pick.exit_code;
      return;
    }
    if (pick.kube) {
      std::vector<mesh::kube::ObjectRef> refs;
      if (!files->empty()) {
        auto validated = LoadAndValidate(*files, *ns);
        if (!validated.ok() || !validated->errors.empty()) {
          for (const std::string& e : validated.ok() ? validated->errors : std::vector<std::string>{}) {
            std::cerr << "error: " << e << "\n";
          }
          ctx.exit_code = validated.ok() ? kExitDataError : Fail(validated.status());
          return;
        }
        for (const Node& obj : validated->objects) {
          refs.push_back({obj["apiVersion"].Str(), obj["kind"].Str(), obj["metadata"]["namespace"].Str(),
                          obj["metadata"]["name"].Str()});
        }
      } else if (args->size() >= 2) {
        auto info = mesh::kube::ResolveResourceName(*pick.cluster.client, (*args)[0]);
        if (!info.ok()) {
          std::cerr << "error: " << std::string(info.status().message()) << "\n";
          ctx.exit_code = kExitFailure;
          return;
        }
        for (size_t i = 1; i < args->size(); ++i) {
          refs.push_back({mesh::kube::ApiVersionOf(*info), info->kind,
                          info->namespaced ? pick.cluster.config.namespace_name : "", (*args)[i]});
        }
      } else {
        std::cerr << "error: you must provide -f FILE or KIND NAME...\n";
        ctx.exit_code = kExitUsage;
        return;
      }
      ctx.exit_code = KubeDelete(pick.cluster, refs, *ignore);
      return;
    }
    std::vector<ObjectKey> keys;
    if (!files->empty()) {
      auto validated = LoadAndValidate(*files, *ns);
      if (!validated.ok()) {
        ctx.exit_code = Fail(validated.status());
        return;
      }
      if (!validated->errors.empty()) {
        for (const std::string& e : validated->errors) {
          std::cerr << "error: " << e << "\n";
        }
        ctx.exit_code = kExitDataError;
        return;
      }
      for (const Node& obj : validated->objects) {
        keys.push_back(*mesh::store::KeyOf(obj));
      }
    } else {
      if (args->size() < 2) {
        std::cerr << "error: you must provide -f FILE or KIND NAME...\n";
        ctx.exit_code = kExitUsage;
        return;
      }
      const mesh::config::KindSchema* ks = mesh::config::FindKindByAnyName((*args)[0]);
      if (ks == nullptr) {
        std::cerr << "error: the server doesn't have a resource type \"" << (*args)[0] << "\"\n";
        ctx.exit_code = kExitFailure;
        return;
      }
      for (size_t i = 1; i < args->size(); ++i) {
        keys.push_back(ObjectKey{ks->group, ks->kind, ks->namespaced ? (ns->empty() ? "default" : *ns) : "", (*args)[i]});
      }
    }
    ReadState state(ctx);
    auto& store = state.store;
    if (!store.ok()) {
      ctx.exit_code = Fail(store.status());
      return;
    }
    int status = kExitOk;
    auto st = (*store)->Transaction([&]() -> absl::Status {
      for (const ObjectKey& k : keys) {
        auto removed = (*store)->Delete(k);
        if (!removed.ok()) {
          return removed.status();
        }
        if (*removed) {
          std::cout << ResourceType(k) << " \"" << k.name << "\" deleted\n";
          if (k.group.empty() && k.kind == "Namespace") {
            // As the API server does: a namespace takes its objects with it.
            auto inside = (*store)->List({"", "", k.name});
            if (!inside.ok()) {
              return inside.status();
            }
            for (const StoredObject& o : *inside) {
              if (o.key.ns == k.name) {
                MESH_RETURN_IF_ERROR((*store)->Delete(o.key).status());
              }
            }
          }
        } else if (!*ignore) {
          std::cerr << "Error from server (NotFound): " << PluralOf(k) << (k.group.empty() ? "" : "." + k.group)
                    << " \"" << k.name << "\" not found\n";
          status = kExitFailure;
        }
      }
      return absl::OkStatus();
    });
    ctx.exit_code = st.ok() ? status : Fail(st);
  });
}

void RegisterLabel(CLI::App& app, CliContext& ctx) {
  auto* cmd = app.add_subcommand("label", "Update the labels of an object (e.g. label namespace NAME istio-injection=enabled)");
  auto args = std::make_shared<std::vector<std::string>>();
  auto ns = std::make_shared<std::string>();
  auto overwrite = std::make_shared<bool>(false);
  cmd->add_option("args", *args, "KIND NAME key=value... key-...")->required();
  cmd->add_option("-n,--namespace", *ns, "Namespace of namespaced objects (default: default)");
  cmd->add_flag("--overwrite", *overwrite, "Allow changing the value of an existing label");
  AddTargetFlags(cmd, ctx);
  cmd->callback([args, ns, overwrite, &ctx] {
    if (args->size() < 3) {
      std::cerr << "error: usage: meshctl label KIND NAME key=value... [key-...] [--overwrite]\n";
      ctx.exit_code = kExitUsage;
      return;
    }
    auto pick = PickTarget(ctx, *ns);
    if (pick.exit_code != kExitOk || pick.kube) {
      if (pick.kube) {
        auto changes = mesh::store::ParseLabelArgs(std::vector<std::string>(args->begin() + 2, args->end()));
        ctx.exit_code = !changes.ok() ? Fail(changes.status())
                                      : KubeLabel(pick.cluster, (*args)[0], (*args)[1],
                                                  pick.cluster.config.namespace_name, *changes, *overwrite);
      } else {
        ctx.exit_code = pick.exit_code;
      }
      return;
    }
    const mesh::config::KindSchema* ks = mesh::config::FindKindByAnyName((*args)[0]);
    if (ks == nullptr) {
      std::cerr << "error: the server doesn't have a resource type \"" << (*args)[0] << "\"\n";
      ctx.exit_code = kExitFailure;
      return;
    }
    auto changes = mesh::store::ParseLabelArgs(std::vector<std::string>(args->begin() + 2, args->end()));
    if (!changes.ok()) {
      ctx.exit_code = Fail(changes.status());
      return;
    }
    ReadState state(ctx);
    auto& store = state.store;
    if (!store.ok()) {
      ctx.exit_code = Fail(store.status());
      return;
    }
    ObjectKey key{ks->group, ks->kind, ks->namespaced ? (ns->empty() ? "default" : *ns) : "", (*args)[1]};
    std::string message;
    auto st = (*store)->Transaction([&]() -> absl::Status {
      auto obj = (*store)->Get(key);
      if (!obj.ok()) {
        return obj.status();
      }
      if (!obj->has_value()) {
        return absl::NotFoundError(mesh::common::StrCat("Error from server (NotFound): ", ks->plural, " \"",
                                                        key.name, "\" not found"));
      }
      Node updated = (*obj)->object;
      auto changed = mesh::store::ApplyLabelChanges(updated, *changes, *overwrite);
      if (!changed.ok()) {
        return changed.status();
      }
      bool only_removals = std::all_of(changes->begin(), changes->end(), [](const auto& c) { return c.remove; });
      if (!*changed) {
        message = ResourceRef(key) + " not labeled";
        return absl::OkStatus();
      }
      message = ResourceRef(key) + (only_removals ? " unlabeled" : " labeled");
      return (*store)->Apply(updated).status();
    });
    if (!st.ok()) {
      if (absl::IsNotFound(st)) {
        std::cerr << std::string(st.message()) << "\n";
        ctx.exit_code = kExitFailure;
      } else {
        std::cerr << "error: " << std::string(st.message()) << "\n";
        ctx.exit_code = kExitFailure;
      }
      return;
    }
    std::cout << message << "\n";
    ctx.exit_code = kExitOk;
  });
}

// Creates an object unless it exists (kubectl create semantics).
int CreateObject(CliContext& ctx, const Node& obj, const std::string& plural) {
  auto pick = PickTarget(ctx);
  if (pick.exit_code != kExitOk || pick.kube) {
    return pick.kube ? KubeCreate(pick.cluster, obj) : pick.exit_code;
  }
  auto store = OpenState(ctx);
  if (!store.ok()) {
    return Fail(store.status());
  }
  auto key = mesh::store::KeyOf(obj);
  bool exists = false;
  auto st = (*store)->Transaction([&]() -> absl::Status {
    auto existing = (*store)->Get(*key);
    if (!existing.ok()) {
      return existing.status();
    }
    if (existing->has_value()) {
      exists = true;
      return absl::OkStatus();
    }
    return (*store)->Apply(obj).status();
  });
  if (!st.ok()) {
    return Fail(st);
  }
  if (exists) {
    std::cerr << "Error from server (AlreadyExists): " << plural << " \"" << key->name << "\" already exists\n";
    return kExitFailure;
  }
  std::cout << ResourceRef(*key) << " created\n";
  return kExitOk;
}

void RegisterCreate(CLI::App& app, CliContext& ctx) {
  auto* create = app.add_subcommand("create", "Create a namespace or a TLS secret in the cluster or the local mesh state");
  create->require_subcommand(1);

  auto* ns_cmd = create->add_subcommand("namespace", "Create a namespace");
  ns_cmd->alias("ns");
  auto ns_name = std::make_shared<std::string>();
  ns_cmd->add_option("name", *ns_name, "Namespace name")->required();
  AddTargetFlags(ns_cmd, ctx);
  ns_cmd->callback([ns_name, &ctx] {
    if (!mesh::store::IsDns1123Label(*ns_name)) {
      std::cerr << "The Namespace \"" << *ns_name
                << "\" is invalid: metadata.name: Invalid value: a lowercase RFC 1123 label must consist of lower "
                   "case alphanumeric characters or '-', and must start and end with an alphanumeric character\n";
      ctx.exit_code = kExitUsage;
      return;
    }
    Node obj = Node::Map();
    obj.Set("apiVersion", Node::Scalar("v1"));
    obj.Set("kind", Node::Scalar("Namespace"));
    Node meta = Node::Map();
    meta.Set("name", mesh::install::StringNode(*ns_name));
    obj.Set("metadata", std::move(meta));
    ctx.exit_code = CreateObject(ctx, obj, "namespaces");
  });

  auto* secret = create->add_subcommand("secret", "Create a secret");
  secret->require_subcommand(1);
  auto* tls = secret->add_subcommand("tls", "Create a kubernetes.io/tls secret from a certificate and key");
  auto name = std::make_shared<std::string>();
  auto cert = std::make_shared<std::string>();
  auto key = std::make_shared<std::string>();
  auto ns = std::make_shared<std::string>();
  tls->add_option("name", *name, "Secret name")->required();
  tls->add_option("--cert", *cert, "PEM certificate (chain) file")->required();
  tls->add_option("--key", *key, "PEM private key file")->required();
  tls->add_option("-n,--namespace", *ns, "Namespace (default: default)");
  AddTargetFlags(tls, ctx);
  tls->callback([name, cert, key, ns, &ctx] {
    auto cert_pem = mesh::common::ReadFile(*cert);
    if (!cert_pem.ok()) {
      ctx.exit_code = Fail(cert_pem.status());
      return;
    }
    auto key_pem = mesh::common::ReadFile(*key);
    if (!key_pem.ok()) {
      ctx.exit_code = Fail(key_pem.status());
      return;
    }
    auto obj = mesh::install::BuildTlsSecret(*name, ns->empty() ? "default" : *ns, *cert_pem, *key_pem);
    if (!obj.ok()) {
      std::cerr << "error: " << std::string(obj.status().message()) << "\n";
      ctx.exit_code = kExitFailure;
      return;
    }
    ctx.exit_code = CreateObject(ctx, *obj, "secrets");
  });
}

void RegisterCheckInject(CLI::App& app, CliContext& ctx) {
  CLI::App* x = ExperimentalCommand(app);
  auto* cmd = x->add_subcommand("check-inject", "Explain whether each workload would get a sidecar, and why");
  auto name = std::make_shared<std::string>();
  auto nsf = std::make_shared<NsFlags>();
  cmd->add_option("name", *name, "Only this workload");
  cmd->add_option("-n,--namespace", nsf->ns, "Namespace (default: all namespaces)");
  cmd->add_flag("-A,--all-namespaces", nsf->all, "All namespaces (the default)");
  AddStateDirFlag(cmd, ctx);
  cmd->callback([name, nsf, &ctx] {
    ReadState state(ctx);
    auto& store = state.store;
    if (!store.ok()) {
      ctx.exit_code = Fail(store.status());
      return;
    }
    auto results = mesh::install::CheckInjection(**store, nsf->all ? "" : nsf->ns, *name);
    if (!results.ok()) {
      ctx.exit_code = Fail(results.status());
      return;
    }
    if (results->empty()) {
      std::cerr << "No workloads found.\n";
      ctx.exit_code = name->empty() ? kExitOk : kExitFailure;
      return;
    }
    std::vector<std::vector<std::string>> rows = {{"NAMESPACE", "WORKLOAD", "INJECTED", "REVISION", "REASON"}};
    for (const auto& r : *results) {
      rows.push_back({r.workload.ns, r.workload.kind + "/" + r.workload.name,
                      r.decision.injected ? "\u2714" : "\u2718",
                      r.decision.revision.empty() ? "-" : r.decision.revision, r.decision.reason});
    }
    PrintTable(rows);
    ctx.exit_code = kExitOk;
  });
}

}  // namespace

void RegisterStateCommand(CLI::App& app, CliContext& ctx) {
  RegisterApply(app, ctx);
  RegisterGet(app, ctx);
  RegisterDelete(app, ctx);
  RegisterLabel(app, ctx);
  RegisterCreate(app, ctx);
  RegisterCheckInject(app, ctx);
}

}  // namespace meshctl
