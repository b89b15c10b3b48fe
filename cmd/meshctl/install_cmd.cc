// meshctl install | uninstall | verify-install | manifest generate | profile list|dump|diff
// Flags and printing only; the work is in mesh/install.

#include <cctype>
#include <chrono>
#include <fstream>
#include <iostream>
#include <memory>

#include "cmd/meshctl/commands.h"
#include "cmd/meshctl/exit_codes.h"
#include "cmd/meshctl/local_state.h"
#include "cmd/meshctl/target.h"
#include "mesh/common/file_util.h"
#include "mesh/common/strings.h"
#include "mesh/config/emit.h"
#include "mesh/install/embedded_data.h"
#include "mesh/install/installer.h"
#include "mesh/install/iop.h"
#include "mesh/install/kube_installer.h"
#include "mesh/install/render.h"
#include "mesh/install/tree.h"

namespace meshctl {
namespace {

using mesh::install::MergeInputs;

// Flags shared by install, manifest generate, verify-install and profile dump.
struct RenderFlags {
  std::vector<std::string> files;
  std::vector<std::string> sets;
  std::string profile;
  std::string revision;
  bool force = false;

  void Add(CLI::App* cmd) {
    cmd->add_option("-f,--filename", files,
                    "IstioOperator overlay files, applied left to right (\"-\" reads stdin)")
        ->delimiter(',');
    cmd->add_option("-s,--set", sets,
                    "Override a value: spec-relative path=value, e.g. values.global.hub=my.registry (repeatable)");
    cmd->add_option("--profile", profile, "Built-in profile (same as --set profile=NAME)");
    cmd->add_option("-r,--revision", revision, "Control plane revision (same as --set revision=NAME)");
    cmd->add_flag("--force", force, "Continue despite validation errors (they become warnings)");
  }

  MergeInputs Inputs() const {
    MergeInputs in;
    in.files = files;
    in.set_flags = sets;
    in.profile = profile;
    in.revision = revision;
    in.force = force;
    return in;
  }
};

void PrintWarnings(const std::vector<std::string>& warnings) {
  for (const std::string& w : warnings) {
    std::cerr << "! " << w << "\n";
  }
}

int Fail(const absl::Status& status) {
  PrintError(status);
  return ExitCodeFor(status);
}

absl::StatusOr<mesh::install::Manifest> MergeAndRender(const MergeInputs& in, mesh::install::MergedConfig* merged) {
  auto config = mesh::install::MergeInstallConfig(in);
  if (!config.ok()) {
    return config.status();
  }
  PrintWarnings(config->warnings);
  auto manifest = mesh::install::RenderManifest(*config);
  if (manifest.ok() && merged != nullptr) {
    *merged = std::move(*config);
  }
  return manifest;
}

// Go-style durations as istioctl takes them: "300s", "5m", "1m30s", "500ms", "2h".
absl::StatusOr<std::chrono::milliseconds> ParseDuration(const std::string& text) {
  if (text.empty()) {
    return absl::InvalidArgumentError("empty duration");
  }
  std::chrono::milliseconds total{0};
  size_t i = 0;
  while (i < text.size()) {
    size_t start = i;
    while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) {
      ++i;
    }
    if (start == i) {
      return absl::InvalidArgumentError(mesh::common::StrCat("invalid duration \"", text, "\""));
    }
    double value = std::stod(text.substr(start, i - start));
    size_t unit_start = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) {
      ++i;
    }
    std::string unit = text.substr(unit_start, i - unit_start);
    double ms = 0;
    if (unit == "ms") {
      ms = value;
    } else if (unit == "s") {
      ms = value * 1000;
    } else if (unit == "m") {
      ms = value * 60000;
    } else if (unit == "h") {
      ms = value * 3600000;
    } else {
      return absl::InvalidArgumentError(
          mesh::common::StrCat("invalid duration \"", text, "\": unit must be ms, s, m or h"));
    }
    total += std::chrono::milliseconds(static_cast<int64_t>(ms));
  }
  return total;
}

