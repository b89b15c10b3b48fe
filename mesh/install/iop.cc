#include "mesh/install/iop.h"

#include <algorithm>
#include <set>

#include "mesh/common/status_macros.h"
#include "mesh/common/strings.h"
#include "mesh/common/file_util.h"
#include "mesh/config/emit.h"
#include "mesh/config/schema.h"
#include "mesh/config/yaml_loader.h"
#include "mesh/install/embedded_data.h"
#include "mesh/install/tree.h"

namespace mesh::install {
namespace {

absl::StatusOr<Node> ParseEmbedded(const std::string& path) {
  std::string_view text = EmbeddedFile(path);
  if (text.empty()) {
    return absl::NotFoundError(common::StrCat("no embedded file ", path));
  }
  config::ParseResult parsed = config::ParseYamlDocuments(text, path + " (built in)");
  if (!parsed.errors.empty()) {
    return absl::InternalError(parsed.errors.front().ToString());
  }
  if (parsed.documents.empty()) {
    return Node::Map();
  }
  return parsed.documents.front().root;
}

const config::TypeSchema& IopSpecSchema() {
  static const config::TypeSchemaConstPtr kSpec = [] {
    auto kinds = config::ParseSchemaDocument(EmbeddedFile("manifests/iop-schema.yaml"), "iop-schema.yaml");
    if (!kinds.ok() || kinds->empty() || kinds->front().spec == nullptr) {
      std::fprintf(stderr, "meshctl: bug: bad built-in IstioOperator schema\n");
      std::abort();
    }
    return kinds->front().spec;
  }();
  return *kSpec;
}

bool IsDns1123Label(const std::string& s) {
  if (s.empty() || s.size() > 63) {
    return false;
  }
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
      return false;
    }
  }
  return s.front() != '-' && s.back() != '-';
}

// Validates one IstioOperator document; issue messages carry `where` (file) positions.
void ValidateIop(const Node& iop, const std::string& where, std::vector<std::string>& errors,
                 std::set<std::string>* seen_paths) {
  for (const auto& [key, value] : iop.entries()) {
    if (key != "apiVersion" && key != "kind" && key != "metadata" && key != "spec") {
      errors.push_back(common::StrCat(where.empty() ? "" : where + ":", where.empty() ? "" : std::to_string(value.key_mark().line) + ":" + std::to_string(value.key_mark().column) + ": ",
                                      "unknown field \"", key, "\""));
    }
  }
  std::vector<config::FieldIssue> issues;
  config::ValidateOptions opts;
  opts.unknown_fields_are_errors = true;
  config::ValidateNode(iop["spec"], IopSpecSchema(), "spec", opts, issues);
  for (const config::FieldIssue& issue : issues) {
    if (seen_paths != nullptr) {
      if (seen_paths->count(issue.path) > 0) {
        continue;
      }
      seen_paths->insert(issue.path);
    }
    if (!where.empty() && issue.mark.line > 0) {
      errors.push_back(common::StrCat(where, ":", issue.mark.line, ":", issue.mark.column, ": ", issue.message));
    } else {
      errors.push_back(issue.message);
    }
  }
}

absl::StatusOr<Node> ReadIopFile(const std::string& path, std::vector<std::string>& errors,
                                 std::set<std::string>& seen) {
  MESH_ASSIGN_OR_RETURN(std::string text, common::ReadFile(path));
  std::string name = path == "-" ? "<stdin>" : path;
  config::ParseResult parsed = config::ParseYamlDocuments(text, name);
  if (!parsed.errors.empty()) {
    return absl::InvalidArgumentError(parsed.errors.front().ToString());
  }
  const Node* found = nullptr;
  for (const config::ParsedDocument& doc : parsed.documents) {
    if (doc.root["kind"].Str() == "IstioOperator") {
      if (found != nullptr) {
        return absl::InvalidArgumentError(common::StrCat(
            name, ": contains multiple IstioOperator CRs, only one per file is supported"));
      }
      found = &doc.root;
    }
  }
  if (found == nullptr) {
    return absl::InvalidArgumentError(common::StrCat(name, ": no IstioOperator found (kind: IstioOperator)"));
  }
  if (!found->IsMap()) {
    return absl::InvalidArgumentError(common::StrCat(name, ": IstioOperator is not a mapping"));
  }
  ValidateIop(*found, name, errors, &seen);
  return *found;
}

void CheckComponents(const Node& spec, std::vector<std::string>& errors) {
  for (const char* unsupported : {"cni", "ztunnel", "istiodRemote"}) {
    const Node& c = spec["components"][unsupported];
    if (c.IsMap() && c["enabled"].Bool().value_or(false)) {
      errors.push_back(common::StrCat("spec.components.", unsupported, ".enabled: component \"", unsupported,
                                      "\" is not supported by meshctl"));
    }
  }
  const std::string revision = spec["revision"].Str();
  if (!revision.empty() && revision != "default" && !IsDns1123Label(revision)) {
    errors.push_back(common::StrCat("spec.revision: \"", revision,
                                    "\" is not a valid DNS-1123 label (lower case letters, digits and '-')"));
  }
}

