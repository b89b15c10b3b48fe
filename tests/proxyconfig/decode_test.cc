#include "mesh/proxyconfig/decode.h"

#include "gtest/gtest.h"
#include "mesh/config/emit.h"
#include "mesh/common/strings.h"
#include "mesh/config/yaml_loader.h"
#include "mesh/proxyconfig/encode.h"
#include "tests/common/test_util.h"

namespace mesh::proxyconfig {
namespace {

constexpr char kMinimal[] = R"(
static_resources:
  listeners:
  - name: http
    address: {socket_address: {address: 127.0.0.1, port_value: 8080}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          statPrefix: in
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: {prefix: /}
                route: {cluster: web, timeout: 2.5s}
  clusters:
  - name: web
    connect_timeout: 0.25s
    load_assignment:
      cluster_name: web
      endpoints:
      - lb_endpoints:
        - endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: 9000}}}
)";

TEST(Decode, AcceptsSnakeAndCamelCaseAndParsesDurations) {
  auto b = LoadBootstrapText(kMinimal, "boot.yaml");
  ASSERT_TRUE(b.ok()) << b.status();
  ASSERT_EQ(b->static_resources.listeners.size(), 1u);
  const auto& hcm = std::get<HttpConnectionManager>(b->static_resources.listeners[0].filter_chains[0].filter);
  EXPECT_EQ(hcm.stat_prefix, "in");  // statPrefix (camelCase) accepted
  const auto& route = hcm.route_config->virtual_hosts[0].routes[0];
  EXPECT_EQ(std::get<RouteAction>(route.action).timeout, Duration(2500));
  EXPECT_EQ(b->static_resources.clusters[0].connect_timeout, Duration(250));
}

struct ErrorCase {
  const char* name;
  std::string from;  // replaced in kMinimal
  std::string to;
  std::string expected;  // substring of the error
};

TEST(Decode, RejectsUnsupportedAndInvalidConfigNamingTheField) {
  const std::vector<ErrorCase> cases = {
      {"unknown cluster field", "    connect_timeout: 0.25s", "    connect_timeout: 0.25s\n    dns_refresh_rate: 5s",
       "static_resources.clusters[0].dns_refresh_rate: unsupported field"},
      {"unknown route field", "route: {cluster: web, timeout: 2.5s}", "route: {cluster: web, idle_timeout: 1s}",
       "route.idle_timeout: unsupported field"},
      {"bad duration", "timeout: 2.5s", "timeout: soon", "invalid duration"},
      {"unknown cluster reference", "route: {cluster: web,", "route: {cluster: nope,", "unknown cluster \"nope\""},
      {"unknown lb policy", "    connect_timeout: 0.25s", "    connect_timeout: 0.25s\n    lb_policy: CLUSTER_PROVIDED",
       "lb_policy: unsupported value \"CLUSTER_PROVIDED\""},
      {"unsupported filter", "name: envoy.filters.network.http_connection_manager",
       "name: envoy.filters.network.redis_proxy", "unsupported network filter"},
      {"wrong type url", "v3.HttpConnectionManager", "v2.HttpConnectionManager", "@type: unsupported type"},
      {"bad regex", "match: {prefix: /}", "match: {safe_regex: {regex: \"(\"}}", "invalid regex"},
      {"two path matchers", "match: {prefix: /}", "match: {prefix: /, path: /x}", "exactly one of prefix, path, safe_regex"},
      {"no action", "route: {cluster: web, timeout: 2.5s}", "name: r", "exactly one of route, redirect, direct_response"},
      {"bad port", "port_value: 8080", "port_value: 70000", "must be <= 65535"},
      {"unknown top level", "static_resources:", "tracing: {}\nstatic_resources:", "tracing: unsupported field"},
      {"maglev table not prime", "    connect_timeout: 0.25s",
       "    connect_timeout: 0.25s\n    lb_policy: MAGLEV\n    maglev_lb_config: {table_size: 65536}",
       "maglev_lb_config.table_size: expected a prime"},
      {"retry budget over 100%", "    connect_timeout: 0.25s",
       "    connect_timeout: 0.25s\n    circuit_breakers: {thresholds: [{retry_budget: {budget_percent: {value: 150}}}]}",
       "retry_budget.budget_percent: expected {value: P}"},
      {"http2 window too small", "    connect_timeout: 0.25s",
       "    connect_timeout: 0.25s\n    http2_protocol_options: {initial_stream_window_size: 100}",
       "http2_protocol_options.initial_stream_window_size: must be in [65535, 2147483647]"},
      {"unknown protocol options extension", "    connect_timeout: 0.25s",
       "    connect_timeout: 0.25s\n    typed_extension_protocol_options: {envoy.extensions.upstreams.tcp.v3.TcpProtocolOptions: {}}",
       "unsupported extension"},
      {"unknown http2 option", "    connect_timeout: 0.25s",
       "    connect_timeout: 0.25s\n    http2_protocol_options: {max_outbound_frames: 5}",
       "http2_protocol_options.max_outbound_frames: unsupported field"},
      {"unknown codec", "statPrefix: in", "statPrefix: in\n          codec_type: HTTP3", "codec_type"},
      {"unknown retry condition", "route: {cluster: web, timeout: 2.5s}",
       "route: {cluster: web, retry_policy: {retry_on: \"unavailable,not-a-code\"}}", "not-a-code"},
  };
  for (const auto& c : cases) {
    std::string text = kMinimal;
    auto pos = text.find(c.from);
    ASSERT_NE(pos, std::string::npos) << c.name;
    text.replace(pos, c.from.size(), c.to);
    auto b = LoadBootstrapText(text, "boot.yaml");
    ASSERT_FALSE(b.ok()) << c.name;
    EXPECT_NE(std::string(b.status().message()).find(c.expected), std::string::npos)
        << c.name << ": " << b.status().message();
    EXPECT_EQ(std::string(b.status().message()).rfind("boot.yaml:", 0), 0u) << b.status().message();
  }
}

