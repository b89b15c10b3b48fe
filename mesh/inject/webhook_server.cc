#include "mesh/inject/webhook_server.h"

#include <atomic>
#include <cstdio>
#include <mutex>
#include <set>
#include <thread>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "mesh/ca/ca.h"
#include "mesh/common/strings.h"
#include "mesh/config/yaml_loader.h"

namespace mesh::inject {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
constexpr auto kUse = net::as_tuple(net::use_awaitable);

class WebhookServerImpl : public WebhookServer {
 public:
  explicit WebhookServerImpl(WebhookServerOptions o) : options_(std::move(o)), acceptor_(ioc_) {}

  static absl::StatusOr<std::shared_ptr<ssl::context>> MakeContext(const std::string& chain_pem,
                                                                   const std::string& key_pem) {
    try {
      auto tls = std::make_shared<ssl::context>(ssl::context::tls_server);
      tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                       ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
      tls->use_certificate_chain(net::buffer(chain_pem));
      tls->use_private_key(net::buffer(key_pem), ssl::context::pem);
      return tls;
    } catch (const std::exception& e) {
      return absl::InvalidArgumentError(common::StrCat("webhook serving certificate: ", e.what()));
    }
  }

  absl::Status Init() {
    auto tls = MakeContext(options_.cert_chain_pem, options_.key_pem);
    if (!tls.ok()) {
      return tls.status();
    }
    tls_ = std::move(*tls);
    try {
      auto address = net::ip::make_address(options_.address);
      tcp::endpoint ep(address, options_.port);
      acceptor_.open(ep.protocol());
      acceptor_.set_option(net::socket_base::reuse_address(true));
      acceptor_.bind(ep);
      acceptor_.listen();
      port_ = acceptor_.local_endpoint().port();
    } catch (const std::exception& e) {
      return absl::UnavailableError(
          common::StrCat("webhook server on ", options_.address, ":", options_.port, ": ", e.what()));
    }
    return absl::OkStatus();
  }

  void Run() {
    net::co_spawn(ioc_, Accept(), net::detached);
    thread_ = std::thread([this] { ioc_.run(); });
  }

  // mesh::inject::WebhookServer
  uint16_t port() const override { return port_; }
  absl::Status UpdateCertificate(const std::string& chain_pem, const std::string& key_pem) override {
    auto tls = MakeContext(chain_pem, key_pem);
    if (!tls.ok()) {
      return tls.status();  // the current certificate stays
    }
    std::lock_guard<std::mutex> lock(mu_);
    tls_ = std::move(*tls);
    return absl::OkStatus();
  }
  void Stop() override {
    if (stopped_.exchange(true)) {
      return;
    }
    net::post(ioc_, [this] {
      beast::error_code ec;
      acceptor_.close(ec);
      std::lock_guard<std::mutex> lock(mu_);
      for (tcp::socket* s : sockets_) {
        s->close(ec);
      }
    });
    // With the listener and every connection closed the loop runs out of work and ends;
    // each session's coroutine unwinds on its own thread first.
    if (thread_.joinable()) {
      thread_.join();
    }
  }
  ~WebhookServerImpl() override { Stop(); }

 private:
  net::awaitable<void> Accept() {
    while (!stopped_) {
      auto [ec, socket] = co_await acceptor_.async_accept(kUse);
      if (ec) {
        if (ec == net::error::operation_aborted || !acceptor_.is_open()) {
          co_return;
        }
        continue;
      }
      net::co_spawn(ioc_, Session(std::move(socket)), net::detached);
    }
  }

  net::awaitable<void> Session(tcp::socket socket) {
    std::shared_ptr<ssl::context> tls;  // the certificate at accept time, kept for the connection
    {
      std::lock_guard<std::mutex> lock(mu_);
      tls = tls_;
    }
    ssl::stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(socket)), *tls);
    tcp::socket* raw = &beast::get_lowest_layer(stream).socket();
    {
      std::lock_guard<std::mutex> lock(mu_);
      sockets_.insert(raw);
    }
    struct Forget {
      WebhookServerImpl* self;
      tcp::socket* s;
      ~Forget() {
        std::lock_guard<std::mutex> lock(self->mu_);
        self->sockets_.erase(s);
      }
    } forget{this, raw};
    if (stopped_) {
      co_return;  // accepted while stopping: Stop() may have closed the others already
    }

