#include "mesh/controlplane/control_plane.h"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include "mesh/common/file_util.h"
#include "mesh/common/strings.h"
#include "mesh/config/emit.h"
#include "mesh/config/yaml_loader.h"
#include "mesh/pilot/authz.h"
#include "mesh/xds/stream_state.h"
#include "mesh/xds/tls_tunnel.h"

namespace mesh::controlplane {
namespace {

// Renewed at every start; a year outlives any local-mode control plane.
constexpr std::chrono::seconds kServingCertTtl{365 * 24 * 3600};

using Clock = std::chrono::steady_clock;

class ControlPlaneImpl;

// Bridges the discovery server to the control plane (called on the server thread).
class Source : public xds::ResourceSource {
 public:
  explicit Source(ControlPlaneImpl* cp) : cp_(cp) {}
  xds::ResourceList Generate(const xds::ProxyNode& proxy, const std::string& type_url) override;
  void OnProxyConnected(const xds::ProxyNode& proxy) override;
  void OnProxyDisconnected(const xds::ProxyNode& proxy) override;
  void OnNack(const xds::ProxyNode& proxy, const std::string& type_url, const std::string& error) override;

 private:
  ControlPlaneImpl* cp_;
};

class ControlPlaneImpl : public ControlPlane {
 public:
  explicit ControlPlaneImpl(ControlPlaneOptions o)
      : options_(std::move(o)),
        registry_(options_.workload_grace),
        debouncer_(options_.debounce_quiet, options_.debounce_max) {}

  absl::Status Init() {
    auto ca = ca::OpenLocalCa({options_.ca_dir, options_.mesh.trust_domain});
    if (!ca.ok()) {
      return ca.status();
    }
    ca_ = std::move(*ca);
    authenticator_ = options_.authenticator;
    if (authenticator_ == nullptr) {
      auto tokens = ca::TokenAuthority::Open(options_.token_key_file);
      if (!tokens.ok()) {
        return tokens.status();
      }
      authenticator_ = std::make_shared<ca::BootstrapTokenAuthenticator>(std::move(*tokens));
    }
    RestoreRegistry();
    if (auto st = Rebuild(); !st.ok()) {
      return st;
    }
    if (options_.dashboard_enabled) {
      CreateDashboard();  // before the server thread exists, which reads dashboard_
    }
    xds::XdsServerOptions xo;
    xo.address = options_.address;
    xo.port = options_.port;
    xo.extra_http = [this](xds::HttpExchange& ex) { HandleHttp(ex); };
    xo.max_connection_age = options_.max_connection_age;
    auto server = xds::StartXdsServer(xo, std::make_shared<Source>(this));
    if (!server.ok()) {
      return server.status();
    }
    server_ = std::move(*server);
    server_for_dashboard_ = server_.get();
    if (dashboard_) {
      dashboard_->Start();
    }
    loop_ = std::thread([this] { Loop(); });
    for (const std::optional<uint16_t>& extra : {options_.debug_port, options_.monitoring_port}) {
      if (!extra) {
        continue;
      }
      xds::XdsServerOptions ho;
      ho.address = options_.address;
      ho.port = *extra;
      ho.http_only = true;
      ho.extra_http = [this](xds::HttpExchange& ex) { HandleHttp(ex); };
      auto http = xds::StartXdsServer(ho, std::make_shared<Source>(this));
      if (!http.ok()) {
        return http.status();  // the caller's destructor runs Stop()
      }
      http_servers_.push_back(std::move(*http));
    }
    if (options_.tls_port) {
      return StartTls();  // on error the caller's destructor runs Stop()
    }
    return absl::OkStatus();
  }

  // The TLS port: a serving certificate from our own CA (a fresh key, kept in memory),
  // terminated in front of the plaintext discovery listener.
  absl::Status StartTls() {
    auto cert = ca_->IssueServingCertificate(options_.tls_dns_names, kServingCertTtl);
    if (!cert.ok()) {
      return cert.status();
    }
    xds::TlsTerminatorOptions to;
    to.address = options_.address;
    to.port = *options_.tls_port;
    to.cert_chain_pem = cert->chain_pem;
    to.key_pem = cert->key_pem;
    to.backend_port = server_->port();
    auto tunnel = xds::StartTlsTerminator(to);
    if (!tunnel.ok()) {
      return tunnel.status();
    }
    tls_ = std::move(*tunnel);
    return absl::OkStatus();
  }

