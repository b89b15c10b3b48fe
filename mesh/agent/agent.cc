#include "mesh/agent/agent.h"

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <mutex>
#include <thread>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "mesh/common/file_util.h"
#include "mesh/common/strings.h"
#include "mesh/config/emit.h"
#include "mesh/config/yaml_loader.h"
#include "mesh/proxyconfig/decode.h"
#include "mesh/xds/server.h"
#include "mesh/xds/tls_tunnel.h"

namespace mesh::agent {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using config::Node;

std::string FormatTime(std::chrono::system_clock::time_point t) {
  time_t tt = std::chrono::system_clock::to_time_t(t);
  struct tm tm {};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

class AgentImpl : public ProxyAgent, public xds::XdsClientCallbacks, public std::enable_shared_from_this<AgentImpl> {
 public:
  AgentImpl(AgentOptions o, std::shared_ptr<proxy::Proxy> p, proxyconfig::Bootstrap b)
      : options_(std::move(o)), proxy_(std::move(p)), bootstrap_(std::move(b)) {
    if (!options_.time_source) {
      options_.time_source = std::make_shared<common::RealTimeSource>();
    }
  }

  // With a control plane root: every request to the control plane goes through a TLS
  // tunnel whose loopback end replaces the configured address from here on.
  absl::Status Init() {
    if (options_.control_plane_root_pem.empty()) {
      return absl::OkStatus();
    }
    xds::TlsOriginatorOptions to;
    to.host = options_.control_plane_host;
    to.port = options_.control_plane_port;
    to.root_pem = options_.control_plane_root_pem;
    to.server_name = options_.control_plane_server_name;
    auto tunnel = xds::StartTlsOriginator(to);
    if (!tunnel.ok()) {
      return tunnel.status();
    }
    tls_ = std::move(*tunnel);
    options_.control_plane_host = "127.0.0.1";
    options_.control_plane_port = tls_->port();
    return absl::OkStatus();
  }

  absl::Status FetchFirstCertificate(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    absl::Status st;
    while (true) {
      st = Rotate();
      if (st.ok() || std::chrono::steady_clock::now() >= deadline ||
          st.code() == absl::StatusCode::kUnauthenticated || st.code() == absl::StatusCode::kPermissionDenied) {
        return st;
      }
      std::this_thread::sleep_for(options_.retry_interval);
    }
  }

  void StartLoops(std::shared_ptr<AgentImpl> self) {
    xds::XdsClientOptions xo;
    xo.host = options_.control_plane_host;
    xo.port = options_.control_plane_port;
    xo.node = options_.node;
    xo.node.authorization = "Bearer " + options_.token;
    if (!options_.token_file.empty()) {
      std::weak_ptr<AgentImpl> weak = self;
      xo.authorization_provider = [weak, initial = options_.token] {
        auto agent = weak.lock();
        return "Bearer " + (agent ? agent->CurrentToken() : initial);
      };
    }
    client_ = xds::StartXdsClient(xo, self);
    rotation_ = std::thread([this] { RotationLoop(); });
  }

  // mesh::agent::ProxyAgent
  AgentStatus Status() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return status_;
  }
  absl::Status RotateNow() override { return Rotate(); }
  void Stop() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) {
        return;
      }
      stopping_ = true;
      cv_.notify_all();
    }
    if (client_) {
      client_->Stop();  // after this no callback runs
    }
    if (rotation_.joinable()) {
      rotation_.join();
    }
    client_.reset();  // the client holds the agent as its callbacks: break the cycle
    if (tls_) {
      tls_->Stop();
    }
  }
  ~AgentImpl() override { Stop(); }

  // mesh::xds::XdsClientCallbacks (called on the discovery client's thread)
  absl::Status OnResources(const std::string& type_url, const std::string& version,
                           const std::vector<Node>& resources) override {
    std::lock_guard<std::mutex> lock(mu_);
    Pending next = latest_;
    absl::Status decoded = Decode(type_url, resources, next);
    if (!decoded.ok()) {
      ++status_.rejected;
      status_.last_error = std::string(decoded.message());
      return decoded;  // NACK: the proxy keeps running what it has
    }
    next.versions[type_url] = version;
    latest_ = std::move(next);
    absl::Status applied = ApplyLocked();
    if (!applied.ok() && applied.code() != absl::StatusCode::kUnavailable) {
      ++status_.rejected;
      status_.last_error = std::string(applied.message());
      latest_.versions.erase(type_url);
      return applied;
    }
    return absl::OkStatus();
  }
  void OnConnectionChange(bool connected) override {
    std::lock_guard<std::mutex> lock(mu_);
    status_.connected = connected;
  }
  void OnStreamError(const absl::Status& error) override {
    std::fprintf(stderr, "agent: discovery: %s\n", std::string(error.message()).c_str());
    std::lock_guard<std::mutex> lock(mu_);
    status_.last_error = std::string(error.message());
  }

 private:
  struct Pending {
    std::vector<proxyconfig::Listener> listeners;
    std::vector<proxyconfig::RouteConfiguration> routes;
    std::vector<proxyconfig::Cluster> clusters;
    std::vector<proxyconfig::ClusterLoadAssignment> endpoints;
    std::vector<proxyconfig::Secret> secrets;
    std::map<std::string, std::string> versions;
  };

  static absl::Status Decode(const std::string& type_url, const std::vector<Node>& resources, Pending& out) {
    std::string where = xds::type_url::ShortName(type_url);
    int i = 0;
    auto path = [&] { return common::StrCat(where, "[", i++, "]"); };
    if (type_url == xds::type_url::kListener) {
      out.listeners.clear();
      for (const Node& n : resources) {
        auto v = proxyconfig::DecodeListener(n, path());
        if (!v.ok()) return v.status();
        out.listeners.push_back(std::move(*v));
      }
    } else if (type_url == xds::type_url::kRoute) {
      out.routes.clear();
      for (const Node& n : resources) {
        auto v = proxyconfig::DecodeRouteConfiguration(n, path());
        if (!v.ok()) return v.status();
        out.routes.push_back(std::move(*v));
      }
    } else if (type_url == xds::type_url::kCluster) {
      out.clusters.clear();
      for (const Node& n : resources) {
        auto v = proxyconfig::DecodeCluster(n, path());
        if (!v.ok()) return v.status();
        out.clusters.push_back(std::move(*v));
      }
    } else if (type_url == xds::type_url::kEndpoint) {
      out.endpoints.clear();
      for (const Node& n : resources) {
        auto v = proxyconfig::DecodeClusterLoadAssignment(n, path());
        if (!v.ok()) return v.status();
        out.endpoints.push_back(std::move(*v));
      }
    } else if (type_url == xds::type_url::kSecret) {
      out.secrets.clear();
      for (const Node& n : resources) {
        auto v = proxyconfig::DecodeSecret(n, path());
        if (!v.ok()) return v.status();
        out.secrets.push_back(std::move(*v));
      }
    } else {
      return absl::InvalidArgumentError("unsupported type " + type_url);
    }
    return absl::OkStatus();
  }

  // Builds the snapshot from the latest resources and the local certificate. Resources
  // arrive type by type; until they are consistent (every referenced cluster, route and
  // secret present) the proxy keeps its current config (Envoy's warming).
  absl::Status ApplyLocked() {
    if (cert_chain_.empty() || latest_.versions.size() < xds::type_url::SubscriptionOrder().size()) {
      return absl::UnavailableError("waiting for the first full configuration");
    }
    auto snap = std::make_shared<proxy::ConfigSnapshot>();
    snap->bootstrap = bootstrap_;
    proxyconfig::Resources& r = snap->resources;
    r.listeners = latest_.listeners;
    r.route_configs = latest_.routes;
    r.clusters = latest_.clusters;
    r.endpoints = latest_.endpoints;
    r.secrets = latest_.secrets;
    proxyconfig::Secret cert;
    cert.name = "default";
    cert.tls_certificate = proxyconfig::TlsCertificate{{"", cert_chain_}, {"", key_pem_}};
    r.secrets.push_back(std::move(cert));
    proxyconfig::Secret root;
    root.name = "ROOTCA";
    root.validation_context = proxyconfig::CertificateValidationContext{{"", root_pem_}, {}};
    r.secrets.push_back(std::move(root));
    r.version_info = common::Join({latest_.versions[xds::type_url::kListener], latest_.versions[xds::type_url::kCluster]},
                                  "/");
    if (absl::Status st = proxyconfig::ValidateResources(r); !st.ok()) {
      return absl::UnavailableError(common::StrCat("warming: ", std::string(st.message())));
    }
    absl::Status st = proxy_->UpdateConfig(std::move(snap));
    if (st.ok()) {
      ++status_.applied;
    }
    return st;
  }

  // The token file's current content (projected tokens are replaced by the kubelet), or
  // the token given at start when there is no file or it cannot be read.
  std::string CurrentToken() const {
    if (options_.token_file.empty()) {
      return options_.token;
    }
    auto text = common::ReadFile(options_.token_file);
    if (!text.ok()) {
      return options_.token;
    }
    return std::string(common::StripWhitespace(*text));
  }

  absl::Status Rotate() {
    auto kc = ca::GenerateKeyAndCsr(options_.identity);
    if (!kc.ok()) {
      return kc.status();
    }
    auto reply = RequestCertificate(options_.control_plane_host, options_.control_plane_port, CurrentToken(), kc->csr_pem);
    if (!reply.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      status_.last_error = std::string(reply.status().message());
      return reply.status();
    }
    auto info = ca::InspectCertificate(reply->first);
    if (!info.ok()) {
      return info.status();
    }
    std::lock_guard<std::mutex> lock(mu_);
    bool first = cert_chain_.empty();
    key_pem_ = kc->key_pem;
    cert_chain_ = reply->first;
    root_pem_ = reply->second;
    // Rotate at the fraction of the lifetime that is left from now: certificates are
    // backdated for clock skew, which would otherwise make short lifetimes rotate at once.
    auto now = options_.time_source->SystemNow();
    auto remaining = info->not_after - now;
    rotate_at_ = now + std::max<std::chrono::system_clock::duration>(
                           std::chrono::duration_cast<std::chrono::system_clock::duration>(
                               remaining * options_.rotation_fraction),
                           std::chrono::seconds(1));
    status_.has_certificate = true;
    status_.certificate_serial_hint = FormatTime(info->not_after);
    if (!first) {
      ++status_.rotations;
    }
    // New listeners pick the certificate up for new handshakes; open connections stay.
    (void)ApplyLocked();
    cv_.notify_all();
    return absl::OkStatus();
  }

  void RotationLoop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopping_) {
      // Bounded waits on the real clock, the rotation point checked on the injected one:
      // a jump of the wall clock is noticed within clock_check_interval.
      auto wait_until = rotate_at_;
      auto now = options_.time_source->SystemNow();
      if (now < wait_until) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(wait_until - now);
        cv_.wait_for(lock, std::min(left + std::chrono::milliseconds(1), options_.clock_check_interval),
                     [&] { return stopping_ || rotate_at_ != wait_until; });
      }
      if (stopping_) {
        return;
      }
      if (options_.time_source->SystemNow() < rotate_at_) {
        continue;
      }
      lock.unlock();
      absl::Status st = Rotate();
      lock.lock();
      if (!st.ok()) {
        // Keep the current certificate and try again shortly.
        rotate_at_ = options_.time_source->SystemNow() + options_.retry_interval;
      }
    }
  }

  AgentOptions options_;
  std::shared_ptr<proxy::Proxy> proxy_;
  proxyconfig::Bootstrap bootstrap_;
  std::unique_ptr<xds::TlsTunnel> tls_;  // to the control plane's TLS port, when enabled
  std::unique_ptr<xds::XdsClient> client_;
  std::thread rotation_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  Pending latest_;
  std::string key_pem_;
  std::string cert_chain_;
  std::string root_pem_;
  std::chrono::system_clock::time_point rotate_at_ = std::chrono::system_clock::time_point::max();
  AgentStatus status_;
};

}  // namespace