// envoy.filters.http.buffer (request body limit), per-route BufferPerRoute, outlier
// detection's rate detectors and the panic threshold: decoded, validated, round-tripped.
TEST(Decode, BufferLimitOutlierRatesAndPanicThreshold) {
  std::string text = kMinimal;
  text.replace(text.find("statPrefix: in"), 14, R"(statPrefix: in
          http_filters:
          - name: envoy.filters.http.buffer
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.buffer.v3.Buffer
              max_request_bytes: 1048576
          - name: envoy.filters.http.router)");
  text.replace(text.find("                route: {cluster: web, timeout: 2.5s}"), 52,
               R"(                route: {cluster: web, timeout: 2.5s}
              - match: {prefix: /upload}
                route: {cluster: web}
                typed_per_filter_config:
                  envoy.filters.http.buffer:
                    "@type": type.googleapis.com/envoy.extensions.filters.http.buffer.v3.BufferPerRoute
                    buffer: {max_request_bytes: {value: 2000}}
              - match: {prefix: /stream}
                route: {cluster: web}
                typed_per_filter_config:
                  envoy.filters.http.buffer: {disabled: true})");
  text.replace(text.find("    connect_timeout: 0.25s"), 26, R"(    connect_timeout: 0.25s
    common_lb_config: {healthy_panic_threshold: {value: 25.5}}
    outlier_detection:
      success_rate_minimum_hosts: 3
      success_rate_request_volume: 20
      success_rate_stdev_factor: 1000
      enforcing_success_rate: 90
      failure_percentage_threshold: 40
      failure_percentage_minimum_hosts: 2
      failure_percentage_request_volume: 10
      enforcing_failure_percentage: 100)");
  auto b = LoadBootstrapText(text, "boot.yaml");
  ASSERT_TRUE(b.ok()) << b.status();
  const auto& hcm = std::get<HttpConnectionManager>(b->static_resources.listeners[0].filter_chains[0].filter);
  ASSERT_TRUE(hcm.max_request_bytes.has_value());
  EXPECT_EQ(*hcm.max_request_bytes, 1048576u);
  const auto& routes = hcm.route_config->virtual_hosts[0].routes;
  EXPECT_FALSE(routes[0].buffer.has_value());
  ASSERT_TRUE(routes[1].buffer.has_value());
  EXPECT_FALSE(routes[1].buffer->disabled);
  EXPECT_EQ(routes[1].buffer->max_request_bytes, 2000u);
  ASSERT_TRUE(routes[2].buffer.has_value());
  EXPECT_TRUE(routes[2].buffer->disabled);
  const Cluster& c = b->static_resources.clusters[0];
  EXPECT_DOUBLE_EQ(c.healthy_panic_threshold, 25.5);
  const OutlierDetection& od = *c.outlier_detection;
  EXPECT_EQ(od.success_rate_minimum_hosts, 3u);
  EXPECT_EQ(od.success_rate_request_volume, 20u);
  EXPECT_EQ(od.success_rate_stdev_factor, 1000u);
  EXPECT_EQ(od.enforcing_success_rate, 90u);
  EXPECT_EQ(od.failure_percentage_threshold, 40u);
  EXPECT_EQ(od.failure_percentage_minimum_hosts, 2u);
  EXPECT_EQ(od.failure_percentage_request_volume, 10u);
  EXPECT_EQ(od.enforcing_failure_percentage, 100u);
  EXPECT_EQ(od.consecutive_5xx, 5u) << "Envoy's default stays";

  // Encoded (config_dump / discovery) and decoded again: the same resources.
  for (const auto& l : b->static_resources.listeners) {
    auto again = DecodeListener(EncodeListener(l), "listener");
    ASSERT_TRUE(again.ok()) << again.status() << "\n" << config::EmitYaml(EncodeListener(l));
    EXPECT_EQ(config::EmitJson(EncodeListener(*again)), config::EmitJson(EncodeListener(l)));
  }
  auto cluster_again = DecodeCluster(EncodeCluster(c), "cluster");
  ASSERT_TRUE(cluster_again.ok()) << cluster_again.status() << "\n" << config::EmitYaml(EncodeCluster(c));
  EXPECT_EQ(config::EmitJson(EncodeCluster(*cluster_again)), config::EmitJson(EncodeCluster(c)));
  EXPECT_DOUBLE_EQ(cluster_again->healthy_panic_threshold, 25.5);
  EXPECT_EQ(cluster_again->outlier_detection->enforcing_failure_percentage, 100u);

  // Errors name the field.
  const std::vector<ErrorCase> errors = {
      {"buffer without limit", "max_request_bytes: 1048576", "max_request_bytes: 0",
       "typed_config.max_request_bytes: required: a byte count greater than 0"},
      {"buffer wrong type", "filters.http.buffer.v3.Buffer\n", "filters.http.fault.v3.HTTPFault\n",
       "@type: unsupported type"},
      {"buffer unknown field", "max_request_bytes: 1048576", "max_request_bytes: 1048576\n              timeout: 1s",
       "typed_config.timeout: unsupported field"},
      {"per route both", "{disabled: true}", "{disabled: true, buffer: {max_request_bytes: 5}}",
       "exactly one of disabled: true or buffer"},
      {"per route neither", "{disabled: true}", "{disabled: false}", "exactly one of disabled: true or buffer"},
      {"panic threshold over 100", "{value: 25.5}", "{value: 101}",
       "common_lb_config.healthy_panic_threshold: expected {value: P}"},
      {"enforcing over 100", "enforcing_failure_percentage: 100", "enforcing_failure_percentage: 150",
       "outlier_detection.enforcing_failure_percentage: expected a percentage"},
      {"unknown outlier field", "failure_percentage_threshold: 40", "failure_percentage_threshold: 40\n      split_external_local_origin_errors: true",
       "outlier_detection.split_external_local_origin_errors: unsupported field"},
  };
  for (const auto& e : errors) {
    std::string bad = text;
    auto pos = bad.find(e.from);
    ASSERT_NE(pos, std::string::npos) << e.name;
    bad.replace(pos, e.from.size(), e.to);
    auto r = LoadBootstrapText(bad, "boot.yaml");
    ASSERT_FALSE(r.ok()) << e.name;
    EXPECT_NE(std::string(r.status().message()).find(e.expected), std::string::npos)
        << e.name << ": " << r.status().message();
  }
}

