#include "mesh/xds/tls_tunnel.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <array>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <cstdio>
#include <mutex>
#include <set>
#include <thread>

#include "mesh/common/strings.h"

namespace mesh::xds {
namespace {

namespace beast = boost::beast;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using net::awaitable;
using common::StrCat;

constexpr auto kUse = net::as_tuple(net::use_awaitable);
constexpr auto kHandshakeTimeout = std::chrono::seconds(10);

using TlsStream = ssl::stream<beast::tcp_stream>;

// Both ends of one relayed connection; whichever direction ends first closes both.
struct Relay {
  Relay(TlsStream tls_side, beast::tcp_stream plain_side) : tls(std::move(tls_side)), plain(std::move(plain_side)) {}
  void Close() {
    beast::error_code ignored;
    beast::get_lowest_layer(tls).socket().close(ignored);
    plain.socket().close(ignored);
  }
  TlsStream tls;
  beast::tcp_stream plain;
};

template <class From, class To>
awaitable<void> Pump(std::shared_ptr<Relay> relay, From& from, To& to) {
  std::array<char, 16384> buf;
  for (;;) {
    auto [ec, n] = co_await from.async_read_some(net::buffer(buf), kUse);
    if (ec) {
      break;
    }
    auto [wec, wn] = co_await net::async_write(to, net::buffer(buf.data(), n), kUse);
    if (wec) {
      break;
    }
  }
  relay->Close();
}

void StartPumps(net::io_context& ioc, std::shared_ptr<Relay> relay) {
  beast::get_lowest_layer(relay->tls).expires_never();
  relay->plain.expires_never();
  net::co_spawn(ioc, Pump(relay, relay->tls, relay->plain), net::detached);
  net::co_spawn(ioc, Pump(relay, relay->plain, relay->tls), net::detached);
}

// Logs each distinct failure once (a misconfigured peer retries with backoff).
void LogOnce(const std::string& line) {
  static std::mutex mu;
  static std::set<std::string> seen;
  std::lock_guard<std::mutex> lock(mu);
  if (seen.insert(line).second) {
    std::fprintf(stderr, "discovery TLS: %s\n", line.c_str());
  }
}

absl::Status LoadPem(ssl::context& ctx, const std::string& chain, const std::string& key) {
  beast::error_code ec;
  ctx.use_certificate_chain(net::buffer(chain), ec);
  if (!ec) {
    ctx.use_private_key(net::buffer(key), ssl::context::pem, ec);
  }
  if (ec) {
    return absl::InvalidArgumentError(StrCat("serving certificate: ", ec.message()));
  }
  return absl::OkStatus();
}

class TunnelBase : public TlsTunnel {
 public:
  TunnelBase() : ctx_(ssl::context::tls) {
    SSL_CTX_set_min_proto_version(ctx_.native_handle(), TLS1_2_VERSION);
  }
  ~TunnelBase() override { Stop(); }

  absl::Status Listen(const std::string& address, uint16_t port) {
    beast::error_code ec;
    auto addr = net::ip::make_address(address, ec);
    if (ec) {
      return absl::InvalidArgumentError(StrCat("bad listen address ", address));
    }
    tcp::endpoint ep(addr, port);
    acceptor_.open(ep.protocol(), ec);
    if (!ec) {
      acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    }
    if (!ec) {
      acceptor_.bind(ep, ec);
    }
    if (!ec) {
      acceptor_.listen(net::socket_base::max_listen_connections, ec);
    }
    if (ec) {
      return absl::UnavailableError(StrCat("listen on ", address, ":", port, ": ", ec.message()));
    }
    port_ = acceptor_.local_endpoint().port();
    net::co_spawn(ioc_, AcceptLoop(), net::detached);
    thread_ = std::thread([this] { ioc_.run(); });
    return absl::OkStatus();
  }

  uint16_t port() const override { return port_; }

  void Stop() override {
    std::call_once(stopped_, [this] {
      ioc_.stop();
      if (thread_.joinable()) {
        thread_.join();
      }
    });
  }

 protected:
  virtual awaitable<void> Serve(tcp::socket socket) = 0;

  awaitable<void> AcceptLoop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(kUse);
      if (ec) {
        if (ec == net::error::operation_aborted) {
          co_return;
        }
        continue;  // e.g. EMFILE: keep accepting
      }
      net::co_spawn(ioc_, Serve(std::move(socket)), net::detached);
    }
  }

  net::io_context ioc_{1};
  ssl::context ctx_;
  tcp::acceptor acceptor_{ioc_};
  uint16_t port_ = 0;
  std::thread thread_;
  std::once_flag stopped_;
};

