#include "mesh/echo/echo_server.h"

#include <atomic>
#include <charconv>
#include <thread>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "mesh/common/strings.h"

namespace mesh::echo {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

std::string QueryParam(std::string_view target, std::string_view key) {
  size_t q = target.find('?');
  if (q == std::string_view::npos) {
    return "";
  }
  for (const std::string& kv : common::Split(target.substr(q + 1), '&')) {
    std::string_view v = kv;
    if (common::ConsumePrefix(v, key) && common::ConsumePrefix(v, "=")) {
      return std::string(v);
    }
  }
  return "";
}

std::chrono::milliseconds ParseDelay(std::string_view s) {
  long long n = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || n < 0) {
    return std::chrono::milliseconds(0);
  }
  std::string_view unit(ptr, static_cast<size_t>(s.data() + s.size() - ptr));
  if (unit == "s") {
    return std::chrono::milliseconds(n * 1000);
  }
  return std::chrono::milliseconds(n);  // "ms" or bare
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, const EchoOptions& o, uint16_t port, std::atomic<uint64_t>& served)
      : stream_(std::move(socket)), timer_(stream_.get_executor()), options_(o), port_(port), served_(served) {}

  void Read() {
    parser_.emplace();
    parser_->body_limit(64 << 20);
    stream_.expires_after(std::chrono::seconds(60));
    http::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) {
        beast::error_code ignored;
        self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
        return;
      }
      self->Respond(self->parser_->release());
    });
  }

 private:
  void Respond(http::request<http::string_body> req) {
    std::string target(req.target());
    auto res = std::make_shared<http::response<http::string_body>>(http::status::ok, req.version());
    res->set(http::field::server, "meshctl-echo");
    res->set(http::field::content_type, "text/plain");
    res->keep_alive(req.keep_alive());
    std::string path = target.substr(0, target.find('?'));
    if (path == "/healthz") {
      res->body() = "ok\n";
    } else {
      std::string body = common::StrCat("ServiceVersion=", options_.version, "\nServicePort=", port_,
                                        "\nHostname=", options_.name, "\nMethod=", std::string(req.method_string()),
                                        "\nURL=", target, "\nProto=HTTP/", req.version() / 10, ".",
                                        req.version() % 10, "\nHost=", std::string(req[http::field::host]), "\n");
      for (const auto& field : req) {
        body += common::StrCat("RequestHeader=", std::string(field.name_string()), ":", std::string(field.value()),
                               "\n");
      }
      body += common::StrCat("BodyBytes=", req.body().size(), "\n");
      std::string status = QueryParam(target, "status");
      int code = 0;
      if (!status.empty() && std::from_chars(status.data(), status.data() + status.size(), code).ec == std::errc() &&
          code >= 200 && code <= 599) {
        res->result(static_cast<unsigned>(code));
      }
      std::string size = QueryParam(target, "size");
      long long extra = 0;
      if (!size.empty() && std::from_chars(size.data(), size.data() + size.size(), extra).ec == std::errc() &&
          extra > 0 && extra <= (64LL << 20)) {
        body.append(static_cast<size_t>(extra), 'x');
      }
      res->body() = std::move(body);
    }
    res->prepare_payload();
    served_.fetch_add(1, std::memory_order_relaxed);
    auto delay = ParseDelay(QueryParam(target, "delay"));
    auto write = [self = shared_from_this(), res] {
      http::async_write(self->stream_, *res, [self, res](beast::error_code ec, std::size_t) {
        if (ec) {
          return;
        }
        if (!res->keep_alive()) {
          beast::error_code ignored;
          self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
          return;
        }
        self->Read();
      });
    };
    if (delay.count() > 0) {
      timer_.expires_after(delay);
      timer_.async_wait([write](beast::error_code) { write(); });
    } else {
      write();
    }
  }

  beast::tcp_stream stream_;
  net::steady_timer timer_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  const EchoOptions& options_;
  uint16_t port_;
  std::atomic<uint64_t>& served_;
};

class EchoServerImpl : public EchoServer {
 public:
  explicit EchoServerImpl(EchoOptions o) : options_(std::move(o)), acceptor_(ioc_) {}
  ~EchoServerImpl() override { Stop(); }

  absl::Status Listen() {
    beast::error_code ec;
    auto addr = net::ip::make_address(options_.address, ec);
    if (ec) {
      return absl::InvalidArgumentError("bad address " + options_.address);
    }
    tcp::endpoint ep(addr, options_.port);
    acceptor_.open(ep.protocol(), ec);
    if (!ec) {
      acceptor_.set_option(net::socket_base::reuse_address(true), ec);
      acceptor_.bind(ep, ec);
    }
    if (!ec) {
      acceptor_.listen(net::socket_base::max_listen_connections, ec);
    }
    if (ec) {
      return absl::UnavailableError(common::StrCat("listen on ", options_.address, ":", options_.port, ": ",
                                                   ec.message()));
    }
    port_ = acceptor_.local_endpoint().port();
    Accept();
    for (int i = 0; i < std::max(1, options_.threads); ++i) {
      threads_.emplace_back([this] { ioc_.run(); });
    }
    return absl::OkStatus();
  }

  uint16_t port() const override { return port_; }
  uint64_t requests_served() const override { return served_.load(); }
  void Stop() override {
    if (stopped_.exchange(true)) {
      return;
    }
    net::post(ioc_, [this] {
      beast::error_code ec;
      acceptor_.close(ec);
      ioc_.stop();
    });
    for (auto& t : threads_) {
      t.join();
    }
  }

 private:
  void Accept() {
    acceptor_.async_accept(net::make_strand(ioc_), [this](beast::error_code ec, tcp::socket socket) {
      if (ec) {
        return;
      }
      std::make_shared<Session>(std::move(socket), options_, port_, served_)->Read();
      Accept();
    });
  }

  EchoOptions options_;
  net::io_context ioc_;
  tcp::acceptor acceptor_;
  std::vector<std::thread> threads_;
  uint16_t port_ = 0;
  std::atomic<uint64_t> served_{0};
  std::atomic<bool> stopped_{false};
};

}  // namespace

absl::StatusOr<std::unique_ptr<EchoServer>> StartEchoServer(const EchoOptions& options) {
  auto server = std::make_unique<EchoServerImpl>(options);
  if (auto st = server->Listen(); !st.ok()) {
    return st;
  }
  return std::unique_ptr<EchoServer>(std::move(server));
}

}  // namespace mesh::echo