TEST(Decode, Http2ProtocolOptions) {
  std::string text = kMinimal;
  text.replace(text.find("statPrefix: in"), 14, R"(statPrefix: in
          codec_type: AUTO
          http2_protocol_options: {max_concurrent_streams: 7, initial_stream_window_size: 65535})");
  text += R"(    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config:
          http2_protocol_options: {max_concurrent_streams: 3}
  - name: legacy
    http2_protocol_options: {}
    load_assignment: {cluster_name: legacy}
)";
  auto b = LoadBootstrapText(text, "boot.yaml");
  ASSERT_TRUE(b.ok()) << b.status();
  const auto& clusters = b->static_resources.clusters;
  ASSERT_EQ(clusters.size(), 2u);
  ASSERT_TRUE(clusters[0].http2.has_value());
  EXPECT_EQ(clusters[0].http2->max_concurrent_streams, 3u);
  EXPECT_EQ(clusters[0].http2->initial_stream_window_size, Http2ProtocolOptions().initial_stream_window_size);
  ASSERT_TRUE(clusters[1].http2.has_value());
  EXPECT_EQ(clusters[1].http2->max_concurrent_streams, Http2ProtocolOptions().max_concurrent_streams);
  const auto& hcm = std::get<HttpConnectionManager>(b->static_resources.listeners[0].filter_chains[0].filter);
  EXPECT_EQ(hcm.http2.max_concurrent_streams, 7u);
  EXPECT_EQ(hcm.http2.initial_stream_window_size, 65535u);
  // The dump decodes back to the same options.
  config::Node encoded = EncodeBootstrap(*b);
  auto again = DecodeBootstrap(encoded);
  ASSERT_TRUE(again.ok()) << again.status() << "\n" << config::EmitJson(encoded);
  ASSERT_TRUE(again->static_resources.clusters[0].http2.has_value());
  EXPECT_EQ(again->static_resources.clusters[0].http2->max_concurrent_streams, 3u);
}

