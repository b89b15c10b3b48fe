#pragma once

// Kubernetes-mode workload authentication: the proxy presents its pod's projected
// service-account token (audience "istio-ca"); the control plane asks the API server
// (TokenReview, authentication.k8s.io/v1) whether it is valid for that audience and whose
// it is. Only "system:serviceaccount:NS:SA" users are accepted, and they may claim
// exactly spiffe://<trust-domain>/ns/NS/sa/SA. Successful reviews are cached for a short
// time (keyed by the token's SHA-256) so that a proxy's discovery stream and certificate
// requests do not each cost a round trip.

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "mesh/ca/authenticator.h"
#include "mesh/common/time_source.h"
#include "mesh/kube/client.h"

namespace mesh::kubestore {

struct TokenReviewOptions {
  std::shared_ptr<kube::KubeClient> client;
  std::vector<std::string> audiences = {"istio-ca"};
  std::chrono::seconds cache_ttl{60};
  size_t cache_max_entries = 10000;
  std::shared_ptr<const common::TimeSource> clock;  // null: real time
};

class TokenReviewAuthenticator : public ca::Authenticator {
 public:
  explicit TokenReviewAuthenticator(TokenReviewOptions options);

  absl::StatusOr<ca::AuthenticatedWorkload> Authenticate(const std::string& bearer) override;
  std::string CredentialName() const override { return "Kubernetes service-account token"; }
  uint64_t reviews() const;  // TokenReviews sent (tests, debug)

 private:
  struct Cached {
    ca::AuthenticatedWorkload workload;
    std::chrono::steady_clock::time_point expires;
  };
  absl::StatusOr<ca::AuthenticatedWorkload> Review(const std::string& token);

  TokenReviewOptions options_;
  mutable std::mutex mu_;
  std::map<std::string, Cached> cache_;  // SHA-256 of the token -> identity
  uint64_t reviews_ = 0;
};

// "system:serviceaccount:NS:SA" -> (NS, SA); InvalidArgument for any other user name.
absl::StatusOr<ca::AuthenticatedWorkload> ParseServiceAccountUser(const std::string& username);

}  // namespace mesh::kubestore
