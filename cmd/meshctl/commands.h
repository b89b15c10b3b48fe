#pragma once

// Each subcommand file exposes one Register function; main.cc calls them in order.
// A command's callback stores its exit code in CliContext::exit_code.

#include <string>

#include "CLI/CLI.hpp"

namespace meshctl {

struct CliContext {
  int exit_code = 0;
  std::string state_dir;  // --state-dir / MESHCTL_STATE_DIR, default ".meshctl"
  std::string kubeconfig;    // --kubeconfig: target a cluster (target.h)
  std::string kube_context;  // --context
};

// The `x` group (experimental and helper commands), created on first use.
CLI::App* ExperimentalCommand(CLI::App& app);

// Every command below, in order (main.cc); `x check-args` builds a second tree with it.
void RegisterAllCommands(CLI::App& app, CliContext& ctx);

void RegisterVersionCommand(CLI::App& app, CliContext& ctx);
void RegisterEchoCommand(CLI::App& app, CliContext& ctx);
// experimental_cmd.cc: `x check-args -- ARGS...` parses a meshctl command line without
// running it (the container args of rendered manifests are checked with it).
void RegisterCheckArgsCommand(CLI::App& app, CliContext& ctx);
void RegisterAnalyzeCommand(CLI::App& app, CliContext& ctx);
// install_cmd.cc: install, uninstall, verify-install, manifest generate, profile.
void RegisterInstallCommand(CLI::App& app, CliContext& ctx);
// state_cmd.cc: apply, get, delete, label, create, x check-inject (local mesh state).
void RegisterStateCommand(CLI::App& app, CliContext& ctx);
// proxy_cmd.cc: the data plane.
void RegisterProxyCommand(CLI::App& app, CliContext& ctx);
// control_plane_cmd.cc: control-plane, proxy-status, proxy-config, x token.
void RegisterControlPlaneCommand(CLI::App& app, CliContext& ctx);
// agent_cmd.cc: proxy sidecar, proxy router (after RegisterProxyCommand).
void RegisterAgentCommands(CLI::App& app, CliContext& ctx);
// dashboard_cmd.cc: dashboard.
void RegisterDashboardCommand(CLI::App& app, CliContext& ctx);
// inject_cmd.cc: kube-inject, proxy init (after RegisterProxyCommand).
void RegisterInjectCommands(CLI::App& app, CliContext& ctx);

}  // namespace meshctl
