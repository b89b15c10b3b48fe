#!/usr/bin/env bash
# The dashboard end to end in real headless Chromium: the talk's scenario (control plane,
# gateway, two helloworld replicas with sidecars), HTTPS traffic through the gateway,
# then tests/e2e/dashboard.mjs (playwright-core) checks the page. Keeps the screenshot
# in ARTIFACT_DIR (default build/test-artifacts).
# Usage: dashboard_e2e_test.sh path/to/meshctl [ARTIFACT_DIR]
#        dashboard_e2e_test.sh --synthetic [ARTIFACT_DIR]   (the page with 500 fake services)
# Exits 77 (skipped) when chromium or playwright-core is not available.
set -euo pipefail
MODE=scenario
if [ "$1" = --synthetic ]; then MODE=synthetic; else MESHCTL=$(realpath "$1"); fi
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ARTIFACT_DIR=${2:-$ROOT/build/test-artifacts}
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
export CHROMIUM

if [ ! -x "$CHROMIUM" ]; then
  echo "SKIP: no Chromium at $CHROMIUM (install the Debian packages chromium and chromium-driver: scripts/install_deps.sh)"
  exit 77
fi
if ! command -v node >/dev/null; then
  echo "SKIP: node is not installed"
  exit 77
fi
if [ ! -d "$ROOT/tests/e2e/node_modules/playwright-core" ]; then
  if ! bash "$ROOT/scripts/install_e2e_deps.sh"; then
    echo "SKIP: playwright-core is not installed and npm could not install it (scripts/install_e2e_deps.sh)"
    exit 77
  fi
fi

mkdir -p "$ARTIFACT_DIR"
if [ "$MODE" = synthetic ]; then
  exec node "$ROOT/tests/e2e/synthetic.mjs" "$ROOT/web/dashboard/dist" "$ARTIFACT_DIR/dashboard-synthetic.png"
fi

export MESHCTL
SCENARIO_DIR=$(mktemp -d /tmp/meshctl-dashboard-e2e.XXXXXX)
export SCENARIO_DIR SCENARIO_SCRAPE_INTERVAL=1s
# shellcheck source=../../scripts/lib/scenario.sh
source "$ROOT/scripts/lib/scenario.sh"
SCENARIO_TCP_PORT=$(free_port)  # the gateway's TCP server (port 31400), added below
export SCENARIO_TCP_PORT
traffic_pid=""
cleanup() {
  if [ -n "$traffic_pid" ]; then kill "$traffic_pid" 2>/dev/null || true; wait "$traffic_pid" 2>/dev/null || true; fi
  scenario_stop
  rm -rf "$SCENARIO_DIR"
}
trap cleanup EXIT
scenario_start >"$SCENARIO_DIR/scenario.log" 2>&1 || { cat "$SCENARIO_DIR/scenario.log"; exit 1; }

# A TCP hop: a Gateway server on port 31400 (protocol TCP) whose VirtualService routes
# the connections to a ServiceEntry host (an echo server without a sidecar on loopback);
# the gateway's TCP proxy reports istio_tcp_* for them.
tcp_echo_port=$(free_port)
scenario_bg tcp-echo "$MESHCTL" x echo --port "$tcp_echo_port" --name tcp-echo
"$MESHCTL" apply -f - >/dev/null <<EOF
apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata: {name: tcp-echo, namespace: devops}
spec:
  hosts: [tcp-echo.example.internal]
  location: MESH_EXTERNAL
  resolution: STATIC
  ports: [{number: 9000, name: tcp, protocol: TCP}]
  endpoints: [{address: 127.0.0.1, ports: {tcp: $tcp_echo_port}}]
---
apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata: {name: tcpgw, namespace: devops}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 31400, name: tcp, protocol: TCP}
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: tcp-echo, namespace: devops}
spec:
  hosts: ["*"]
  gateways: [tcpgw]
  tcp:
  - match: [{port: 31400}]
    route:
    - destination: {host: tcp-echo.example.internal, port: {number: 9000}}
EOF
tcp_get() { curl -sf --max-time 5 "http://127.0.0.1:$SCENARIO_TCP_PORT/" | grep -q Hostname=tcp-echo; }
scenario_wait 30 tcp_get || { echo "FAIL: no answer through the gateway's TCP server on :$SCENARIO_TCP_PORT"; exit 1; }