// Privileged ports need runAsRoot (istioctl's validateGatewayPorts).
void CheckGatewayPorts(const Node& values, std::vector<std::string>& errors) {
  for (const char* gw : {"istio-ingressgateway", "istio-egressgateway"}) {
    const Node& g = values["gateways"][gw];
    if (g["runAsRoot"].Bool().value_or(false)) {
      continue;
    }
    for (const Node& p : g["ports"].items()) {
      auto port = p["port"].Int();
      auto target = p["targetPort"].Int();
      if (port && target && *port < 1024 && *target < 1024) {
        errors.push_back(common::StrCat("values.gateways.", gw, ".ports: port ", *port, "/targetPort ", *target,
                                        " (", p["name"].Str(), ") is privileged; use a targetPort >= 1024 or set runAsRoot"));
      }
    }
  }
}

}  // namespace

bool ComponentEnabled(const Node& component) {
  if (!component.IsMap()) {
    return false;
  }
  return component["enabled"].Bool().value_or(true);
}

absl::StatusOr<Node> LoadProfile(const std::string& name) {
  const auto& names = BuiltinProfileNames();
  if (std::find(names.begin(), names.end(), name) == names.end()) {
    return absl::NotFoundError(common::StrCat("unknown profile \"", name, "\" (known: ", common::Join(names, ", "), ")"));
  }
  MESH_ASSIGN_OR_RETURN(Node base, ParseEmbedded("profiles/default.yaml"));
  if (name != "default") {
    MESH_ASSIGN_OR_RETURN(Node overlay, ParseEmbedded("profiles/" + name + ".yaml"));
    MergeFrom(base, overlay);
  }
  return base;
}

