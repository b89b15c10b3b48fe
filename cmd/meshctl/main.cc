// meshctl: one binary for the whole mesh. main only builds the command tree, runs it and
// maps the outcome to an exit code; the work lives in mesh/.

#include <iostream>

#include "CLI/CLI.hpp"
#include "cmd/meshctl/commands.h"
#include "cmd/meshctl/exit_codes.h"

int main(int argc, char** argv) {
  CLI::App app{"meshctl: a service mesh in one binary (Istio APIs, local or Kubernetes)", "meshctl"};
  app.require_subcommand(1);
  app.fallthrough(false);
  meshctl::CliContext ctx;

  meshctl::RegisterVersionCommand(app, ctx);
  meshctl::RegisterAnalyzeCommand(app, ctx);
  meshctl::RegisterEchoCommand(app, ctx);
  meshctl::RegisterInstallCommand(app, ctx);
  meshctl::RegisterStateCommand(app, ctx);
  meshctl::RegisterProxyCommand(app, ctx);
  meshctl::RegisterAgentCommands(app, ctx);
  meshctl::RegisterInjectCommands(app, ctx);
  meshctl::RegisterControlPlaneCommand(app, ctx);
  meshctl::RegisterDashboardCommand(app, ctx);

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
