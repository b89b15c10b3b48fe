#pragma once

// TLS for the discovery port (Istio's 15012) around the plaintext discovery protocol.
// The control plane runs a terminator: it accepts TLS on the public port with a serving
// certificate from the mesh CA and relays the plaintext, in-process over loopback, to the
// discovery listener (which keeps serving plaintext on 15010 for loopback clients). The
// agent runs an originator: a loopback port whose connections reach the control plane
// over TLS, verified against the mesh root and the control plane's DNS name, like
// Istio's agent proxying discovery for Envoy. Discovery streams and the CA's CSR
// endpoint both go through it, so bootstrap tokens never cross the network in the clear.

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace mesh::xds {

// Istio's name for the control plane's serving certificate.
inline constexpr char kControlPlaneServerName[] = "istiod.istio-system.svc";

struct TlsTerminatorOptions {
  std::string address = "127.0.0.1";
  uint16_t port = 15012;  // 0: pick a free port
  std::string cert_chain_pem;
  std::string key_pem;
  uint16_t backend_port = 0;  // the plaintext service on 127.0.0.1
};

struct TlsOriginatorOptions {
  std::string host = "127.0.0.1";  // the control plane's TLS port
  uint16_t port = 15012;
  std::string root_pem;  // trust anchor the server certificate must chain to
  std::string server_name = kControlPlaneServerName;  // SNI and the DNS SAN required
};

class TlsTunnel {
 public:
  virtual ~TlsTunnel() = default;
  // The listening port (the public TLS port, or the originator's loopback port).
  virtual uint16_t port() const = 0;
  // Closes the listener and every relayed connection; joins the thread. Idempotent.
  virtual void Stop() = 0;
};

absl::StatusOr<std::unique_ptr<TlsTunnel>> StartTlsTerminator(const TlsTerminatorOptions& options);
// Listens on 127.0.0.1 (a free port).
absl::StatusOr<std::unique_ptr<TlsTunnel>> StartTlsOriginator(const TlsOriginatorOptions& options);

}  // namespace mesh::xds
