// `meshctl kube-inject` (offline sidecar injection into manifests) and `meshctl proxy
// init` (the init container's traffic capture, istio-iptables' flags).

#include <iostream>

#include "cmd/meshctl/commands.h"
#include "cmd/meshctl/exit_codes.h"
#include "cmd/meshctl/local_state.h"
#include "mesh/common/file_util.h"
#include "mesh/config/yaml_loader.h"
#include "mesh/inject/injector.h"
#include "mesh/inject/iptables.h"
#include "mesh/inject/webhook_server.h"

namespace meshctl {
namespace {

absl::StatusOr<std::string> ReadInput(const std::string& path) {
  if (path == "-") {
    return std::string(std::istreambuf_iterator<char>(std::cin), {});
  }
  return mesh::common::ReadFile(path);
}

// --values-file, else the installed injector's values in the local state, else defaults.
absl::StatusOr<mesh::inject::InjectionSettings> LoadSettings(const std::string& values_file, const CliContext& ctx) {
  if (!values_file.empty()) {
    auto text = mesh::common::ReadFile(values_file);
    if (!text.ok()) {
      return text.status();
    }
    auto values = mesh::config::ParseYamlNode(*text, values_file);
    if (!values.ok()) {
      return values.status();
    }
    // Accept the ConfigMap itself too (its `values` key holds the JSON).
    if ((*values)["kind"].Str() == "ConfigMap") {
      values = mesh::config::ParseYamlNode((*values)["data"]["values"].Str(), values_file + " data.values");
      if (!values.ok()) {
        return values.status();
      }
    }
    return mesh::inject::SettingsFromValues(*values);
  }
  if (StateExists(ctx)) {
    auto store = OpenState(ctx);
    if (!store.ok()) {
      return store.status();
    }
    return mesh::inject::SettingsFromStore(**store, "istio-system");
  }
  return mesh::inject::InjectionSettings{};
}

}  // namespace

void RegisterInjectCommands(CLI::App& app, CliContext& ctx) {
  struct KubeInjectFlags {
    std::vector<std::string> files;
    std::string output;
    std::string values_file;
  };
  auto ki = std::make_shared<KubeInjectFlags>();
  auto* kube_inject = app.add_subcommand(
      "kube-inject", "Add the sidecar to the workloads of Kubernetes manifests (offline), printing the result");
  kube_inject->add_option("-f,--filename", ki->files, "Input manifest file, or - for stdin (repeatable)");
  kube_inject->add_option("-o,--output", ki->output, "Write the result here instead of stdout");
  kube_inject->add_option("--values-file", ki->values_file,
                          "Injector values (YAML/JSON, or the istio-sidecar-injector ConfigMap); default: the "
                          "installed injector's in the local state, else built-in defaults");
  AddStateDirFlag(kube_inject, ctx);
  kube_inject->callback([ki, &ctx] {
    if (ki->files.empty()) {
      std::cerr << "Error: filename not specified (see --filename or -f)\n";
      ctx.exit_code = kExitUsage;
      return;
    }
    auto settings = LoadSettings(ki->values_file, ctx);
    if (!settings.ok()) {
      std::cerr << "Error: " << settings.status().message() << "\n";
      ctx.exit_code = kExitFailure;
      return;
    }
    std::string out;
    for (const std::string& f : ki->files) {
      auto text = ReadInput(f);
      if (!text.ok()) {
        std::cerr << "Error: " << text.status().message() << "\n";
        ctx.exit_code = kExitFailure;
        return;
      }
      auto result = mesh::inject::InjectManifest(*text, f == "-" ? "<stdin>" : f, *settings);
      if (!result.ok()) {
        std::cerr << "Error: " << result.status().message() << "\n";
        ctx.exit_code = kExitDataError;
        return;
      }
      for (const std::string& note : result->notes) {
        std::cerr << note << "\n";
      }
      if (!out.empty() && !result->yaml.empty()) {
        out += "---\n";
      }
      out += result->yaml;
    }
    if (ki->output.empty()) {
      std::cout << out;
    } else if (auto st = mesh::common::WriteFileAtomic(ki->output, out); !st.ok()) {
      std::cerr << "Error: " << st.message() << "\n";
      ctx.exit_code = kExitFailure;
      return;
    }
    ctx.exit_code = kExitOk;
  });

  // proxy init: the istio-init container's job.
  CLI::App* proxy = nullptr;
  for (CLI::App* sub : app.get_subcommands([](CLI::App* a) { return a->get_name() == "proxy"; })) {
    proxy = sub;
  }
  if (proxy == nullptr) {
    proxy = app.add_subcommand("proxy", "Run the data-plane proxy");
  }
  struct InitFlags {
    mesh::inject::CaptureConfig capture;
    bool dry_run = false;
    std::string iptables_restore = "iptables-restore";
  };
  auto init = std::make_shared<InitFlags>();
  auto& c = init->capture;
  auto* cmd = proxy->add_subcommand(
      "init", "Redirect the pod's TCP traffic to its sidecar with iptables (what istio-init does); needs NET_ADMIN");
  cmd->add_option("-p,--envoy-port", c.outbound_port, "Outbound capture port")->capture_default_str();
  cmd->add_option("-z,--inbound-capture-port", c.inbound_port, "Inbound capture port")->capture_default_str();
  cmd->add_option("-u,--proxy-uid", c.proxy_uid, "Sidecar user id(s) whose traffic is not captured")
      ->capture_default_str();
  cmd->add_option("-g,--proxy-gid", c.proxy_gid, "Sidecar group id(s) whose traffic is not captured")
      ->capture_default_str();
  cmd->add_option("-m,--istio-inbound-interception-mode", c.mode, "Interception mode (REDIRECT only)")
      ->capture_default_str();
  cmd->add_option("-i,--istio-service-cidr", c.include_ip_ranges,
                  "Outbound IPv4 ranges to capture, comma-separated, * for all")
      ->capture_default_str();
  cmd->add_option("-x,--istio-service-exclude-cidr", c.exclude_ip_ranges, "Outbound IPv4 ranges never captured");
  cmd->add_option("-b,--istio-inbound-ports", c.include_inbound_ports,
                  "Inbound ports to capture, comma-separated, * for all, empty for none")
      ->capture_default_str();
  cmd->add_option("-d,--istio-local-exclude-ports", c.exclude_inbound_ports,
                  "Inbound ports never captured (with -b *)")
      ->capture_default_str();
  cmd->add_option("-q,--istio-include-outbound-ports", c.include_outbound_ports,
                  "Outbound ports captured whatever the destination");
  cmd->add_option("-o,--istio-local-outbound-ports-exclude", c.exclude_outbound_ports,
                  "Outbound ports never captured");
  cmd->add_flag("--dry-run", init->dry_run, "Print the rules (iptables-restore format) instead of applying them");
  cmd->add_option("--iptables-restore", init->iptables_restore, "iptables-restore binary")->capture_default_str();
  cmd->callback([init, &ctx] {
    auto rules = mesh::inject::BuildCaptureRules(init->capture);
    if (!rules.ok()) {
      std::cerr << "Error: " << rules.status().message() << "\n";
      ctx.exit_code = kExitUsage;
      return;
    }
    if (init->dry_run) {
      std::cout << *rules;
      ctx.exit_code = kExitOk;
      return;
    }
    if (auto st = mesh::inject::ApplyCaptureRules(*rules, init->iptables_restore); !st.ok()) {
      std::cerr << "Error: " << st.message() << "\n";
      ctx.exit_code = kExitFailure;
      return;
    }
    std::cout << "traffic capture set up: outbound TCP -> " << init->capture.outbound_port << ", inbound TCP -> "
              << init->capture.inbound_port << " (uid " << init->capture.proxy_uid << " excluded)\n";
    ctx.exit_code = kExitOk;
  });
}

}  // namespace meshctl