class Terminator : public TunnelBase {
 public:
  explicit Terminator(const TlsTerminatorOptions& o) : backend_port_(o.backend_port) {}
  ~Terminator() override { Stop(); }  // before the members the coroutines use go away
  absl::Status Init(const TlsTerminatorOptions& o) {
    if (o.backend_port == 0) {
      return absl::InvalidArgumentError("TLS terminator: no backend port");
    }
    if (auto st = LoadPem(ctx_, o.cert_chain_pem, o.key_pem); !st.ok()) {
      return st;
    }
    return Listen(o.address, o.port);
  }

 private:
  awaitable<void> Serve(tcp::socket socket) override {
    auto relay = std::make_shared<Relay>(TlsStream(beast::tcp_stream(std::move(socket)), ctx_),
                                         beast::tcp_stream(ioc_));
    beast::get_lowest_layer(relay->tls).expires_after(kHandshakeTimeout);
    auto [hec] = co_await relay->tls.async_handshake(ssl::stream_base::server, kUse);
    if (hec) {
      relay->Close();  // plaintext or a failed handshake on the TLS port
      co_return;
    }
    relay->plain.expires_after(kHandshakeTimeout);
    auto [cec] = co_await relay->plain.async_connect(tcp::endpoint(net::ip::address_v4::loopback(), backend_port_),
                                                     kUse);
    if (cec) {
      relay->Close();
      co_return;
    }
    StartPumps(ioc_, relay);
  }

  uint16_t backend_port_;
};

class Originator : public TunnelBase {
 public:
  explicit Originator(const TlsOriginatorOptions& o) : options_(o) {}
  ~Originator() override { Stop(); }  // before the members the coroutines use go away
  absl::Status Init() {
    if (options_.root_pem.empty()) {
      return absl::InvalidArgumentError("TLS to the control plane needs a root certificate to verify it");
    }
    beast::error_code ec;
    ctx_.add_certificate_authority(net::buffer(options_.root_pem), ec);
    if (ec) {
      return absl::InvalidArgumentError(StrCat("control plane root certificate: ", ec.message()));
    }
    ctx_.set_verify_mode(ssl::verify_peer);
    return Listen("127.0.0.1", 0);
  }

 private:
  awaitable<void> Serve(tcp::socket socket) override {
    auto relay = std::make_shared<Relay>(TlsStream(beast::tcp_stream(ioc_), ctx_),
                                         beast::tcp_stream(std::move(socket)));
    std::string where = StrCat(options_.host, ":", options_.port);
    tcp::resolver resolver(ioc_);
    auto [rec, endpoints] = co_await resolver.async_resolve(options_.host, std::to_string(options_.port), kUse);
    if (rec) {
      LogOnce(StrCat("resolve ", where, ": ", rec.message()));
      relay->Close();
      co_return;
    }
    auto& lowest = beast::get_lowest_layer(relay->tls);
    lowest.expires_after(kHandshakeTimeout);
    auto [cec, ep] = co_await lowest.async_connect(endpoints, kUse);
    if (cec) {
      relay->Close();  // the agent's retry loop reports the control plane unreachable
      co_return;
    }
    SSL* ssl = relay->tls.native_handle();
    SSL_set_tlsext_host_name(ssl, options_.server_name.c_str());
    // The certificate must name the control plane (DNS SAN), not just chain to the root.
    SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    SSL_set1_host(ssl, options_.server_name.c_str());
    auto [hec] = co_await relay->tls.async_handshake(ssl::stream_base::client, kUse);
    if (hec) {
      long verify = SSL_get_verify_result(ssl);
      LogOnce(StrCat("handshake with ", where, " (", options_.server_name, ") failed: ",
                     verify != X509_V_OK ? X509_verify_cert_error_string(verify) : hec.message()));
      relay->Close();
      co_return;
    }
    StartPumps(ioc_, relay);
  }

  TlsOriginatorOptions options_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<TlsTunnel>> StartTlsTerminator(const TlsTerminatorOptions& options) {
  auto t = std::make_unique<Terminator>(options);
  if (auto st = t->Init(options); !st.ok()) {
    return st;
  }
  return std::unique_ptr<TlsTunnel>(std::move(t));
}

absl::StatusOr<std::unique_ptr<TlsTunnel>> StartTlsOriginator(const TlsOriginatorOptions& options) {
  auto t = std::make_unique<Originator>(options);
  if (auto st = t->Init(); !st.ok()) {
    return st;
  }
  return std::unique_ptr<TlsTunnel>(std::move(t));
}

}  // namespace mesh::xds
