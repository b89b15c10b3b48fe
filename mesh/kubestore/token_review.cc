#include "mesh/kubestore/token_review.h"

#include <openssl/evp.h>

#include "mesh/common/strings.h"

namespace mesh::kubestore {

using common::StrCat;
using config::Node;

namespace {

std::string Sha256(const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<const char*>(digest), len);
}

}  // namespace

absl::StatusOr<ca::AuthenticatedWorkload> ParseServiceAccountUser(const std::string& username) {
  std::string_view rest = username;
  if (!common::ConsumePrefix(rest, "system:serviceaccount:")) {
    return absl::InvalidArgumentError(StrCat("\"", username, "\" is not a service account"));
  }
  size_t colon = rest.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == rest.size() ||
      rest.find(':', colon + 1) != std::string_view::npos) {
    return absl::InvalidArgumentError(StrCat("malformed service-account user \"", username, "\""));
  }
  return ca::AuthenticatedWorkload{std::string(rest.substr(0, colon)), std::string(rest.substr(colon + 1))};
}

TokenReviewAuthenticator::TokenReviewAuthenticator(TokenReviewOptions options) : options_(std::move(options)) {
  if (options_.clock == nullptr) {
    options_.clock = std::make_shared<common::RealTimeSource>();
  }
}

uint64_t TokenReviewAuthenticator::reviews() const {
  std::lock_guard<std::mutex> lock(mu_);
  return reviews_;
}

absl::StatusOr<ca::AuthenticatedWorkload> TokenReviewAuthenticator::Authenticate(const std::string& bearer) {
  if (bearer.empty()) {
    return absl::UnauthenticatedError("empty service-account token");
  }
  const std::string key = Sha256(bearer);
  const auto now = options_.clock->MonotonicNow();
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = cache_.find(key);
    if (it != cache_.end()) {
      if (it->second.expires > now) {
        return it->second.workload;
      }
      cache_.erase(it);
    }
  }
  auto reviewed = Review(bearer);
  if (!reviewed.ok()) {
    return reviewed;
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (cache_.size() >= options_.cache_max_entries) {
    for (auto it = cache_.begin(); it != cache_.end();) {
      it = it->second.expires <= now ? cache_.erase(it) : std::next(it);
    }
    if (cache_.size() >= options_.cache_max_entries) {
      cache_.clear();
    }
  }
  cache_[key] = Cached{*reviewed, now + options_.cache_ttl};
  return reviewed;
}

absl::StatusOr<ca::AuthenticatedWorkload> TokenReviewAuthenticator::Review(const std::string& token) {
  if (options_.client == nullptr) {
    return absl::FailedPreconditionError("TokenReview needs a Kubernetes client");
  }
  Node review = Node::Map();
  review.Set("apiVersion", Node::Scalar("authentication.k8s.io/v1", true));
  review.Set("kind", Node::Scalar("TokenReview", true));
  Node spec = Node::Map();
  spec.Set("token", Node::Scalar(token, true));
  Node audiences = Node::Sequence();
  for (const std::string& a : options_.audiences) {
    audiences.Append(Node::Scalar(a, true));
  }
  spec.Set("audiences", std::move(audiences));
  review.Set("spec", std::move(spec));
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++reviews_;
  }
  auto reply = options_.client->Create(review);
  if (!reply.ok()) {
    // The API server could not review (unreachable, RBAC): not the proxy's fault, but
    // nothing is issued without a review.
    return absl::UnavailableError(StrCat("TokenReview failed: ", reply.status().message()));
  }
  const Node& status = (*reply)["status"];
  if (!status["authenticated"].Bool().value_or(false)) {
    std::string why = status["error"].Str();
    return absl::UnauthenticatedError(
        StrCat("service-account token rejected by the API server", why.empty() ? "" : ": ", why));
  }
  // The reviewed audiences must include ours (a token minted for another audience, e.g.
  // the API server's default, is not accepted).
  std::vector<std::string> granted = status["audiences"].StringList();
  bool audience_ok = false;
  for (const std::string& a : options_.audiences) {
    audience_ok = audience_ok || std::find(granted.begin(), granted.end(), a) != granted.end();
  }
  if (!audience_ok) {
    return absl::UnauthenticatedError(
        StrCat("service-account token is not valid for audience ", common::Join(options_.audiences, ",")));
  }
  auto sa = ParseServiceAccountUser(status.At({"user", "username"}).Str());
  if (!sa.ok()) {
    return absl::UnauthenticatedError(StrCat("token review: ", sa.status().message()));
  }
  return sa;
}

}  // namespace mesh::kubestore
