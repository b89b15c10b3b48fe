#include "mesh/inject/webhook_server.h"

#include <atomic>
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
  explicit WebhookServerImpl(WebhookServerOptions o)
      : options_(std::move(o)), tls_(ssl::context::tls_server), acceptor_(ioc_) {}

  absl::Status Init() {
    try {
      tls_.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                       ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
      tls_.use_certificate_chain(net::buffer(options_.cert_chain_pem));
      tls_.use_private_key(net::buffer(options_.key_pem), ssl::context::pem);
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
    ssl::stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(socket)), tls_);
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
  ssl::context tls_;
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
  const config::Node& values_text = (*cm)->object["data"]["values"];
  if (!values_text.IsScalar() || values_text.Str().empty()) {
    return InjectionSettings{};
  }
  auto values = config::ParseYamlNode(values_text.Str(), "istio-sidecar-injector values");
  if (!values.ok()) {
    return values.status();
  }
  return SettingsFromValues(*values);
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
  return AdmissionWebhook{std::move(*server), cert->root_cert_pem};
}

}  // namespace mesh::inject
