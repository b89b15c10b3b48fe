// meshctl: one binary for the whole mesh. main only builds the command tree, runs it and
// maps the outcome to an exit code; the work lives in mesh/.

#include <iostream>

#include "CLI/CLI.hpp"
#include "cmd/meshctl/commands.h"
#include "cmd/meshctl/exit_codes.h"

namespace meshctl {

void RegisterAllCommands(CLI::App& app, CliContext& ctx) {
  RegisterVersionCommand(app, ctx);
  RegisterAnalyzeCommand(app, ctx);
  RegisterEchoCommand(app, ctx);
  RegisterCheckArgsCommand(app, ctx);
  RegisterInstallCommand(app, ctx);
  RegisterStateCommand(app, ctx);
  RegisterProxyCommand(app, ctx);
  RegisterAgentCommands(app, ctx);
  RegisterInjectCommands(app, ctx);
  RegisterControlPlaneCommand(app, ctx);
  RegisterDashboardCommand(app, ctx);
}

}  // namespace meshctl

int main(int argc, char** argv) {
  CLI::App app{"meshctl: a service mesh in one binary (Istio APIs, local or Kubernetes)", "meshctl"};
  app.require_subcommand(1);
  app.fallthrough(false);
  meshctl::CliContext ctx;

  meshctl::RegisterAllCommands(app, ctx);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return meshctl::kExitUsage;
  }
  return ctx.exit_code;
}
