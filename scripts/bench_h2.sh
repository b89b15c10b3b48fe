#!/usr/bin/env bash
# HTTP/2 proxy benchmark: h2load (nghttp2-client) against meshctl proxy and against nginx,
# both terminating cleartext HTTP/2 (prior knowledge) and proxying to the same HTTP/1.1
# upstream (an nginx server block returning 6 bytes) over pooled keep-alive connections.
# One worker each; h2load on CPU 0, proxies and upstream on CPU 1 when taskset exists.
#
#   scripts/bench_h2.sh                       # default runs
#   REQUESTS=200000 RUNS="1x1 4x10 16x10" scripts/bench_h2.sh
#
# RUNS are CLIENTSxSTREAMS pairs (h2load -c CLIENTS -m STREAMS). Prints one line per run.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
bin="${MESHCTL_BIN:-$here/build/bin/meshctl}"
requests="${REQUESTS:-100000}"
runs="${RUNS:-1x1 4x10 16x10 16x100}"
tmp="$(mktemp -d)"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
up_port=${UP_PORT:-$(free_port)}
nginx_port=${NGINX_PORT:-$(free_port)}
mesh_port=${MESH_PORT:-$(free_port)}
pin_load="" pin_srv=""
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
  pin_load="taskset -c 0"
  pin_srv="taskset -c 1"
fi
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

cat > "$tmp/nginx.conf" <<NGINX
worker_processes 1;
daemon off;
pid $tmp/nginx.pid;
error_log $tmp/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 10000000;  # HTTP/2 too: nginx's default GOAWAYs after 1000 requests
  client_body_temp_path $tmp; proxy_temp_path $tmp; fastcgi_temp_path $tmp; uwsgi_temp_path $tmp; scgi_temp_path $tmp;
  server { listen 127.0.0.1:$up_port; location / { return 200 "hello\n"; } }
  upstream up { server 127.0.0.1:$up_port; keepalive 256; keepalive_requests 10000000; }
  server {
    listen 127.0.0.1:$nginx_port http2;
    http2_max_concurrent_streams 1024;
    location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
NGINX
$pin_srv nginx -c "$tmp/nginx.conf" -p "$tmp" &
pids+=($!)

cat > "$tmp/boot.yaml" <<YAML
static_resources:
  listeners:
  - name: bench
    address: {socket_address: {address: 127.0.0.1, port_value: $mesh_port}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: bench
          http2_protocol_options: {max_concurrent_streams: 1024}
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: {prefix: /}
                route: {cluster: upstream}
  clusters:
  - name: upstream
    connect_timeout: 1s
    # Istio's thresholds for the clusters it generates (unlimited): Envoy's defaults (1024
    # concurrent requests) would send 503 UO at c16m100 (1,600 concurrent streams), which
    # nginx, with no such limit, would not.
    circuit_breakers:
      thresholds:
      - {max_connections: 4294967295, max_pending_requests: 4294967295, max_requests: 4294967295, max_retries: 4294967295}
    load_assignment:
      cluster_name: upstream
      endpoints:
      - lb_endpoints:
        - endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: $up_port}}}
YAML
$pin_srv "$bin" proxy --config "$tmp/boot.yaml" --concurrency 1 --admin-port 0 --health-port 0 --stats-port 0 \
  2>"$tmp/meshctl.log" &
pids+=($!)

for port in $up_port $nginx_port $mesh_port; do
  for _ in $(seq 50); do
    curl -s -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null && break
    curl -s -o /dev/null --http2-prior-knowledge "http://127.0.0.1:$port/" 2>/dev/null && break
    sleep 0.1
  done
done

rss_kb() { awk '/VmHWM/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
printf '%-8s %-8s %12s %10s %10s %s\n' target run 'req/s' 'mean_ms' 'max_ms' 'result'
for run in $runs; do
  c=${run%x*}
  m=${run#*x}
  for target in nginx meshctl; do
    port=$nginx_port
    [ "$target" = meshctl ] && port=$mesh_port
    # warm-up, then the measured run
    $pin_load h2load -n 2000 -c "$c" -m "$m" "http://127.0.0.1:$port/" >/dev/null 2>&1 || true
    out="$($pin_load h2load -n "$requests" -c "$c" -m "$m" "http://127.0.0.1:$port/" 2>&1)"
    rps=$(sed -n 's/^finished in .*, \([0-9.]*\) req\/s.*/\1/p' <<<"$out")
    read -r mean max < <(awk '/^time for request:/ {print $6, $5}' <<<"$out" | head -1)
    result=$(sed -n 's/^requests: .* \([0-9]* succeeded, [0-9]* failed\).*/\1/p' <<<"$out")
    printf '%-8s %-8s %12s %10s %10s %s\n' "$target" "c${c}m${m}" "$rps" "$mean" "$max" "$result"
  done
done
echo "peak RSS: meshctl $(rss_kb "${pids[1]}") kB"
