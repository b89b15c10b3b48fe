// `meshctl control-plane` (the istiod role), `meshctl proxy-status`, `meshctl
// proxy-config`, and `meshctl x token` (bootstrap tokens for local workloads).

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "cmd/meshctl/commands.h"
#include "cmd/meshctl/exit_codes.h"
#include "cmd/meshctl/local_state.h"
#include "fmt/format.h"
#include "mesh/ca/token.h"
#include "mesh/common/duration.h"
#include "mesh/common/file_util.h"
#include "mesh/common/signals.h"
#include "mesh/common/strings.h"
#include "mesh/config/emit.h"
#include "mesh/config/yaml_loader.h"
#include "mesh/controlplane/control_plane.h"
#include "mesh/inject/ca_bundle.h"
#include "mesh/inject/webhook_server.h"
#include "mesh/kube/client.h"
#include "mesh/kube/kubeconfig.h"
#include "mesh/kubestore/kube_store.h"
#include "mesh/kubestore/leader_duties.h"
#include "mesh/kubestore/token_review.h"
#include "mesh/kubestore/workloads.h"
#include "mesh/pilot/generator.h"

namespace meshctl {
namespace {

// "[rbac DENY, rbac ALLOW, router]": the filters of a listener's chains (first seen order),
// so an authorization policy shows in the short output.
std::string ListenerFilterSummary(const mesh::config::Node& listener) {
  std::vector<std::string> seen;
  auto add = [&](const mesh::config::Node& filter) {
    std::string name = filter["name"].Str();
    for (const char* prefix : {"envoy.filters.http.", "envoy.filters.network."}) {
      if (name.rfind(prefix, 0) == 0) {
        name = name.substr(std::string(prefix).size());
      }
    }
    std::string action = filter.At({"typed_config", "rules", "action"}).Str();
    if (!action.empty()) {
      name += " " + action;
    }
    if (std::find(seen.begin(), seen.end(), name) == seen.end()) {
      seen.push_back(name);
    }
  };
  for (const auto& chain : listener["filter_chains"].items()) {
    for (const auto& filter : chain["filters"].items()) {
      if (filter["name"].Str() == "envoy.filters.network.http_connection_manager") {
        for (const auto& hf : filter.At({"typed_config", "http_filters"}).items()) {
          add(hf);
        }
      } else {
        add(filter);
      }
    }
  }
  return seen.empty() ? "" : "[" + mesh::common::Join(seen, ", ") + "]";
}

mesh::xds::ResourceList Generate(const mesh::controlplane::ProxyIdentity& id, const mesh::pilot::PushContext& push,
                                 const std::string& type_url) {
  mesh::pilot::ProxyRole role;
  role.type = id.type == "router" ? mesh::pilot::ProxyRole::Type::kRouter : mesh::pilot::ProxyRole::Type::kSidecar;
  role.workload = id.workload;
  role.app_port = id.app_port;
  role.outbound_port = id.outbound_port;
  role.gateway_ports = id.gateway_ports;
  static mesh::pilot::GenerationCache cache;
  return cache.Get(role, push, type_url);
}

// GET http://addr/path from the control plane's debug endpoints.
absl::StatusOr<std::string> HttpGet(const std::string& address, const std::string& target) {
  namespace beast = boost::beast;
  namespace http = beast::http;
  try {
    std::string host = address.substr(0, address.rfind(':'));
    std::string port = address.substr(address.rfind(':') + 1);
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::resolver resolver(ioc);
    beast::tcp_stream stream(ioc);
    stream.expires_after(std::chrono::seconds(10));
    stream.connect(resolver.resolve(host, port));
    http::request<http::empty_body> req{http::verb::get, target, 11};
    req.set(http::field::host, host);
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(stream, buffer, res);
    if (res.result_int() != 200) {
      return absl::NotFoundError(fmt::format("{} answered {}: {}", address, res.result_int(), res.body()));
    }
    return res.body();
  } catch (const std::exception& e) {
    return absl::UnavailableError(fmt::format("control plane at {} unreachable: {}", address, e.what()));
  }
}

// Kubernetes mode: the store, registry and authenticator come from the API server.
struct KubeFlags {
  bool enabled = false;
  std::string kubeconfig;
  std::string context;
  std::string sync_timeout = "60s";
  std::string lease_namespace;  // default: POD_NAMESPACE, else istio-system
};

std::string EnvOr(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::string(v) : fallback;
}

// This replica's name in the Lease: the pod name, else the host name.
std::string CandidateIdentity() {
  char host[256] = {};
  if (::gethostname(host, sizeof(host) - 1) != 0) {
    host[0] = '\0';
  }
  return EnvOr("POD_NAME", host[0] != '\0' ? host : "meshctl-control-plane");
}

absl::Status UseKubernetes(const KubeFlags& kf, mesh::controlplane::ControlPlaneOptions& o,
                           std::shared_ptr<mesh::kubestore::KubeStore>& store,
                           std::shared_ptr<mesh::kube::KubeClient>& client_out) {
  mesh::kube::KubeconfigOptions ko;
  ko.kubeconfig_path = kf.kubeconfig;
  ko.context = kf.context;
  auto rc = mesh::kube::LoadRestConfig(ko);
  if (!rc.ok()) {
    return rc.status();
  }
  auto timeout = mesh::common::ParseGoDuration(kf.sync_timeout);
  if (!timeout.ok()) {
    return absl::InvalidArgumentError("--kube-sync-timeout must be a duration, e.g. 60s");
  }
  auto client = mesh::kube::NewKubeClient(*rc);
  if (!client.ok()) {
    return client.status();
  }
  std::shared_ptr<mesh::kube::KubeClient> shared_client(std::move(*client));
  client_out = shared_client;
  mesh::kubestore::KubeStoreOptions so;
  so.client = shared_client;
  auto started = mesh::kubestore::KubeStore::Start(so);
  if (!started.ok()) {
    return started.status();
  }
  store = std::move(*started);
  std::cout << "control plane: syncing with " << rc->server << (rc->in_cluster ? " (in-cluster)" : "") << std::endl;
  if (auto st = store->WaitForSync(std::chrono::duration_cast<std::chrono::milliseconds>(*timeout)); !st.ok()) {
    store->Stop();
    return st;
  }
  o.store = store;
  o.authenticator = std::make_shared<mesh::kubestore::TokenReviewAuthenticator>(
      mesh::kubestore::TokenReviewOptions{.client = shared_client});
  // The `istio` ConfigMap's mesh config, re-read on every rebuild (the store watches it).
  auto last_ignored = std::make_shared<std::string>();
  o.mesh_from_config = [last_ignored](const std::vector<mesh::config::Resource>& resources,
                                      const mesh::pilot::MeshSettings& defaults) {
    std::vector<std::string> ignored;
    auto mesh = mesh::kubestore::MeshSettingsFromResources(resources, defaults, "istio-system", &ignored);
    std::string note = mesh::common::Join(ignored, ", ");
    if (note != *last_ignored && !note.empty()) {
      std::cerr << "control-plane: mesh config (ConfigMap istio-system/istio): trustDomain " << mesh.trust_domain
                << ", rootNamespace " << mesh.root_namespace << "; not applied by meshctl: " << note << std::endl;
    }
    *last_ignored = note;
    return mesh;
  };
  o.workload_discovery = [](const std::vector<mesh::config::Resource>& resources,
                            const mesh::pilot::MeshSettings& mesh) {
    return mesh::kubestore::WorkloadsFromEndpointSlices(resources, mesh);
  };
  return absl::OkStatus();
}

}  // namespace

void RegisterControlPlaneCommand(CLI::App& app, CliContext& ctx) {
  struct Flags {
    std::string address = "127.0.0.1";
    uint16_t port = 15010;
    int tls_port = 0;
    int debug_port = 0;
    int monitoring_port = 0;
    std::string cert_ttl = "24h";
    std::string max_connection_age = "0s";
    int debounce_ms = 100;
    std::string scrape_interval = "5s";
    bool no_dashboard = false;
    uint16_t webhook_port = 0;
    bool patch_ca_bundle = false;
  };
  auto flags = std::make_shared<Flags>();
  auto* cmd = app.add_subcommand("control-plane",
                                 "Run the control plane (istiod's role): discovery for proxies, the CA, the store watch");
  cmd->add_option("--address", flags->address, "Listen address")->capture_default_str();
  cmd->add_option("--port", flags->port, "Discovery and CA port (Istio's 15010)")->capture_default_str();
  cmd->add_option("--tls-port", flags->tls_port,
                  "Also serve discovery and CA over TLS on this port (Istio's 15012; certificate for "
                  "istiod.istio-system.svc from the mesh CA); 0: off")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  cmd->add_option("--debug-port", flags->debug_port,
                  "Also serve the HTTP endpoints (/ready, /metrics, /debug/*) on this port, without discovery "
                  "(istiod's 8080, its readiness probe); 0: off")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  cmd->add_option("--monitoring-port", flags->monitoring_port,
                  "Also serve /metrics (Prometheus) and the other HTTP endpoints on this port (istiod's 15014); 0: off")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  cmd->add_option("--cert-ttl", flags->cert_ttl, "Workload certificate lifetime (e.g. 24h, 90m, 30s)")
      ->capture_default_str();
  cmd->add_option("--keepalive-max-server-connection-age", flags->max_connection_age,
                  "Close discovery streams after this age (plus up to 10% jitter) so proxies reconnect and spread "
                  "over the replicas (istiod's keepaliveMaxServerConnectionAge, e.g. 30m; 0s: never)")
      ->capture_default_str();
  cmd->add_option("--debounce-ms", flags->debounce_ms, "Quiet time before a change is pushed")->capture_default_str();
  cmd->add_option("--dashboard-scrape-interval", flags->scrape_interval,
                  "How often the dashboard reads every proxy's metrics (history: 60 intervals)")
      ->capture_default_str();
  cmd->add_flag("--no-dashboard", flags->no_dashboard, "Do not serve /dashboard/ nor scrape the proxies");
  cmd->add_option("--webhook-port", flags->webhook_port,
                  "Serve the admission webhooks (/inject, /validate) over TLS on this port (Istio's 15017; 0: off)")
      ->capture_default_str();
  cmd->add_flag("--webhook-patch-ca-bundle", flags->patch_ca_bundle,
                "Write the webhook CA into our Mutating/ValidatingWebhookConfigurations in the cluster "
                "(kubeconfig or in-cluster config)");
  AddStateDirFlag(cmd, ctx);
  auto kube = std::make_shared<KubeFlags>();
  cmd->add_flag("--kube", kube->enabled,
                "Read configuration, services and endpoints from a Kubernetes API server instead of the state "
                "directory, and authenticate proxies by service-account token (TokenReview)");
  cmd->add_option("--kubeconfig", kube->kubeconfig,
                  "With --kube: kubeconfig file (default: KUBECONFIG, ~/.kube/config, then in-cluster config)");
  cmd->add_option("--context", kube->context, "With --kube: kubeconfig context");
  cmd->add_option("--kube-sync-timeout", kube->sync_timeout, "With --kube: how long to wait for the first lists")
      ->capture_default_str();
  cmd->add_option("--lease-namespace", kube->lease_namespace,
                  "With --kube: namespace of the Lease electing the replica that writes to the cluster "
                  "(default: POD_NAMESPACE, else istio-system)");
  cmd->callback([flags, kube, &ctx] {
    mesh::common::BlockTerminationSignals();
    std::string dir = ResolveStateDir(ctx);
    mesh::controlplane::ControlPlaneOptions o;
    std::shared_ptr<mesh::kubestore::KubeStore> kube_store;
    std::shared_ptr<mesh::kube::KubeClient> kube_client;
    if (kube->enabled) {
      if (auto st = mesh::common::MakeDirs(dir); !st.ok()) {
        std::cerr << "Error: " << st.message() << "\n";
        ctx.exit_code = kExitFailure;
        return;
      }
      if (auto st = UseKubernetes(*kube, o, kube_store, kube_client); !st.ok()) {
        std::cerr << "Error: " << st.message() << "\n";
        ctx.exit_code = kExitFailure;
        return;
      }
    } else {
      auto store = OpenState(ctx);
      if (!store.ok()) {
        std::cerr << "Error: " << store.status().message() << "\n";
        ctx.exit_code = kExitFailure;
        return;
      }
      o.store = std::shared_ptr<mesh::store::ConfigStore>(std::move(*store));
    }
    std::shared_ptr<const mesh::store::ConfigStore> store_view = o.store;
    o.ca_dir = dir + "/ca";
    o.token_key_file = dir + "/token-key";
    o.registry_file = dir + "/workloads.json";
    o.address = flags->address;
    o.port = flags->port;
    if (flags->tls_port > 0) {
      o.tls_port = static_cast<uint16_t>(flags->tls_port);
    }
    if (flags->debug_port > 0) {
      o.debug_port = static_cast<uint16_t>(flags->debug_port);
    }
    if (flags->monitoring_port > 0) {
      o.monitoring_port = static_cast<uint16_t>(flags->monitoring_port);
    }
    auto ttl = mesh::common::ParseGoDuration(flags->cert_ttl);
    if (!ttl.ok() || ttl->count() < 2000) {
      std::cerr << "Error: --cert-ttl must be a duration of at least 2s, got \"" << flags->cert_ttl << "\"\n";
      ctx.exit_code = kExitUsage;
      return;
    }
    o.workload_cert_ttl = std::chrono::duration_cast<std::chrono::seconds>(*ttl);
    auto max_age = mesh::common::ParseGoDuration(flags->max_connection_age);
    if (!max_age.ok() || (max_age->count() != 0 && max_age->count() < 1000)) {
      std::cerr << "Error: --keepalive-max-server-connection-age must be 0s or a duration of at least 1s, got \""
                << flags->max_connection_age << "\"\n";
      ctx.exit_code = kExitUsage;
      return;
    }
    o.max_connection_age = std::chrono::duration_cast<std::chrono::milliseconds>(*max_age);
    o.debounce_quiet = std::chrono::milliseconds(flags->debounce_ms);
    o.generator = Generate;
    auto scrape = mesh::common::ParseGoDuration(flags->scrape_interval);
    if (!scrape.ok() || scrape->count() < 200) {
      std::cerr << "Error: --dashboard-scrape-interval must be a duration of at least 200ms, got \""
                << flags->scrape_interval << "\"\n";
      ctx.exit_code = kExitUsage;
      return;
    }
    o.dashboard_enabled = !flags->no_dashboard;
    o.dashboard.scrape_interval = std::chrono::duration_cast<std::chrono::milliseconds>(*scrape);
    auto cp = mesh::controlplane::StartControlPlane(std::move(o));
    if (!cp.ok()) {
      std::cerr << "Error: " << cp.status().message() << "\n";
      ctx.exit_code = kExitFailure;
      return;
    }
    if ((*cp)->tls_port() != 0) {
      std::cout << "control plane serving discovery and CA over TLS on " << flags->address << ":" << (*cp)->tls_port()
                << " (server name istiod.istio-system.svc, root " << dir << "/ca/root-cert.pem)" << std::endl;
    }

    std::cout << "control plane serving discovery and CA on " << flags->address << ":" << (*cp)->port()
              << (kube_store ? " (configuration from Kubernetes, CA in " + dir + "/ca)" : " (state " + dir + ")")
              << std::endl;
    if (!flags->no_dashboard) {
      std::cout << "dashboard: http://" << flags->address << ":" << (*cp)->port() << "/dashboard/" << std::endl;
    }
    std::unique_ptr<mesh::inject::WebhookServer> webhook;
    std::unique_ptr<mesh::inject::ServingCertificateRotator> webhook_rotator;
    if (flags->webhook_port != 0) {
      mesh::inject::AdmissionWebhookOptions w;
      w.address = flags->address;
      w.port = flags->webhook_port;
      w.ca_dir = dir + "/ca";
      w.store = store_view;
      auto started = mesh::inject::StartAdmissionWebhook(w);
      if (!started.ok()) {
        std::cerr << "Error: " << started.status().message() << "\n";
        (*cp)->Stop();
        if (kube_store) {
          kube_store->Stop();
        }
        ctx.exit_code = kExitFailure;
        return;
      }
      webhook = std::move(started->server);
      webhook_rotator = std::move(started->rotator);
      std::cout << "admission webhooks /inject and /validate on https://" << flags->address << ":" << webhook->port()
                << " (certificate for istiod.istio-system.svc, CA " << dir << "/ca/root-cert.pem)" << std::endl;
      // With --kube the elected replica writes it (below), again and again; otherwise once.
      if (flags->patch_ca_bundle && !kube_client) {
        mesh::kube::KubeconfigOptions where;
        where.kubeconfig_path = kube->kubeconfig;
        where.context = kube->context;
        auto patched = mesh::inject::PatchWebhookCaBundlesFromKubeconfig(started->ca_bundle_pem, where);
        if (patched.ok()) {
          std::cout << "caBundle written to " << patched->patched << " webhook configurations (" << patched->unchanged
                    << " already had it)" << std::endl;
        } else {
          std::cerr << "Warning: caBundle not written: " << patched.status().message() << "\n";
        }
      }
    }
    // The cluster writes (root certificate ConfigMaps, webhook caBundle) are done by
    // one replica at a time: the holder of the Lease.
    std::unique_ptr<mesh::kubestore::LeaderDuties> duties;
    if (kube_client) {
      mesh::kubestore::LeaderDutiesOptions d;
      d.election.client = kube_client;
      d.election.ns = kube->lease_namespace.empty() ? EnvOr("POD_NAMESPACE", "istio-system") : kube->lease_namespace;
      d.election.identity = CandidateIdentity();
      std::string root_file = dir + "/ca/root-cert.pem";
      d.duties.push_back({"root certificate ConfigMaps", [kube_client, root_file]() -> absl::Status {
                            auto root = mesh::common::ReadFile(root_file);
                            if (!root.ok()) {
                              return root.status();
                            }
                            return mesh::kubestore::PublishRootCertificate(*kube_client, *root);
                          }});
      if (webhook && flags->patch_ca_bundle) {
        mesh::inject::ServingCertificateRotator* rotator = webhook_rotator.get();  // outlives the duties
        d.duties.push_back({"webhook caBundle", [kube_client, rotator]() -> absl::Status {
                              auto patched = mesh::inject::PatchWebhookCaBundles(*kube_client, rotator->ca_bundle_pem());
                              if (patched.ok() && patched->patched > 0) {
                                std::cout << "caBundle written to " << patched->patched << " webhook configurations"
                                          << std::endl;
                              }
                              return patched.status();
                            }});
      }
      duties = mesh::kubestore::LeaderDuties::Start(std::move(d));
      std::cout << "leader election: candidate " << CandidateIdentity() << std::endl;
    }
    if (webhook_rotator) {
      // A rotated certificate may come with a new CA bundle: the leader re-patches.
      mesh::kubestore::LeaderDuties* to_kick = duties.get();
      webhook_rotator->Start(std::chrono::minutes(1), [to_kick](const std::string&) {
        if (to_kick != nullptr) {
          to_kick->Kick();
        }
      });
    }
    mesh::common::WaitForTerminationSignal();
    if (webhook_rotator) {
      webhook_rotator->Stop();
    }
    if (duties) {
      duties->Stop();
    }
    if (webhook) {
      webhook->Stop();
    }
    (*cp)->Stop();
    if (kube_store) {
      kube_store->Stop();
    }
    ctx.exit_code = kExitOk;
  });

  // proxy-status: per proxy, per type SYNCED / STALE / NOT SENT / NACKED.
  auto cp_address = std::make_shared<std::string>("127.0.0.1:15010");
  auto* status = app.add_subcommand("proxy-status", "Show each connected proxy's configuration sync status");
  status->add_option("--control-plane", *cp_address, "Control plane address")->capture_default_str();
  auto status_output = std::make_shared<std::string>();
  status->add_option("-o,--output", *status_output, "Output format: table (default) or json");
  status->callback([cp_address, status_output, &ctx] {
    auto body = HttpGet(*cp_address, "/debug/syncz");
    if (!body.ok()) {
      std::cerr << "Error: " << body.status().message() << "\n";
      ctx.exit_code = kExitFailure;
      return;
    }
    if (*status_output == "json") {
      std::cout << *body << "\n";
      return;
    }
    auto list = mesh::config::ParseYamlNode(*body, "syncz");
    if (!list.ok()) {
      std::cerr << "Error: " << list.status().message() << "\n";
      ctx.exit_code = kExitFailure;
      return;
    }
    std::cout << fmt::format("{:<60} {:<10} {:<10} {:<10} {:<10} {:<10}\n", "NAME", "CDS", "LDS", "EDS", "RDS", "SDS");
    for (const auto& p : list->items()) {
      auto col = [&](const char* t) {
        const auto& s = p.At({"types", t, "status"});
        return s.IsScalar() ? s.Str() : std::string("NOT SENT");
      };
      std::cout << fmt::format("{:<60} {:<10} {:<10} {:<10} {:<10} {:<10}\n", p["proxy"].Str(), col("CDS"), col("LDS"),
                               col("EDS"), col("RDS"), col("SDS"));
    }
  });

  // proxy-config TYPE PROXY: what the control plane last sent.
  struct PcFlags {
    std::string type;
    std::string proxy;
    std::string output = "short";
  };
  auto pc = std::make_shared<PcFlags>();
  auto* config = app.add_subcommand("proxy-config", "Show the configuration the control plane sent to a proxy");
  config->add_option("type", pc->type, "listeners|routes|clusters|endpoints|secrets|all")->required()
      ->check(CLI::IsMember({"listeners", "routes", "clusters", "endpoints", "secrets", "all"}));
  config->add_option("proxy", pc->proxy, "Proxy id (see meshctl proxy-status)")->required();
  config->add_option("--control-plane", *cp_address, "Control plane address")->capture_default_str();
  config->add_option("-o,--output", pc->output, "Output format: short (names), json or yaml")->capture_default_str();
  config->callback([pc, cp_address, &ctx] {
    auto body = HttpGet(*cp_address, "/debug/config_dump?proxyID=" + pc->proxy);
    if (!body.ok()) {
      std::cerr << "Error: " << body.status().message() << "\n";
      ctx.exit_code = kExitFailure;
      return;
    }
    auto dump = mesh::config::ParseYamlNode(*body, "config_dump");
    if (!dump.ok()) {
      std::cerr << "Error: " << dump.status().message() << "\n";
      ctx.exit_code = kExitFailure;
      return;
    }
    static const std::map<std::string, std::string> kTypes = {
        {"listeners", "LDS"}, {"routes", "RDS"}, {"clusters", "CDS"}, {"endpoints", "EDS"}, {"secrets", "SDS"}};
    mesh::config::Node selected = mesh::config::Node::Map();
    for (const auto& [name, short_name] : kTypes) {
      if (pc->type == "all" || pc->type == name) {
        selected.Set(name, (*dump)[short_name]);
      }
    }
    if (pc->output == "json") {
      std::cout << mesh::config::EmitJson(pc->type == "all" ? selected : selected[pc->type]) << "\n";
    } else if (pc->output == "yaml") {
      std::cout << mesh::config::EmitYaml(pc->type == "all" ? selected : selected[pc->type]);
    } else {
      for (const auto& [name, list] : selected.entries()) {
        for (const auto& r : list.items()) {
          std::string id = r["name"].Str().empty() ? r["cluster_name"].Str() : r["name"].Str();
          std::string filters = name == "listeners" ? ListenerFilterSummary(r) : "";
          std::cout << fmt::format("{:<10} {}{}\n", name, id, filters.empty() ? "" : "  " + filters);
        }
      }
    }
  });

  // x token: a bootstrap token for one local workload.
  struct TokenFlags {
    std::string ns = "default";
    std::string service_account = "default";
    std::string workload;
    int hours = 24 * 365;
  };
  auto tf = std::make_shared<TokenFlags>();
  auto* token = ExperimentalCommand(app)->add_subcommand(
      "token", "Issue a bootstrap token that lets one local workload's proxy obtain its identity");
  token->add_option("-n,--namespace", tf->ns, "Workload namespace")->capture_default_str();
  token->add_option("--service-account", tf->service_account, "Workload service account")->capture_default_str();
  token->add_option("--workload", tf->workload, "Workload name")->required();
  token->add_option("--valid-hours", tf->hours, "Token lifetime")->capture_default_str();
  AddStateDirFlag(token, ctx);
  token->callback([tf, &ctx] {
    if (auto st = mesh::common::MakeDirs(ResolveStateDir(ctx)); !st.ok()) {
      std::cerr << "Error: " << st.message() << "\n";
      ctx.exit_code = kExitFailure;
      return;
    }
    auto authority = mesh::ca::TokenAuthority::Open(ResolveStateDir(ctx) + "/token-key");
    if (!authority.ok()) {
      std::cerr << "Error: " << authority.status().message() << "\n";
      ctx.exit_code = kExitFailure;
      return;
    }
    std::cout << authority->Issue({tf->ns, tf->service_account, tf->workload,
                                   std::chrono::system_clock::now() + std::chrono::hours(tf->hours)})
              << "\n";
  });
}

}  // namespace meshctl
