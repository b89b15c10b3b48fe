// `meshctl proxy sidecar` and `meshctl proxy router`: the proxy with its agent, taking
// configuration and identity from the control plane (local mode).

#include <signal.h>
#include <unistd.h>

#include <iostream>

#include "cmd/meshctl/commands.h"
#include "cmd/meshctl/exit_codes.h"
#include "cmd/meshctl/local_state.h"
#include "fmt/format.h"
#include "mesh/agent/agent.h"
#include "mesh/ca/token.h"
#include "mesh/common/file_util.h"
#include "mesh/common/signals.h"
#include "mesh/common/strings.h"
#include "mesh/config/yaml_loader.h"
#include "mesh/inject/app_prober.h"
#include "mesh/proxy/proxy.h"

namespace meshctl {
namespace {

struct AgentFlags {
  bool control_plane_tls = false;
  std::string control_plane_root;  // PEM file; default <state-dir>/ca/root-cert.pem
  std::string workload;
  std::string ns = "default";
  std::string service_account = "default";
  std::vector<std::string> services;
  std::vector<std::string> labels;  // k=v
  uint32_t app_port = 0;
  uint32_t inbound_port = 15006;
  uint32_t outbound_port = 15001;
  std::vector<std::string> port_map;  // router: "443:8443"
  std::string control_plane = "127.0.0.1:15010";
  std::string token;
  std::string token_file;
  std::string instance_ip = "127.0.0.1";
  uint16_t status_port = 0;
  mesh::proxy::ProxyOptions options;
};

void AddCommonFlags(CLI::App* cmd, AgentFlags& f, CliContext& ctx) {
  cmd->add_option("--namespace,-n", f.ns, "Workload namespace")->capture_default_str();
  cmd->add_option("--service-account", f.service_account, "Workload service account (its identity)")
      ->capture_default_str();
  cmd->add_option("--labels", f.labels, "Workload labels, key=value (repeatable)");
  cmd->add_option("--control-plane", f.control_plane, "Control plane address host:port")->capture_default_str();
  cmd->add_flag("--control-plane-tls", f.control_plane_tls,
                "Reach the control plane over TLS (its --tls-port, Istio's 15012), verifying its certificate "
                "for istiod.istio-system.svc");
  cmd->add_option("--control-plane-root", f.control_plane_root,
                  "Root certificate that signs the control plane's TLS certificate (implies --control-plane-tls; "
                  "default: the local state dir's ca/root-cert.pem)");
  cmd->add_option("--token", f.token, "Bootstrap token (default: issued from the local state dir)");
  cmd->add_option("--token-file", f.token_file,
                  "File holding the token, re-read before each use (Kubernetes: the projected service-account "
                  "token, e.g. /var/run/secrets/tokens/istio-token)");
  cmd->add_option("--instance-ip", f.instance_ip, "This workload's IP (a pod's IP in Kubernetes)")
      ->capture_default_str();
  cmd->add_option("--concurrency", f.options.concurrency, "Worker threads")->capture_default_str();
  cmd->add_option("--admin-port", f.options.admin_port, "Admin port (0 disables)")->capture_default_str();
  cmd->add_option("--health-port", f.options.health_port, "Port of /healthz/ready (0 disables)")->capture_default_str();
  cmd->add_option("--stats-port", f.options.stats_port, "Port of /stats/prometheus (0 disables)")->capture_default_str();
  AddStateDirFlag(cmd, ctx);
}

absl::StatusOr<std::string> ResolveToken(const AgentFlags& f, const CliContext& ctx) {
  if (!f.token.empty()) {
    return f.token;
  }
  if (!f.token_file.empty()) {
    auto t = mesh::common::ReadFile(f.token_file);
    if (!t.ok()) {
      return t.status();
    }
    return std::string(mesh::common::StripWhitespace(*t));
  }
  if (const char* env = std::getenv("MESHCTL_TOKEN")) {
    return std::string(env);
  }
  // Local mode convenience: whoever owns the state dir may mint tokens anyway.
  auto authority = mesh::ca::TokenAuthority::Open(ResolveStateDir(ctx) + "/token-key");
  if (!authority.ok()) {
    return authority.status();
  }
  return authority->Issue({f.ns, f.service_account, f.workload, std::chrono::system_clock::now() + std::chrono::hours(24)});
}

int RunAgent(AgentFlags& f, const CliContext& ctx, const std::string& type) {
  mesh::common::BlockTerminationSignals();
  ::signal(SIGPIPE, SIG_IGN);
  auto token = ResolveToken(f, ctx);
  if (!token.ok()) {
    std::cerr << "Error: " << token.status().message() << "\n";
    return kExitFailure;
  }
  size_t colon = f.control_plane.rfind(':');
  if (colon == std::string::npos) {
    std::cerr << "Error: --control-plane must be host:port\n";
    return kExitUsage;
  }
  mesh::agent::AgentOptions o;
  o.control_plane_host = f.control_plane.substr(0, colon);
  o.control_plane_port = static_cast<uint16_t>(std::stoi(f.control_plane.substr(colon + 1)));
  o.token = *token;
  o.token_file = f.token_file;  // re-read on use: projected service-account tokens rotate
  o.identity = {"cluster.local", f.ns, f.service_account};
  if (f.control_plane_tls || !f.control_plane_root.empty()) {
    std::string root_file =
        f.control_plane_root.empty() ? ResolveStateDir(ctx) + "/ca/root-cert.pem" : f.control_plane_root;
    auto root = mesh::common::ReadFile(root_file);
    if (!root.ok()) {
      std::cerr << "Error: the control plane's root certificate: " << root.status().message() << "\n";
      return kExitFailure;
    }
    o.control_plane_root_pem = *root;
  }
  mesh::config::Node meta = mesh::config::Node::Map();
  auto str = [](const std::string& s) { return mesh::config::Node::Scalar(s, true); };
  auto num = [](uint32_t v) { return mesh::config::Node::Scalar(std::to_string(v)); };
  meta.Set("PROXY_TYPE", str(type));
  meta.Set("NAMESPACE", str(f.ns));
  meta.Set("SERVICE_ACCOUNT", str(f.service_account));
  meta.Set("WORKLOAD_NAME", str(f.workload));
  mesh::config::Node labels = mesh::config::Node::Map();
  for (const std::string& kv : f.labels) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos) {
      std::cerr << "Error: --labels takes key=value, got \"" << kv << "\"\n";
      return kExitUsage;
    }
    labels.Set(kv.substr(0, eq), str(kv.substr(eq + 1)));
  }
  meta.Set("LABELS", labels);
  if (f.options.stats_port > 0) {
    meta.Set("STATS_PORT", num(static_cast<uint32_t>(f.options.stats_port)));  // where the dashboard scrapes
  }
  if (type == "sidecar") {
    mesh::config::Node services = mesh::config::Node::Sequence();
    for (const std::string& s : f.services) {
      services.Append(str(s));
    }
    meta.Set("SERVICES", services);
    meta.Set("INBOUND_PORT", num(f.inbound_port));
    meta.Set("OUTBOUND_PORT", num(f.outbound_port));
    meta.Set("APP_PORT", num(f.app_port));
    meta.Set("INSTANCE_IP", str(f.instance_ip));
  } else {
    mesh::config::Node ports = mesh::config::Node::Map();
    for (const std::string& pm : f.port_map) {
      size_t c = pm.find(':');
      if (c == std::string::npos) {
        std::cerr << "Error: --port-map takes service:local, got \"" << pm << "\"\n";
        return kExitUsage;
      }
      ports.Set(pm.substr(0, c), mesh::config::Node::Scalar(pm.substr(c + 1)));
    }
    meta.Set("GATEWAY_PORTS", ports);
  }
  o.node.id = fmt::format("{}~{}~{}.{}~{}.svc.cluster.local", type, f.instance_ip, f.workload, f.ns, f.ns);
  o.node.metadata = meta;

