#!/usr/bin/env bash
# Runs Istio's analyzer conformance corpus (../shared/conformance/analyze) against meshctl
# and fails when fewer cases pass than tests/conformance/analyze_min_passed records.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bin=${1:-$root/build/bin/meshctl}
chk=$root/../shared/conformance/analyze
min=$(cat "$root/tests/conformance/analyze_min_passed")
out=$(cd "$chk" && python3 check.py --cmd "$bin analyze --use-kube=false --all-namespaces -o {format} --analyzer {analyzer} {meshconfig} {meshnetworks} {files}" || true)
echo "$out" | grep '^FAIL' || true
last=$(echo "$out" | tail -1)
passed=$(echo "$last" | awk '{print $1}')
echo "conformance (json): $last (minimum $min)"
out_log=$(cd "$chk" && python3 check.py --format log --cmd "$bin analyze --use-kube=false --all-namespaces -o {format} --analyzer {analyzer} {meshconfig} {meshnetworks} {files}" || true)
echo "conformance (log): $(echo "$out_log" | tail -1)"
if [ "${passed:-0}" -lt "$min" ]; then
  echo "conformance: regression: $passed passed, expected at least $min" >&2
  exit 1
fi
