#pragma once

// Mesh identity: a CA that signs workload certificates carrying SPIFFE URI SANs
// (spiffe://<trust-domain>/ns/<ns>/sa/<sa>), and the workload-side helpers (key + CSR
// generation, certificate inspection, rotation timing). Keys are created where they are
// used; a workload's private key never leaves it, only its CSR does.

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "mesh/common/time_source.h"

namespace mesh::ca {

struct SpiffeId {
  std::string trust_domain = "cluster.local";
  std::string ns;
  std::string service_account;
  std::string ToString() const;  // spiffe://td/ns/NS/sa/SA
};
absl::StatusOr<SpiffeId> ParseSpiffeId(std::string_view uri);

struct KeyAndCsr {
  std::string key_pem;  // PKCS#8 private key: stays with the workload
  std::string csr_pem;
};
// ECDSA P-256 key and a CSR requesting `id` as its URI SAN.
absl::StatusOr<KeyAndCsr> GenerateKeyAndCsr(const SpiffeId& id);

struct CertificateInfo {
  std::chrono::system_clock::time_point not_before;
  std::chrono::system_clock::time_point not_after;
  std::vector<std::string> uri_sans;
  std::vector<std::string> dns_sans;
  std::string subject;
  bool is_ca = false;
};
// Reads the first certificate of a PEM bundle.
absl::StatusOr<CertificateInfo> InspectCertificate(const std::string& cert_pem);

// When a certificate should be replaced: at `fraction` (default 80 %) of its lifetime
// (counted from not_before, which includes the CA's clock-skew backdating).
std::chrono::system_clock::time_point RotationTime(const CertificateInfo& info, double fraction = 0.8);

struct SignedCertificate {
  std::string cert_pem;        // the leaf
  std::string chain_pem;       // leaf + intermediates (what a proxy presents)
  std::string root_cert_pem;   // trust anchor for peers
};

struct ServingCertificate {
  std::string key_pem;
  std::string chain_pem;      // leaf + the CA's chain
  std::string root_cert_pem;  // what clients trust (the webhook's caBundle)
};

class CertificateAuthority {
 public:
  virtual ~CertificateAuthority() = default;
  // Signs `csr_pem` for an identity that the caller has already authenticated. The
  // certificate carries exactly that identity, whatever the CSR asked for; a CSR asking
  // for another identity is refused.
  virtual absl::StatusOr<SignedCertificate> Sign(const std::string& csr_pem, const SpiffeId& identity,
                                                 std::chrono::seconds ttl) = 0;
  virtual const std::string& RootCertPem() const = 0;
  // A TLS serving certificate for the control plane's own servers (the admission
  // webhook): a fresh key, DNS SANs, serverAuth only. The key is made here because the
  // server runs in the CA's process.
  virtual absl::StatusOr<ServingCertificate> IssueServingCertificate(const std::vector<std::string>& dns_names,
                                                                     std::chrono::seconds ttl) {
    (void)dns_names;
    (void)ttl;
    return absl::UnimplementedError("this CA does not issue serving certificates");
  }
};

struct LocalCaOptions {
  std::string dir;  // the CA directory inside the state dir (created if missing)
  std::string trust_domain = "cluster.local";
  std::chrono::hours root_ttl{24 * 365 * 10};
  std::shared_ptr<const common::TimeSource> time_source;  // null: real time
};

// A CA backed by files in `dir`:
// - plugged-in (Istio's layout): ca-cert.pem, ca-key.pem, root-cert.pem, cert-chain.pem;
// - otherwise a self-signed root is created on first start (root-cert.pem,
//   root-key.pem with mode 0600) and reused afterwards.
absl::StatusOr<std::unique_ptr<CertificateAuthority>> OpenLocalCa(const LocalCaOptions& options);

}  // namespace mesh::ca
