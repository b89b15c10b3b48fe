#include "mesh/analyze/analysis.h"

#include <algorithm>
#include <set>
#include <tuple>

#include "mesh/analyze/format.h"
#include "mesh/common/file_util.h"
#include "mesh/common/strings.h"
#include "mesh/common/version.h"
#include "mesh/config/schema.h"
#include "mesh/config/yaml_loader.h"

namespace mesh::analyze {
namespace {

struct Suppression {
  std::string code;
  std::string resource_glob;
};

config::Resource MakeDefault(const std::string& yaml) {
  auto parsed = config::LoadText(yaml, "");
  config::Resource r = std::move(parsed.resources.front());
  return config::Resource::FromNode(r.root(), config::SourceRef{}).value();
}

void AddDefaultResources(World& world) {
  const std::string& ns = world.istio_namespace();
  if (world.Find(kinds::kPod, ns, "istio-ingressgateway-dummypod") == nullptr) {
    world.Add(MakeDefault("apiVersion: v1\nkind: Pod\nmetadata:\n  name: istio-ingressgateway-dummypod\n"
                          "  namespace: " + ns + "\n  labels:\n    istio: ingressgateway\n"
                          "spec:\n  containers:\n  - name: istio-proxy\n    image: proxyv2\n"));
  }
  if (world.Find(kinds::kService, ns, "istio-ingressgateway") == nullptr) {
    world.Add(MakeDefault("apiVersion: v1\nkind: Service\nmetadata:\n  name: istio-ingressgateway\n"
                          "  namespace: " + ns + "\nspec:\n  selector:\n    istio: ingressgateway\n"
                          "  ports:\n"
                          "  - {name: http2, port: 80, targetPort: 80, protocol: TCP}\n"
                          "  - {name: https, port: 443, targetPort: 443, protocol: TCP}\n"
                          "  - {name: tcp, port: 31400, targetPort: 31400, protocol: TCP}\n"
                          "  - {name: tls, port: 15443, targetPort: 15443, protocol: TCP}\n"));
  }
}

// Merges `overlay` into `base` key by key (maps merge, everything else replaces).
void MergeInto(config::Node& base, const config::Node& overlay) {
  if (!base.IsMap() || !overlay.IsMap()) {
    base = overlay;
    return;
  }
  for (const auto& [k, v] : overlay.entries()) {
    config::Node* existing = base.FindMutable(k);
    if (existing != nullptr && existing->IsMap() && v.IsMap()) {
      MergeInto(*existing, v);
    } else {
      base.Set(k, v);
    }
  }
}

bool Suppressed(const Message& m, const std::vector<Suppression>& suppressions,
                const config::Resource* resource) {
  for (const Suppression& s : suppressions) {
    if (s.code == m.type->code && m.has_origin && common::GlobMatch(s.resource_glob, m.origin.FriendlyName())) {
      return true;
    }
  }
  if (resource != nullptr) {
    auto it = resource->annotations().find("galley.istio.io/analyze-suppress");
    if (it != resource->annotations().end()) {
      for (const std::string& code : common::Split(it->second, ',', true)) {
        std::string c(common::StripWhitespace(code));
        if (c == "*" || c == m.type->code) {
          return true;
        }
      }
    }
  }
  return false;
}

std::string FilesSummary(const std::vector<std::string>& files) {
  if (files.size() == 1) {
    return files[0] + ".";
  }
  std::string out = ":";
  for (const std::string& f : files) {
    out += "\n  - " + f;
  }
  return out;
}

}  // namespace

std::vector<Message> RunAnalyzers(const World& world, const std::vector<const Analyzer*>& analyzers) {
  Context context(world);
  for (const Analyzer* a : analyzers) {
    a->Analyze(context);
  }
  std::vector<Message> messages = std::move(context.messages());
  SortAndDedup(messages);
  return messages;
}

std::string ListAnalyzers() {
  std::vector<const Analyzer*> sorted;
  for (const AnalyzerPtr& a : AllAnalyzers()) {
    sorted.push_back(a.get());
  }
  std::sort(sorted.begin(), sorted.end(),
            [](const Analyzer* a, const Analyzer* b) { return a->Metadata().name < b->Metadata().name; });
  std::string out = "Available analyzers:\n";
  for (const Analyzer* a : sorted) {
    out += common::StrCat("* ", a->Metadata().name, ":\n    ", a->Metadata().description, "\n");
  }
  return out;
}

AnalyzeOutcome RunAnalyze(const AnalyzeRequest& req) {
  AnalyzeOutcome outcome;
  auto fail = [&](AnalyzeResult result, const std::string& message) {
    outcome.result = result;
    outcome.err += "Error: " + message + "\n";
    return outcome;
  };

  if (req.output != "log" && req.output != "json" && req.output != "yaml" && req.output != "sarif") {
    return fail(AnalyzeResult::kUsageError,
                common::StrCat("invalid output format \"", req.output, "\": must be one of log, json, yaml, sarif"));
  }

  // Which analyzers run.
  std::vector<const Analyzer*> analyzers;
  if (req.analyzer_names.empty()) {
    for (const AnalyzerPtr& a : AllAnalyzers()) {
      analyzers.push_back(a.get());
    }
  } else {
    for (const std::string& name : req.analyzer_names) {
      const Analyzer* a = FindAnalyzer(name);
      if (a == nullptr) {
        return fail(AnalyzeResult::kUsageError,
                    common::StrCat("unknown analyzer \"", name, "\" (see meshctl analyze --list-analyzers)"));
      }
      analyzers.push_back(a);
    }
  }

  std::vector<Suppression> suppressions;
  for (const std::string& s : req.suppress) {
    size_t eq = s.find('=');
    if (eq == std::string::npos || s.find('=', eq + 1) != std::string::npos) {
      return fail(AnalyzeResult::kFailure,
                  common::StrCat("suppress argument \"", s, "\" should be of the form <code>=<resource>"));
    }
    Suppression sup{s.substr(0, eq), s.substr(eq + 1)};
    if (FindMessageType(sup.code) == nullptr) {
      outcome.err += common::StrCat("Warning: Supplied message code '", sup.code,
                                    "' is an unknown message code and will not have any effect.\n");
    }
    suppressions.push_back(std::move(sup));
  }

  if (req.paths.empty() && !req.use_live) {
    return fail(AnalyzeResult::kFailure,
                "at least one file or directory must be provided (or --use-kube=true to analyze the live objects)");
  }

  // Load inputs.
  auto loaded = req.paths.empty() ? absl::StatusOr<config::LoadResult>(config::LoadResult{})
                                  : config::LoadPaths(req.paths);
  if (!loaded.ok()) {
    return fail(AnalyzeResult::kFailure, std::string(loaded.status().message()));
  }
  if (req.use_live) {
    // Files override the live objects they name (istioctl's "files as overrides").
    std::set<std::tuple<std::string, std::string, std::string, std::string>> from_files;
    for (const config::Resource& r : loaded->resources) {
      from_files.insert({r.gvk().group, r.kind(), r.ns(), r.name()});
    }
    for (const config::Node& obj : req.live_objects) {
      auto r = config::Resource::FromNode(obj, config::SourceRef{});
      if (r.ok() && from_files.count({r->gvk().group, r->kind(), r->ns(), r->name()}) == 0) {
        loaded->resources.push_back(std::move(*r));
      }
    }
  }
  for (const std::string& f : loaded->skipped_files) {
    outcome.err += common::StrCat("Skipping file ", f, ", recognized file extensions are: [.json .yaml .yml]\n");
  }
  std::set<std::string> files_with_errors;
  if (!loaded->errors.empty()) {
    outcome.err += common::StrCat("Error(s) adding files: ", loaded->errors.size(),
                                  loaded->errors.size() == 1 ? " error occurred:\n" : " errors occurred:\n");
    for (const config::LoadError& e : loaded->errors) {
      outcome.err += "\t* " + e.ToString() + "\n";
      files_with_errors.insert(e.file);
    }
    outcome.err += "\n";
  }

  World world;
  std::string default_ns = req.all_namespaces ? "" : (req.ns.empty() ? "default" : req.ns);
  for (config::Resource& r : loaded->resources) {
    const config::KindSchema* schema = config::FindKind(r.gvk().group, r.kind());
    if (schema != nullptr && !schema->namespaced) {
      if (!r.ns().empty()) {
        r.set_namespace("");
      }
    } else if (r.ns().empty() && !default_ns.empty()) {
      r.set_namespace(default_ns);
    }
    world.Add(std::move(r));
  }
  if (!req.mesh_config_file.empty()) {
    auto text = common::ReadFile(req.mesh_config_file);
    auto node = text.ok() ? config::ParseYamlNode(*text, req.mesh_config_file)
                          : absl::StatusOr<config::Node>(text.status());
    if (!node.ok()) {
      // istioctl ignores a bad mesh config silently; we say so and use the defaults.
      outcome.err += common::StrCat("Warning: ignoring --meshConfigFile: ", std::string(node.status().message()), "\n");
    } else if (node->IsMap()) {
      config::Node merged = World::DefaultMeshConfig();
      MergeInto(merged, *node);
      world.set_mesh_config(std::move(merged));
      world.set_mesh_config_file(req.mesh_config_file);
    }
  }
  if (!req.mesh_networks_file.empty()) {
    auto text = common::ReadFile(req.mesh_networks_file);
    auto node = text.ok() ? config::ParseYamlNode(*text, req.mesh_networks_file)
                          : absl::StatusOr<config::Node>(text.status());
    if (!node.ok()) {
      return fail(AnalyzeResult::kFailure, std::string(node.status().message()));
    }
    world.set_mesh_networks(*node, req.mesh_networks_file);
  }
  if (req.add_default_resources) {
    AddDefaultResources(world);
  }

  std::vector<Message> messages = RunAnalyzers(world, analyzers);

  // Suppressions, then namespace filtering.
  std::vector<Message> kept;
  kept.reserve(messages.size());
  for (Message& m : messages) {
    const config::Resource* resource = nullptr;
    if (m.has_origin) {
      for (const config::KindSchema& k : config::AllKinds()) {
        if (k.kind == m.origin.kind) {
          resource = world.Find(KindRef{k.group, k.kind, k.kind}, m.origin.ns, m.origin.name);
          if (resource != nullptr) {
            break;
          }
        }
      }
    }
    if (Suppressed(m, suppressions, resource)) {
      continue;
    }
    if (!req.all_namespaces && m.has_origin && !m.origin.ns.empty() && m.origin.ns != default_ns) {
      continue;
    }
    if (!req.all_namespaces && m.has_origin && m.origin.kind == "Namespace" && m.origin.name != default_ns) {
      continue;
    }
    kept.push_back(std::move(m));
  }

  bool failing = std::any_of(kept.begin(), kept.end(), [&](const Message& m) {
    return static_cast<int>(m.type->level) <= static_cast<int>(req.failure_threshold);
  });
  std::vector<Message> shown;
  for (Message& m : kept) {
    if (static_cast<int>(m.type->level) <= static_cast<int>(req.output_threshold)) {
      shown.push_back(std::move(m));
    }
  }

  if (req.output == "log") {
    outcome.out = FormatLog(shown, req.color);
  } else if (req.output == "json") {
    outcome.out = FormatJson(shown) + "\n";
  } else if (req.output == "yaml") {
    outcome.out = FormatYaml(shown);
  } else {
    outcome.out = FormatSarif(shown);
  }

  std::string target = req.all_namespaces ? "all namespaces" : "namespace: " + default_ns;
  if (req.verbose) {
    std::string v = common::StrCat("Analyzed resources in ", target, "\nExecuted analyzers:\n");
    for (const Analyzer* a : analyzers) {
      v += "\t" + a->Metadata().name + "\n";
    }
    outcome.err += v + "\n";
  }

  size_t parse_errors = files_with_errors.size();
  if (shown.empty()) {
    if (parse_errors > 0) {
      outcome.err += common::StrCat("No validation issues found when analyzing ", target, " (but ", parse_errors,
                                    parse_errors == 1 ? " file" : " files", " could not be parsed).\n");
    } else {
      outcome.err += common::StrCat("\u2714 No validation issues found when analyzing ",
                                    req.paths.empty() ? target + "." : FilesSummary(req.paths), "\n");
    }
  }
  if (failing) {
    outcome.result = AnalyzeResult::kIssuesFound;
    outcome.err += common::StrCat("Error: Analyzers found issues when analyzing ", target, ".\n",
                                  "See https://istio.io/v", common::kIstioCompatVersion,
                                  "/docs/reference/config/analysis for more information about causes and "
                                  "resolutions.\n");
  } else if (parse_errors > 0 && !req.ignore_unknown) {
    outcome.result = AnalyzeResult::kParseError;
    outcome.err += "Error: Some files couldn't be parsed.\n";
  }
  outcome.messages = std::move(shown);
  return outcome;
}

}  // namespace mesh::analyze
