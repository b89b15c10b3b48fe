// `meshctl x ...`: experimental and helper commands. `x echo` runs the built-in test
// application used by the demo, tests and benchmarks.

#include <csignal>
#include <iostream>

#include "cmd/meshctl/commands.h"
#include "cmd/meshctl/exit_codes.h"
#include "mesh/common/signals.h"
#include "mesh/echo/echo_server.h"

namespace meshctl {

CLI::App* ExperimentalCommand(CLI::App& app) {
  for (CLI::App* sub : app.get_subcommands([](CLI::App* a) { return a->get_name() == "x"; })) {
    return sub;
  }
  auto* x = app.add_subcommand("x", "Experimental and helper commands");
  x->require_subcommand(1);
  return x;
}

void RegisterEchoCommand(CLI::App& app, CliContext& ctx) {
  auto options = std::make_shared<mesh::echo::EchoOptions>();
  options->port = 8080;
  auto* cmd = ExperimentalCommand(app)->add_subcommand(
      "echo", "Run a small HTTP test application that answers with its name, version and the request it saw");
  cmd->add_option("--port", options->port, "Port to listen on (0 picks a free one)")->capture_default_str();
  cmd->add_option("--address", options->address, "Address to listen on")->capture_default_str();
  cmd->add_option("--name", options->name, "Instance name reported as Hostname=")->capture_default_str();
  cmd->add_option("--version", options->version, "Version reported as ServiceVersion=")->capture_default_str();
  cmd->add_option("--threads", options->threads, "Worker threads")->capture_default_str();
  cmd->callback([options, &ctx] {
    mesh::common::BlockTerminationSignals();
    auto server = mesh::echo::StartEchoServer(*options);
    if (!server.ok()) {
      std::cerr << "Error: " << server.status().message() << "\n";
      ctx.exit_code = kExitFailure;
      return;
    }
    std::cout << "echo " << options->name << " (" << options->version << ") listening on " << options->address << ":"
              << (*server)->port() << std::endl;
    mesh::common::WaitForTerminationSignal();
    (*server)->Stop();
    ctx.exit_code = kExitOk;
  });
}

}  // namespace meshctl
