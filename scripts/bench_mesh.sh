#!/usr/bin/env bash
# Benchmark (not a test): what the mesh adds to a request. Starts the talk's scenario in
# local mode and drives HTTP/1.1 keep-alive load with h2load (nghttp2-client):
#   direct   client -> app
#   sidecar  client -> outbound sidecar -> mTLS -> inbound sidecar -> app
#   gateway  client -TLS-> gateway -> mTLS -> inbound sidecar -> app (the talk's path)
# Usage: scripts/bench_mesh.sh [path/to/meshctl] [requests] [connections]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
MESHCTL=${1:-$root/build/bin/meshctl}
N=${2:-20000}
C=${3:-8}
SCENARIO_DIR=$(mktemp -d /tmp/meshctl-bench.XXXXXX)
export MESHCTL SCENARIO_DIR
source "$root/scripts/lib/scenario.sh"
trap 'scenario_stop; rm -rf "$SCENARIO_DIR"' EXIT
scenario_start >"$SCENARIO_DIR/start.log" 2>&1 || { cat "$SCENARIO_DIR/start.log"; exit 1; }
app1=$(sed -n 's/.*helloworld-1: meshctl x echo on 127.0.0.1:\([0-9]*\).*/\1/p' "$SCENARIO_DIR/start.log")

run() {
  local name=$1
  shift
  local out
  out=$(h2load --h1 -n "$N" -c "$C" "$@" 2>&1)
  local rps mean p_ok
  rps=$(echo "$out" | sed -n 's/^finished in .*, \([0-9.]*\) req\/s.*/\1/p')
  mean=$(echo "$out" | awk '/^time for request:/ {print $6, $7}')
  p_ok=$(echo "$out" | sed -n 's/^requests: .* \([0-9]*\) succeeded.*/\1/p')
  printf '%-8s %10s req/s   latency mean/sd %-16s succeeded %s/%s\n' "$name" "$rps" "$mean" "$p_ok" "$N"
}
run direct "http://127.0.0.1:$app1/"
run sidecar --connect-to="127.0.0.1:$SCENARIO_OUTBOUND_PORT_2" "http://helloworldsvc.devops.svc.cluster.local:80/"
run gateway --connect-to="127.0.0.1:$SCENARIO_HTTPS_PORT" "https://helloworld.panamaxil.com:$SCENARIO_HTTPS_PORT/"
