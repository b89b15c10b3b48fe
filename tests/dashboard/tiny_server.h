#pragma once

// Real sockets on loopback (port 0) for the dashboard's scraping tests.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace mesh::dashboard::testdata {

// A listening socket on 127.0.0.1 at a free port (written to `port`).
inline int ListenOnLoopback(uint16_t& port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  EXPECT_EQ(::listen(fd, 16), 0);
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  port = ntohs(addr.sin_port);
  return fd;
}

// Answers every connection with `answer` after reading the request head; `silent`
// accepts and never answers.
class TinyServer {
 public:
  explicit TinyServer(std::string answer, bool silent = false) : answer_(std::move(answer)), silent_(silent) {
    fd_ = ListenOnLoopback(port_);
    thread_ = std::thread([this] {
      while (true) {
        int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0 || stop_) {
          if (c >= 0) {
            ::close(c);
          }
          return;
        }
        std::string req;
        char buf[4096];
        while (req.find("\r\n\r\n") == std::string::npos) {
          ssize_t n = ::recv(c, buf, sizeof(buf), 0);
          if (n <= 0) {
            break;
          }
          req.append(buf, static_cast<size_t>(n));
        }
        last_request_ = req;
        if (silent_) {
          held_.push_back(c);
          continue;
        }
        std::string answer = answer_for_now();
        (void)!::send(c, answer.data(), answer.size(), MSG_NOSIGNAL);
        ::close(c);
      }
    });
  }
  ~TinyServer() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    int c = ::socket(AF_INET, SOCK_STREAM, 0);  // wake accept()
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port_);
    ::connect(c, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    ::close(c);
    thread_.join();
    ::close(fd_);
    for (int h : held_) {
      ::close(h);
    }
  }
  uint16_t port() const { return port_; }
  void SetAnswer(std::string answer) {
    std::lock_guard<std::mutex> lock(mu_);
    answer_ = std::move(answer);
  }
  std::string last_request_;

 private:
  std::string answer_for_now() {
    std::lock_guard<std::mutex> lock(mu_);
    return answer_;
  }
  std::mutex mu_;
  std::string answer_;
  bool silent_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::vector<int> held_;
  std::thread thread_;
};

// A proxy that is there but dead: a listening socket that never accepts, so connecting
// succeeds (the kernel completes the handshake) and the request is never answered.
class Blackhole {
 public:
  Blackhole() {
    fd_ = ListenOnLoopback(port_);
  }
  ~Blackhole() { ::close(fd_); }
  Blackhole(const Blackhole&) = delete;
  Blackhole& operator=(const Blackhole&) = delete;
  uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

}  // namespace mesh::dashboard::testdata
