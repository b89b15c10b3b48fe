#!/usr/bin/env bash
# README command 1: installs what is needed, builds meshctl and runs the talk's scenario
# ("Istio on EKS") on this machine in local mode: demo profile with a NodePort ingress
# gateway, a namespace labelled for injection, tls-secret for helloworld.panamaxil.com,
# two helloworld replicas with sidecars, the talk's Gateway (443, SIMPLE) and
# VirtualService; then HTTPS requests through the gateway reach both replicas over mTLS.
# It stays up until Ctrl-C (or exits at once when not attached to a terminal, or with
# MESH_DEMO_EXIT=1). MESHCTL=path skips the build.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
if [ -z "${MESHCTL:-}" ]; then
  bash scripts/build.sh
  MESHCTL=$root/build/bin/meshctl
fi
export MESHCTL
SCENARIO_DIR=${SCENARIO_DIR:-$(mktemp -d /tmp/meshctl-demo.XXXXXX)}
export SCENARIO_DIR
# shellcheck source=lib/scenario.sh
source "$root/scripts/lib/scenario.sh"
trap scenario_stop EXIT
trap 'echo; echo "stopping..."; exit 0' INT TERM

echo "meshctl demo: state and logs in $SCENARIO_DIR"
scenario_start

echo
echo "\$ curl --resolve helloworld.panamaxil.com:$SCENARIO_HTTPS_PORT:127.0.0.1 --cacert $SCENARIO_DIR/certs/ca.crt https://helloworld.panamaxil.com:$SCENARIO_HTTPS_PORT/"
seen=""
for n in 1 2 3 4 5 6; do
  out=$(scenario_curl / -w '\nstatus=%{http_code}')
  code=$(echo "$out" | sed -n 's/^status=//p')
  host=$(echo "$out" | sed -n 's/^Hostname=//p')
  peer=$(echo "$out" | sed -n 's/^RequestHeader=x-forwarded-client-cert:URI=//p')
  echo "  $code from $host (mTLS peer: $peer)"
  [ "$code" = 200 ] && seen="$seen $host"
done
echo "\$ curl http://127.0.0.1:$SCENARIO_HEALTH_PORT/healthz/ready"
echo "  $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$SCENARIO_HEALTH_PORT/healthz/ready")"
case "$seen" in
  *helloworld-1*helloworld-2* | *helloworld-2*helloworld-1*) ;;
  *) echo "demo: expected answers from both replicas, got:$seen" >&2; exit 1 ;;
esac

cat <<TXT

Both replicas answered through the gateway (TLS at the edge, mTLS to the sidecars).
The dashboard (service graph, traffic, config, sync): http://127.0.0.1:$SCENARIO_CP_PORT/dashboard/
Poke at it (in another terminal):
  export MESHCTL_STATE_DIR=$MESHCTL_STATE_DIR
  $MESHCTL proxy-status --control-plane 127.0.0.1:$SCENARIO_CP_PORT
  $MESHCTL proxy-config routes <proxy id from proxy-status> --control-plane 127.0.0.1:$SCENARIO_CP_PORT -o yaml
  $MESHCTL get virtualservices -A
  curl http://127.0.0.1:$SCENARIO_HEALTH_PORT/healthz/ready
  curl --resolve helloworld.panamaxil.com:$SCENARIO_HTTPS_PORT:127.0.0.1 --cacert $SCENARIO_DIR/certs/ca.crt https://helloworld.panamaxil.com:$SCENARIO_HTTPS_PORT/
Logs: $SCENARIO_DIR/logs/
TXT

if [ "${MESH_DEMO_EXIT:-0}" != 1 ] && [ -t 0 ]; then
  echo "Press Ctrl-C to stop everything."
  while true; do sleep 3600; done
fi
