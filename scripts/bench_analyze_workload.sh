#!/usr/bin/env bash
# Times the workload analyzers on a generated manifest (N objects of each of Pod, Service,
# Deployment, AuthorizationPolicy and Telemetry, spread over 200 namespaces) against a
# baseline run of an analyzer that reads none of them (loading and output only).
# Usage: scripts/bench_analyze_workload.sh [meshctl] [N]
set -euo pipefail
MESHCTL=${1:-build/bin/meshctl}
N=${2:-20000}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
python3 - "$N" > "$TMP/big.yaml" <<'PY'
import sys
n = int(sys.argv[1])
docs = []
for i in range(n):
    ns = f"ns{i % 200}"
    docs.append(f"""apiVersion: v1
kind: Pod
metadata: {{name: p{i}, namespace: {ns}, labels: {{app: a{i}}}, annotations: {{sidecar.istio.io/proxyCPU: 100m}}}}
spec:
  containers: [{{name: app, image: x}}, {{name: istio-proxy, image: docker.io/istio/proxyv2:1.0}}]
---
apiVersion: v1
kind: Service
metadata: {{name: s{i}, namespace: {ns}}}
spec: {{selector: {{app: a{i}}}, ports: [{{name: http, port: 80}}]}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: d{i}, namespace: {ns}}}
spec:
  template:
    metadata: {{labels: {{app: a{i}}}}}
    spec: {{containers: [{{name: istio-proxy, image: x}}]}}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {{name: ap{i}, namespace: {ns}}}
spec:
  selector: {{matchLabels: {{app: a{i}}}}}
  rules: [{{from: [{{source: {{namespaces: [{ns}]}}}}]}}]
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {{name: t{i}, namespace: {ns}}}
spec: {{selector: {{matchLabels: {{app: a{i}}}}}}}
""")
for j in range(200):
    docs.append(f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: ns{j}, labels: {{istio-injection: enabled}}}}\n")
print("---\n".join(docs))
PY
run() {
  local start end
  start=$(date +%s.%N)
  "$MESHCTL" analyze --use-kube=false -A -o json "$@" "$TMP/big.yaml" > /dev/null 2>&1 || true
  end=$(date +%s.%N)
  echo "$end - $start" | bc
}
ANALYZERS=()
for a in annotations.K8sAnalyzer applicationUID.Analyzer auth.AuthorizationPoliciesAnalyzer authn.BlockedCIDRsAnalyzer \
         conditions.ConditionAnalyzer deployment.MultiServiceAnalyzer injection.Analyzer injection.ImageAnalyzer \
         injection.ImageAutoAnalyzer service.PortNameAnalyzer telemetry.DefaultSelectorAnalyzer \
         telemetry.SelectorAnalyzer webhook.Analyzer; do
  ANALYZERS+=(--analyzer "$a")
done
echo "objects: $((N * 5 + 200))"
echo "baseline (load + output): $(run --analyzer envoyfilter.EnvoyPatchAnalyzer)s"
echo "workload analyzers:       $(run "${ANALYZERS[@]}")s"