  // Kubelet's rewritten app probes (injected pods): answered by probing the app locally.
  std::unique_ptr<mesh::inject::AppProber> prober;
  if (f.status_port != 0) {
    const char* probers_env = std::getenv("ISTIO_KUBE_APP_PROBERS");
    auto probes = mesh::inject::ParseAppProbers(probers_env == nullptr ? "" : probers_env);
    if (!probes.ok()) {
      std::cerr << "Error: " << probes.status().message() << "\n";
      return kExitUsage;
    }
    auto started = mesh::inject::StartAppProber({.port = f.status_port, .probes = std::move(*probes)});
    if (!started.ok()) {
      std::cerr << "Error: " << started.status().message() << "\n";
      return kExitFailure;
    }
    prober = std::move(*started);
  }

  f.options.on_quit = [] { ::kill(::getpid(), SIGTERM); };
  auto proxy = mesh::proxy::CreateProxy(f.options);
  if (!proxy.ok()) {
    std::cerr << "Error: " << proxy.status().message() << "\n";
    return kExitFailure;
  }
  std::shared_ptr<mesh::proxy::Proxy> shared(std::move(*proxy));
  if (auto st = shared->Start(); !st.ok()) {
    std::cerr << "Error: " << st.message() << "\n";
    return kExitFailure;
  }
  mesh::proxyconfig::Bootstrap bootstrap;
  bootstrap.node.id = o.node.id;
  bootstrap.node.cluster = f.workload + "." + f.ns;
  bootstrap.node.metadata = {{"NAMESPACE", f.ns}, {"WORKLOAD_NAME", f.workload}, {"SERVICE_ACCOUNT", f.service_account}};
  auto agent = mesh::agent::StartProxyAgent(o, shared, bootstrap);
  if (!agent.ok()) {
    std::cerr << "Error: " << agent.status().message() << "\n";
    shared->Stop();
    return kExitFailure;
  }
  std::cerr << "meshctl proxy " << type << ": " << o.node.id << " connected to " << f.control_plane
            << (o.control_plane_root_pem.empty() ? "" : " over TLS") << " (identity spiffe://cluster.local/ns/" << f.ns << "/sa/" << f.service_account << ")\n";
  mesh::common::WaitForTerminationSignal();
  std::cerr << "meshctl proxy " << type << ": draining\n";
  (*agent)->Stop();
  shared->Drain();
  if (prober) {
    prober->Stop();
  }
  return kExitOk;
}

}  // namespace

