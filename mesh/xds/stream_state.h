#pragma once

// Per-stream protocol bookkeeping, kept free of sockets so it is unit-testable: which
// types a proxy subscribed to, what was sent (version, nonce), what it ACKed or NACKed,
// and whether a request is a new subscription, an ACK, a NACK or a stale echo.

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "mesh/xds/protocol.h"

namespace mesh::xds {

enum class SyncStatus { kNotSent, kStale, kSynced, kNacked };
std::string_view SyncStatusName(SyncStatus s);  // "NOT SENT", "STALE", "SYNCED", "NACKED"

struct TypeState {
  bool subscribed = false;
  std::vector<std::string> resource_names;  // empty: all (state of the world)
  std::string sent_version;
  std::string sent_nonce;
  ResourceList sent_resources = MakeResourceList({});
  std::string acked_version;
  std::string acked_nonce;
  std::string nack_message;  // last NACK's error, cleared by the next ACK
  std::string nack_version;  // the version that was refused
};

enum class RequestKind {
  kSubscribe,   // first request for a type, or the resource names changed: send now
  kAck,         // the proxy accepted what we sent
  kNack,        // the proxy refused what we sent (it keeps its previous config)
  kStaleNonce,  // answers an older response: ignore
};

class StreamState {
 public:
  // Classifies and records an incoming request.
  RequestKind OnRequest(const DiscoveryRequest& request);
  // Records a response about to be sent and fills in its nonce. Returns nullopt when the
  // version equals what was last sent (nothing changed).
  std::optional<DiscoveryResponse> PrepareResponse(const std::string& type_url, ResourceList resources,
                                                   bool force = false);

  SyncStatus Status(const std::string& type_url) const;
  const std::map<std::string, TypeState>& types() const { return types_; }
  std::vector<std::string> SubscribedTypes() const;
  const ProxyNode& node() const { return node_; }

 private:
  ProxyNode node_;
  std::map<std::string, TypeState> types_;
  uint64_t nonce_counter_ = 0;
};

// Debounces change events: a push happens once changes have been quiet for `quiet`, and
// no later than `max_delay` after the first pending change (Istio's PILOT_DEBOUNCE_AFTER /
// PILOT_DEBOUNCE_MAX). Pure logic: callers pass the time in.
class Debouncer {
 public:
  using Clock = std::chrono::steady_clock;
  Debouncer(std::chrono::milliseconds quiet, std::chrono::milliseconds max_delay)
      : quiet_(quiet), max_delay_(max_delay) {}
  void OnChange(Clock::time_point now);
  // When the pending push becomes due; nullopt when nothing is pending.
  std::optional<Clock::time_point> Deadline() const;
  // True (and resets) when a push is due at `now`.
  bool TakeDue(Clock::time_point now);

 private:
  std::chrono::milliseconds quiet_;
  std::chrono::milliseconds max_delay_;
  std::optional<Clock::time_point> first_;
  Clock::time_point last_{};
};

// Exponential backoff with jitter for reconnects: base * 2^attempt capped at max, then
// scaled by a jitter factor in [0.5, 1.0] (pass a random number in [0, 1)).
std::chrono::milliseconds ReconnectDelay(int attempt, double random01,
                                         std::chrono::milliseconds base = std::chrono::milliseconds(100),
                                         std::chrono::milliseconds max = std::chrono::milliseconds(10000));

}  // namespace mesh::xds
