#pragma once

// Plain, validated structs for the subset of Envoy's v3 resources that meshctl's proxy
// understands. Decoded once at the edge (decode.h) and shared as immutable snapshots;
// the control plane builds the same structs and encodes them (encode.h) for discovery.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace mesh::proxyconfig {

using Duration = std::chrono::milliseconds;

// Type URLs (Envoy's, so the control plane's output reads like Envoy's).
inline constexpr char kListenerType[] = "type.googleapis.com/envoy.config.listener.v3.Listener";
inline constexpr char kRouteConfigurationType[] =
    "type.googleapis.com/envoy.config.route.v3.RouteConfiguration";
inline constexpr char kHttpProtocolOptionsType[] =
    "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions";
inline constexpr char kClusterType[] = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
inline constexpr char kClusterLoadAssignmentType[] =
    "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";
inline constexpr char kSecretType[] =
    "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret";
inline constexpr char kHcmType[] =
    "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3."
    "HttpConnectionManager";
inline constexpr char kTcpProxyType[] =
    "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy";
inline constexpr char kDownstreamTlsType[] =
    "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext";
inline constexpr char kUpstreamTlsType[] =
    "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext";
inline constexpr char kRouterType[] =
    "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router";
inline constexpr char kFaultType[] =
    "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault";
inline constexpr char kFileAccessLogType[] =
    "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog";
inline constexpr char kStdoutAccessLogType[] =
    "type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog";
inline constexpr char kHttpRbacType[] = "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC";
inline constexpr char kNetworkRbacType[] =
    "type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC";
inline constexpr char kHttpRbacFilter[] = "envoy.filters.http.rbac";
inline constexpr char kBufferFilter[] = "envoy.filters.http.buffer";
inline constexpr char kBufferType[] = "type.googleapis.com/envoy.extensions.filters.http.buffer.v3.Buffer";
inline constexpr char kBufferPerRouteType[] =
    "type.googleapis.com/envoy.extensions.filters.http.buffer.v3.BufferPerRoute";
inline constexpr char kNetworkRbacFilter[] = "envoy.filters.network.rbac";

struct SocketAddress {
  std::string address = "0.0.0.0";
  uint32_t port_value = 0;
};

struct StringMatcher {
  enum class Kind { kExact, kPrefix, kSuffix, kContains, kRegex };
  Kind kind = Kind::kExact;
  std::string value;
  bool ignore_case = false;
  std::shared_ptr<const std::regex> regex;  // compiled when kind == kRegex

  bool Matches(std::string_view text) const;
};

struct HeaderMatcher {
  std::string name;  // lower case; ":method", ":path", ":authority" are pseudo-headers
  std::optional<StringMatcher> string_match;
  bool present_match = false;  // when no string_match: header must be present
  bool invert_match = false;
};

struct QueryParameterMatcher {
  std::string name;
  std::optional<StringMatcher> string_match;
  bool present_match = false;
};

struct RouteMatch {
  enum class PathKind { kPrefix, kPath, kSafeRegex };
  PathKind path_kind = PathKind::kPrefix;
  std::string path;  // prefix, exact path or regex text
  std::shared_ptr<const std::regex> regex;
  bool case_sensitive = true;
  std::vector<HeaderMatcher> headers;
  std::vector<QueryParameterMatcher> query_parameters;
};

struct HeaderValueOption {
  enum class Action { kAppendIfExistsOrAdd, kAddIfAbsent, kOverwriteIfExistsOrAdd };
  std::string key;
  std::string value;
  Action action = Action::kAppendIfExistsOrAdd;
};

struct HeaderMutations {
  std::vector<HeaderValueOption> request_headers_to_add;
  std::vector<std::string> request_headers_to_remove;
  std::vector<HeaderValueOption> response_headers_to_add;
  std::vector<std::string> response_headers_to_remove;
};

struct WeightedCluster {
  std::string name;
  uint32_t weight = 0;
};

struct RetryPolicy {
  // 5xx, gateway-error, connect-failure, reset, retriable-4xx; gRPC: cancelled,
  // deadline-exceeded, internal, resource-exhausted, unavailable.
  std::vector<std::string> retry_on;
  uint32_t num_retries = 1;
  Duration per_try_timeout{0};  // 0: the route timeout applies
  Duration base_interval{25};
  Duration max_interval{250};

  bool RetriesOn(std::string_view condition) const;
};

struct FaultPolicy {
  std::optional<Duration> delay;
  double delay_percent = 0;  // 0..100
  std::optional<uint32_t> abort_status;
  double abort_percent = 0;
};

struct HashPolicy {
  enum class Kind { kHeader, kCookie, kSourceIp };
  Kind kind = Kind::kHeader;
  std::string name;  // header or cookie name
};

