#!/usr/bin/env bash
# Candidate command for ../shared/bench/proxy-bench: writes a minimal bootstrap (one HTTP
# listener on $PROXY_PORT, one static cluster at $UPSTREAM_HOST:$UPSTREAM_PORT, no access
# log) and execs meshctl proxy in the foreground.
#
#   ../shared/bench/proxy-bench --candidate-name meshctl --candidate-port 19090 \
#     --candidate "$PWD/scripts/bench_proxy_candidate.sh"
#
# MODE=tls terminates TLS on the listener (self-signed cert generated in $BENCH_TMPDIR).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
bin="${MESHCTL_BIN:-$here/build/bin/meshctl}"
dir="${BENCH_TMPDIR:-$(mktemp -d)}"
workers="${PROXY_WORKERS:-1}"
tls_socket=""
if [[ "${MODE:-plain}" == "tls" ]]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
  tls_socket="
      transport_socket:
        name: envoy.transport_sockets.tls
        typed_config:
          \"@type\": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
          common_tls_context:
            tls_certificates:
            - certificate_chain: {filename: $dir/cert.pem}
              private_key: {filename: $dir/key.pem}"
fi
cat > "$dir/meshctl-bootstrap.yaml" <<YAML
static_resources:
  listeners:
  - name: bench
    address: {socket_address: {address: 127.0.0.1, port_value: ${PROXY_PORT}}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: bench
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: {prefix: /}
                route: {cluster: upstream}$tls_socket
  clusters:
  - name: upstream
    connect_timeout: 1s
    load_assignment:
      cluster_name: upstream
      endpoints:
      - lb_endpoints:
        - endpoint: {address: {socket_address: {address: ${UPSTREAM_HOST}, port_value: ${UPSTREAM_PORT}}}}
YAML
exec "$bin" proxy --config "$dir/meshctl-bootstrap.yaml" --concurrency "$workers" \
  --admin-port 0 --health-port 0 --stats-port 0