TEST(Decode, ErrorCarriesLineAndColumn) {
  std::string text = kMinimal;
  text.replace(text.find("    connect_timeout: 0.25s"), 26, "    connect_timeout: 0.25s\n    bogus: 1");
  auto b = LoadBootstrapText(text, "boot.yaml");
  ASSERT_FALSE(b.ok());
  // "boot.yaml:<line>:<col>: path: message"
  EXPECT_NE(std::string(b.status().message()).find("boot.yaml:22:5:"), std::string::npos) << b.status().message();
}

TEST(Decode, Durations) {
  EXPECT_EQ(*ParseDuration("1s"), Duration(1000));
  EXPECT_EQ(*ParseDuration("0.001s"), Duration(1));
  EXPECT_FALSE(ParseDuration("1").ok());
  EXPECT_FALSE(ParseDuration("-1s").ok());
  EXPECT_FALSE(ParseDuration("nans").ok());
  EXPECT_FALSE(ParseDuration("infs").ok());
  EXPECT_FALSE(ParseDuration("1e300s").ok());  // fuzz finding: overflowed the int64 cast
  EXPECT_TRUE(ParseDuration("315576000000s").ok());
  EXPECT_EQ(FormatDuration(Duration(1500)), "1.500s");
  EXPECT_EQ(FormatDuration(Duration(3000)), "3s");
}