void RegisterAgentCommands(CLI::App& app, CliContext& ctx) {
  CLI::App* proxy = nullptr;
  for (CLI::App* sub : app.get_subcommands([](CLI::App* a) { return a->get_name() == "proxy"; })) {
    proxy = sub;
  }
  if (proxy == nullptr) {
    proxy = app.add_subcommand("proxy", "Run the data-plane proxy");
  }
  auto sidecar_flags = std::make_shared<AgentFlags>();
  auto* sidecar = proxy->add_subcommand(
      "sidecar", "Run a sidecar next to an application: mTLS inbound, an HTTP proxy port for its outbound calls");
  sidecar->add_option("--workload", sidecar_flags->workload, "Workload (instance) name")->required();
  sidecar->add_option("--service", sidecar_flags->services, "Service this workload serves (repeatable)");
  sidecar->add_option("--app-port", sidecar_flags->app_port, "Port the application listens on (127.0.0.1)")->required();
  sidecar->add_option("--inbound-port", sidecar_flags->inbound_port, "Port other proxies reach this workload on")
      ->capture_default_str();
  sidecar->add_option("--status-port", sidecar_flags->status_port,
                      "Port answering kubelet's rewritten app probes (/app-health/...; ISTIO_KUBE_APP_PROBERS); 0: off")
      ->capture_default_str();
  sidecar->add_option("--outbound-port", sidecar_flags->outbound_port,
                      "Port the application uses as its HTTP proxy (routing by Host)")
      ->capture_default_str();
  AddCommonFlags(sidecar, *sidecar_flags, ctx);
  sidecar->callback([sidecar_flags, &ctx] { ctx.exit_code = RunAgent(*sidecar_flags, ctx, "sidecar"); });

  auto router_flags = std::make_shared<AgentFlags>();
  router_flags->workload = "istio-ingressgateway";
  router_flags->ns = "istio-system";
  router_flags->service_account = "istio-ingressgateway-service-account";
  router_flags->labels = {"istio=ingressgateway", "app=istio-ingressgateway"};
  auto* router = proxy->add_subcommand("router", "Run a gateway (ingress or egress) selected by its labels");
  router->add_option("--workload", router_flags->workload, "Gateway instance name")->capture_default_str();
  router->add_option("--port-map", router_flags->port_map,
                     "Gateway server port to local listen port, e.g. 443:8443 (repeatable; unmapped ports listen "
                     "on their own number)");
  AddCommonFlags(router, *router_flags, ctx);
  router->callback([router_flags, &ctx] { ctx.exit_code = RunAgent(*router_flags, ctx, "router"); });
}

}  // namespace meshctl
