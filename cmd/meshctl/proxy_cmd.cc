// meshctl proxy: the data plane from a static bootstrap file. Flags and signals only;
// the runtime is mesh::proxy.

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <iostream>
#include <memory>

#include "cmd/meshctl/commands.h"
#include "cmd/meshctl/exit_codes.h"
#include "mesh/proxy/proxy.h"
#include "mesh/proxyconfig/decode.h"

namespace meshctl {
namespace {

struct ProxyFlags {
  std::string config;
  mesh::proxy::ProxyOptions options;
  double drain_seconds = 5;
  bool validate_only = false;
  std::string admin = "";
};

int64_t FileMtime(const std::string& path) {
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) {
    return 0;
  }
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
}

absl::StatusOr<mesh::proxy::ConfigSnapshotPtr> LoadSnapshot(const std::string& path) {
  auto bootstrap = mesh::proxyconfig::LoadBootstrapFile(path);
  if (!bootstrap.ok()) {
    return bootstrap.status();
  }
  auto snap = std::make_shared<mesh::proxy::ConfigSnapshot>();
  snap->bootstrap = std::move(*bootstrap);
  snap->resources = snap->bootstrap.static_resources;
  snap->resources.version_info = std::to_string(FileMtime(path));
  return mesh::proxy::ConfigSnapshotPtr(std::move(snap));
}

int RunProxy(const ProxyFlags& flags) {
  auto snapshot = LoadSnapshot(flags.config);
  if (!snapshot.ok()) {
    std::cerr << "Error: " << snapshot.status().message() << "\n";
    return kExitDataError;
  }
  if (flags.validate_only) {
    std::cout << "configuration OK\n";
    return kExitOk;
  }
  mesh::proxy::ProxyOptions options = flags.options;
  options.drain_timeout = std::chrono::milliseconds(static_cast<int64_t>(flags.drain_seconds * 1000));
  // The bootstrap's admin address applies unless a flag overrides it.
  const auto& admin = (*snapshot)->bootstrap.admin;
  if (admin && options.admin_port == -1) {
    options.admin_address = admin->address.address;
    options.admin_port = static_cast<int>(admin->address.port_value);
  }
  if (options.admin_port == -1) {
    options.admin_port = 15000;
  }
  options.on_quit = [] { ::kill(::getpid(), SIGTERM); };

  // Signals are taken synchronously by this thread; workers inherit the mask.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  auto proxy = mesh::proxy::CreateProxy(options);
  if (!proxy.ok()) {
    std::cerr << "Error: " << proxy.status().message() << "\n";
    return kExitUsage;
  }
  absl::Status st = (*proxy)->Start();
  if (st.ok()) {
    st = (*proxy)->UpdateConfig(*snapshot);
  }
  if (!st.ok()) {
    std::cerr << "Error: " << st.message() << "\n";
    (*proxy)->Stop();
    return kExitFailure;
  }
  for (const auto& [name, port] : (*proxy)->ListenerPorts()) {
    std::cerr << "meshctl proxy: listener " << name << " on port " << port << "\n";
  }
  std::cerr << "meshctl proxy: ready (" << options.concurrency << " worker(s), admin port " << options.admin_port
            << ")\n";
  int64_t mtime = FileMtime(flags.config);
  for (;;) {
    timespec timeout{1, 0};
    int sig = sigtimedwait(&set, nullptr, &timeout);
    bool reload = sig == SIGHUP;
    if (sig == SIGTERM || sig == SIGINT) {
      std::cerr << "meshctl proxy: draining\n";
      (*proxy)->Drain();
      break;
    }
    if (sig < 0) {
      int64_t now = FileMtime(flags.config);
      reload = now != 0 && now != mtime;
    }
    if (reload) {
      mtime = FileMtime(flags.config);
      auto next = LoadSnapshot(flags.config);
      absl::Status rs = next.ok() ? (*proxy)->UpdateConfig(*next) : next.status();
      if (rs.ok()) {
        std::cerr << "meshctl proxy: configuration reloaded\n";
      } else {
        std::cerr << "meshctl proxy: reload rejected, keeping the previous configuration: " << rs.message() << "\n";
      }
    }
  }
  return kExitOk;
}

}  // namespace

void RegisterProxyCommand(CLI::App& app, CliContext& ctx) {
  auto flags = std::make_shared<ProxyFlags>();
  flags->options.admin_port = -1;
  auto* cmd = app.add_subcommand("proxy", "Run the data-plane proxy (sidecar or gateway) from an Envoy-style bootstrap");
  cmd->add_option("-c,--config", flags->config, "Bootstrap file (YAML or JSON, Envoy v3 subset)");
  cmd->add_option("--concurrency", flags->options.concurrency, "Worker threads (one event loop each)")
      ->default_val(1)
      ->check(CLI::Range(1, 256));
  cmd->add_option("--admin-address", flags->options.admin_address, "Admin listen address")->default_val("127.0.0.1");
  cmd->add_option("--admin-port", flags->options.admin_port,
                  "Admin port (default: the bootstrap's admin address, else 15000; 0 disables)");
  cmd->add_option("--health-address", flags->options.health_address, "Health listen address")->default_val("0.0.0.0");
  cmd->add_option("--health-port", flags->options.health_port, "Health port for /healthz/ready (0 disables)")
      ->default_val(15021);
  cmd->add_option("--stats-address", flags->options.stats_address, "Prometheus listen address")->default_val("0.0.0.0");
  cmd->add_option("--stats-port", flags->options.stats_port, "Prometheus port for /stats/prometheus (0 disables)")
      ->default_val(15090);
  cmd->add_option("--drain-timeout", flags->drain_seconds, "Seconds to finish in-flight requests on SIGTERM")
      ->default_val(5);
  cmd->add_flag("--validate", flags->validate_only, "Only check the configuration and exit");
  cmd->callback([cmd, flags, &ctx] {
    if (!cmd->get_subcommands().empty()) {
      return;  // `proxy sidecar` / `proxy router` ran instead
    }
    if (flags->config.empty()) {
      std::cerr << "Error: --config is required (or run `meshctl proxy sidecar` / `meshctl proxy router` "
                   "to take configuration from the control plane)\n";
      ctx.exit_code = kExitUsage;
      return;
    }
    ctx.exit_code = RunProxy(*flags);
  });
}

}  // namespace meshctl
