#!/usr/bin/env bash
# Bounded soak: the local-mode scenario (gateway -> sidecar -> app, mTLS between proxies)
# under a steady request rate for N minutes (default 3), with a VirtualService weight
# change (90/10 <-> 10/90) every few seconds. Reports per interval: requests, errors,
# latency p50/p90/p99/max, and the RSS of every process; at the end the totals and each
# process's RSS drift. Exit 1 when any request failed.
# Usage: scripts/soak.sh [minutes]   (env: SOAK_RATE req/s, default 50; SOAK_INTERVAL s,
#        default 15; SOAK_CHANGE_EVERY s, default 5; MESHCTL, default build/bin/meshctl)
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
MINUTES=${1:-3}
MESHCTL=${MESHCTL:-$root/build/bin/meshctl}
SCENARIO_DIR=$(mktemp -d /tmp/meshctl-soak.XXXXXX)
export MESHCTL SCENARIO_DIR
# shellcheck source=lib/scenario.sh
source "$root/scripts/lib/scenario.sh"
changer_pid=""
cleanup() {
  [ -n "$changer_pid" ] && kill "$changer_pid" 2>/dev/null && wait "$changer_pid" 2>/dev/null
  scenario_stop
  rm -rf "$SCENARIO_DIR"
}
trap cleanup EXIT

if ! scenario_start >"$SCENARIO_DIR/start.log" 2>&1; then
  cat "$SCENARIO_DIR/start.log"
  exit 1
fi

weights() {
  cat <<YAML
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: helloworld, namespace: devops}
spec:
  host: helloworldsvc.devops.svc.cluster.local
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: helloworldvs, namespace: devops}
spec:
  hosts: [helloworld.panamaxil.com]
  gateways: [mobifingw]
  http:
  - route:
    - destination: {host: helloworldsvc.devops.svc.cluster.local, port: {number: 80}, subset: v1}
      weight: $1
    - destination: {host: helloworldsvc.devops.svc.cluster.local, port: {number: 80}, subset: v2}
      weight: $2
YAML
}
weights 90 10 >"$SCENARIO_DIR/w1.yaml"
weights 10 90 >"$SCENARIO_DIR/w2.yaml"
(
  n=0
  while true; do
    sleep "${SOAK_CHANGE_EVERY:-5}"
    n=$((n + 1))
    "$MESHCTL" apply -f "$SCENARIO_DIR/w$((n % 2 + 1)).yaml" >/dev/null 2>&1
    echo "$n" >"$SCENARIO_DIR/changes"
  done
) &
changer_pid=$!

# Process names in scenario_start's order.
names=(control-plane app-1 sidecar-1 app-2 sidecar-2 gateway)
procs=""
for i in "${!scenario_pids[@]}"; do procs+="${names[$i]}=${scenario_pids[$i]},"; done

python3 - "$MINUTES" "${SOAK_RATE:-50}" "${SOAK_INTERVAL:-15}" "$SCENARIO_HTTPS_PORT" \
  "$SCENARIO_DIR/certs/ca.crt" "${procs%,}" "$SCENARIO_DIR/changes" <<'PY'
import http.client, socket, ssl, sys, time
minutes, rate, interval, port, ca, procs, changes_file = sys.argv[1:8]
minutes, rate, interval, port = float(minutes), float(rate), float(interval), int(port)
procs = [p.split("=") for p in procs.split(",")]
ctx = ssl.create_default_context(cafile=ca)
HOST = "helloworld.panamaxil.com"

def connect():
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    c = http.client.HTTPConnection(HOST, port, timeout=5)
    c.sock = ctx.wrap_socket(raw, server_hostname=HOST)
    return c

def rss_mb(pid):
    try:
        for line in open("/proc/%s/status" % pid):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")

def pct(sorted_ms, q):
    return sorted_ms[min(len(sorted_ms) - 1, int(q * len(sorted_ms)))] if sorted_ms else float("nan")

print("soak: %g min at %.0f req/s through gateway -> sidecar -> app, weight change every few s" % (minutes, rate))
print("%6s %6s %6s %7s %7s %7s %7s  %s" % ("t(s)", "reqs", "errors", "p50ms", "p90ms", "p99ms", "maxms",
                                           "  ".join("%s MB" % n for n, _ in procs)))
first_rss = [rss_mb(pid) for _, pid in procs]
conn, start = None, time.monotonic()
total = errors = ierrors = 0
next_send, next_report, lat = start, start + interval, []
while time.monotonic() - start < minutes * 60:
    now = time.monotonic()
    if now < next_send:
        time.sleep(next_send - now)
    next_send += 1.0 / rate
    t0 = time.monotonic()
    try:
        if conn is None:
            conn = connect()
        conn.request("GET", "/", headers={"Host": HOST})
        resp = conn.getresponse()
        resp.read()
        ok = resp.status == 200
        if resp.getheader("connection", "").lower() == "close":
            conn.close(); conn = None
    except Exception:  # any failure counts as an error; reconnect
        ok = False
        conn = None
    lat.append((time.monotonic() - t0) * 1000)
    total += 1
    if not ok:
        errors += 1
        ierrors += 1
    if time.monotonic() >= next_report:
        lat.sort()
        rss = [rss_mb(pid) for _, pid in procs]
        print("%6.0f %6d %6d %7.1f %7.1f %7.1f %7.1f  %s" % (
            time.monotonic() - start, len(lat), ierrors, pct(lat, .5), pct(lat, .9), pct(lat, .99), lat[-1],
            "  ".join("%*.1f" % (len(n) + 3, r) for (n, _), r in zip(procs, rss))), flush=True)
        lat, ierrors, next_report = [], 0, next_report + interval
last_rss = [rss_mb(pid) for _, pid in procs]
try:
    changes = open(changes_file).read().strip()
except OSError:
    changes = "0"
print("total: %d requests, %d errors, %s config changes" % (total, errors, changes))
print("RSS drift: " + ", ".join("%s %.1f -> %.1f MB" % (n, a, b) for (n, _), a, b in zip(procs, first_rss, last_rss)))
sys.exit(1 if errors else 0)
PY