# Steady traffic through the gateway while the browser looks, and a client without a
# proxy calling helloworld-1's sidecar in plain text (PERMISSIVE): its edge must not
# take the gateway's mTLS mark.
( while true; do
    scenario_curl / >/dev/null || true
    curl -s -o /dev/null --max-time 5 "http://127.0.0.1:$SCENARIO_INBOUND_PORT_1/" || true
    curl -s -o /dev/null --max-time 5 "http://127.0.0.1:$SCENARIO_TCP_PORT/" || true
    sleep 0.2
  done ) &
traffic_pid=$!

url=$("$MESHCTL" dashboard --control-plane "127.0.0.1:$SCENARIO_CP_PORT" | sed -n 's/^dashboard: //p')
echo "dashboard at $url"

# The CLI: a clear error without a control plane, and the local relay (--port 0).
if err=$("$MESHCTL" dashboard --control-plane "127.0.0.1:$(free_port)" 2>&1); then
  echo "FAIL: meshctl dashboard succeeded without a control plane: $err"; exit 1
fi
grep -q "no dashboard at" <<<"$err" || { echo "FAIL: unclear error: $err"; exit 1; }
"$MESHCTL" dashboard --control-plane "127.0.0.1:$SCENARIO_CP_PORT" --port 0 >"$SCENARIO_DIR/relay.out" 2>&1 &
relay_pid=$!
scenario_wait 10 grep -q "^dashboard: " "$SCENARIO_DIR/relay.out" || { cat "$SCENARIO_DIR/relay.out"; exit 1; }
relay_url=$(sed -n 's/^dashboard: //p' "$SCENARIO_DIR/relay.out")
relay_status() { curl -sf "${relay_url}api/status" | grep -q '"proxies": 3'; }
# The relay's first request can race the relay's own start-up on a loaded machine: retry.
scenario_wait 15 relay_status || { echo "FAIL: relay $relay_url does not reach the API"; curl -s "${relay_url}api/status"; exit 1; }
kill -TERM "$relay_pid"
wait "$relay_pid" || { echo "FAIL: the relay did not stop cleanly"; exit 1; }
echo "meshctl dashboard --port 0 relayed $relay_url to the control plane"

# A real Prometheus can still read everything: the control plane's /metrics and the
# proxies' /stats/prometheus pass promtool's checks.
cp_metrics=$(curl -sf "http://127.0.0.1:$SCENARIO_CP_PORT/metrics")
grep -q '^pilot_xds 3$' <<<"$cp_metrics" || { echo "FAIL: /metrics: $cp_metrics"; exit 1; }
if command -v promtool >/dev/null; then
  promtool check metrics <<<"$cp_metrics" || { echo "FAIL: promtool rejects the control plane's /metrics"; exit 1; }
  # The proxies keep Istio's names (istio_request_duration_milliseconds), which
  # promtool's lint dislikes (exit 3); only a parse error (exit 1) fails here.
  for port in "$SCENARIO_GW_STATS_PORT" "$SCENARIO_STATS_PORT_1"; do
    rc=0
    curl -sf "http://127.0.0.1:$port/stats/prometheus" | promtool check metrics >/dev/null 2>&1 || rc=$?
    [ "$rc" = 0 ] || [ "$rc" = 3 ] || { echo "FAIL: promtool cannot parse /stats/prometheus on :$port"; exit 1; }
  done
fi
# The TCP hop in the API: a TCP edge gateway -> tcp-echo with connections and bytes.
tcp_edge() {
  curl -sf "${url}api/graph?window=60" | node -e '
    let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
      const e = JSON.parse(s).edges.find((x) => x.source === "wl:istio-system/istio-ingressgateway" &&
                                              x.target === "svc:tcp-echo.example.internal");
      if (e) console.log(`gateway -> tcp-echo: protocol ${e.protocol}, ${e.connections} connections, ${e.bytesPerSecond} B/s`);
      process.exit(e && e.protocol === "tcp" && e.connections > 0 && e.bytesPerSecond > 0 ? 0 : 1);
    });'
}
scenario_wait 30 tcp_edge || { echo "FAIL: no TCP edge gateway -> tcp-echo"; curl -s "${url}api/graph"; exit 1; }
tcp_edge
node "$ROOT/tests/e2e/dashboard.mjs" "$url" "$ARTIFACT_DIR/dashboard.png"