  // mesh::controlplane::ControlPlane
  uint16_t port() const override { return server_->port(); }
  uint16_t tls_port() const override { return tls_ ? tls_->port() : 0; }
  xds::XdsServer& xds() override { return *server_; }
  ControlPlaneStats Stats() const override {
    std::lock_guard<std::mutex> lock(mu_);
    ControlPlaneStats s = stats_;
    s.connected_proxies = server_ ? server_->ConnectedProxies() : 0;
    s.push_context_version = push_ ? push_->version() : 0;
    return s;
  }
  void TriggerPush() override {
    std::lock_guard<std::mutex> lock(mu_);
    force_rebuild_ = true;
    debouncer_.OnChange(Clock::now() - options_.debounce_max);
    cv_.notify_all();
  }
  void Stop() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) {
        return;
      }
      stopping_ = true;
      cv_.notify_all();
    }
    if (loop_.joinable()) {
      loop_.join();
    }
    if (dashboard_) {
      dashboard_->Stop();
    }
    for (auto& http : http_servers_) {
      http->Stop();
    }
    if (server_) {
      server_->Stop();
    }
    if (tls_) {
      tls_->Stop();
    }
  }
  ~ControlPlaneImpl() override { Stop(); }

  // Called by Source on the server thread.
  xds::ResourceList Generate(const xds::ProxyNode& node, const std::string& type_url) {
    std::shared_ptr<const pilot::PushContext> push;
    ProxyIdentity identity;
    {
      std::lock_guard<std::mutex> lock(mu_);
      const ProxyIdentity* id = registry_.Find(node.id);
      auto auth = authenticated_.find(node.id);
      // Unauthenticated or unknown proxies get nothing; neither does a stream that merely
      // reuses the node id of an authenticated proxy with another credential.
      if (id == nullptr || !options_.generator || auth == authenticated_.end() ||
          auth->second != node.authorization) {
        return xds::MakeResourceList({});
      }
      identity = *id;
      push = push_;
    }
    return options_.generator(identity, *push, type_url);
  }

  void Connected(const xds::ProxyNode& node) {
    auto identity = ParseProxyIdentity(node);
    if (!identity.ok()) {
      std::fprintf(stderr, "control-plane: proxy %s refused: %s\n", node.id.c_str(),
                   std::string(identity.status().message()).c_str());
      return;
    }
    if (auto st = Authenticate(node, *identity); !st.ok()) {
      std::fprintf(stderr, "control-plane: proxy %s refused: %s\n", node.id.c_str(), std::string(st.message()).c_str());
      return;
    }
    std::lock_guard<std::mutex> lock(mu_);
    authenticated_[node.id] = node.authorization;
    if (registry_.Connect(node.id, *identity, node.metadata)) {
      debouncer_.OnChange(Clock::now());
      dirty_ = true;
      cv_.notify_all();
    }
  }

  void Disconnected(const xds::ProxyNode& node) {
    std::lock_guard<std::mutex> lock(mu_);
    if (registry_.Disconnect(node.id, Clock::now())) {
      debouncer_.OnChange(Clock::now());
      dirty_ = true;
    }
    cv_.notify_all();
  }

 private:
  absl::Status Authenticate(const xds::ProxyNode& node, const ProxyIdentity& identity) {
    std::string_view auth = node.authorization;
    if (!common::ConsumePrefix(auth, "Bearer ")) {
      return absl::UnauthenticatedError(
          common::StrCat("no ", authenticator_->CredentialName(), " (Authorization: Bearer ...)"));
    }
    auto claims = authenticator_->Authenticate(std::string(auth));
    if (!claims.ok()) {
      return claims.status();
    }
    if (claims->ns != identity.workload.ns || claims->service_account != identity.workload.service_account) {
      return absl::PermissionDeniedError(common::StrCat("token is for ", claims->ns, "/", claims->service_account,
                                                        ", proxy claims ", identity.workload.ns, "/",
                                                        identity.workload.service_account));
    }
    return absl::OkStatus();
  }

  void CreateDashboard() {
    dashboard::DashboardSources sources;
    sources.proxies = [this] {
      xds::XdsServer* server = server_for_dashboard_.load();
      return server ? server->Snapshot() : std::vector<xds::ProxySyncInfo>{};
    };
    std::shared_ptr<store::ConfigStore> store = options_.store;
    sources.config_generation = [store] { return store->Generation(); };
    sources.config = [store]() -> absl::StatusOr<std::vector<config::Resource>> {
      auto objects = store->List({});
      if (!objects.ok()) {
        return objects.status();
      }
      std::vector<config::Resource> resources;
      for (store::StoredObject& o : *objects) {
        if (auto r = config::Resource::FromNode(std::move(o.object), {}); r.ok()) {
          resources.push_back(std::move(*r));
        }
      }
      return resources;
    };
    dashboard_ = dashboard::CreateDashboard(options_.dashboard, std::move(sources));
  }

  void HandleHttp(xds::HttpExchange& ex) {
    if (dashboard_ && dashboard_->HandleHttp(ex)) {
      return;
    }
    if (ex.method == "GET" && ex.target == "/ready") {
      // Serving means the first snapshot was built (after the store's first sync).
      ex.status = 200;
      ex.content_type = "text/plain";
      ex.response = "ok\n";
      return;
    }
    if (ex.method == "GET" && ex.target == "/metrics") {
      // Prometheus text; the names are istiod's where the meaning is the same.
      uint64_t certificates = 0;
      uint64_t pushes = 0;
      xds::XdsServer* server = server_for_dashboard_.load();  // null until the server runs
      {
        std::lock_guard<std::mutex> lock(mu_);
        certificates = stats_.certificates;
        pushes = stats_.pushes;
      }
      ex.status = 200;
      ex.content_type = "text/plain; version=0.0.4";
      ex.response = common::StrCat(
          "# HELP pilot_xds Number of proxies connected to this control plane.\n# TYPE pilot_xds gauge\npilot_xds ",
          static_cast<uint64_t>(server ? server->ConnectedProxies() : 0),
          "\n# HELP citadel_server_success_cert_issuance_count Workload certificates signed.\n"
          "# TYPE citadel_server_success_cert_issuance_count counter\ncitadel_server_success_cert_issuance_count ",
          certificates,
          "\n# HELP meshctl_control_plane_pushes_total Configuration snapshots built and pushed.\n"
          "# TYPE meshctl_control_plane_pushes_total counter\nmeshctl_control_plane_pushes_total ",
          pushes, "\n");
      return;
    }
    if (ex.method == "GET" && ex.target == "/debug/ca") {
      std::lock_guard<std::mutex> lock(mu_);
      ex.status = 200;
      ex.response = common::StrCat("{\"certificatesIssued\": ", stats_.certificates, ", \"pushes\": ", stats_.pushes,
                                   "}");
      return;
    }
    if (ex.method == "GET" && ex.target == "/debug/configz") {
      // The configuration objects of the current snapshot (istiod's /debug/configz).
      std::shared_ptr<const pilot::PushContext> push;
      {
        std::lock_guard<std::mutex> lock(mu_);
        push = push_;
      }
      config::Node list = config::Node::Sequence();
      for (const config::Resource& r : push->resources()) {
        if (r.gvk().group.empty() && r.kind() == "Secret") {
          continue;  // credentials (private keys) are not debug output
        }
        list.Append(r.root());
      }
      ex.status = 200;
      ex.response = config::EmitJson(list);
      return;
    }
    if (ex.method != "POST" || ex.target != "/v1/certificate") {
      return;  // 404
    }
    auto reply = [&](int status, const std::string& message) {
      ex.status = status;
      ex.response = common::StrCat("{\"error\": ", config::JsonQuote(message), "}");
    };
    std::string_view auth = ex.authorization;
    if (!common::ConsumePrefix(auth, "Bearer ")) {
      reply(401, common::StrCat(authenticator_->CredentialName(), " required"));
      return;
    }
    auto claims = authenticator_->Authenticate(std::string(auth));
    if (!claims.ok()) {
      // A review that could not be done (API server unreachable) is worth retrying.
      reply(claims.status().code() == absl::StatusCode::kUnavailable ? 503 : 401,
            std::string(claims.status().message()));
      return;
    }
    auto body = config::ParseYamlNode(ex.body, "certificate request");
    if (!body.ok() || !(*body)["csr"].IsScalar()) {
      reply(400, "expected {\"csr\": \"<PEM>\"}");
      return;
    }
    std::string trust_domain;
    {
      std::lock_guard<std::mutex> lock(mu_);
      trust_domain = push_->mesh().trust_domain;  // follows the mesh config
    }
    ca::SpiffeId id{trust_domain, claims->ns, claims->service_account};
    auto signed_cert = ca_->Sign((*body)["csr"].Str(), id, options_.workload_cert_ttl);
    if (!signed_cert.ok()) {
      reply(signed_cert.status().code() == absl::StatusCode::kPermissionDenied ? 403 : 400,
            std::string(signed_cert.status().message()));
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++stats_.certificates;
    }
    ex.status = 200;
    ex.response = common::StrCat("{\"certChain\": ", config::JsonQuote(signed_cert->chain_pem),
                                 ", \"rootCert\": ", config::JsonQuote(signed_cert->root_cert_pem), "}");
  }

  // What AuthorizationPolicies ask for and meshctl cannot enforce; each line once.
  void ReportAuthorizationWarnings(const pilot::PushContext& push) {
    std::vector<std::string> warnings = pilot::AuthorizationWarnings(push);
    std::set<std::string> now(warnings.begin(), warnings.end());
    for (const std::string& w : warnings) {
      if (!authz_warnings_.count(w)) {
        std::fprintf(stderr, "control-plane: warning: %s\n", w.c_str());
      }
    }
    authz_warnings_ = std::move(now);  // only the Loop thread rebuilds
  }

  absl::Status Rebuild() {
    auto objects = options_.store->List({});
    if (!objects.ok()) {
      return objects.status();
    }
    std::vector<config::Resource> resources;
    resources.reserve(objects->size());
    for (store::StoredObject& o : *objects) {
      auto r = config::Resource::FromNode(std::move(o.object), {});
      if (r.ok()) {
        resources.push_back(std::move(*r));
      }
    }
    pilot::MeshSettings mesh = options_.mesh_from_config ? options_.mesh_from_config(resources, options_.mesh)
                                                         : options_.mesh;
    std::vector<pilot::WorkloadInstance> workloads;
    if (options_.workload_discovery) {
      workloads = options_.workload_discovery(resources, mesh);
    } else {
      std::lock_guard<std::mutex> lock(mu_);
      workloads = registry_.Workloads();
    }
    auto push = pilot::PushContext::Build(std::move(resources), std::move(workloads), mesh);
    ReportAuthorizationWarnings(*push);
    std::lock_guard<std::mutex> lock(mu_);
    push_ = std::move(push);
    return absl::OkStatus();
  }

  // The control thread: watch the store, expire registrations, debounce, push.
  void Loop() {
    int64_t generation = options_.store->Generation().value_or(-1);
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopping_) {
      auto next = Clock::now() + options_.store_poll;
      if (auto deadline = debouncer_.Deadline(); deadline && *deadline < next) {
        next = *deadline;
      }
      cv_.wait_until(lock, next);
      if (stopping_) {
        break;
      }
      lock.unlock();
      int64_t now_generation = options_.store->Generation().value_or(generation);
      lock.lock();
      if (now_generation != generation) {
        generation = now_generation;
        debouncer_.OnChange(Clock::now());
        dirty_ = true;
      }
      if (registry_.Expire(Clock::now())) {
        debouncer_.OnChange(Clock::now());
        dirty_ = true;
      }
      if ((dirty_ || force_rebuild_) && debouncer_.TakeDue(Clock::now())) {
        dirty_ = false;
        force_rebuild_ = false;
        lock.unlock();
        absl::Status st = Rebuild();
        if (st.ok()) {
          server_->PushAll();
        } else {
          std::fprintf(stderr, "control-plane: reading the store failed: %s\n", std::string(st.message()).c_str());
        }
        lock.lock();
        ++stats_.pushes;
      }
      if (!options_.registry_file.empty() && registry_.version() != saved_registry_version_) {
        saved_registry_version_ = registry_.version();
        std::string text = registry_.Save();
        lock.unlock();
        if (auto st = common::WriteFileAtomic(options_.registry_file, text, 0600); !st.ok()) {
          std::fprintf(stderr, "control-plane: saving the workload registry failed: %s\n",
                       std::string(st.message()).c_str());
        }
        lock.lock();
      }
    }
  }

  // A restarted control plane starts from the proxies the last one knew, as disconnected:
  // gateways that reconnect before the sidecars still get their endpoints, and proxies
  // that do not come back expire after the grace period.
  void RestoreRegistry() {
    if (options_.registry_file.empty() || options_.workload_discovery) {
      return;
    }
    absl::StatusOr<std::string> text = common::ReadFile(options_.registry_file);
    if (!text.ok()) {
      return;  // first start
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (auto st = registry_.RestoreDisconnected(*text, Clock::now()); !st.ok()) {
      std::fprintf(stderr, "control-plane: ignoring the saved workload registry %s: %s\n",
                   options_.registry_file.c_str(), std::string(st.message()).c_str());
    }
    saved_registry_version_ = registry_.version();
  }

  ControlPlaneOptions options_;
  std::unique_ptr<ca::CertificateAuthority> ca_;
  std::shared_ptr<ca::Authenticator> authenticator_;
  std::unique_ptr<xds::XdsServer> server_;
  std::vector<std::unique_ptr<xds::XdsServer>> http_servers_;  // debug and monitoring ports
  std::unique_ptr<dashboard::Dashboard> dashboard_;
  std::atomic<xds::XdsServer*> server_for_dashboard_{nullptr};  // set once the server runs
  std::thread loop_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  WorkloadRegistry registry_;
  uint64_t saved_registry_version_ = 0;
  std::map<std::string, std::string> authenticated_;  // node id -> the credential that authenticated it
  xds::Debouncer debouncer_;
  std::shared_ptr<const pilot::PushContext> push_;
  std::set<std::string> authz_warnings_;  // touched by Rebuild() only (Start, then the Loop thread)
  std::unique_ptr<xds::TlsTunnel> tls_;    // the TLS discovery port, when enabled
  ControlPlaneStats stats_;
  bool dirty_ = false;
  bool force_rebuild_ = false;
  bool stopping_ = false;
};

