#!/usr/bin/env bash
# Benchmark (not a test): control-plane push latency and full-push time.
# Runs build/bin/push_bench for a few sizes (services x simulated proxies, changes).
# The simulated proxies run in a forked process (one thread, no decoding) so that the
# control plane's CPU time and memory are reported on their own; the machine's load
# average is printed with each line because the wall-clock figures depend on it.
#   push_bench needs an open-file limit above the number of proxies: it raises its soft
#   limit to the hard limit itself.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build/bin/push_bench}
sizes=${PUSH_BENCH_SIZES:-"10 10 50;100 100 20;1000 10 20;1000 100 10;1000 1000 5"}
IFS=';' read -ra runs <<<"$sizes"
for size in "${runs[@]}"; do
  # shellcheck disable=SC2086
  "$bin" $size
done