TEST(Decode, ConfigDumpGoldenAndRoundTrip) {
  std::string path = testing::SourceDir() + "/examples/proxy/bootstrap.yaml";
  auto b = LoadBootstrapFile(path);
  ASSERT_TRUE(b.ok()) << b.status();
  Resources r = b->static_resources;
  r.version_info = "1";
  std::string dump = config::EmitJson(EncodeConfigDump(*b, r));
  EXPECT_EQ(testing::CompareGolden("proxyconfig/config_dump.golden.json", dump), "");

  // Encoding then decoding gives the same encoding (the encoder speaks the decoder's subset).
  config::Node encoded = EncodeBootstrap(*b);
  auto again = DecodeBootstrap(encoded);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(config::EmitJson(EncodeBootstrap(*again)), config::EmitJson(encoded));
}

TEST(Decode, TlsAndSecretsAndEds) {
  constexpr char kText[] = R"(
static_resources:
  secrets:
  - name: server-cert
    tls_certificate:
      certificate_chain: {filename: /certs/cert.pem}
      private_key: {filename: /certs/key.pem}
  listeners:
  - name: tls
    address: {socket_address: {address: 0.0.0.0, port_value: 8443}}
    listener_filters:
    - name: envoy.filters.listener.tls_inspector
    filter_chains:
    - filter_chain_match: {server_names: ["a.example.com"]}
      filters:
      - name: envoy.filters.network.tcp_proxy
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
          stat_prefix: pass
          cluster: backend
      transport_socket:
        name: envoy.transport_sockets.tls
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
          require_client_certificate: true
          common_tls_context:
            tls_certificate_sds_secret_configs: [{name: server-cert}]
            validation_context:
              trusted_ca: {filename: /certs/ca.pem}
              match_typed_subject_alt_names:
              - san_type: URI
                matcher: {prefix: "spiffe://cluster.local/"}
  clusters:
  - name: backend
    type: EDS
    eds_cluster_config: {service_name: backend}
)";
  auto b = LoadBootstrapText(kText, "tls.yaml");
  ASSERT_TRUE(b.ok()) << b.status();
  const auto& fc = b->static_resources.listeners[0].filter_chains[0];
  ASSERT_TRUE(fc.tls.has_value());
  EXPECT_TRUE(fc.tls->require_client_certificate);
  EXPECT_EQ(fc.tls->common_tls_context.tls_certificate_sds_secret_configs[0], "server-cert");
  EXPECT_EQ(fc.tls->common_tls_context.validation_context->match_typed_subject_alt_names[0].type, SanMatcher::Type::kUri);

  std::string missing_secret = kText;
  missing_secret.replace(missing_secret.find("[{name: server-cert}]"), 21, "[{name: other}]");
  auto bad = LoadBootstrapText(missing_secret, "tls.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(std::string(bad.status().message()).find("unknown secret \"other\""), std::string::npos);
}

}  // namespace
}  // namespace mesh::proxyconfig