absl::StatusOr<MergedConfig> MergeInstallConfig(const MergeInputs& inputs) {
  MergedConfig out;
  std::vector<std::string> errors;
  std::set<std::string> seen;

  // 1. Read the user's files; validation issues carry file:line:col.
  std::vector<Node> files;
  for (const std::string& path : inputs.files) {
    MESH_ASSIGN_OR_RETURN(Node iop, ReadIopFile(path, errors, seen));
    files.push_back(std::move(iop));
  }
  for (const Node& overlay : inputs.overlays) {
    ValidateIop(overlay, "", errors, &seen);
    files.push_back(overlay);
  }
  std::vector<SetFlag> sets;
  if (!inputs.profile.empty()) {
    sets.push_back(SetFlag{"profile", StringNode(inputs.profile)});
  }
  for (const std::string& flag : inputs.set_flags) {
    MESH_ASSIGN_OR_RETURN(SetFlag f, ParseSetFlag(flag));
    sets.push_back(std::move(f));
  }
  if (!inputs.revision.empty() && inputs.revision != "default") {
    sets.push_back(SetFlag{"revision", StringNode(inputs.revision)});
  }

  // 2. The profile: the last one named by a file or a flag.
  std::string profile = "default";
  for (const Node& f : files) {
    if (f["spec"]["profile"].IsScalar() && !f["spec"]["profile"].Str().empty()) {
      profile = f["spec"]["profile"].Str();
    }
  }
  for (const SetFlag& s : sets) {
    if (s.path == "profile" && s.value.IsScalar() && !s.value.Str().empty()) {
      profile = s.value.Str();
    }
  }
  MESH_ASSIGN_OR_RETURN(Node iop, LoadProfile(profile));
  out.profile = profile;

  // 3. Files left to right, then --set in order (on the merged tree, so [0] and
  //    [name:x] address the profile's list elements).
  for (const Node& f : files) {
    MergeFrom(iop, f);
  }
  for (SetFlag& s : sets) {
    Node& spec = iop.FindMutable("spec") ? *iop.FindMutable("spec") : iop.Set("spec", Node::Map());
    if (auto st = SetPath(spec, s.path, s.value); !st.ok()) {
      errors.push_back(common::StrCat("--set ", s.path, ": ", st.message()));
    }
  }
  Node* spec_ptr = iop.FindMutable("spec");
  if (spec_ptr == nullptr || !spec_ptr->IsMap()) {
    spec_ptr = &iop.Set("spec", Node::Map());
  }
  Node& spec = *spec_ptr;
  spec.Set("profile", StringNode(profile));

  // 4. Validate the merged result (catches --set mistakes; file issues were reported).
  ValidateIop(iop, "", errors, &seen);
  CheckComponents(spec, errors);

  // 5. Translate spec fields into values; the user's own values win.
  Node values = spec["values"].IsMap() ? spec["values"] : Node::Map();
  Node translated = Node::Map();
  if (spec["hub"].IsScalar() && !spec["hub"].Str().empty()) {
    (void)SetPath(translated, "global.hub", spec["hub"]);
  }
  if (spec["tag"].IsScalar() && !spec["tag"].Str().empty()) {
    (void)SetPath(translated, "global.tag", StringNode(spec["tag"].Str()));
  }
  if (spec["revision"].IsScalar()) {
    (void)SetPath(translated, "revision", StringNode(spec["revision"].Str()));
  }
  if (spec["compatibilityVersion"].IsScalar()) {
    (void)SetPath(translated, "compatibilityVersion", StringNode(spec["compatibilityVersion"].Str()));
  }
  if (spec["meshConfig"].IsMap()) {
    Node mesh = values["meshConfig"].IsMap() ? values["meshConfig"] : Node::Map();
    MergeFrom(mesh, spec["meshConfig"]);
    translated.Set("meshConfig", mesh);
  }
  (void)SetPath(translated, "pilot.enabled", BoolNode(ComponentEnabled(spec["components"]["pilot"])));
  MergeFrom(translated, values);
  if (spec["unvalidatedValues"].IsMap()) {
    MergeFrom(translated, spec["unvalidatedValues"]);
  }
  out.user_values = translated;

  // 6. Chart defaults < helm profile < user values.
  MESH_ASSIGN_OR_RETURN(Node chart, ParseEmbedded("manifests/values.yaml"));
  std::string helm_profile = translated["profile"].Str();
  if (!helm_profile.empty()) {
    std::string path = "manifests/helm-profiles/" + helm_profile + ".yaml";
    if (!EmbeddedFile(path).empty()) {
      MESH_ASSIGN_OR_RETURN(Node hp, ParseEmbedded(path));
      MergeFrom(chart, hp);
    }
  }
  MergeFrom(chart, translated);
  CheckGatewayPorts(chart, errors);
  // Proxies find istiod through its Service, which depends on revision and namespace.
  if (GetPath(chart, "meshConfig.defaultConfig.discoveryAddress").Str().empty()) {
    std::string rev = chart["revision"].Str();
    std::string pilot_ns = spec["components"]["pilot"]["namespace"].Str();
    if (pilot_ns.empty()) {
      pilot_ns = chart["global"]["istioNamespace"].Str().empty() ? "istio-system" : chart["global"]["istioNamespace"].Str();
    }
    (void)SetPath(chart, "meshConfig.defaultConfig.discoveryAddress",
                  StringNode(common::StrCat("istiod", rev.empty() || rev == "default" ? "" : "-" + rev, ".", pilot_ns,
                                            ".svc:15012")));
  }
  out.values = std::move(chart);

  std::string ns = out.values["global"]["istioNamespace"].Str();
  Node* meta = iop.FindMutable("metadata");
  if (meta == nullptr || !meta->IsMap()) {
    meta = &iop.Set("metadata", Node::Map());
  }
  meta->Set("namespace", StringNode(ns.empty() ? "istio-system" : ns));
  out.iop = std::move(iop);

  if (!errors.empty()) {
    if (!inputs.force) {
      return absl::InvalidArgumentError(common::Join(errors, "\n"));
    }
    for (const std::string& e : errors) {
      out.warnings.push_back(e);
    }
    out.warnings.push_back("spec invalid; continuing because of --force");
  }
  return out;
}

std::vector<std::string> FlattenPaths(const Node& node, const std::string& prefix) {
  std::vector<std::string> out;
  if (node.IsMap()) {
    for (const auto& [k, v] : node.entries()) {
      std::string key = k;
      std::string escaped;
      for (char c : key) {
        if (c == '.') {
          escaped += "\\.";
        } else {
          escaped.push_back(c);
        }
      }
      auto sub = FlattenPaths(v, prefix.empty() ? escaped : prefix + "." + escaped);
      out.insert(out.end(), sub.begin(), sub.end());
    }
    return out;
  }
  if (node.IsSequence()) {
    if (node.items().empty()) {
      out.push_back(prefix + "=[]");
    }
    for (size_t i = 0; i < node.items().size(); ++i) {
      auto sub = FlattenPaths(node.items()[i], common::StrCat(prefix, "[", i, "]"));
      out.insert(out.end(), sub.begin(), sub.end());
    }
    return out;
  }
  if (node.IsNull()) {
    return out;
  }
  if (node.quoted() || !(node.LooksNumeric() || node.LooksBool())) {
    out.push_back(prefix + "=" + config::JsonQuote(node.Str()));
  } else {
    out.push_back(prefix + "=" + node.Str());
  }
  return out;
}

}  // namespace mesh::install
