#include "mesh/inject/app_prober.h"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "mesh/common/strings.h"
#include "mesh/config/yaml_loader.h"
#include "mesh/inject/small_server.h"

namespace mesh::inject {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
constexpr auto kUse = net::as_tuple(net::use_awaitable);

class AppProberImpl : public AppProber {
 public:
  explicit AppProberImpl(AppProberOptions o) : options_(std::move(o)) {}

  absl::Status Init() {
    try {
      app_address_ = net::ip::make_address(options_.app_host);
    } catch (const std::exception& e) {
      return absl::InvalidArgumentError(common::StrCat("app prober: application host ", options_.app_host, ": ", e.what()));
    }
    if (auto st = server_.Listen(options_.address, options_.port, "app prober"); !st.ok()) {
      return st;
    }
    server_.Run([this](tcp::socket socket) { return Session(std::move(socket)); });
    return absl::OkStatus();
  }

  // mesh::inject::AppProber
  uint16_t port() const override { return server_.port(); }
  void Stop() override { server_.Stop(); }
  ~AppProberImpl() override { Stop(); }

 private:
  // Probes the application; true when it is healthy.
  net::awaitable<bool> Probe(const AppProbe& p) {
    beast::tcp_stream app(server_.ioc());
    app.expires_after(p.timeout);
    auto [cec] = co_await app.async_connect(tcp::endpoint(app_address_, static_cast<uint16_t>(p.port)), kUse);
    if (cec || p.tcp) {
      co_return !cec;
    }
    http::request<http::empty_body> req{http::verb::get, p.path, 11};
    req.set(http::field::host, common::StrCat(options_.app_host, ":", p.port));
    req.set(http::field::user_agent, "meshctl-prober");
    for (const auto& [k, v] : p.headers) {
      req.set(k, v);
    }
    auto [wec, wn] = co_await http::async_write(app, req, kUse);
    if (wec) {
      co_return false;
    }
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(1 << 20);
    auto [rec, rn] = co_await http::async_read_header(app, buffer, parser, kUse);
    if (rec) {
      co_return false;
    }
    unsigned code = parser.get().result_int();
    co_return code >= 200 && code < 400;
  }

  net::awaitable<void> Session(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    internal::SmallServer::Tracked tracked(server_, stream.socket());
    if (server_.stopped()) {
      co_return;
    }
    beast::flat_buffer buffer;
    while (true) {
      stream.expires_after(std::chrono::seconds(30));
      http::request<http::string_body> req;
      auto [rec, rn] = co_await http::async_read(stream, buffer, req, kUse);
      if (rec) {
        break;
      }
      std::string target(req.target().data(), req.target().size());
      target = target.substr(0, target.find('?'));
      http::response<http::string_body> res{http::status::ok, req.version()};
      auto it = options_.probes.find(target);
      if (it == options_.probes.end()) {
        res.result(http::status::not_found);
        res.body() = common::StrCat("no probe for ", target, "\n");
      } else {
        bool healthy = co_await Probe(it->second);
        res.result(healthy ? http::status::ok : http::status::service_unavailable);
        res.body() = healthy ? "ok\n" : common::StrCat("application on port ", it->second.port, " is not healthy\n");
      }
      res.set(http::field::content_type, "text/plain");
      res.keep_alive(req.keep_alive());
      res.prepare_payload();
      stream.expires_after(std::chrono::seconds(30));
      auto [wec, wn] = co_await http::async_write(stream, res, kUse);
      if (wec || !res.keep_alive()) {
        break;
      }
    }
    beast::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  AppProberOptions options_;
  net::ip::address app_address_;
  internal::SmallServer server_;  // last: stopped and destroyed before the options
};

absl::StatusOr<int> Port(const config::Node& n, const std::string& key) {
  auto v = n.Int();
  if (!v.has_value() || *v <= 0 || *v > 65535) {
    return absl::InvalidArgumentError(common::StrCat(key, ": port must be a number 1-65535, got \"", n.Str(), "\""));
  }
  return static_cast<int>(*v);
}

}  // namespace

absl::StatusOr<std::map<std::string, AppProbe>> ParseAppProbers(std::string_view json) {
  std::map<std::string, AppProbe> out;
  if (common::StripWhitespace(json).empty()) {
    return out;
  }
  auto root = config::ParseYamlNode(json, "ISTIO_KUBE_APP_PROBERS");
  if (!root.ok()) {
    return root.status();
  }
  if (!root->IsMap()) {
    return absl::InvalidArgumentError("ISTIO_KUBE_APP_PROBERS must be a JSON object");
  }
  for (const auto& [path, spec] : root->entries()) {
    AppProbe p;
    if (auto t = spec["timeoutSeconds"].Int(); t.has_value() && *t > 0) {
      p.timeout = std::chrono::seconds(*t);
    }
    if (spec["tcpSocket"].IsMap()) {
      p.tcp = true;
      auto port = Port(spec["tcpSocket"]["port"], path);
      if (!port.ok()) {
        return port.status();
      }
      p.port = *port;
    } else if (spec["httpGet"].IsMap()) {
      const config::Node& g = spec["httpGet"];
      std::string scheme = g["scheme"].Str();
      if (!scheme.empty() && scheme != "HTTP") {
        return absl::InvalidArgumentError(common::StrCat(path, ": scheme ", scheme, " is not supported (HTTP only)"));
      }
      auto port = Port(g["port"], path);
      if (!port.ok()) {
        return port.status();
      }
      p.port = *port;
      p.path = g["path"].Str().empty() ? "/" : g["path"].Str();
      if (p.path.front() != '/') {
        p.path = "/" + p.path;
      }
      for (const config::Node& h : g["httpHeaders"].items()) {
        p.headers[h["name"].Str()] = h["value"].Str();
      }
    } else {
      return absl::InvalidArgumentError(common::StrCat(path, ": needs httpGet or tcpSocket"));
    }
    out[path] = std::move(p);
  }
  return out;
}

absl::StatusOr<std::unique_ptr<AppProber>> StartAppProber(AppProberOptions options) {
  auto prober = std::make_unique<AppProberImpl>(std::move(options));
  if (auto st = prober->Init(); !st.ok()) {
    return st;
  }
  return prober;
}

}  // namespace mesh::inject
