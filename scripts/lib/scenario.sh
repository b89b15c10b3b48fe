# The talk's scenario in local mode, as shell functions shared by scripts/demo.sh and the
# end-to-end tests. Source it, set MESHCTL (binary) and SCENARIO_DIR, then call
# scenario_start; scenario_stop ends every process it started.
#
# Processes: the control plane, two `meshctl x echo` helloworld replicas each with a
# sidecar, and the ingress gateway (`meshctl proxy router`). Ports are picked free; the
# gateway's 443 listens on an unprivileged port (SCENARIO_HTTPS_PORT) because local mode
# runs without root.

scenario_pids=()

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

scenario_log() { printf '==> %s\n' "$*"; }

# Waits until a command succeeds (up to $1 seconds).
scenario_wait() {
  local timeout=$1
  shift
  local end=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $end ]; then
      return 1
    fi
    sleep 0.2
  done
}

scenario_bg() {
  local log=$1
  shift
  "$@" >"$SCENARIO_DIR/logs/$log.log" 2>&1 &
  scenario_pids+=($!)
}

# scenario_curl PATH [curl args...]: HTTPS through the gateway, as the talk's users do.
scenario_curl() {
  local path=${1:-/}
  shift || true
  curl -s --max-time 5 --resolve "helloworld.panamaxil.com:$SCENARIO_HTTPS_PORT:127.0.0.1" \
    --cacert "$SCENARIO_DIR/certs/ca.crt" "https://helloworld.panamaxil.com:$SCENARIO_HTTPS_PORT$path" "$@"
}

