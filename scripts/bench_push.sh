#!/usr/bin/env bash
# Benchmark (not a test): control-plane push latency and full-push time.
# Runs build/bin/push_bench for a few sizes (services x simulated proxies, changes).
# The simulated proxies run in the same process as the control plane, so the figures
# include their decoding work on the same 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build/bin/push_bench}
for size in "10 10 50" "100 100 20" "1000 100 5"; do
  # shellcheck disable=SC2086
  "$bin" $size
done
