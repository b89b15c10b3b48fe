#pragma once

// Each subcommand file exposes one Register function; main.cc calls them in order.
// A command's callback stores its exit code in CliContext::exit_code.

#include <string>

#include "CLI/CLI.hpp"

namespace meshctl {

struct CliContext {
  int exit_code = 0;
  std::string state_dir;  // --state-dir / MESHCTL_STATE_DIR, default ".meshctl"
};

void RegisterVersionCommand(CLI::App& app, CliContext& ctx);
void RegisterAnalyzeCommand(CLI::App& app, CliContext& ctx);
void RegisterProxyCommand(CLI::App& app, CliContext& ctx);

}  // namespace meshctl
