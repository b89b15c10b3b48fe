#!/usr/bin/env bash
# Times `meshctl manifest generate --profile demo` (target: < 50 ms) with hyperfine.
# Usage: scripts/bench_manifest.sh [path/to/meshctl]   (default: build/bin/meshctl)
# Also times the NodePort variant and a full local install into a fresh state dir.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
bin="${1:-$repo/build/bin/meshctl}"
if [ ! -x "$bin" ]; then
  echo "bench_manifest: $bin not found; build first (ninja -C build meshctl)" >&2
  exit 1
fi
command -v hyperfine >/dev/null || { echo "bench_manifest: hyperfine missing (scripts/install_deps.sh)" >&2; exit 1; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# Sanity: the command works and renders the 42 demo objects.
count="$("$bin" manifest generate --profile demo | grep -c '^kind:')"
echo "manifest generate --profile demo renders $count objects"

hyperfine --warmup 5 --min-runs 50 --shell=none \
  --export-json "$tmp/generate.json" \
  "$bin manifest generate --profile demo" \
  "$bin manifest generate --profile demo --set values.gateways.istio-ingressgateway.type=NodePort"

# A full install (render + 44 atomic, fsynced writes) into a fresh state dir each run.
hyperfine --warmup 1 --runs 10 --shell=bash \
  --prepare "rm -rf $tmp/state" \
  "$bin install --profile demo -y --state-dir $tmp/state >/dev/null"

python3 - "$tmp/generate.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
mean_ms = r["mean"] * 1000
print(f"manifest generate --profile demo: mean {mean_ms:.1f} ms (min {r['min']*1000:.1f}, max {r['max']*1000:.1f}); target < 50 ms: {'OK' if mean_ms < 50 else 'MISSED'}")
PY
