#pragma once

// The discovery protocol's messages (xDS semantics: DiscoveryRequest/DiscoveryResponse
// with version_info, nonce, ACK/NACK through error_detail), in proto3 JSON form. Resources
// are opaque here: each is a JSON object with an "@type" and a name; the proxy and the
// control plane decide what is inside.

#include <memory>
#include <string>
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

// Resources are shared, immutable lists: one translation feeds the response, the sync
// bookkeeping and the debug dump without copies.
using ResourceList = std::shared_ptr<const std::vector<config::Node>>;
ResourceList MakeResourceList(std::vector<config::Node> resources);

struct DiscoveryResponse {
  std::string version_info;
  ResourceList resources = MakeResourceList({});  // JSON objects carrying "@type"
  std::string type_url;
  std::string nonce;
};

config::Node EncodeRequest(const DiscoveryRequest& r);
config::Node EncodeResponse(const DiscoveryResponse& r);
absl::StatusOr<DiscoveryRequest> DecodeRequest(const config::Node& n);
absl::StatusOr<DiscoveryResponse> DecodeResponse(const config::Node& n);
// Text (JSON) forms, as they travel on the wire.
std::string SerializeRequest(const DiscoveryRequest& r);
std::string SerializeResponse(const DiscoveryResponse& r);
absl::StatusOr<DiscoveryRequest> ParseRequest(std::string_view json);
absl::StatusOr<DiscoveryResponse> ParseResponse(std::string_view json);

// Stable content hash of a set of resources (used as version_info): equal resources give
// equal versions, so a push only happens when something changed.
std::string ContentVersion(const std::vector<config::Node>& resources);

}  // namespace mesh::xds
