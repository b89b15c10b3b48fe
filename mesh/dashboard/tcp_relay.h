#pragma once

// A local TCP relay for `meshctl dashboard --port N`: every connection to
// listen_address:listen_port is piped byte for byte to the control plane, so the page
// and its API can be opened on a local port whatever address the control plane has.

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace mesh::dashboard {

struct TcpRelayOptions {
  std::string listen_address = "127.0.0.1";
  uint16_t listen_port = 0;  // 0: pick one
  std::string upstream_host;
  uint16_t upstream_port = 0;
};

class TcpRelay {
 public:
  virtual ~TcpRelay() = default;
  virtual uint16_t port() const = 0;
  // Closes the listener and every relayed connection, then joins the threads.
  virtual void Stop() = 0;
};

absl::StatusOr<std::unique_ptr<TcpRelay>> StartTcpRelay(const TcpRelayOptions& options);

}  // namespace mesh::dashboard
