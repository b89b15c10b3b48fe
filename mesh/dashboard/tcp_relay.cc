#include "mesh/dashboard/tcp_relay.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "mesh/common/strings.h"

namespace mesh::dashboard {
namespace {

int ConnectTo(const std::string& host, uint16_t port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0) {
    return -1;
  }
  int fd = -1;
  for (addrinfo* a = found; a != nullptr && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, 0);
    if (fd >= 0 && ::connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
      ::close(fd);
      fd = -1;
    }
  }
  ::freeaddrinfo(found);
  return fd;
}

class TcpRelayImpl : public TcpRelay {
 public:
  TcpRelayImpl(TcpRelayOptions options, int listen_fd, uint16_t port, int wake_read, int wake_write)
      : options_(std::move(options)), listen_fd_(listen_fd), port_(port), wake_read_(wake_read), wake_write_(wake_write) {
    accept_thread_ = std::thread([this] { AcceptLoop(); });
  }
  ~TcpRelayImpl() override { Stop(); }

  uint16_t port() const override { return port_; }

  void Stop() override {
    if (stopped_.exchange(true)) {
      return;
    }
    char c = 0;
    (void)!::write(wake_write_, &c, 1);  // wakes every poll() below
    if (accept_thread_.joinable()) {
      accept_thread_.join();
    }
    std::vector<std::thread> threads;
    {
      std::lock_guard<std::mutex> lock(mu_);
      threads.swap(connections_);
    }
    for (std::thread& t : threads) {
      t.join();
    }
    ::close(listen_fd_);
    ::close(wake_read_);
    ::close(wake_write_);
  }

 private:
  void AcceptLoop() {
    while (!stopped_) {
      pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_read_, POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0 && errno != EINTR) {
        return;
      }
      if (fds[1].revents != 0 || stopped_) {
        return;
      }
      if (fds[0].revents & POLLIN) {
        int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (client < 0) {
          continue;
        }
        std::lock_guard<std::mutex> lock(mu_);
        connections_.emplace_back([this, client] { Relay(client); });
      }
    }
  }

  void Relay(int client) {
    int upstream = ConnectTo(options_.upstream_host, options_.upstream_port);
    if (upstream < 0) {
      const char kAnswer[] =
          "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: 31\r\n\r\n"
          "control plane is not reachable\n";
      // Read the request first: closing with unread data would reset the connection
      // before the client sees the answer.
      char drain[4096];
      pollfd p{client, POLLIN, 0};
      if (::poll(&p, 1, 1000) > 0) {
        (void)!::recv(client, drain, sizeof(drain), 0);
      }
      (void)!::send(client, kAnswer, sizeof(kAnswer) - 1, MSG_NOSIGNAL);
      ::shutdown(client, SHUT_WR);
      while (::poll(&p, 1, 1000) > 0 && ::recv(client, drain, sizeof(drain), 0) > 0) {
      }
      ::close(client);
      return;
    }
    bool open[2] = {true, true};  // client->upstream, upstream->client
    char buf[16384];
    while (!stopped_ && (open[0] || open[1])) {
      pollfd fds[3] = {{client, static_cast<short>(open[0] ? POLLIN : 0), 0},
                       {upstream, static_cast<short>(open[1] ? POLLIN : 0), 0},
                       {wake_read_, POLLIN, 0}};
      if (::poll(fds, 3, 60000) <= 0 || fds[2].revents != 0) {
        break;  // idle for a minute, error, or stopping
      }
      for (int dir = 0; dir < 2; ++dir) {
        int from = dir == 0 ? client : upstream;
        int to = dir == 0 ? upstream : client;
        if (!open[dir] || (fds[dir].revents & (POLLIN | POLLHUP | POLLERR)) == 0) {
          continue;
        }
        ssize_t n = ::recv(from, buf, sizeof(buf), 0);
        if (n <= 0) {
          open[dir] = false;
          ::shutdown(to, SHUT_WR);
          continue;
        }
        for (ssize_t sent = 0; sent < n;) {
          ssize_t w = ::send(to, buf + sent, static_cast<size_t>(n - sent), MSG_NOSIGNAL);
          if (w <= 0) {
            open[0] = open[1] = false;
            break;
          }
          sent += w;
        }
      }
    }
    ::close(client);
    ::close(upstream);
  }

  TcpRelayOptions options_;
  int listen_fd_;
  uint16_t port_;
  int wake_read_;
  int wake_write_;
  std::atomic<bool> stopped_{false};
  std::thread accept_thread_;
  std::mutex mu_;
  std::vector<std::thread> connections_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<TcpRelay>> StartTcpRelay(const TcpRelayOptions& options) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(options.listen_port);
  if (::inet_pton(AF_INET, options.listen_address.c_str(), &addr.sin_addr) != 1) {
    return absl::InvalidArgumentError(common::StrCat("not an IPv4 address: ", options.listen_address));
  }
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(fd, 64) != 0) {
    std::string err = std::strerror(errno);
    if (fd >= 0) {
      ::close(fd);
    }
    return absl::UnavailableError(
        common::StrCat("cannot listen on ", options.listen_address, ":", options.listen_port, ": ", err));
  }
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int wake[2];
  if (::pipe2(wake, O_CLOEXEC) != 0) {
    ::close(fd);
    return absl::InternalError("pipe failed");
  }
  return std::unique_ptr<TcpRelay>(std::make_unique<TcpRelayImpl>(options, fd, ntohs(addr.sin_port), wake[0], wake[1]));
}

}  // namespace mesh::dashboard