xds::ResourceList Source::Generate(const xds::ProxyNode& proxy, const std::string& type_url) {
  return cp_->Generate(proxy, type_url);
}
void Source::OnProxyConnected(const xds::ProxyNode& proxy) { cp_->Connected(proxy); }
void Source::OnProxyDisconnected(const xds::ProxyNode& proxy) { cp_->Disconnected(proxy); }
void Source::OnNack(const xds::ProxyNode& proxy, const std::string& type_url, const std::string& error) {
  std::fprintf(stderr, "control-plane: %s rejected %s: %s\n", proxy.id.c_str(), xds::type_url::ShortName(type_url).c_str(),
               error.c_str());
}

}  // namespace

std::string EncodeCertificateRequest(const CertificateRequest& r) {
  return common::StrCat("{\"csr\": ", config::JsonQuote(r.csr_pem), "}");
}

absl::StatusOr<std::unique_ptr<ControlPlane>> StartControlPlane(ControlPlaneOptions options) {
  if (!options.store) {
    return absl::InvalidArgumentError("control plane needs a store");
  }
  auto cp = std::make_unique<ControlPlaneImpl>(std::move(options));
  if (auto st = cp->Init(); !st.ok()) {
    return st;
  }
  return std::unique_ptr<ControlPlane>(std::move(cp));
}

}  // namespace mesh::controlplane