struct CorsPolicy {
  std::vector<StringMatcher> allow_origin_string_match;
  std::string allow_methods;
  std::string allow_headers;
  std::string expose_headers;
  std::string max_age;
  bool allow_credentials = false;
};

struct RouteAction {
  std::string cluster;                    // either cluster
  std::vector<WeightedCluster> weighted_clusters;  // or weighted clusters
  std::optional<std::string> prefix_rewrite;
  std::optional<std::string> host_rewrite_literal;
  Duration timeout{15000};  // Envoy's default; 0 disables
  std::optional<RetryPolicy> retry_policy;
  std::vector<std::string> request_mirror_clusters;
  std::vector<HashPolicy> hash_policy;
  std::optional<CorsPolicy> cors;
};

struct RedirectAction {
  std::string scheme_redirect;  // "" keeps the scheme; https_redirect sets "https"
  std::string host_redirect;
  uint32_t port_redirect = 0;
  std::string path_redirect;
  std::string prefix_rewrite;
  uint32_t response_code = 301;
  bool strip_query = false;
};

struct DirectResponseAction {
  uint32_t status = 200;
  std::string body;
};

// typed_per_filter_config["envoy.filters.http.buffer"] (BufferPerRoute): turns the
// request body limit off for the route, or replaces it. Applies only when the connection
// manager has the buffer filter (as in Envoy).
struct BufferPerRoute {
  bool disabled = false;
  uint32_t max_request_bytes = 0;  // when not disabled
};

struct Route {
  std::string name;
  RouteMatch match;
  std::variant<RouteAction, RedirectAction, DirectResponseAction> action;
  HeaderMutations headers;
  std::optional<FaultPolicy> fault;
  std::optional<BufferPerRoute> buffer;
};

struct VirtualHost {
  std::string name;
  std::vector<std::string> domains;
  std::vector<Route> routes;
  HeaderMutations headers;
  std::optional<RetryPolicy> retry_policy;
  std::optional<CorsPolicy> cors;
};

struct RouteConfiguration {
  std::string name;
  std::vector<VirtualHost> virtual_hosts;
  HeaderMutations headers;
};

// envoy.config.core.v3.CidrRange, parsed: `network` holds the masked address bytes (4 or
// 16) so matching is a byte compare.
struct CidrRange {
  std::string address_prefix;
  uint32_t prefix_len = 0;
  std::vector<uint8_t> network;

  // `ip` is a textual IPv4/IPv6 address; false when it does not parse or the family differs.
  bool Contains(std::string_view ip) const;
};

// Validates and masks; nullopt for a bad address or a prefix longer than the address.
std::optional<CidrRange> MakeCidrRange(const std::string& address_prefix, uint32_t prefix_len);

// envoy.config.rbac.v3.Permission (the subset Istio generates).
struct RbacPermission {
  enum class Kind { kAny, kAndRules, kOrRules, kNotRule, kHeader, kUrlPath, kDestinationPort, kDestinationIp };
  Kind kind = Kind::kAny;
  std::vector<RbacPermission> rules;  // and_rules / or_rules; not_rule holds one
  std::optional<HeaderMatcher> header;
  std::optional<StringMatcher> path;  // url_path.path: the path without the query
  uint32_t port = 0;
  CidrRange cidr;
};

// envoy.config.rbac.v3.Principal (the subset Istio generates).
struct RbacPrincipal {
  enum class Kind { kAny, kAndIds, kOrIds, kNotId, kAuthenticated, kDirectRemoteIp, kRemoteIp, kHeader };
  Kind kind = Kind::kAny;
  std::vector<RbacPrincipal> ids;  // and_ids / or_ids; not_id holds one
  // authenticated.principal_name; none: any authenticated peer (a verified certificate).
  std::optional<StringMatcher> principal_name;
  CidrRange cidr;  // direct_remote_ip (source_ip is its deprecated name) / remote_ip
  std::optional<HeaderMatcher> header;
};

struct RbacPolicy {
  std::vector<RbacPermission> permissions;  // any of them
  std::vector<RbacPrincipal> principals;    // any of them
};

struct RbacRules {
  enum class Action { kAllow, kDeny };
  Action action = Action::kAllow;
  std::map<std::string, RbacPolicy> policies;  // ALLOW with no policy denies everything
};

// envoy.extensions.filters.{http,network}.rbac.v3.RBAC. Without `rules` the filter lets
// everything through (Envoy's semantics).
struct RbacConfig {
  std::optional<RbacRules> rules;
  std::string stat_prefix;  // network filter only
};