void PrintLine(const std::string& line) { std::cout << line << "\n" << std::flush; }

struct KubeInstallFlags {
  bool wait = true;
  bool force_conflicts = false;
  std::string readiness_timeout = "300s";
};

int InstallKube(CliContext& ctx, const Target& target, const mesh::install::Manifest& manifest,
                const mesh::install::MergedConfig& config, const KubeInstallFlags& kf, bool yes, bool dry_run) {
  auto timeout = ParseDuration(kf.readiness_timeout);
  if (!timeout.ok()) {
    PrintError(timeout.status());
    return kExitUsage;
  }
  auto kube = OpenKubeTarget(ctx, target);
  if (!kube.ok()) {
    return Fail(kube.status());
  }
  if (dry_run) {
    for (const auto& o : manifest.objects) {
      std::cout << "  apply " << o.kind << " " << (o.ns.empty() ? o.name : o.ns + "/" + o.name) << "\n";
    }
    std::cout << "Dry run: would apply " << manifest.objects.size() << " objects to " << kube->description
              << "; nothing was changed.\n";
    return kExitOk;
  }
  if (!yes) {
    std::string prompt = mesh::common::StrCat("This will install the Istio ", manifest.version, " profile \"",
                                              config.profile, "\" into the cluster ", kube->description, ".");
    if (!Confirm(prompt)) {
      return kExitFailure;
    }
  }
  mesh::install::KubeInstallOptions opts;
  opts.force_conflicts = kf.force_conflicts;
  opts.wait = kf.wait;
  opts.readiness_timeout = *timeout;
  opts.progress = PrintLine;
  auto result = mesh::install::InstallToCluster(*kube->client, manifest, config, opts);
  if (!result.ok()) {
    std::cout << "\u2718 Installation failed: " << std::string(result.status().message()) << "\n";
    return ExitCodeFor(result.status());
  }
  std::cout << (kf.wait ? "\u2714 Installation complete\n" : "\u2714 Installation applied (readiness not checked)\n");
  std::cout << mesh::common::StrCat("Applied ", result->applied, " objects to ", kube->description, " (", "pruned ",
                                    result->pruned.size(), ").\n");
  return kExitOk;
}

void RegisterManifest(CLI::App& app, CliContext& ctx) {
  auto* manifest = app.add_subcommand("manifest", "Render the Istio control plane manifests");
  manifest->require_subcommand(1);
  auto* gen = manifest->add_subcommand("generate", "Print the Kubernetes objects an install would apply");
  auto flags = std::make_shared<RenderFlags>();
  auto output = std::make_shared<std::string>();
  flags->Add(gen);
  gen->add_option("-o,--output", *output, "Write the manifest to this file instead of stdout");
  gen->callback([flags, output, &ctx] {
    auto manifest = MergeAndRender(flags->Inputs(), nullptr);
    if (!manifest.ok()) {
      ctx.exit_code = Fail(manifest.status());
      return;
    }
    std::string yaml = mesh::install::ManifestToYaml(manifest->objects);
    if (!output->empty()) {
      if (auto st = mesh::common::WriteFileAtomic(*output, yaml); !st.ok()) {
        ctx.exit_code = Fail(st);
        return;
      }
    } else {
      std::cout << yaml;
    }
    ctx.exit_code = kExitOk;
  });
}

std::vector<std::string> Lines(const std::string& text) { return mesh::common::Split(text, '\n'); }

// A minimal line diff (LCS) for `profile diff`.
std::string LineDiff(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  size_t n = a.size(), m = b.size();
  std::vector<std::vector<int>> lcs(n + 1, std::vector<int>(m + 1, 0));
  for (size_t i = n; i-- > 0;) {
    for (size_t j = m; j-- > 0;) {
      lcs[i][j] = a[i] == b[j] ? lcs[i + 1][j + 1] + 1 : std::max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  std::string out;
  size_t i = 0, j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] == b[j]) {
      out += " " + a[i] + "\n";
      ++i;
      ++j;
    } else if (i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1])) {
      out += "-" + a[i] + "\n";
      ++i;
    } else {
      out += "+" + b[j] + "\n";
      ++j;
    }
  }
  return out;
}

