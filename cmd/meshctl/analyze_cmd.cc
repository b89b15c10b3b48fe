// `meshctl analyze`: flags (istioctl-compatible) -> mesh::analyze::RunAnalyze -> print.

#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <iostream>

#include "cmd/meshctl/commands.h"
#include "cmd/meshctl/exit_codes.h"
#include "cmd/meshctl/local_state.h"
#include "cmd/meshctl/target.h"
#include "mesh/analyze/analysis.h"
#include "mesh/kube/resource_names.h"

namespace meshctl {
namespace {

struct AnalyzeFlags {
  mesh::analyze::AnalyzeRequest request;
  std::string use_kube = "false";
  std::string failure_threshold = "Error";
  std::string output_threshold = "Info";
  std::string color = "auto";
  bool list_analyzers = false;
  bool recursive = false;
  std::string timeout;
  std::string revision;
  std::string istio_namespace = "istio-system";
};

bool ColorEnabled(const std::string& mode) {
  if (mode == "always" || mode == "true") {
    return true;
  }
  if (mode == "never" || mode == "false") {
    return false;
  }
  const char* term = std::getenv("TERM");
  return ::isatty(STDOUT_FILENO) && term != nullptr && std::string(term) != "dumb";
}

int ExitCodeFor(mesh::analyze::AnalyzeResult r) {
  switch (r) {
    case mesh::analyze::AnalyzeResult::kOk: return kExitOk;
    case mesh::analyze::AnalyzeResult::kIssuesFound: return kExitAnalyzerFoundIssues;
    case mesh::analyze::AnalyzeResult::kParseError: return kExitDataError;
    case mesh::analyze::AnalyzeResult::kUsageError: return kExitUsage;
    case mesh::analyze::AnalyzeResult::kFailure: return kExitFailure;
  }
  return kExitFailure;
}

}  // namespace

void RegisterAnalyzeCommand(CLI::App& app, CliContext& ctx) {
  auto flags = std::make_shared<AnalyzeFlags>();
  auto& req = flags->request;
  auto* cmd = app.add_subcommand(
      "analyze",
      "Analyze Istio configuration and report problems (istioctl analyze compatible)");
  cmd->footer(
      "Examples:\n"
      "  meshctl analyze examples/seed/               # a directory, recursively\n"
      "  meshctl analyze -A -o json a.yaml b.yaml\n"
      "  kubectl get vs -A -o yaml | meshctl analyze -\n"
      "  meshctl analyze -S \"IST0103=Pod testing/*\" cfg/\n"
      "Exit codes: 0 ok, 79 issues at/above --failure-threshold (in every output format),\n"
      "65 unparsable input, 64 usage error, 1 other errors.");
  cmd->add_option("files", req.paths, "Files or directories to analyze ('-' reads stdin)");
  cmd->add_flag("-A,--all-namespaces", req.all_namespaces, "Analyze all namespaces");
  cmd->add_option("-n,--namespace", req.ns, "Namespace for resources without one, and to report on");
  cmd->add_option("-i,--istioNamespace", flags->istio_namespace, "Istio system namespace");
  cmd->add_option("-k,--use-kube", flags->use_kube,
                  "Also analyze the live objects: the cluster, or the local mesh state (see docs/KUBERNETES.md); default false")
      ->expected(0, 1)
      ->default_str("false");
  cmd->add_option("-o,--output", req.output, "Output format: one of log|json|yaml|sarif (case-insensitive)");
  cmd->add_option("--failure-threshold", flags->failure_threshold,
                  "Lowest level that makes the command fail (Info, Warning, Error)");
  cmd->add_option("--output-threshold", flags->output_threshold,
                  "Lowest level of messages printed (Info, Warning, Error)");
  cmd->add_option("-S,--suppress", req.suppress,
                  "Suppress messages: <code>=<resource> where resource is a glob over \"Kind ns/name\", "
                  "e.g. \"IST0103=Pod testing/*\"")
      ->allow_extra_args(false);  // one value per flag: files may follow
  cmd->add_flag("-L,--list-analyzers", flags->list_analyzers, "List the analyzers and exit");
  cmd->add_option("--analyzer", req.analyzer_names, "Run only this analyzer (repeatable)")
      ->allow_extra_args(false);  // one name per flag: files may follow
  cmd->add_option("--meshConfigFile", req.mesh_config_file, "Mesh config (YAML) to analyze with");
  cmd->add_option("--meshNetworksFile", req.mesh_networks_file, "Mesh networks (YAML) to analyze with");
  cmd->add_flag("--ignore-unknown", req.ignore_unknown, "Do not fail on files that cannot be parsed");
  cmd->add_option("--color", flags->color, "Colour the level: auto|always|never (true/false accepted)")
      ->expected(0, 1);
  cmd->add_flag("-v,--verbose", req.verbose, "Print the analyzers that ran");
  cmd->add_flag("-R,--recursive", flags->recursive, "Ignored: directories are always walked recursively");
  cmd->add_option("--timeout", flags->timeout, "Accepted for istioctl compatibility; analysis has no timeout");
  cmd->add_option("-r,--revision", flags->revision, "Control plane revision (Kubernetes mode)");
  AddTargetFlags(cmd, ctx);

  cmd->callback([flags, &ctx] {
    auto& req = flags->request;
    if (flags->list_analyzers) {
      std::cout << mesh::analyze::ListAnalyzers();
      ctx.exit_code = kExitOk;
      return;
    }
    if (!mesh::analyze::ParseLevel(flags->failure_threshold, req.failure_threshold) ||
        !mesh::analyze::ParseLevel(flags->output_threshold, req.output_threshold)) {
      std::cerr << "Error: thresholds must be one of Info, Warning, Error\n";
      ctx.exit_code = kExitUsage;
      return;
    }
    if (flags->color != "auto" && flags->color != "always" && flags->color != "never" &&
        flags->color != "true" && flags->color != "false" && !flags->color.empty()) {
      std::cerr << "Error: --color must be one of auto, always, never\n";
      ctx.exit_code = kExitUsage;
      return;
    }
    if (flags->use_kube.empty() || flags->use_kube == "true") {
      // The live objects of the target (cluster or local state), merged with the files.
      auto target = ResolveTarget(ctx);
      if (!target.ok()) {
        std::cerr << "Error: " << std::string(target.status().message()) << "\n";
        ctx.exit_code = kExitUsage;
        return;
      }
      req.use_live = true;
      req.add_default_resources = false;  // the live objects are the real ones
      if (target->kube) {
        auto kube = OpenKubeTarget(ctx, *target);
        auto objects = kube.ok() ? mesh::kube::ListKnownObjects(*kube->client)
                                 : absl::StatusOr<std::vector<mesh::config::Node>>(kube.status());
        if (!objects.ok()) {
          std::cerr << "Error: " << std::string(objects.status().message()) << "\n";
          ctx.exit_code = kExitFailure;
          return;
        }
        req.live_objects = std::move(*objects);
      } else {
        PrintLocalTarget(*target);
        ReadState state(ctx);
        auto all = state.store.ok() ? (*state.store)->List({})
                                    : absl::StatusOr<std::vector<mesh::store::StoredObject>>(state.store.status());
        if (!all.ok()) {
          std::cerr << "Error: " << std::string(all.status().message()) << "\n";
          ctx.exit_code = kExitFailure;
          return;
        }
        for (auto& o : *all) {
          req.live_objects.push_back(std::move(o.object));
        }
      }
    } else if (flags->use_kube != "false") {
      std::cerr << "Error: --use-kube must be true or false\n";
      ctx.exit_code = kExitUsage;
      return;
    }
    for (char& c : req.output) {
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    req.color = ColorEnabled(flags->color.empty() ? "always" : flags->color);
    mesh::analyze::AnalyzeOutcome outcome = mesh::analyze::RunAnalyze(req);
    std::cout << outcome.out << std::flush;
    std::cerr << outcome.err << std::flush;
    ctx.exit_code = ExitCodeFor(outcome.result);
  });
}

}  // namespace meshctl
