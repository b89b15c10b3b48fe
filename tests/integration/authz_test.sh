#!/usr/bin/env bash
# AuthorizationPolicy end to end, real processes on loopback: the talk's scenario plus a
# third workload ("sleep", service account sleep) whose sidecar calls helloworld over mTLS.
#   - DENY path /blocked on helloworld: 403 "RBAC: access denied" through the gateway and
#     from sleep, while / still answers 200; the 403s show in istio_requests_total;
#   - ALLOW only the gateway's identity: the gateway passes, sleep and plaintext get 403;
#   - deleting the policy restores access.
# Usage: authz_test.sh path/to/meshctl
set -uo pipefail
MESHCTL=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
SCENARIO_DIR=$(mktemp -d /tmp/meshctl-authz.XXXXXX)
export MESHCTL SCENARIO_DIR
# shellcheck source=../../scripts/lib/scenario.sh
source "$root/scripts/lib/scenario.sh"

# shellcheck source=scenario_checks.sh
source "$root/tests/integration/scenario_checks.sh"
trap 'finish; exit $?' EXIT

if ! scenario_start >"$SCENARIO_DIR/start.log" 2>&1; then
  cat "$SCENARIO_DIR/start.log"
  check "scenario starts" false
  exit 1
fi

# The "sleep" client: an app whose outbound calls go through its own sidecar.
SLEEP_APP=$(free_port)
SLEEP_OUT=$(free_port)
scenario_bg sleep "$MESHCTL" x echo --port "$SLEEP_APP" --name sleep-1
scenario_bg sidecar-sleep "$MESHCTL" proxy sidecar --workload sleep-1 -n devops --service-account sleep \
  --labels app=sleep --app-port "$SLEEP_APP" --inbound-port "$(free_port)" --outbound-port "$SLEEP_OUT" \
  --control-plane "127.0.0.1:$SCENARIO_CP_PORT" --admin-port 0 --health-port 0 --stats-port 0

# Status codes of N requests, one per line.
gw_codes() { # PATH N
  local i
  for i in $(seq "$2"); do scenario_curl "$1" -o /dev/null -w '%{http_code}\n'; done
}
sleep_code() { # PATH: sleep calls helloworld through its sidecar's outbound port
  curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H 'Host: helloworldsvc.devops.svc.cluster.local' \
    "http://127.0.0.1:$SLEEP_OUT$1"
}
sleep_gets() { # CODE PATH
  [ "$(sleep_code "$2")" = "$1" ]
}
all_are() { # CODE N PATH: N gateway requests all answer CODE
  [ "$(gw_codes "$3" "$2" | grep -c "^$1\$")" = "$2" ]
}
check "baseline: sleep reaches helloworld through its sidecar (mTLS)" scenario_wait 20 sleep_gets 200 /
check "baseline: /blocked answers 200 before any policy" all_are 200 4 /blocked

cat >"$SCENARIO_DIR/deny.yaml" <<'YAML'
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: deny-blocked
  namespace: devops
spec:
  selector:
    matchLabels: {app: helloworld}
  action: DENY
  rules:
  - to:
    - operation:
        paths: [/blocked]
YAML
"$MESHCTL" apply -f "$SCENARIO_DIR/deny.yaml" >/dev/null
check "DENY /blocked: pushed to both replicas (8 requests in a row get 403)" scenario_wait 15 all_are 403 8 /blocked
check "DENY /blocked: 20/20 more requests through the gateway get 403" all_are 403 20 /blocked
check "DENY /blocked: the body is 'RBAC: access denied'" test "$(scenario_curl /blocked)" = "RBAC: access denied"
check "DENY /blocked: / still answers 200 (20/20)" all_are 200 20 /
check "DENY /blocked: sleep's request to /blocked gets 403" test "$(sleep_code /blocked)" = 403
check "DENY /blocked: sleep's request to / gets 200" test "$(sleep_code /)" = 200
denied_metric() {
  local total=0 p n
  for p in "$SCENARIO_STATS_PORT_1" "$SCENARIO_STATS_PORT_2"; do
    n=$(curl -s "http://127.0.0.1:$p/stats/prometheus" |
      grep '^istio_requests_total{reporter="destination"' | grep 'response_code="403"' |
      awk '{s += $NF} END {print s + 0}')
    total=$((total + n))
  done
  echo "$total"
}
n403=$(denied_metric)
echo "  istio_requests_total{reporter=destination,response_code=403} across the replicas: $n403"
check "DENY /blocked: the sidecars count the denials (>= 29 in istio_requests_total, response_code 403)" \
  test "$n403" -ge 29