    beast::get_lowest_layer(stream).expires_after(options_.io_timeout);
    auto [hec] = co_await stream.async_handshake(ssl::stream_base::server, kUse);
    if (hec) {
      co_return;
    }
    beast::flat_buffer buffer;
    while (true) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(options_.body_limit);
      beast::get_lowest_layer(stream).expires_after(options_.io_timeout);
      auto [rec, n] = co_await http::async_read(stream, buffer, parser, kUse);
      if (rec) {
        if (rec == http::error::body_limit) {
          http::response<http::string_body> too_big{http::status::payload_too_large, 11};
          too_big.body() = "request body too large\n";
          too_big.prepare_payload();
          co_await http::async_write(stream, too_big, kUse);
        }
        break;
      }
      const auto& req = parser.get();
      HttpReply reply = options_.handler(std::string_view(req.method_string().data(), req.method_string().size()),
                                         std::string_view(req.target().data(), req.target().size()), req.body());
      http::response<http::string_body> res{static_cast<http::status>(reply.status), req.version()};
      res.set(http::field::content_type, reply.content_type);
      res.keep_alive(req.keep_alive());
      res.body() = std::move(reply.body);
      res.prepare_payload();
      auto [wec, wn] = co_await http::async_write(stream, res, kUse);
      if (wec || !res.keep_alive()) {
        break;
      }
    }
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(2));
    co_await stream.async_shutdown(kUse);
  }

  WebhookServerOptions options_;
  net::io_context ioc_;
  std::shared_ptr<ssl::context> tls_;  // guarded by mu_; replaced on rotation
  tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::thread thread_;
  std::atomic<bool> stopped_{false};
  std::mutex mu_;
  std::set<tcp::socket*> sockets_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<WebhookServer>> StartWebhookServer(WebhookServerOptions options) {
  if (!options.handler) {
    return absl::InvalidArgumentError("webhook server needs a handler");
  }
  auto server = std::make_unique<WebhookServerImpl>(std::move(options));
  if (auto st = server->Init(); !st.ok()) {
    return st;
  }
  server->Run();
  return server;
}

absl::StatusOr<InjectionSettings> SettingsFromStore(const store::ConfigStore& store,
                                                    const std::string& istio_namespace) {
  auto cm = store.Get(store::ObjectKey{"", "ConfigMap", istio_namespace, "istio-sidecar-injector"});
  if (!cm.ok()) {
    return cm.status();
  }
  if (!cm->has_value()) {
    return InjectionSettings{};
  }
  InjectionSettings settings;
  const config::Node& values_text = (*cm)->object["data"]["values"];
  if (values_text.IsScalar() && !values_text.Str().empty()) {
    auto values = config::ParseYamlNode(values_text.Str(), "istio-sidecar-injector values");
    if (!values.ok()) {
      return values.status();
    }
    auto from_values = SettingsFromValues(*values);
    if (!from_values.ok()) {
      return from_values.status();
    }
    settings = std::move(*from_values);
  }
  // `config` (YAML): only its policy is read; the sidecar's layout is meshctl's own.
  const config::Node& config_text = (*cm)->object["data"]["config"];
  if (config_text.IsScalar() && !config_text.Str().empty()) {
    auto cfg = config::ParseYamlNode(config_text.Str(), "istio-sidecar-injector config");
    if (!cfg.ok()) {
      return cfg.status();
    }
    const std::string policy = (*cfg)["policy"].Str();
    if (!policy.empty() && policy != "enabled" && policy != "disabled") {
      return absl::InvalidArgumentError(
          common::StrCat("istio-sidecar-injector config.policy must be enabled or disabled, got \"", policy, "\""));
    }
    settings.policy_enabled = policy != "disabled";
  }
  return settings;
}