void RegisterProfile(CLI::App& app, CliContext& ctx) {
  auto* profile = app.add_subcommand("profile", "List, dump and compare the built-in installation profiles");
  profile->require_subcommand(1);

  auto* list = profile->add_subcommand("list", "List the built-in profiles");
  list->callback([&ctx] {
    std::cout << "Istio configuration profiles:\n";
    for (const std::string& name : mesh::install::BuiltinProfileNames()) {
      std::cout << "    " << name << "\n";
    }
    ctx.exit_code = kExitOk;
  });

  auto* dump = profile->add_subcommand("dump", "Print a profile merged over default (with -f/--set applied)");
  auto flags = std::make_shared<RenderFlags>();
  auto name = std::make_shared<std::string>();
  auto output = std::make_shared<std::string>("yaml");
  auto config_path = std::make_shared<std::string>();
  dump->add_option("profile", *name, "Profile name (default: default)");
  flags->Add(dump);
  dump->add_option("-o,--output", *output, "Output format: yaml|json|flags")
      ->check(CLI::IsMember({"yaml", "json", "flags"}));
  dump->add_option("-p,--config-path", *config_path, "Only print this subtree, e.g. components.pilot");
  dump->callback([flags, name, output, config_path, &ctx] {
    MergeInputs in = flags->Inputs();
    if (!name->empty()) {
      in.profile = *name;
    }
    auto config = mesh::install::MergeInstallConfig(in);
    if (!config.ok()) {
      ctx.exit_code = Fail(config.status());
      return;
    }
    PrintWarnings(config->warnings);
    mesh::config::Node tree = mesh::install::SortedKeys(config->iop["spec"]);
    if (!config_path->empty()) {
      std::string_view p = *config_path;
      mesh::common::ConsumePrefix(p, "spec.");
      tree = mesh::install::GetPath(tree, p);
      if (tree.IsNull()) {
        ctx.exit_code = Fail(absl::NotFoundError(mesh::common::StrCat("path ", *config_path, " not found")));
        return;
      }
    } else {
      mesh::config::Node whole = mesh::config::Node::Map();
      whole.Set("apiVersion", mesh::config::Node::Scalar("install.istio.io/v1alpha1"));
      whole.Set("kind", mesh::config::Node::Scalar("IstioOperator"));
      whole.Set("spec", tree);
      tree = whole;
    }
    if (*output == "json") {
      std::cout << mesh::config::EmitJson(tree) << "\n";
    } else if (*output == "flags") {
      const mesh::config::Node& t = config_path->empty() ? tree["spec"] : tree;
      // Paths are relative to --config-path (istioctl's flags format).
      for (const std::string& line : mesh::install::FlattenPaths(t, "")) {
        std::cout << line << "\n";
      }
    } else {
      std::cout << mesh::config::EmitYaml(tree);
    }
    ctx.exit_code = kExitOk;
  });

  auto* diff = profile->add_subcommand("diff", "Show the differences between two profiles (exit 1 if they differ)");
  auto a = std::make_shared<std::string>();
  auto b = std::make_shared<std::string>();
  diff->add_option("profile-a", *a, "First profile")->required();
  diff->add_option("profile-b", *b, "Second profile")->required();
  diff->callback([a, b, &ctx] {
    std::string texts[2];
    const std::string* names[2] = {a.get(), b.get()};
    for (int i = 0; i < 2; ++i) {
      MergeInputs in;
      in.profile = *names[i];
      auto config = mesh::install::MergeInstallConfig(in);
      if (!config.ok()) {
        ctx.exit_code = Fail(config.status());
        return;
      }
      mesh::config::Node spec = mesh::install::SortedKeys(config->iop["spec"]);
      spec.Erase("profile");
      texts[i] = mesh::config::EmitYaml(spec);
    }
    if (texts[0] == texts[1]) {
      std::cout << "Profiles are identical\n";
      ctx.exit_code = kExitOk;
      return;
    }
    std::cout << "The difference between profiles:\n" << LineDiff(Lines(texts[0]), Lines(texts[1]));
    ctx.exit_code = kExitFailure;
  });
}

