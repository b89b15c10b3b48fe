#pragma once

// Helpers for the proxy integration tests: a real upstream process (upstream.py), an
// in-process proxy built from bootstrap text, raw sockets and curl.

#include <map>
#include <memory>
#include <string>

#include "mesh/proxy/proxy.h"

namespace mesh::proxy::testing {

// A free TCP port on 127.0.0.1 (bound to 0, read, closed).
int FreePort();

// upstream.py in a child process; stops when destroyed.
class Upstream {
 public:
  explicit Upstream(const std::string& name, bool fail = false);
  ~Upstream();
  int port() const { return port_; }
  // Requests the upstream saw, as "host path" lines.
  std::string Requests() const;

 private:
  int pid_ = -1;
  int stdin_fd_ = -1;
  int port_ = 0;
};

// Replaces every "${KEY}" in text.
std::string Expand(std::string text, const std::map<std::string, std::string>& vars);

// An in-process proxy with free admin/health/stats ports.
class TestProxy {
 public:
  explicit TestProxy(const std::string& bootstrap_yaml, int concurrency = 1);
  ~TestProxy();
  absl::Status Update(const std::string& bootstrap_yaml);
  int port(const std::string& listener) const;
  int admin_port() const { return admin_port_; }
  int health_port() const { return health_port_; }
  int stats_port() const { return stats_port_; }
  Proxy& proxy() { return *proxy_; }
  bool ok() const { return status_.ok(); }
  const absl::Status& status() const { return status_; }

 private:
  std::unique_ptr<Proxy> proxy_;
  absl::Status status_;
  int admin_port_, health_port_, stats_port_;
};

// Sends raw bytes and returns everything read until the peer closes or timeout_ms passes.
std::string RawRequest(int port, const std::string& bytes, int timeout_ms = 2000);

// curl -s with extra args; returns stdout.
std::string Curl(const std::string& args);
// GET http://127.0.0.1:port/path -> "<code>" (uses curl -w).
std::string Get(const std::string& url_and_args);

}  // namespace mesh::proxy::testing
