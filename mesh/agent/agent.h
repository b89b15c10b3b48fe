#pragma once

// The proxy's agent (Istio's pilot-agent role) in local mode: it creates the workload's
// key, obtains a certificate from the control plane's CA with the workload's bootstrap
// token, keeps it rotated at 80 % of its lifetime, subscribes to discovery, and hands the
// proxy complete, consistent snapshots (discovery resources + the local "default" and
// "ROOTCA" secrets). The private key never leaves this process.

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "mesh/ca/ca.h"
#include "mesh/common/time_source.h"
#include "mesh/proxy/proxy.h"
#include "mesh/xds/protocol.h"

namespace mesh::agent {

struct AgentOptions {
  std::string control_plane_host = "127.0.0.1";
  uint16_t control_plane_port = 15010;
  // Non-empty: reach the control plane over TLS (its 15012 port), verifying its
  // certificate against this root and `control_plane_server_name`. Discovery and the
  // CSR then go through an in-process TLS tunnel (mesh/xds/tls_tunnel.h).
  std::string control_plane_root_pem;
  std::string control_plane_server_name = "istiod.istio-system.svc";
  std::string token;  // bootstrap token for this workload
  // When set, the token is re-read from this file before every certificate request and
  // discovery (re)connect: Kubernetes projected service-account tokens rotate.
  std::string token_file;
  xds::ProxyNode node;  // id + metadata (PROXY_TYPE, NAMESPACE, SERVICE_ACCOUNT, ...)
  ca::SpiffeId identity;
  double rotation_fraction = 0.8;
  std::chrono::milliseconds retry_interval{500};
  // Wall clock for certificate lifetimes (null: the real one). The rotation loop re-reads
  // it at least every `clock_check_interval`, so a clock jump (suspend/resume, NTP step)
  // past the rotation point or past expiry triggers a rotation promptly.
  std::shared_ptr<const common::TimeSource> time_source;
  std::chrono::milliseconds clock_check_interval{1000};
};

struct AgentStatus {
  bool connected = false;
  bool has_certificate = false;
  std::string certificate_serial_hint;  // not_after of the current certificate (RFC 3339)
  uint64_t rotations = 0;
  uint64_t applied = 0;   // snapshots applied to the proxy
  uint64_t rejected = 0;  // NACKs sent
  std::string last_error;
};

class ProxyAgent {
 public:
  virtual ~ProxyAgent() = default;
  virtual AgentStatus Status() const = 0;
  // Requests a new certificate now (tests; normally the rotation timer does it).
  virtual absl::Status RotateNow() = 0;
  virtual void Stop() = 0;
};

// Starts the agent. The first certificate is fetched before returning (retrying while
// the control plane is unreachable, up to `first_certificate_timeout`).
absl::StatusOr<std::unique_ptr<ProxyAgent>> StartProxyAgent(
    AgentOptions options, std::shared_ptr<proxy::Proxy> proxy, proxyconfig::Bootstrap bootstrap,
    std::chrono::milliseconds first_certificate_timeout = std::chrono::seconds(30));

// POST /v1/certificate: sends a CSR with the bootstrap token, returns (chain, root).
absl::StatusOr<std::pair<std::string, std::string>> RequestCertificate(const std::string& host, uint16_t port,
                                                                       const std::string& token,
                                                                       const std::string& csr_pem);

}  // namespace mesh::agent
