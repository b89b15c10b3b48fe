#pragma once

// The listener, accept loop, connection tracking and Stop() shared by meshctl's small
// HTTP(S) servers (the admission webhook, the app prober): one io_context on one thread.
// Stop() closes the listener and every tracked connection, so the thread runs out of
// work and each session's coroutine unwinds on it before Stop() returns. Internal to
// mesh/inject: included only by the .cc files that already use Asio.

#include <atomic>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>

#include <boost/asio.hpp>

#include "absl/status/status.h"
#include "mesh/common/strings.h"

namespace mesh::inject::internal {

class SmallServer {
 public:
  using tcp = boost::asio::ip::tcp;
  using Session = std::function<boost::asio::awaitable<void>(tcp::socket)>;

  SmallServer() : acceptor_(ioc_) {}
  ~SmallServer() { Stop(); }
  SmallServer(const SmallServer&) = delete;
  SmallServer& operator=(const SmallServer&) = delete;

  // Binds address:port (0: any free port); `what` names the server in the error.
  absl::Status Listen(const std::string& address, uint16_t port, std::string_view what) {
    try {
      tcp::endpoint ep(boost::asio::ip::make_address(address), port);
      acceptor_.open(ep.protocol());
      acceptor_.set_option(boost::asio::socket_base::reuse_address(true));
      acceptor_.bind(ep);
      acceptor_.listen();
      port_ = acceptor_.local_endpoint().port();
    } catch (const std::exception& e) {
      return absl::UnavailableError(common::StrCat(what, " on ", address, ":", port, ": ", e.what()));
    }
    return absl::OkStatus();
  }

  // Starts accepting; each connection runs `session` on the server's thread.
  void Run(Session session) {
    session_ = std::move(session);
    boost::asio::co_spawn(ioc_, Accept(), boost::asio::detached);
    thread_ = std::thread([this] { ioc_.run(); });
  }

  void Stop() {
    if (stopped_.exchange(true)) {
      return;
    }
    boost::asio::post(ioc_, [this] {
      boost::system::error_code ec;
      acceptor_.close(ec);
      std::lock_guard<std::mutex> lock(mu_);
      for (tcp::socket* s : sockets_) {
        s->close(ec);
      }
    });
    if (thread_.joinable()) {
      thread_.join();
    }
  }

  uint16_t port() const { return port_; }
  boost::asio::io_context& ioc() { return ioc_; }
  bool stopped() const { return stopped_; }

  // Keeps a connection's socket known to Stop() while the guard lives. A session tracks
  // the socket where it ends up (inside its stream), then returns at once if stopped()
  // (accepted while stopping: Stop() may have closed the others already).
  class Tracked {
   public:
    Tracked(SmallServer& server, tcp::socket& socket) : server_(server), socket_(&socket) {
      std::lock_guard<std::mutex> lock(server_.mu_);
      server_.sockets_.insert(socket_);
    }
    ~Tracked() {
      std::lock_guard<std::mutex> lock(server_.mu_);
      server_.sockets_.erase(socket_);
    }
    Tracked(const Tracked&) = delete;
    Tracked& operator=(const Tracked&) = delete;

   private:
    SmallServer& server_;
    tcp::socket* socket_;
  };

 private:
  boost::asio::awaitable<void> Accept() {
    while (!stopped_) {
      auto [ec, socket] = co_await acceptor_.async_accept(boost::asio::as_tuple(boost::asio::use_awaitable));
      if (ec) {
        if (ec == boost::asio::error::operation_aborted || !acceptor_.is_open()) {
          co_return;
        }
        continue;
      }
      boost::asio::co_spawn(ioc_, session_(std::move(socket)), boost::asio::detached);
    }
  }

  boost::asio::io_context ioc_;
  tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  Session session_;
  std::thread thread_;
  std::atomic<bool> stopped_{false};
  std::mutex mu_;
  std::set<tcp::socket*> sockets_;
};

}  // namespace mesh::inject::internal
