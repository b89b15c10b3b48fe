#pragma once

// The control plane's side of the discovery protocol: one aggregated stream per proxy
// (JSON DiscoveryRequest/DiscoveryResponse as WebSocket text frames on /v3/discovery),
// the REST form (POST /v3/discovery:<clusters|listeners|routes|endpoints|secrets>), and
// debug endpoints (/debug/syncz, /debug/config_dump?proxyID=ID) for `meshctl
// proxy-status` and `proxy-config`. Pushes send a type only when its content changed.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "mesh/xds/protocol.h"
#include "mesh/xds/stream_state.h"

namespace mesh::xds {

// Produces the full set of resources of one type for one proxy (state of the world).
class ResourceSource {
 public:
  virtual ~ResourceSource() = default;
  virtual ResourceList Generate(const ProxyNode& proxy, const std::string& type_url) = 0;
  virtual void OnProxyConnected(const ProxyNode& /*proxy*/) {}
  virtual void OnProxyDisconnected(const ProxyNode& /*proxy*/) {}
  virtual void OnNack(const ProxyNode& /*proxy*/, const std::string& /*type_url*/, const std::string& /*error*/) {}
};

struct TypeSyncInfo {
  SyncStatus status = SyncStatus::kNotSent;
  std::string sent_version;
  std::string acked_version;
  std::string nack_message;
  size_t resource_count = 0;
};

struct ProxySyncInfo {
  ProxyNode node;
  std::string encoding = "json";  // how responses travel on the stream: "json" or "zstd"
  std::map<std::string, TypeSyncInfo> types;  // by type URL
  std::map<std::string, ResourceList> sent;  // last sent resources by type URL
};

// A plain HTTP request/response for extra endpoints served on the discovery port (the
// CA's signing endpoint, debug pages of the control plane).
struct HttpExchange {
  std::string method;
  std::string target;  // path and query
  std::string body;
  std::string authorization;  // the Authorization header
  int status = 404;
  std::string content_type = "application/json";
  std::string response;
};

struct XdsServerOptions {
  std::string address = "127.0.0.1";
  uint16_t port = 15010;  // 0: pick a free port
  // Called (on the server thread) for requests the discovery server does not handle;
  // it fills in status and response. Must not block for long.
  std::function<void(HttpExchange&)> extra_http;
  // Compress responses for proxies that ask for it (compression.h); false: always JSON.
  bool compression = true;
  // Streams older than this (plus up to 10% jitter) are closed so their proxies
  // reconnect, spreading them over the replicas behind a Service (istiod's
  // --keepaliveMaxServerConnectionAge); 0: never.
  std::chrono::milliseconds max_connection_age{0};
  // Plain HTTP only (debug and monitoring ports): no discovery streams are accepted.
  bool http_only = false;
};

class XdsServer {
 public:
  virtual ~XdsServer() = default;
  virtual uint16_t port() const = 0;
  // Regenerates every connected proxy's subscribed types and sends what changed.
  // Thread-safe; returns immediately (the push runs on the server thread).
  virtual void PushAll() = 0;
  // A copy of every connected proxy's sync state. Thread-safe.
  virtual std::vector<ProxySyncInfo> Snapshot() const = 0;
  virtual size_t ConnectedProxies() const = 0;
  // Closes the listener and every stream, then joins the server thread.
  virtual void Stop() = 0;
};

absl::StatusOr<std::unique_ptr<XdsServer>> StartXdsServer(const XdsServerOptions& options,
                                                         std::shared_ptr<ResourceSource> source);

// Proxy-side: receives resources per type; a non-OK status NACKs them (the proxy keeps
// its previous configuration and the error reaches the control plane).
class XdsClientCallbacks {
 public:
  virtual ~XdsClientCallbacks() = default;
  virtual absl::Status OnResources(const std::string& type_url, const std::string& version,
                                   const std::vector<config::Node>& resources) = 0;
  virtual void OnConnectionChange(bool /*connected*/) {}
  // A response that could not be read (malformed, or a compressed one over the size
  // limit); the client drops the stream and reconnects.
  virtual void OnStreamError(const absl::Status& /*error*/) {}
};

struct XdsClientOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 15010;
  ProxyNode node;  // node.authorization is sent as the upgrade's Authorization header
  // When set, asked on every (re)connect instead of node.authorization (rotating tokens).
  std::function<std::string()> authorization_provider;
  std::vector<std::string> type_urls = type_url::SubscriptionOrder();
  std::chrono::milliseconds reconnect_base{100};
  std::chrono::milliseconds reconnect_max{5000};
  // Ask the control plane for compressed responses (compression.h).
  bool accept_compression = true;
  // The largest response accepted, after decompression.
  size_t max_response_bytes = 64 << 20;
};

// Keeps one aggregated stream open to the control plane, reconnecting with backoff;
// while disconnected the proxy keeps serving its last accepted configuration.
class XdsClient {
 public:
  virtual ~XdsClient() = default;
  virtual bool connected() const = 0;
  virtual void Stop() = 0;
};

std::unique_ptr<XdsClient> StartXdsClient(const XdsClientOptions& options,
                                          std::shared_ptr<XdsClientCallbacks> callbacks);

}  // namespace mesh::xds