void RegisterInstall(CLI::App& app, CliContext& ctx) {
  auto* install = app.add_subcommand("install", "Install the mesh control plane into a cluster or the local mesh state");
  install->alias("upgrade");  // as istioctl: upgrade is install
  auto flags = std::make_shared<RenderFlags>();
  auto yes = std::make_shared<bool>(false);
  auto dry_run = std::make_shared<bool>(false);
  flags->Add(install);
  install->add_flag("-y,--skip-confirmation", *yes, "Do not ask for confirmation");
  install->add_flag("--dry-run", *dry_run, "Show what would change without changing anything");
  auto verify = std::make_shared<bool>(false);
  auto kf = std::make_shared<KubeInstallFlags>();
  install->add_flag("--verify", *verify, "Run verify-install after installing");
  install->add_option("--readiness-timeout", kf->readiness_timeout,
                      "Cluster: how long to wait for the Deployments to be ready (Go duration, default 300s); "
                      "local state: ignored");
  install->add_flag("--wait,!--no-wait", kf->wait, "Cluster: wait for readiness (--wait=false skips it)");
  install->add_flag("--force-conflicts", kf->force_conflicts,
                    "Cluster: take over fields another field manager owns (server-side apply force)");
  AddTargetFlags(install, ctx);
  install->callback([flags, yes, dry_run, verify, kf, &ctx] {
    mesh::install::MergedConfig config;
    auto manifest = MergeAndRender(flags->Inputs(), &config);
    if (!manifest.ok()) {
      ctx.exit_code = Fail(manifest.status());
      return;
    }
    auto target = ResolveTarget(ctx);
    if (!target.ok()) {
      PrintError(target.status());
      ctx.exit_code = kExitUsage;
      return;
    }
    if (target->kube) {
      ctx.exit_code = InstallKube(ctx, *target, *manifest, config, *kf, *yes, *dry_run);
      return;
    }
    PrintLocalTarget(*target);
    auto store = OpenState(ctx);
    if (!store.ok()) {
      ctx.exit_code = Fail(store.status());
      return;
    }
    std::string state_dir = ResolveStateDir(ctx);
    auto plan = mesh::install::PlanInstall(**store, *manifest, config);
    if (!plan.ok()) {
      ctx.exit_code = Fail(plan.status());
      return;
    }
    if (*dry_run) {
      for (const auto& c : plan->changes) {
        std::cout << "  " << mesh::install::ChangeActionName(c.action) << " " << c.key.ToString() << "\n";
      }
      std::cout << mesh::common::StrCat("Dry run: would create ", plan->Count(mesh::install::ChangeAction::kCreate),
                                        ", update ", plan->Count(mesh::install::ChangeAction::kUpdate),
                                        ", prune ", plan->Count(mesh::install::ChangeAction::kPrune),
                                        " objects (", plan->Count(mesh::install::ChangeAction::kUnchanged),
                                        " unchanged); nothing was changed.\n");
      ctx.exit_code = kExitOk;
      return;
    }
    if (!*yes) {
      std::string prompt = mesh::common::StrCat("This will install the Istio ", manifest->version, " profile \"",
                                                config.profile, "\" into the local mesh state (", state_dir, ").");
      if (!Confirm(prompt)) {
        ctx.exit_code = kExitFailure;
        return;
      }
    }
    // Plan again under the lock: another meshctl may have changed the state while the
    // prompt was waiting.
    auto st = (*store)->Transaction([&]() -> absl::Status {
      auto fresh = mesh::install::PlanInstall(**store, *manifest, config);
      if (!fresh.ok()) {
        return fresh.status();
      }
      *plan = std::move(*fresh);
      return mesh::install::ExecuteInstall(**store, *plan, [](const std::string& component) {
        std::cout << "\u2714 " << mesh::install::ComponentDisplayName(component) << " installed\n" << std::flush;
      });
    });
    if (!st.ok()) {
      std::cout << "\u2718 Installation failed: " << std::string(st.message()) << "\n";
      ctx.exit_code = ExitCodeFor(st);
      return;
    }
    std::cout << "\u2714 Installation complete\n";
    if (plan->NoChanges()) {
      std::cout << mesh::common::StrCat("No changes: all ", plan->changes.size(), " objects are up to date in ",
                                        state_dir, ".\n");
    } else {
      std::cout << mesh::common::StrCat("Applied to ", state_dir, ": ",
                                        plan->Count(mesh::install::ChangeAction::kCreate), " created, ",
                                        plan->Count(mesh::install::ChangeAction::kUpdate), " updated, ",
                                        plan->Count(mesh::install::ChangeAction::kUnchanged), " unchanged, ",
                                        plan->Count(mesh::install::ChangeAction::kPrune), " pruned.\n");
    }
    ctx.exit_code = kExitOk;
    if (*verify) {
      auto result = mesh::install::VerifyInstall(**store, *manifest);
      if (!result.ok()) {
        ctx.exit_code = Fail(result.status());
      } else if (result->ok()) {
        std::cout << "\u2714 Istio is installed and verified successfully\n";
      } else {
        std::cout << "\u2718 Istio installation differs from the rendered manifest (run meshctl verify-install)\n";
        ctx.exit_code = kExitFailure;
      }
    }
  });
}