struct AccessLog {
  std::string path;  // "" = stdout
  std::string text_format;  // used when json_format is empty
  std::vector<std::pair<std::string, std::string>> json_format;
};

// Envoy's Http2ProtocolOptions (config.core.v3), the subset that changes behaviour.
// Defaults are smaller than Envoy's (2^31-1 streams, 256 MiB windows) so that one
// connection cannot pin much memory; see docs/PROXY.md.
struct Http2ProtocolOptions {
  uint32_t max_concurrent_streams = 1024;
  uint32_t initial_stream_window_size = 1 << 20;      // 1 MiB
  uint32_t initial_connection_window_size = 1 << 22;  // 4 MiB
};

struct HttpConnectionManager {
  std::string stat_prefix;
  std::optional<RouteConfiguration> route_config;  // inline routes
  std::string rds_route_config_name;               // or a named RouteConfiguration
  Duration stream_idle_timeout{300000};
  Duration request_timeout{0};
  Duration request_headers_timeout{0};
  Duration idle_timeout{3600000};  // common_http_protocol_options.idle_timeout
  uint32_t max_request_headers_kb = 60;
  uint32_t max_headers_count = 100;
  bool use_remote_address = false;
  uint32_t xff_num_trusted_hops = 0;
  bool generate_request_id = true;
  std::string server_name = "meshctl";
  std::vector<AccessLog> access_log;
  std::vector<std::string> http_filters;  // names, in order; the router is last
  // One per envoy.filters.http.rbac entry of http_filters, in the same order.
  std::vector<RbacConfig> rbac;
  std::optional<FaultPolicy> fault;  // from an envoy.filters.http.fault filter
  // envoy.filters.http.buffer's max_request_bytes: bigger request bodies get 413.
  std::optional<uint32_t> max_request_bytes;
  std::string codec_type = "AUTO";    // AUTO, HTTP1 or HTTP2
  Http2ProtocolOptions http2;         // downstream HTTP/2 limits (http2_protocol_options)
};

struct TcpProxy {
  std::string stat_prefix;
  std::string cluster;
  Duration idle_timeout{3600000};
  std::vector<AccessLog> access_log;
};

// A DataSource: a file or inline text.
struct DataSource {
  std::string filename;
  std::string inline_string;
  bool empty() const { return filename.empty() && inline_string.empty(); }
};

struct TlsCertificate {
  DataSource certificate_chain;
  DataSource private_key;
};

struct SanMatcher {
  enum class Type { kDns, kUri, kEmail, kIpAddress };
  Type type = Type::kUri;
  StringMatcher matcher;
};

struct CertificateValidationContext {
  DataSource trusted_ca;
  std::vector<SanMatcher> match_typed_subject_alt_names;
};

struct CommonTlsContext {
  std::vector<TlsCertificate> tls_certificates;
  std::vector<std::string> tls_certificate_sds_secret_configs;  // secret names
  std::optional<CertificateValidationContext> validation_context;
  std::string validation_context_sds_secret_config;  // secret name
  std::string tls_minimum_protocol_version = "TLSv1_2";
  std::string tls_maximum_protocol_version;
  std::vector<std::string> cipher_suites;
  std::vector<std::string> alpn_protocols;
};

struct DownstreamTlsContext {
  CommonTlsContext common_tls_context;
  bool require_client_certificate = false;
};

struct UpstreamTlsContext {
  CommonTlsContext common_tls_context;
  std::string sni;
};

struct FilterChainMatch {
  std::vector<std::string> server_names;
  std::string transport_protocol;  // "", "tls" or "raw_buffer"
};

struct FilterChain {
  std::string name;
  FilterChainMatch filter_chain_match;
  // envoy.filters.network.rbac filters, in order, before the terminal filter.
  std::vector<RbacConfig> network_rbac;
  std::variant<HttpConnectionManager, TcpProxy> filter;
  std::optional<DownstreamTlsContext> tls;  // transport_socket
};

struct Listener {
  enum class Direction { kUnspecified, kInbound, kOutbound };
  std::string name;
  SocketAddress address;
  std::vector<FilterChain> filter_chains;
  std::vector<std::string> listener_filters;  // names (tls_inspector)
  Direction traffic_direction = Direction::kUnspecified;
};

struct Locality {
  std::string region, zone, sub_zone;
};

struct LbEndpoint {
  SocketAddress address;
  uint32_t load_balancing_weight = 1;
  bool healthy = true;  // health_status UNHEALTHY/DRAINING -> false
};

struct LocalityLbEndpoints {
  Locality locality;
  std::vector<LbEndpoint> lb_endpoints;
  uint32_t load_balancing_weight = 0;
  uint32_t priority = 0;
};

struct ClusterLoadAssignment {
  std::string cluster_name;
  std::vector<LocalityLbEndpoints> endpoints;
};