namespace mesh::proxyconfig {
namespace {

constexpr char kRbacListener[] = R"(
name: inbound
address: {socket_address: {address: 127.0.0.1, port_value: 15006}}
filter_chains:
- filters:
  - name: envoy.filters.network.rbac
    typed_config:
      "@type": type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC
      stat_prefix: tcp.
      rules:
        action: ALLOW
        policies:
          from-mesh:
            permissions: [{destinationPort: 15006}]
            principals:
            - orIds:
                ids:
                - authenticated: {principalName: {safeRegex: {regex: ".*/ns/devops/.*"}}}
                - remoteIp: {addressPrefix: "2001:db8::", prefixLen: 32}
  - name: envoy.filters.network.tcp_proxy
    typed_config:
      "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
      cluster: app
- filters:
  - name: envoy.filters.network.http_connection_manager
    typed_config:
      "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
      rds: {route_config_name: r}
      http_filters:
      - name: envoy.filters.http.rbac
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC
          rules:
            action: DENY
            policies:
              ns[devops]-policy[p]-rule[0]:
                permissions:
                - or_rules: {rules: [{url_path: {path: {exact: /blocked}}}, {header: {name: X-Debug, present_match: true}}]}
                principals: [{any: true}]
      - name: envoy.filters.http.rbac
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC
          rules: {}
      - name: envoy.filters.http.router
)";

TEST(DecodeRbac, HttpAndNetworkFiltersRoundTrip) {
  auto node = config::ParseYamlNode(kRbacListener, "l.yaml");
  ASSERT_TRUE(node.ok()) << node.status();
  auto l = DecodeListener(*node, "listener");
  ASSERT_TRUE(l.ok()) << l.status();
  const FilterChain& tcp = l->filter_chains[0];
  ASSERT_EQ(tcp.network_rbac.size(), 1u);
  const RbacRules& net = *tcp.network_rbac[0].rules;
  EXPECT_EQ(net.action, RbacRules::Action::kAllow);
  const RbacPolicy& p = net.policies.at("from-mesh");
  EXPECT_EQ(p.permissions[0].kind, RbacPermission::Kind::kDestinationPort);
  EXPECT_EQ(p.permissions[0].port, 15006u);
  EXPECT_EQ(p.principals[0].ids[1].kind, RbacPrincipal::Kind::kRemoteIp);
  EXPECT_TRUE(p.principals[0].ids[1].cidr.Contains("2001:db8:1::5"));
  EXPECT_FALSE(p.principals[0].ids[1].cidr.Contains("2001:db9::5"));
  EXPECT_FALSE(p.principals[0].ids[1].cidr.Contains("10.0.0.1"));
  const auto& hcm = std::get<HttpConnectionManager>(l->filter_chains[1].filter);
  ASSERT_EQ(hcm.rbac.size(), 2u);
  EXPECT_EQ(hcm.http_filters.size(), 3u);
  EXPECT_EQ(hcm.rbac[0].rules->action, RbacRules::Action::kDeny);
  // `rules: {}` is an ALLOW filter with no policy (denies everything), not "no rules".
  ASSERT_TRUE(hcm.rbac[1].rules.has_value());
  EXPECT_TRUE(hcm.rbac[1].rules->policies.empty());
  EXPECT_EQ(hcm.rbac[0].rules->policies.begin()->second.permissions[0].rules[1].header->name, "x-debug");

  config::Node encoded = EncodeListener(*l);
  auto again = DecodeListener(encoded, "listener");
  ASSERT_TRUE(again.ok()) << again.status() << "\n" << config::EmitYaml(encoded);
  EXPECT_EQ(config::EmitJson(EncodeListener(*again)), config::EmitJson(encoded));
}

TEST(DecodeRbac, ErrorsNameTheField) {
  auto decode = [](std::string text) {
    auto node = config::ParseYamlNode(text, "l.yaml");
    EXPECT_TRUE(node.ok());
    auto l = DecodeListener(*node, "listener");
    return l.ok() ? std::string("ok") : std::string(l.status().message());
  };
  std::string base = kRbacListener;
  auto with = [&](const std::string& from, const std::string& to) {
    std::string t = base;
    size_t at = t.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return t.replace(at, from.size(), to);
  };
  EXPECT_EQ(decode(base), "ok");
  EXPECT_NE(decode(with("permissions: [{destinationPort: 15006}]", "permissions: [{requested_server_name: {exact: a}}]"))
                .find("filter_chains[0].filters[0].typed_config.rules.policies.from-mesh.permissions[0]."
                      "requested_server_name: unsupported field"),
            std::string::npos);
  EXPECT_NE(decode(with("action: DENY", "action: LOG")).find("rules.action: unsupported value \"LOG\""),
            std::string::npos);
  EXPECT_NE(decode(with("prefixLen: 32", "prefixLen: 129")).find("is not a valid IPv4 or IPv6 range"),
            std::string::npos);
  EXPECT_NE(decode(with("principals: [{any: true}]", "principals: []")).find("at least one entry"), std::string::npos);
  std::string shadow = with("          rules: {}\n", "          rules: {}\n          shadow_rules: {}\n");
  EXPECT_NE(decode(shadow).find("typed_config.shadow_rules: unsupported field"), std::string::npos) << decode(shadow);
  // A network RBAC filter after the terminal filter is refused.
  std::string rbac_last = with("      cluster: app\n", "      cluster: app\n  - name: envoy.filters.network.rbac\n"
                               "    typed_config: {\"@type\": type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC}\n");
  EXPECT_NE(decode(rbac_last).find("no filter may follow"), std::string::npos) << decode(rbac_last);
}

// Permissions and principals are decoded by one template: both sides' composites, negation,
// `any` and one-of rule must behave alike.
TEST(DecodeRbac, PermissionAndPrincipalShareCompositeRules) {
  auto decode_with = [](const std::string& permission, const std::string& principal) {
    std::string text = common::StrCat(R"(
name: inbound
address: {socket_address: {address: 127.0.0.1, port_value: 15006}}
filter_chains:
- filters:
  - name: envoy.filters.network.rbac
    typed_config:
      "@type": type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC
      stat_prefix: tcp.
      rules:
        policies:
          p:
            permissions: [)", permission, R"(]
            principals: [)", principal, R"(]
  - name: envoy.filters.network.tcp_proxy
    typed_config:
      "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
      cluster: app
)");
    auto node = config::ParseYamlNode(text, "l.yaml");
    EXPECT_TRUE(node.ok()) << node.status();
    return DecodeListener(*node, "listener");
  };
  auto l = decode_with("{and_rules: {rules: [{not_rule: {destination_port: 80}}, {any: true}]}}",
                       "{and_ids: {ids: [{not_id: {remote_ip: {address_prefix: 10.0.0.0, prefix_len: 8}}}, "
                       "{authenticated: {}}]}}");
  ASSERT_TRUE(l.ok()) << l.status();
  const RbacPolicy& p = l->filter_chains[0].network_rbac[0].rules->policies.at("p");
  ASSERT_EQ(p.permissions[0].kind, RbacPermission::Kind::kAndRules);
  ASSERT_EQ(p.permissions[0].rules.size(), 2u);
  EXPECT_EQ(p.permissions[0].rules[0].kind, RbacPermission::Kind::kNotRule);
  EXPECT_EQ(p.permissions[0].rules[0].rules.at(0).port, 80u);
  EXPECT_EQ(p.permissions[0].rules[1].kind, RbacPermission::Kind::kAny);
  ASSERT_EQ(p.principals[0].kind, RbacPrincipal::Kind::kAndIds);
  EXPECT_EQ(p.principals[0].ids[0].kind, RbacPrincipal::Kind::kNotId);
  EXPECT_TRUE(p.principals[0].ids[0].ids.at(0).cidr.Contains("10.1.2.3"));
  EXPECT_EQ(p.principals[0].ids[1].kind, RbacPrincipal::Kind::kAuthenticated);
  EXPECT_FALSE(p.principals[0].ids[1].principal_name.has_value());

  auto error = [&](const std::string& permission, const std::string& principal) {
    auto r = decode_with(permission, principal);
    return r.ok() ? std::string("ok") : std::string(r.status().message());
  };
  EXPECT_NE(error("{any: true, destination_port: 80}", "{any: true}").find("exactly one of and_rules, or_rules"),
            std::string::npos);
  EXPECT_NE(error("{any: true}", "{any: true, remote_ip: {address_prefix: 10.0.0.0, prefix_len: 8}}")
                .find("exactly one of and_ids, or_ids"),
            std::string::npos);
  EXPECT_NE(error("{any: false}", "{any: true}").find("permissions[0].any: must be true"), std::string::npos);
  EXPECT_NE(error("{any: true}", "{or_ids: {ids: [{any: false}]}}").find("principals[0].or_ids.ids[0].any: must be true"),
            std::string::npos)
      << error("{any: true}", "{or_ids: {ids: [{any: false}]}}");
  EXPECT_NE(error("{or_rules: {rules: [{destination_port: 0}]}}", "{any: true}").find("must be 1..65535"),
            std::string::npos);
  EXPECT_NE(error("{and_rules: {rule: []}}", "{any: true}").find("and_rules.rule: unsupported field"),
            std::string::npos)
      << error("{and_rules: {rule: []}}", "{any: true}");
}

}  // namespace
}  // namespace mesh::proxyconfig