scenario_start() {
  : "${MESHCTL:?set MESHCTL to the meshctl binary}"
  : "${SCENARIO_DIR:?set SCENARIO_DIR to a work directory}"
  local root
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  mkdir -p "$SCENARIO_DIR/logs" "$SCENARIO_DIR/certs"
  # Local mode, always: MESHCTL_STATE_DIR beats KUBECONFIG and ~/.kube/config, so the
  # scenario never touches a developer's cluster (docs/KUBERNETES.md, "Choosing the target").
  export MESHCTL_STATE_DIR=$SCENARIO_DIR/state
  SCENARIO_CP_PORT=$(free_port)
  SCENARIO_HTTPS_PORT=$(free_port)
  SCENARIO_HEALTH_PORT=$(free_port)
  SCENARIO_GW_ADMIN_PORT=$(free_port)
  SCENARIO_GW_STATS_PORT=$(free_port)
  export SCENARIO_CP_PORT SCENARIO_HTTPS_PORT SCENARIO_HEALTH_PORT

  scenario_log "meshctl install --profile demo --set values.gateways.istio-ingressgateway.type=NodePort -y"
  "$MESHCTL" install --profile demo --set values.gateways.istio-ingressgateway.type=NodePort -y

  scenario_log "meshctl create namespace awscommunity; meshctl label namespace awscommunity istio-injection=enabled"
  "$MESHCTL" create namespace awscommunity
  "$MESHCTL" label namespace awscommunity istio-injection=enabled

  scenario_log "a certificate for helloworld.panamaxil.com (signed by a throwaway CA), stored as Secret istio-system/tls-secret"
  local c=$SCENARIO_DIR/certs
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$c/ca.key" -out "$c/ca.crt" -days 30 \
    -subj "/O=meshctl demo/CN=demo CA" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -keyout "$c/tls.key" -out "$c/tls.csr" \
    -subj "/CN=helloworld.panamaxil.com" 2>/dev/null
  printf 'subjectAltName=DNS:helloworld.panamaxil.com\n' >"$c/ext.cnf"
  openssl x509 -req -in "$c/tls.csr" -CA "$c/ca.crt" -CAkey "$c/ca.key" -CAcreateserial -days 30 \
    -extfile "$c/ext.cnf" -out "$c/tls.crt" 2>/dev/null
  "$MESHCTL" create secret tls tls-secret --cert "$c/tls.crt" --key "$c/tls.key" -n istio-system

  scenario_log "meshctl apply -f examples/helloworld/ (namespace devops, Deployment, Service, Gateway, VirtualService)"
  "$MESHCTL" apply -f "$root/examples/helloworld/"

  scenario_log "meshctl control-plane (discovery + CA on 127.0.0.1:$SCENARIO_CP_PORT)"
  scenario_bg control-plane "$MESHCTL" control-plane --port "$SCENARIO_CP_PORT" --debounce-ms 50 \
    ${SCENARIO_CERT_TTL:+--cert-ttl "$SCENARIO_CERT_TTL"} \
    ${SCENARIO_SCRAPE_INTERVAL:+--dashboard-scrape-interval "$SCENARIO_SCRAPE_INTERVAL"}
  scenario_wait 10 curl -sf "http://127.0.0.1:$SCENARIO_CP_PORT/debug/syncz" ||
    { echo "control plane did not start; see $SCENARIO_DIR/logs/control-plane.log" >&2; return 1; }

  local i
  for i in 1 2; do
    local app inbound outbound stats
    app=$(free_port)
    inbound=$(free_port)
    outbound=$(free_port)
    stats=$(free_port)
    eval "SCENARIO_APP_PORT_$i=$app SCENARIO_INBOUND_PORT_$i=$inbound SCENARIO_OUTBOUND_PORT_$i=$outbound SCENARIO_STATS_PORT_$i=$stats"
    scenario_log "helloworld-$i: meshctl x echo on 127.0.0.1:$app, sidecar inbound :$inbound (mTLS), outbound proxy :$outbound"
    scenario_bg "helloworld-$i" "$MESHCTL" x echo --port "$app" --name "helloworld-$i" --version "v$i"
    scenario_bg "sidecar-$i" "$MESHCTL" proxy sidecar --workload "helloworld-$i" -n devops \
      --service-account helloworld --service helloworldsvc --labels app=helloworld --labels "version=v$i" \
      --app-port "$app" --inbound-port "$inbound" --outbound-port "$outbound" \
      --control-plane "127.0.0.1:$SCENARIO_CP_PORT" --admin-port 0 --health-port 0 --stats-port "$stats"
  done
  export SCENARIO_INBOUND_PORT_1 SCENARIO_INBOUND_PORT_2 SCENARIO_OUTBOUND_PORT_1 SCENARIO_OUTBOUND_PORT_2
  export SCENARIO_STATS_PORT_1 SCENARIO_STATS_PORT_2 SCENARIO_GW_STATS_PORT

  scenario_log "istio-ingressgateway: meshctl proxy router (Gateway port 443 on :$SCENARIO_HTTPS_PORT, /healthz/ready on :$SCENARIO_HEALTH_PORT)"
  # SCENARIO_TCP_PORT (optional): also map the gateway's port 31400 (Istio's TCP example
  # port) there, for tests that add a TCP Gateway server.
  scenario_bg ingressgateway "$MESHCTL" proxy router --port-map "443:$SCENARIO_HTTPS_PORT" \
    ${SCENARIO_TCP_PORT:+--port-map "31400:$SCENARIO_TCP_PORT"} \
    --control-plane "127.0.0.1:$SCENARIO_CP_PORT" --admin-port "$SCENARIO_GW_ADMIN_PORT" \
    --health-port "$SCENARIO_HEALTH_PORT" --stats-port "$SCENARIO_GW_STATS_PORT"

  # 45 s: under a fully loaded CI machine the first push has been seen to take over 20 s.
  scenario_wait 45 curl -sf "http://127.0.0.1:$SCENARIO_HEALTH_PORT/healthz/ready" || {
    echo "gateway not ready; see $SCENARIO_DIR/logs/ingressgateway.log" >&2
    # What the gateway and the control plane think, for the investigation.
    curl -s "http://127.0.0.1:$SCENARIO_HEALTH_PORT/healthz/ready" >&2
    "$MESHCTL" proxy-status --control-plane "127.0.0.1:$SCENARIO_CP_PORT" >&2 || true
    return 1
  }
  # Both replicas' endpoints reach the gateway after the control plane's debounce.
  scenario_wait 20 bash -c "for n in 1 2 3 4 5 6; do curl -s --max-time 5 --resolve helloworld.panamaxil.com:$SCENARIO_HTTPS_PORT:127.0.0.1 --cacert $c/ca.crt https://helloworld.panamaxil.com:$SCENARIO_HTTPS_PORT/; done | grep -q Hostname=helloworld-1 && for n in 1 2 3 4 5 6; do curl -s --max-time 5 --resolve helloworld.panamaxil.com:$SCENARIO_HTTPS_PORT:127.0.0.1 --cacert $c/ca.crt https://helloworld.panamaxil.com:$SCENARIO_HTTPS_PORT/; done | grep -q Hostname=helloworld-2" ||
    { echo "the gateway does not reach both replicas; see $SCENARIO_DIR/logs/" >&2; return 1; }
}

scenario_stop() {
  local pid
  for pid in "${scenario_pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${scenario_pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  scenario_pids=()
}