// Envoy's retry_budget: active retries may be at most budget_percent of the active
// requests, but at least min_retry_concurrency; when set it replaces max_retries.
struct RetryBudget {
  double budget_percent = 20;
  uint32_t min_retry_concurrency = 3;
};

struct CircuitBreakers {
  uint32_t max_connections = 1024;
  uint32_t max_pending_requests = 1024;
  uint32_t max_requests = 1024;
  uint32_t max_retries = 3;
  std::optional<RetryBudget> retry_budget;
};

struct OutlierDetection {
  uint32_t consecutive_5xx = 5;
  uint32_t consecutive_gateway_failure = 0;  // 0: off
  Duration interval{10000};
  Duration base_ejection_time{30000};
  uint32_t max_ejection_percent = 10;
  Duration max_ejection_time{300000};  // cap of base_ejection_time x ejections
  // Success rate: at each sweep, hosts with at least success_rate_request_volume requests
  // in the interval are compared (when there are at least success_rate_minimum_hosts of
  // them); a host below mean - stdev x (success_rate_stdev_factor / 1000) is ejected with
  // probability enforcing_success_rate %.
  uint32_t success_rate_minimum_hosts = 5;
  uint32_t success_rate_request_volume = 100;
  uint32_t success_rate_stdev_factor = 1900;
  uint32_t enforcing_success_rate = 100;
  // Failure percentage: a host whose failures reach failure_percentage_threshold % of its
  // requests in the interval is ejected with probability enforcing_failure_percentage %
  // (0 by default, as in Envoy: the detector is off unless enforced).
  uint32_t failure_percentage_threshold = 85;
  uint32_t failure_percentage_minimum_hosts = 5;
  uint32_t failure_percentage_request_volume = 50;
  uint32_t enforcing_failure_percentage = 0;
};

struct HealthCheck {
  Duration timeout{1000};
  Duration interval{5000};
  uint32_t unhealthy_threshold = 2;
  uint32_t healthy_threshold = 1;
  std::string path = "/";
};

struct Cluster {
  enum class DiscoveryType { kStatic, kStrictDns, kLogicalDns, kEds };
  enum class LbPolicy { kRoundRobin, kLeastRequest, kRandom, kRingHash, kMaglev };
  std::string name;
  DiscoveryType type = DiscoveryType::kStatic;
  Duration connect_timeout{5000};
  LbPolicy lb_policy = LbPolicy::kRoundRobin;
  std::optional<ClusterLoadAssignment> load_assignment;
  std::string eds_service_name;
  std::optional<CircuitBreakers> circuit_breakers;
  std::optional<OutlierDetection> outlier_detection;
  std::optional<UpstreamTlsContext> tls;  // transport_socket
  std::vector<HealthCheck> health_checks;
  uint64_t maglev_table_size = 65537;  // maglev_lb_config.table_size (a prime)
  bool locality_weighted_lb = false;   // common_lb_config.locality_weighted_lb_config
  // common_lb_config.healthy_panic_threshold (percent): a priority level with fewer
  // healthy hosts than this balances over all its hosts; 0 turns panic mode off.
  double healthy_panic_threshold = 50;
  // Set when the cluster speaks HTTP/2 upstream (typed_extension_protocol_options
  // HttpProtocolOptions.explicit_http_config.http2_protocol_options, or the legacy
  // http2_protocol_options field).
  std::optional<Http2ProtocolOptions> http2;
};

struct Secret {
  std::string name;
  std::optional<TlsCertificate> tls_certificate;
  std::optional<CertificateValidationContext> validation_context;
};

struct Admin {
  SocketAddress address{"127.0.0.1", 15000};
  std::string access_log_path;
};

struct NodeInfo {
  std::string id;
  std::string cluster;
  std::vector<std::pair<std::string, std::string>> metadata;  // scalars only
  std::string Metadata(std::string_view key) const;
};

// Everything the proxy runs from, whether it came from a bootstrap file or discovery.
struct Resources {
  std::vector<Listener> listeners;
  std::vector<RouteConfiguration> route_configs;
  std::vector<Cluster> clusters;
  std::vector<ClusterLoadAssignment> endpoints;
  std::vector<Secret> secrets;
  std::string version_info;

  const Cluster* FindCluster(std::string_view name) const;
  const RouteConfiguration* FindRouteConfig(std::string_view name) const;
  const ClusterLoadAssignment* FindEndpoints(std::string_view name) const;
  const Secret* FindSecret(std::string_view name) const;
};

struct Bootstrap {
  NodeInfo node;
  std::optional<Admin> admin;
  Resources static_resources;
};

}  // namespace mesh::proxyconfig