void RegisterUninstall(CLI::App& app, CliContext& ctx) {
  auto* cmd = app.add_subcommand("uninstall", "Remove the control plane (and with --purge everything) from the cluster or local state");
  auto purge = std::make_shared<bool>(false);
  auto yes = std::make_shared<bool>(false);
  auto dry_run = std::make_shared<bool>(false);
  auto revision = std::make_shared<std::string>("default");
  cmd->add_flag("--purge", *purge, "Remove every installed object, CRDs (and the Istio config they hold) included");
  cmd->add_flag("-y,--skip-confirmation", *yes, "Do not ask for confirmation");
  cmd->add_flag("--dry-run", *dry_run, "Show what would be removed without removing it");
  cmd->add_option("-r,--revision", *revision, "Revision to remove (without --purge)");
  auto propagation = std::make_shared<std::string>("Background");
  cmd->add_option("--propagation-policy", *propagation,
                  "Cluster: DeleteOptions.propagationPolicy (Background, Foreground needs the garbage collector)")
      ->check(CLI::IsMember({"Background", "Foreground", "Orphan"}));
  AddTargetFlags(cmd, ctx);
  cmd->callback([purge, yes, dry_run, revision, propagation, &ctx] {
    auto target = ResolveTarget(ctx);
    if (!target.ok()) {
      PrintError(target.status());
      ctx.exit_code = kExitUsage;
      return;
    }
    if (target->kube) {
      auto kube = OpenKubeTarget(ctx, *target);
      if (!kube.ok()) {
        ctx.exit_code = Fail(kube.status());
        return;
      }
      mesh::install::KubeUninstallOptions opts;
      opts.purge = *purge;
      opts.revision = *revision;
      opts.propagation_policy = *propagation;
      opts.dry_run = true;
      auto planned = mesh::install::UninstallFromCluster(*kube->client, opts);
      if (!planned.ok()) {
        ctx.exit_code = Fail(planned.status());
        return;
      }
      if (planned->empty()) {
        std::cout << "Nothing to uninstall.\n";
        ctx.exit_code = kExitOk;
        return;
      }
      if (*dry_run) {
        for (const auto& k : *planned) {
          std::cout << "Not pruning object " << k << " because of dry run.\n";
        }
        ctx.exit_code = kExitOk;
        return;
      }
      if (!*yes) {
        std::string prompt = *purge ? mesh::common::StrCat("All Istio resources will be pruned from the cluster ",
                                                           kube->description, ", CRDs included.")
                                    : mesh::common::StrCat("The control plane and gateways of revision ", *revision,
                                                           " will be removed from the cluster ", kube->description,
                                                           " (CRDs are kept).");
        if (!Confirm(prompt)) {
          ctx.exit_code = kExitFailure;
          return;
        }
      }
      opts.dry_run = false;
      opts.progress = PrintLine;
      auto removed = mesh::install::UninstallFromCluster(*kube->client, opts);
      if (!removed.ok()) {
        ctx.exit_code = Fail(removed.status());
        return;
      }
      std::cout << "\u2714 Uninstall complete (" << removed->size() << " objects removed)\n";
      ctx.exit_code = kExitOk;
      return;
    }
    PrintLocalTarget(*target);
    if (!StateExists(ctx)) {
      std::cout << "Nothing to uninstall.\n";
      ctx.exit_code = kExitOk;
      return;
    }
    auto store = OpenState(ctx);
    if (!store.ok()) {
      ctx.exit_code = Fail(store.status());
      return;
    }
    auto plan = mesh::install::PlanUninstall(**store, *purge, *revision);
    if (!plan.ok()) {
      ctx.exit_code = Fail(plan.status());
      return;
    }
    if (plan->deletes.empty()) {
      std::cout << "Nothing to uninstall.\n";
      ctx.exit_code = kExitOk;
      return;
    }
    if (*dry_run) {
      for (const auto& k : plan->deletes) {
        std::cout << "Not pruning object " << k.ToString() << " because of dry run.\n";
      }
      ctx.exit_code = kExitOk;
      return;
    }
    if (!*yes) {
      std::string prompt = *purge ? "All Istio resources will be pruned from the local mesh state.\n"
                                  : mesh::common::StrCat("The control plane and gateways of revision ", *revision,
                                                         " will be removed (CRDs are kept).\n");
      if (!Confirm(prompt.substr(0, prompt.size() - 1))) {
        ctx.exit_code = kExitFailure;
        return;
      }
    }
    auto st = mesh::install::ExecuteUninstall(**store, *plan, [](const mesh::store::ObjectKey& k) {
      std::cout << "  Removed " << k.kind << "/" << (k.ns.empty() ? "" : k.ns + "/") << k.name << ".\n";
    });
    if (!st.ok()) {
      ctx.exit_code = Fail(st);
      return;
    }
    std::cout << "\u2714 Uninstall complete\n";
    ctx.exit_code = kExitOk;
  });
}

