#pragma once

// Who is asking: turns the bearer credential a proxy presents (to the CA endpoint and on
// its discovery stream) into the workload identity it may claim. Local mode checks
// bootstrap tokens signed by the state directory's key; Kubernetes mode asks the API
// server to review the pod's service-account token (mesh/kubestore). The control plane
// then signs and serves only for that identity.

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "mesh/ca/token.h"

namespace mesh::ca {

struct AuthenticatedWorkload {
  std::string ns;
  std::string service_account;
};

class Authenticator {
 public:
  virtual ~Authenticator() = default;
  // `bearer` is the credential without the "Bearer " prefix. Unauthenticated for a
  // missing, malformed, expired or rejected credential.
  virtual absl::StatusOr<AuthenticatedWorkload> Authenticate(const std::string& bearer) = 0;
  // For messages: "bootstrap token", "Kubernetes service-account token".
  virtual std::string CredentialName() const = 0;
};

// Local mode: bootstrap tokens (mesh/ca/token.h).
class BootstrapTokenAuthenticator : public Authenticator {
 public:
  explicit BootstrapTokenAuthenticator(TokenAuthority tokens) : tokens_(std::move(tokens)) {}
  absl::StatusOr<AuthenticatedWorkload> Authenticate(const std::string& bearer) override {
    auto claims = tokens_.Verify(bearer, std::chrono::system_clock::now());
    if (!claims.ok()) {
      return claims.status();
    }
    return AuthenticatedWorkload{claims->ns, claims->service_account};
  }
  std::string CredentialName() const override { return "bootstrap token"; }

 private:
  TokenAuthority tokens_;
};

}  // namespace mesh::ca
