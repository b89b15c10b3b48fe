#pragma once

// The discovery protocol's messages (xDS semantics: DiscoveryRequest/DiscoveryResponse
// with version_info, nonce, ACK/NACK through error_detail), in proto3 JSON form. Resources
// are opaque here: each is a JSON object with an "@type" and a name; the proxy and the
// control plane decide what is inside.

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "mesh/config/node.h"

namespace mesh::xds {

namespace type_url {
inline constexpr const char* kListener = "type.googleapis.com/envoy.config.listener.v3.Listener";
inline constexpr const char* kRoute = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration";
inline constexpr const char* kCluster = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
inline constexpr const char* kEndpoint = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";
inline constexpr const char* kSecret = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret";
// Short names used on the REST path (/v3/discovery:clusters) and in proxy-status.
std::string ShortName(std::string_view type_url);       // "CDS", "LDS", ...
std::string TypeUrlForRestPath(std::string_view path);  // "clusters" -> kCluster, "" if unknown
// The order an aggregated stream subscribes in (clusters before listeners, as Envoy does).
const std::vector<std::string>& SubscriptionOrder();
}  // namespace type_url

struct ProxyNode {
  std::string id;  // "sidecar~10.0.0.1~helloworld-1.devops~devops.svc.cluster.local" or any unique id
  config::Node metadata;  // free-form: NAMESPACE, SERVICE_ACCOUNT, LABELS, WORKLOAD_NAME, ...
  // The stream's credentials (Authorization header of the WebSocket upgrade); never
  // serialized into messages.
  std::string authorization;
};

struct ErrorDetail {
  int code = 0;  // google.rpc.Code; 0 means none
  std::string message;
};

struct DiscoveryRequest {
  std::string version_info;  // the last version the proxy accepted
  ProxyNode node;
  std::vector<std::string> resource_names;
  std::string type_url;
  std::string response_nonce;  // the nonce of the response this request answers
  ErrorDetail error_detail;    // set: NACK
  bool IsNack() const { return error_detail.code != 0 || !error_detail.message.empty(); }
};

// A resource as it travels: serialized once (compact proto3 JSON) and then shared,
// immutable, by every stream, the sync bookkeeping and the debug dump.
struct EncodedResource {
  std::string name;
  std::string json;
  std::string digest;  // 16 hex digits of SHA-256(json)
};
using EncodedResourcePtr = std::shared_ptr<const EncodedResource>;
EncodedResourcePtr EncodeResource(const config::Node& resource);
// For callers that already hold the JSON text.
EncodedResourcePtr EncodeResourceJson(std::string name, std::string json);

// A run of resources with their comma-joined JSON: the unit that proxies sharing a
// configuration scope share (a scope's clusters, say). Immutable once built.
class ResourceChunk {
 public:
  explicit ResourceChunk(std::vector<EncodedResourcePtr> items);
  const std::vector<EncodedResourcePtr>& items() const { return items_; }
  const std::string& joined() const { return joined_; }  // "r1,r2,..." ("" when empty)
  const std::string& digest() const { return digest_; }
  // joined() as one zstd frame, made on first use and then shared like joined() (for
  // streams that negotiated compression, see compression.h). Thread-safe.
  const std::string& compressed() const;

 private:
  std::vector<EncodedResourcePtr> items_;
  std::string joined_;
  std::string digest_;
  mutable std::once_flag compress_once_;
  mutable std::string compressed_;
};
using ResourceChunkPtr = std::shared_ptr<const ResourceChunk>;
ResourceChunkPtr MakeResourceChunk(std::vector<EncodedResourcePtr> items);

// The full state of one type for one proxy: a few chunks (typically a small per-proxy
// one and a large shared one), never copied per stream. version() is the content hash
// used as version_info: equal resources give equal versions, so a push only happens
// when something changed.
class ResourceSet {
 public:
  explicit ResourceSet(std::vector<ResourceChunkPtr> chunks);
  const std::vector<ResourceChunkPtr>& chunks() const { return chunks_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const std::string& version() const { return version_; }
  // Parsed copies, for debug output and tests (slow; not on the push path).
  std::vector<config::Node> Decode() const;
  std::vector<std::string> Names() const;

 private:
  std::vector<ResourceChunkPtr> chunks_;
  size_t size_ = 0;
  std::string version_;
};
using ResourceList = std::shared_ptr<const ResourceSet>;
ResourceList MakeResourceList(std::vector<config::Node> resources);
ResourceList MakeChunkedResourceList(std::vector<ResourceChunkPtr> chunks);

// What the control plane sends.
struct DiscoveryResponse {
  std::string version_info;
  ResourceList resources = MakeResourceList({});  // JSON objects carrying "@type"
  std::string type_url;
  std::string nonce;
};

// What a proxy receives, parsed.
struct ReceivedResponse {
  std::string version_info;
  std::shared_ptr<const std::vector<config::Node>> resources;
  std::string type_url;
  std::string nonce;
};

config::Node EncodeRequest(const DiscoveryRequest& r);
absl::StatusOr<DiscoveryRequest> DecodeRequest(const config::Node& n);
absl::StatusOr<ReceivedResponse> DecodeResponse(const config::Node& n);
// Text (JSON) forms, as they travel on the wire.
std::string SerializeRequest(const DiscoveryRequest& r);
std::string SerializeResponse(const DiscoveryResponse& r);
// How a response travels on a stream.
enum class ResponseEncoding {
  kJson,  // a text message: the JSON itself
  kZstd,  // a binary message: zstd frames whose decompressed concatenation is the JSON
};

// A response as pieces: the small per-stream envelope around the shared chunks' bytes,
// so that writing one configuration to many streams copies nothing. Concatenating
// pieces() gives SerializeResponse() (kJson) or zstd frames that decompress to it
// (kZstd: the envelope is compressed per stream, each chunk once for all streams).
class SerializedResponse {
 public:
  explicit SerializedResponse(const DiscoveryResponse& r, ResponseEncoding encoding = ResponseEncoding::kJson);
  const std::vector<std::string_view>& pieces() const { return pieces_; }
  size_t size() const;
  bool binary() const { return encoding_ == ResponseEncoding::kZstd; }

 private:
  ResponseEncoding encoding_;
  std::string head_;
  ResourceList resources_;  // keeps the chunks' bytes alive
  std::vector<std::string_view> pieces_;
};
absl::StatusOr<DiscoveryRequest> ParseRequest(std::string_view json);
absl::StatusOr<ReceivedResponse> ParseResponse(std::string_view json);

// Stable content hash of a set of resources (used as version_info): equal resources give
// equal versions, so a push only happens when something changed.
std::string ContentVersion(const std::vector<config::Node>& resources);
std::string ContentVersion(const ResourceSet& resources);

}  // namespace mesh::xds
