#include "mesh/dashboard/http_get.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "mesh/common/strings.h"

namespace mesh::dashboard {
namespace {

using Clock = std::chrono::steady_clock;

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// Waits for `events` until the deadline; false on timeout or error.
bool WaitFor(int fd, short events, Clock::time_point deadline) {
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      return false;
    }
    pollfd p{fd, events, 0};
    int r = ::poll(&p, 1, static_cast<int>(left));
    if (r > 0) {
      return true;
    }
    if (r < 0 && errno != EINTR) {
      return false;
    }
  }
}

}  // namespace

absl::StatusOr<std::string> HttpGet(const std::string& address, uint16_t port, const std::string& path,
                                    const HttpGetOptions& options) {
  const auto deadline = Clock::now() + options.timeout;
  const std::string where = common::StrCat(address, ":", port, path);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (int rc = ::getaddrinfo(address.c_str(), std::to_string(port).c_str(), &hints, &found); rc != 0) {
    return absl::UnavailableError(common::StrCat(where, ": ", ::gai_strerror(rc)));
  }
  Fd fd(::socket(found->ai_family, found->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) {
    ::freeaddrinfo(found);
    return absl::UnavailableError(common::StrCat(where, ": socket: ", std::strerror(errno)));
  }
  int rc = ::connect(fd.get(), found->ai_addr, found->ai_addrlen);
  ::freeaddrinfo(found);
  if (rc != 0 && errno != EINPROGRESS) {
    return absl::UnavailableError(common::StrCat(where, ": ", std::strerror(errno)));
  }
  if (!WaitFor(fd.get(), POLLOUT, deadline)) {
    return absl::DeadlineExceededError(common::StrCat(where, ": connect timed out"));
  }
  int err = 0;
  socklen_t len = sizeof(err);
  ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) {
    return absl::UnavailableError(common::StrCat(where, ": ", std::strerror(err)));
  }
  const std::string request = common::StrCat("GET ", path, " HTTP/1.0\r\nHost: ", address, ":", port,
                                             "\r\nAccept: text/plain\r\nUser-Agent: meshctl-dashboard\r\n\r\n");
  size_t sent = 0;
  while (sent < request.size()) {
    if (!WaitFor(fd.get(), POLLOUT, deadline)) {
      return absl::DeadlineExceededError(common::StrCat(where, ": write timed out"));
    }
    ssize_t n = ::send(fd.get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
      return absl::UnavailableError(common::StrCat(where, ": ", std::strerror(errno)));
    }
    sent += n > 0 ? static_cast<size_t>(n) : 0;
  }
  std::string response;
  char buf[16384];
  while (true) {
    if (!WaitFor(fd.get(), POLLIN, deadline)) {
      return absl::DeadlineExceededError(common::StrCat(where, ": read timed out"));
    }
    ssize_t n = ::recv(fd.get(), buf, sizeof(buf), 0);
    if (n == 0) {
      break;
    }
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) {
        continue;
      }
      return absl::UnavailableError(common::StrCat(where, ": ", std::strerror(errno)));
    }
    response.append(buf, static_cast<size_t>(n));
    if (response.size() > options.max_body + 16384) {
      return absl::ResourceExhaustedError(common::StrCat(where, ": answer larger than ", options.max_body, " bytes"));
    }
  }
  size_t header_end = response.find("\r\n\r\n");
  if (header_end == std::string::npos || !response.starts_with("HTTP/1.")) {
    return absl::DataLossError(common::StrCat(where, ": not an HTTP answer"));
  }
  size_t sp = response.find(' ');
  std::string status = response.substr(sp + 1, 3);
  if (status != "200") {
    return absl::UnavailableError(common::StrCat(where, ": HTTP ", status));
  }
  return response.substr(header_end + 4);
}

}  // namespace mesh::dashboard
