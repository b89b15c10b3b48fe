#!/usr/bin/env bash
# Times each networking analyzer on a generated input of N*10 resources (default 100k):
# Services, Pods, Gateways, VirtualServices, DestinationRules, ServiceEntries, Sidecars,
# Secrets and RequestAuthentications, one of each per unit, spread over 200 namespaces.
# The first line (CaCertificateAnalyzer, linear and cheap) is the load/print baseline.
# Usage: scripts/bench_analyze_networking.sh [units] [meshctl]
set -euo pipefail
units=${1:-10000}
meshctl=${2:-build/bin/meshctl}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
python3 - "$units" > "$dir/in.yaml" <<'PY'
import sys
for i in range(int(sys.argv[1])):
    ns = f"ns{i % 200}"
    print(f"""apiVersion: v1
kind: Service
metadata: {{name: svc{i}, namespace: {ns}}}
spec: {{selector: {{app: app{i}}}, ports: [{{name: http, port: 80, targetPort: 8080, protocol: TCP}}]}}
---
apiVersion: v1
kind: Pod
metadata: {{name: pod{i}, namespace: {ns}, labels: {{app: app{i}, version: v1}}}}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {{name: gw{i}, namespace: {ns}}}
spec:
  selector: {{app: app{i}}}
  servers: [{{port: {{number: 443, name: https, protocol: HTTPS}}, tls: {{mode: SIMPLE, credentialName: cert{i}}}, hosts: [h{i}.example.com]}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: vs{i}, namespace: {ns}}}
spec:
  hosts: [h{i}.example.com]
  gateways: [gw{i}]
  http: [{{match: [{{headers: {{'@request.auth.claims.g': {{exact: a}}}}}}], route: [{{destination: {{host: svc{i}, subset: v1, port: {{number: 80}}}}}}]}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: mesh{i}, namespace: {ns}}}
spec: {{hosts: [svc{i}], http: [{{route: [{{destination: {{host: svc{i}, subset: v1}}}}]}}]}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {{name: dr{i}, namespace: {ns}}}
spec: {{host: svc{i}, trafficPolicy: {{tls: {{mode: SIMPLE}}}}, subsets: [{{name: v1, labels: {{version: v1}}}}, {{name: v2, labels: {{version: v2}}}}]}}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {{name: se{i}, namespace: {ns}}}
spec: {{hosts: ['*.ext{i}.example.org'], ports: [{{number: 443, name: tls, protocol: TLS}}]}}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {{name: sc{i}, namespace: {ns}}}
spec: {{workloadSelector: {{labels: {{app: app{i}}}}}}}
---
apiVersion: v1
kind: Secret
metadata: {{name: cert{i}, namespace: {ns}}}
data: {{tls.crt: aGk=, tls.key: aGk=}}
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {{name: ra{i}, namespace: {ns}}}
spec: {{selector: {{matchLabels: {{app: app{i}}}}}}}
---""")
PY
for a in destinationrule.CaCertificateAnalyzer gateway.CertificateAnalyzer gateway.ConflictingGatewayAnalyzer \
    gateway.IngressGatewayPortAnalyzer gateway.SecretAnalyzer virtualservice.ConflictingMeshGatewayHostsAnalyzer \
    virtualservice.DestinationHostAnalyzer virtualservice.DestinationRuleAnalyzer virtualservice.GatewayAnalyzer \
    virtualservice.JWTClaimRouteAnalyzer destinationrule.SubsetSelectPodAnalyzer serviceentry.Analyzer \
    serviceentry.ConflictingServiceEntryProtocolAnalyzer sidecar.SelectorAnalyzer k8sgateway.SelectorAnalyzer; do
  start=$(date +%s.%N)
  count=$("$meshctl" analyze --use-kube=false -A -o json --analyzer "$a" "$dir/in.yaml" 2>/dev/null | grep -c '"code"' || true)
  end=$(date +%s.%N)
  printf '%-55s %6.2fs %6s messages\n' "$a" "$(echo "$end - $start" | bc)" "$count"
done
