#pragma once

// Local-mode workload authentication. `meshctl` issues a bootstrap token for one
// workload identity (namespace, service account, workload name, expiry), signed with a
// key only the state directory's owner can read (0600). A proxy presents the token with
// its CSR; the CA signs only for the identity the token names. Whoever can read the
// state directory can mint tokens: that is the trust boundary of local mode (the same as
// owning the mesh's files), documented in docs/SECURITY.md.

#include <chrono>
#include <string>

#include "absl/status/statusor.h"

namespace mesh::ca {

struct WorkloadClaims {
  std::string ns;
  std::string service_account;
  std::string workload;
  std::chrono::system_clock::time_point expiry;
};

class TokenAuthority {
 public:
  // Loads the signing key from `key_file`, creating it (32 random bytes, mode 0600) once.
  static absl::StatusOr<TokenAuthority> Open(const std::string& key_file);

  std::string Issue(const WorkloadClaims& claims) const;
  // Checks signature and expiry; returns the claims the token carries.
  absl::StatusOr<WorkloadClaims> Verify(const std::string& token, std::chrono::system_clock::time_point now) const;

 private:
  explicit TokenAuthority(std::string key) : key_(std::move(key)) {}
  std::string Mac(const std::string& payload) const;
  std::string key_;
};

}  // namespace mesh::ca