int VerifyKube(CliContext& ctx, const Target& target, MergeInputs in) {
  auto kube = OpenKubeTarget(ctx, target);
  if (!kube.ok()) {
    return Fail(kube.status());
  }
  if (in.files.empty() && in.set_flags.empty() && in.profile.empty()) {
    auto installed = mesh::install::ReadClusterInstalledState(*kube->client, "istio-system",
                                                              in.revision.empty() ? "default" : in.revision);
    if (!installed.ok()) {
      return Fail(installed.status());
    }
    in.overlays.push_back(*installed);
  }
  auto manifest = MergeAndRender(in, nullptr);
  if (!manifest.ok()) {
    return Fail(manifest.status());
  }
  auto result = mesh::install::VerifyClusterInstall(*kube->client, *manifest);
  if (!result.ok()) {
    return Fail(result.status());
  }
  int crds = 0, deployments = 0, problems = 0;
  for (const auto& item : result->items) {
    std::string id = item.ns.empty() ? item.name : item.name + "." + item.ns;
    if (item.ok) {
      std::cout << "\u2714 " << item.kind << ": " << id << " checked successfully\n";
    } else {
      std::cout << "\u2718 " << item.kind << ": " << id << ": " << item.problem << "\n";
      ++problems;
    }
    crds += item.kind == "CustomResourceDefinition" ? 1 : 0;
    deployments += item.kind == "Deployment" ? 1 : 0;
  }
  for (const auto& k : result->extra) {
    std::cout << "\u2718 " << k << ": installed but no longer rendered\n";
    ++problems;
  }
  std::cout << "Checked " << crds << " custom resource definitions\n";
  std::cout << "Checked " << deployments << " Istio Deployments\n";
  if (problems == 0) {
    std::cout << "\u2714 Istio is installed and verified successfully\n";
    return kExitOk;
  }
  std::cout << "\u2718 Istio installation differs from the rendered manifest: " << problems << " problem(s)\n";
  return kExitFailure;
}