absl::StatusOr<AdmissionWebhook> StartAdmissionWebhook(const AdmissionWebhookOptions& o) {
  auto ca = ca::OpenLocalCa({.dir = o.ca_dir});
  if (!ca.ok()) {
    return ca.status();
  }
  auto cert = (*ca)->IssueServingCertificate(o.dns_names, o.cert_ttl);
  if (!cert.ok()) {
    return cert.status();
  }
  auto clock = o.clock ? o.clock : std::make_shared<common::RealTimeSource>();
  auto issued_at = clock->SystemNow();
  AdmissionHandlers handlers;
  std::shared_ptr<const store::ConfigStore> store = o.store;
  std::string ns = o.istio_namespace;
  handlers.settings = [store, ns]() -> absl::StatusOr<InjectionSettings> {
    return store ? SettingsFromStore(*store, ns) : InjectionSettings{};
  };
  if (store) {
    handlers.namespace_labels = [store](const std::string& name) -> std::optional<Labels> {
      auto obj = store->Get(store::ObjectKey{"", "Namespace", "", name});
      if (!obj.ok() || !obj->has_value()) {
        return std::nullopt;  // unknown here: trust the API server's selectors
      }
      Labels labels;
      for (const auto& [k, v] : (*obj)->object["metadata"]["labels"].StringMap()) {
        labels[k] = v;
      }
      return labels;
    };
  }
  WebhookServerOptions so;
  so.address = o.address;
  so.port = o.port;
  so.cert_chain_pem = cert->chain_pem;
  so.key_pem = cert->key_pem;
  so.handler = [handlers](std::string_view method, std::string_view target, std::string_view body) {
    return HandleAdmissionRequest(handlers, method, target, body);
  };
  auto server = StartWebhookServer(std::move(so));
  if (!server.ok()) {
    return server.status();
  }
  AdmissionWebhookOptions ro = o;
  ro.clock = clock;
  auto rotator = std::make_unique<ServingCertificateRotator>(std::move(*ca), server->get(), ro);
  rotator->Adopt(*cert, issued_at);
  return AdmissionWebhook{std::move(*server), cert->root_cert_pem, std::move(rotator)};
}

ServingCertificateRotator::ServingCertificateRotator(std::unique_ptr<ca::CertificateAuthority> ca,
                                                     WebhookServer* server, const AdmissionWebhookOptions& options)
    : ca_(std::move(ca)), server_(server), options_(options) {
  if (!options_.clock) {
    options_.clock = std::make_shared<common::RealTimeSource>();
  }
}

ServingCertificateRotator::~ServingCertificateRotator() { Stop(); }

void ServingCertificateRotator::Adopt(const ca::ServingCertificate& cert, std::chrono::system_clock::time_point at) {
  std::lock_guard<std::mutex> lock(mu_);
  issued_at_ = at;
  ca_bundle_pem_ = cert.root_cert_pem;
  chain_pem_ = cert.chain_pem;
}

absl::Status ServingCertificateRotator::Issue() {
  auto now = options_.clock->SystemNow();
  auto cert = ca_->IssueServingCertificate(options_.dns_names, options_.cert_ttl);
  if (!cert.ok()) {
    return cert.status();
  }
  if (auto st = server_->UpdateCertificate(cert->chain_pem, cert->key_pem); !st.ok()) {
    return st;
  }
  Adopt(*cert, now);
  return absl::OkStatus();
}

std::chrono::system_clock::time_point ServingCertificateRotator::not_after() const {
  std::lock_guard<std::mutex> lock(mu_);
  return issued_at_ + options_.cert_ttl;
}

std::chrono::system_clock::time_point ServingCertificateRotator::renew_at() const {
  std::lock_guard<std::mutex> lock(mu_);
  return issued_at_ + std::chrono::duration_cast<std::chrono::system_clock::duration>(
                          std::chrono::duration<double>(options_.cert_ttl) * options_.renew_fraction);
}

std::string ServingCertificateRotator::ca_bundle_pem() const {
  std::lock_guard<std::mutex> lock(mu_);
  return ca_bundle_pem_;
}

std::string ServingCertificateRotator::chain_pem() const {
  std::lock_guard<std::mutex> lock(mu_);
  return chain_pem_;
}

absl::StatusOr<bool> ServingCertificateRotator::RotateIfDue() {
  if (options_.clock->SystemNow() < renew_at()) {
    return false;
  }
  if (auto st = Issue(); !st.ok()) {
    return st;
  }
  return true;
}

void ServingCertificateRotator::Start(std::chrono::milliseconds every,
                                      std::function<void(const std::string&)> on_rotated) {
  thread_ = std::thread([this, every, on_rotated] {
    std::string last_error;
    std::unique_lock<std::mutex> lock(mu_);
    while (!cv_.wait_for(lock, every, [this] { return stopping_; })) {
      lock.unlock();
      auto rotated = RotateIfDue();
      if (!rotated.ok() && std::string(rotated.status().message()) != last_error) {
        last_error = std::string(rotated.status().message());
        std::fprintf(stderr, "webhook: certificate rotation failed (retrying): %s\n", last_error.c_str());
      } else if (rotated.ok() && *rotated) {
        last_error.clear();
        std::fprintf(stderr, "webhook: serving certificate rotated\n");
        if (on_rotated) {
          on_rotated(ca_bundle_pem());
        }
      }
      lock.lock();
    }
  });
}

void ServingCertificateRotator::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
}

}  // namespace mesh::inject
