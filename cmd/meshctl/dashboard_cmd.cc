// `meshctl dashboard`: where to see the mesh in a browser. The page is served by the
// control plane itself (/dashboard/); this command checks it answers, prints the URL,
// optionally relays a local port to it and opens a browser.

#include <signal.h>

#include <cstdlib>
#include <iostream>

#include "cmd/meshctl/commands.h"
#include "cmd/meshctl/exit_codes.h"
#include "fmt/format.h"
#include "mesh/common/signals.h"
#include "mesh/dashboard/http_get.h"
#include "mesh/dashboard/tcp_relay.h"

namespace meshctl {

void RegisterDashboardCommand(CLI::App& app, CliContext& ctx) {
  struct Flags {
    std::string control_plane = "127.0.0.1:15010";
    int port = -1;
    bool browser = false;
  };
  auto flags = std::make_shared<Flags>();
  auto* cmd = app.add_subcommand(
      "dashboard", "Open the mesh dashboard (service graph, golden signals, config and findings, proxy sync)");
  cmd->add_option("--control-plane", flags->control_plane, "Control plane address host:port")->capture_default_str();
  cmd->add_option("--port", flags->port,
                  "Serve the dashboard on this local port (a relay to the control plane; 0 picks one) until Ctrl-C");
  cmd->add_flag("--browser", flags->browser, "Open the page with xdg-open");
  cmd->callback([flags, &ctx] {
    size_t colon = flags->control_plane.rfind(':');
    int cp_port = colon == std::string::npos ? 0 : std::atoi(flags->control_plane.c_str() + colon + 1);
    if (cp_port <= 0 || cp_port > 65535 || flags->port > 65535 || flags->port < -1) {
      std::cerr << "Error: --control-plane must be host:port and --port a port number\n";
      ctx.exit_code = kExitUsage;
      return;
    }
    std::string host = flags->control_plane.substr(0, colon);
    auto status = mesh::dashboard::HttpGet(host, static_cast<uint16_t>(cp_port), "/dashboard/api/status",
                                           {std::chrono::milliseconds(5000)});
    if (!status.ok()) {
      std::cerr << "Error: no dashboard at " << flags->control_plane << " (" << status.status().message()
                << "); is `meshctl control-plane` running there, without --no-dashboard?\n";
      ctx.exit_code = kExitFailure;
      return;
    }
    std::unique_ptr<mesh::dashboard::TcpRelay> relay;
    std::string url = fmt::format("http://{}/dashboard/", flags->control_plane);
    if (flags->port >= 0) {
      mesh::common::BlockTerminationSignals();
      ::signal(SIGPIPE, SIG_IGN);
      auto started = mesh::dashboard::StartTcpRelay(
          {"127.0.0.1", static_cast<uint16_t>(flags->port), host, static_cast<uint16_t>(cp_port)});
      if (!started.ok()) {
        std::cerr << "Error: " << started.status().message() << "\n";
        ctx.exit_code = kExitFailure;
        return;
      }
      relay = std::move(*started);
      url = fmt::format("http://127.0.0.1:{}/dashboard/", relay->port());
    }
    std::cout << "dashboard: " << url << std::endl;
    if (flags->browser) {
      std::string open = fmt::format("xdg-open '{}' >/dev/null 2>&1 &", url);
      if (std::system(open.c_str()) != 0) {
        std::cerr << "could not start a browser; open the URL above\n";
      }
    }
    if (relay) {
      std::cout << "relaying to " << flags->control_plane << "; Ctrl-C to stop" << std::endl;
      mesh::common::WaitForTerminationSignal();
      relay->Stop();
    }
    ctx.exit_code = kExitOk;
  });
}

}  // namespace meshctl