void RegisterVerifyInstall(CLI::App& app, CliContext& ctx) {
  auto* cmd = app.add_subcommand("verify-install",
                                 "Compare the cluster or local mesh state with a fresh render of the installed configuration");
  auto flags = std::make_shared<RenderFlags>();
  flags->Add(cmd);
  AddTargetFlags(cmd, ctx);
  cmd->callback([flags, &ctx] {
    auto target = ResolveTarget(ctx);
    if (!target.ok()) {
      PrintError(target.status());
      ctx.exit_code = kExitUsage;
      return;
    }
    if (target->kube) {
      ctx.exit_code = VerifyKube(ctx, *target, flags->Inputs());
      return;
    }
    PrintLocalTarget(*target);
    if (!StateExists(ctx)) {
      ctx.exit_code = Fail(absl::NotFoundError(
          mesh::common::StrCat("no mesh state in ", ResolveStateDir(ctx), " (run meshctl install first)")));
      return;
    }
    auto store = OpenState(ctx);
    if (!store.ok()) {
      ctx.exit_code = Fail(store.status());
      return;
    }
    MergeInputs in = flags->Inputs();
    if (in.files.empty() && in.set_flags.empty() && in.profile.empty()) {
      // Default: what the last install (of that revision) recorded.
      auto installed = mesh::install::ReadInstalledState(**store, "istio-system",
                                                         in.revision.empty() ? "default" : in.revision);
      if (!installed.ok()) {
        ctx.exit_code = Fail(installed.status());
        return;
      }
      in.overlays.push_back(*installed);
    }
    auto manifest = MergeAndRender(in, nullptr);
    if (!manifest.ok()) {
      ctx.exit_code = Fail(manifest.status());
      return;
    }
    auto result = mesh::install::VerifyInstall(**store, *manifest);
    if (!result.ok()) {
      ctx.exit_code = Fail(result.status());
      return;
    }
    int crds = 0, deployments = 0, problems = 0;
    for (const auto& item : result->items) {
      std::string id = item.key.ns.empty() ? item.key.name : item.key.name + "." + item.key.ns;
      if (item.ok) {
        std::cout << "\u2714 " << item.key.kind << ": " << id << " checked successfully\n";
      } else {
        std::cout << "\u2718 " << item.key.kind << ": " << id << ": " << item.problem << "\n";
        ++problems;
      }
      crds += item.key.kind == "CustomResourceDefinition" ? 1 : 0;
      deployments += item.key.kind == "Deployment" ? 1 : 0;
    }
    for (const auto& k : result->extra) {
      std::cout << "\u2718 " << k.kind << ": " << (k.ns.empty() ? k.name : k.name + "." + k.ns)
                << ": installed but no longer rendered\n";
      ++problems;
    }
    std::cout << "Checked " << crds << " custom resource definitions\n";
    std::cout << "Checked " << deployments << " Istio Deployments\n";
    if (problems == 0) {
      std::cout << "\u2714 Istio is installed and verified successfully\n";
      ctx.exit_code = kExitOk;
    } else {
      std::cout << "\u2718 Istio installation differs from the rendered manifest: " << problems << " problem(s)\n";
      ctx.exit_code = kExitFailure;
    }
  });
}

}  // namespace

void RegisterInstallCommand(CLI::App& app, CliContext& ctx) {
  RegisterManifest(app, ctx);
  RegisterProfile(app, ctx);
  RegisterInstall(app, ctx);
  RegisterUninstall(app, ctx);
  RegisterVerifyInstall(app, ctx);
}

}  // namespace meshctl
