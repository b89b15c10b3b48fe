#pragma once

// A small HTTP test application (like Istio's echo app): it answers every request with
// its instance name, version and the request it saw, so tests, demos and benchmarks can
// tell which replica served them and what the mesh added on the way.
//
// Response body (text/plain), one "Key=value" per line:
//   ServiceVersion=v1  ServicePort=8080  Hostname=<name>  Method=GET  URL=/path
//   Proto=HTTP/1.1  Host=<host>  RequestHeader=<Name>:<value> (one line per header)
// Query parameters steer it: ?status=503 answers with that status, ?delay=100ms waits
// first, ?size=N appends N bytes of body. GET /healthz answers 200 "ok".

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace mesh::echo {

struct EchoOptions {
  std::string address = "127.0.0.1";
  uint16_t port = 0;  // 0: pick a free port
  std::string name = "echo";
  std::string version = "v1";
  int threads = 1;
};

class EchoServer {
 public:
  virtual ~EchoServer() = default;
  virtual uint16_t port() const = 0;
  virtual uint64_t requests_served() const = 0;
  // Stops accepting, closes connections, joins the threads.
  virtual void Stop() = 0;
};

absl::StatusOr<std::unique_ptr<EchoServer>> StartEchoServer(const EchoOptions& options);

}  // namespace mesh::echo