absl::StatusOr<std::pair<std::string, std::string>> RequestCertificate(const std::string& host, uint16_t port,
                                                                       const std::string& token,
                                                                       const std::string& csr_pem) {
  try {
    net::io_context ioc;
    tcp::resolver resolver(ioc);
    beast::tcp_stream stream(ioc);
    stream.expires_after(std::chrono::seconds(10));
    stream.connect(resolver.resolve(host, std::to_string(port)));
    http::request<http::string_body> req{http::verb::post, "/v1/certificate", 11};
    req.set(http::field::host, host);
    req.set(http::field::authorization, "Bearer " + token);
    req.set(http::field::content_type, "application/json");
    req.body() = common::StrCat("{\"csr\": ", config::JsonQuote(csr_pem), "}");
    req.prepare_payload();
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(stream, buffer, res);
    beast::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
    auto body = config::ParseYamlNode(res.body(), "certificate reply");
    if (res.result_int() == 401) {
      return absl::UnauthenticatedError("CA refused the bootstrap token: " + (body.ok() ? (*body)["error"].Str() : ""));
    }
    if (res.result_int() == 403) {
      return absl::PermissionDeniedError("CA refused the identity: " + (body.ok() ? (*body)["error"].Str() : ""));
    }
    if (res.result_int() != 200 || !body.ok()) {
      return absl::UnavailableError(common::StrCat("CA answered ", res.result_int()));
    }
    return std::make_pair((*body)["certChain"].Str(), (*body)["rootCert"].Str());
  } catch (const std::exception& e) {
    return absl::UnavailableError(common::StrCat("CA at ", host, ":", port, " unreachable: ", e.what()));
  }
}

absl::StatusOr<std::unique_ptr<ProxyAgent>> StartProxyAgent(AgentOptions options, std::shared_ptr<proxy::Proxy> proxy,
                                                            proxyconfig::Bootstrap bootstrap,
                                                            std::chrono::milliseconds first_certificate_timeout) {
  auto agent = std::make_shared<AgentImpl>(std::move(options), std::move(proxy), std::move(bootstrap));
  if (auto st = agent->Init(); !st.ok()) {
    return st;
  }
  if (auto st = agent->FetchFirstCertificate(first_certificate_timeout); !st.ok()) {
    return st;
  }
  agent->StartLoops(agent);
  // The caller owns the agent through a unique_ptr facade that stops it.
  struct Holder : ProxyAgent {
    std::shared_ptr<AgentImpl> impl;
    AgentStatus Status() const override { return impl->Status(); }
    absl::Status RotateNow() override { return impl->RotateNow(); }
    void Stop() override { impl->Stop(); }
    ~Holder() override { impl->Stop(); }
  };
  auto holder = std::make_unique<Holder>();
  holder->impl = std::move(agent);
  return std::unique_ptr<ProxyAgent>(std::move(holder));
}

}  // namespace mesh::agent