hw1=$("$MESHCTL" proxy-status --control-plane "127.0.0.1:$SCENARIO_CP_PORT" | awk '/helloworld-1/ {print $1}')
check "meshctl proxy-config listeners shows the RBAC filter on the inbound listener" bash -c \
  "'$MESHCTL' proxy-config listeners '$hw1' --control-plane 127.0.0.1:$SCENARIO_CP_PORT | grep virtualInbound | grep -q 'rbac DENY'"
check "meshctl proxy-config -o json has the policy" bash -c \
  "'$MESHCTL' proxy-config listeners '$hw1' --control-plane 127.0.0.1:$SCENARIO_CP_PORT -o json | grep -q 'ns\[devops\]-policy\[deny-blocked\]-rule\[0\]'"
"$MESHCTL" delete -f "$SCENARIO_DIR/deny.yaml" >/dev/null
check "DENY removed: /blocked answers 200 again" scenario_wait 15 all_are 200 8 /blocked

cat >"$SCENARIO_DIR/allow.yaml" <<'YAML'
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: gateway-only
  namespace: devops
spec:
  selector:
    matchLabels: {app: helloworld}
  action: ALLOW
  rules:
  - from:
    - source:
        principals: [cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account]
YAML
"$MESHCTL" apply -f "$SCENARIO_DIR/allow.yaml" >/dev/null
check "ALLOW gateway only: sleep (service account sleep) gets 403" scenario_wait 15 sleep_gets 403 /
sleep_denied_5() {
  local i
  for i in 1 2 3 4 5; do sleep_gets 403 / || return 1; done
}
check "ALLOW gateway only: sleep stays denied (5/5)" sleep_denied_5
check "ALLOW gateway only: the gateway passes (20/20 answer 200)" all_are 200 20 /
check "ALLOW gateway only: plaintext to a sidecar's inbound port gets 403" \
  test "$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "http://127.0.0.1:$SCENARIO_INBOUND_PORT_1/")" = 403
"$MESHCTL" delete -f "$SCENARIO_DIR/allow.yaml" >/dev/null
check "policy deleted: sleep gets 200 again" scenario_wait 15 sleep_gets 200 /
check "policy deleted: the gateway still gets 200 (10/10)" all_are 200 10 /

# A policy selecting the ingress gateway: enforced by the gateway itself, and only it
# receives the filter.
cat >"$SCENARIO_DIR/gateway.yaml" <<'YAML'
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: gateway-deny-admin
  namespace: istio-system
spec:
  selector:
    matchLabels: {istio: ingressgateway}
  action: DENY
  rules:
  - to:
    - operation:
        paths: ["/admin*"]
YAML
"$MESHCTL" apply -f "$SCENARIO_DIR/gateway.yaml" >/dev/null
check "gateway policy: /admin/x gets 403 at the gateway" scenario_wait 15 all_are 403 4 /admin/x
check "gateway policy: / still 200 (10/10)" all_are 200 10 /
check "gateway policy: the sidecars do not receive it (sleep reaches /admin/x)" sleep_gets 200 /admin/x
check "gateway policy: helloworld-1's listeners carry no RBAC filter" bash -c \
  "! '$MESHCTL' proxy-config listeners '$hw1' --control-plane 127.0.0.1:$SCENARIO_CP_PORT | grep -q rbac"
"$MESHCTL" delete -f "$SCENARIO_DIR/gateway.yaml" >/dev/null
check "gateway policy deleted: /admin/x answers 200" scenario_wait 15 all_are 200 4 /admin/x
