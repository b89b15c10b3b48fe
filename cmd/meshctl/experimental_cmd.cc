// `meshctl x ...`: experimental and helper commands. `x echo` runs the built-in test
// application used by the demo, tests and benchmarks.

#include <csignal>
#include <iostream>

#include "cmd/meshctl/commands.h"
#include "cmd/meshctl/exit_codes.h"
#include "mesh/common/strings.h"
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

namespace {

// Thrown by the root's parse-complete callback, which runs after every flag has been
// parsed and checked and before any command's callback: the commands never run. (Their
// callbacks must stay set: they own the variables the options write into.)
struct ParsedOnly {};

}  // namespace

void RegisterCheckArgsCommand(CLI::App& app, CliContext& ctx) {
  auto args = std::make_shared<std::vector<std::string>>();
  auto* cmd = ExperimentalCommand(app)->add_subcommand(
      "check-args",
      "Check that a meshctl command line parses (commands, flags, values, required options) without running it, "
      "e.g. a container's args: meshctl x check-args -- proxy router --health-port=15021");
  cmd->add_option("args", *args, "The command line after `meshctl` (put `--` before it)")->required();
  cmd->callback([args, &ctx] {
    CLI::App probe{"meshctl", "meshctl"};
    probe.require_subcommand(1);
    probe.fallthrough(false);
    CliContext probe_ctx;
    RegisterAllCommands(probe, probe_ctx);
    probe.parse_complete_callback([] { throw ParsedOnly{}; });
    std::vector<std::string> reversed(args->rbegin(), args->rend());  // CLI11 pops from the back
    std::string line = mesh::common::Join(*args, " ");
    try {
      probe.parse(reversed);
    } catch (const ParsedOnly&) {
      // parsed and checked
    } catch (const CLI::ParseError& e) {
      std::cerr << "Error: meshctl " << line << ": " << (e.get_exit_code() == 0 ? "asks for help" : e.what())
                << "\n";
      ctx.exit_code = kExitUsage;
      return;
    }
    std::cout << "ok: meshctl " << line << "\n";
    ctx.exit_code = kExitOk;
  });
}

}  // namespace meshctl
