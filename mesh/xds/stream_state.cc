#include "mesh/xds/stream_state.h"

#include <algorithm>

namespace mesh::xds {

std::string_view SyncStatusName(SyncStatus s) {
  switch (s) {
    case SyncStatus::kNotSent: return "NOT SENT";
    case SyncStatus::kStale: return "STALE";
    case SyncStatus::kSynced: return "SYNCED";
    case SyncStatus::kNacked: return "NACKED";
  }
  return "UNKNOWN";
}

RequestKind StreamState::OnRequest(const DiscoveryRequest& r) {
  if (!r.node.id.empty()) {
    node_ = r.node;  // the node is sent on the first request; later ones may omit it
  }
  TypeState& t = types_[r.type_url];
  bool names_changed = t.resource_names != r.resource_names;
  if (!t.subscribed || r.response_nonce.empty() || names_changed) {
    t.subscribed = true;
    t.resource_names = r.resource_names;
    // A reconnecting proxy tells us what it already has: no need to resend the same.
    if (t.sent_version.empty() && !r.version_info.empty() && !r.IsNack()) {
      t.acked_version = r.version_info;
    }
    return RequestKind::kSubscribe;
  }
  if (r.response_nonce != t.sent_nonce) {
    return RequestKind::kStaleNonce;
  }
  if (r.IsNack()) {
    t.nack_message = r.error_detail.message;
    t.nack_version = t.sent_version;
    t.acked_nonce = r.response_nonce;
    return RequestKind::kNack;
  }
  t.acked_version = r.version_info;
  t.acked_nonce = r.response_nonce;
  t.nack_message.clear();
  t.nack_version.clear();
  return RequestKind::kAck;
}

std::optional<DiscoveryResponse> StreamState::PrepareResponse(const std::string& type_url, ResourceList resources,
                                                              bool force) {
  TypeState& t = types_[type_url];
  // The same list object as last time cannot have changed (lists are immutable).
  if (resources == t.sent_resources && !t.sent_version.empty() && !force) {
    return std::nullopt;
  }
  std::string version = resources->version();
  bool already = version == t.sent_version || (t.sent_version.empty() && version == t.acked_version);
  if (already && !force) {
    if (t.sent_version.empty()) {
      // The proxy already runs this version (it said so when it reconnected).
      t.sent_version = version;
      t.sent_resources = std::move(resources);
    }
    return std::nullopt;
  }
  DiscoveryResponse resp;
  resp.type_url = type_url;
  resp.version_info = version;
  resp.nonce = std::to_string(++nonce_counter_);
  resp.resources = resources;
  t.sent_version = version;
  t.sent_nonce = resp.nonce;
  t.sent_resources = std::move(resources);
  return resp;
}

SyncStatus StreamState::Status(const std::string& type_url) const {
  auto it = types_.find(type_url);
  if (it == types_.end() || it->second.sent_version.empty()) {
    return SyncStatus::kNotSent;
  }
  const TypeState& t = it->second;
  if (!t.nack_message.empty() && t.nack_version == t.sent_version) {
    return SyncStatus::kNacked;
  }
  return t.acked_version == t.sent_version ? SyncStatus::kSynced : SyncStatus::kStale;
}

std::vector<std::string> StreamState::SubscribedTypes() const {
  std::vector<std::string> out;
  for (const auto& [type, state] : types_) {
    if (state.subscribed) {
      out.push_back(type);
    }
  }
  return out;
}

void Debouncer::OnChange(Clock::time_point now) {
  if (!first_) {
    first_ = now;
  }
  last_ = now;
}

std::optional<Debouncer::Clock::time_point> Debouncer::Deadline() const {
  if (!first_) {
    return std::nullopt;
  }
  return std::min(last_ + quiet_, *first_ + max_delay_);
}

bool Debouncer::TakeDue(Clock::time_point now) {
  auto deadline = Deadline();
  if (!deadline || now < *deadline) {
    return false;
  }
  first_.reset();
  return true;
}

std::chrono::milliseconds ReconnectDelay(int attempt, double random01, std::chrono::milliseconds base,
                                         std::chrono::milliseconds max) {
  long long ms = base.count();
  for (int i = 0; i < attempt && ms < max.count(); ++i) {
    ms *= 2;
  }
  ms = std::min<long long>(ms, max.count());
  double jitter = 0.5 + 0.5 * std::clamp(random01, 0.0, 1.0);
  return std::chrono::milliseconds(static_cast<long long>(static_cast<double>(ms) * jitter));
}

}  // namespace mesh::xds
