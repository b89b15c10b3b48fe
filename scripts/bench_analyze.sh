#!/usr/bin/env bash
# Benchmark (not a test): wall time and peak RSS of `meshctl analyze -A` over generated
# configurations of 1k, 10k and 100k resources. Prints one line per size.
#   scripts/bench_analyze.sh [path/to/meshctl] [sizes...]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build/bin/meshctl}
shift || true
sizes=${*:-1000 10000 100000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf '%-10s %-10s %-10s %-10s %s\n' resources wall_s peak_MB exit messages
for n in $sizes; do
  dir=$work/c$n
  actual=$(python3 scripts/gen_analyze_corpus.py "$n" "$dir")
  # warm the page cache once, then measure
  "$bin" analyze -A -o json "$dir" >/dev/null 2>&1 || true
  /usr/bin/time -f '%e %M' -o "$work/time" "$bin" analyze -A -o json "$dir" >"$work/out" 2>/dev/null && rc=0 || rc=$?
  read -r wall kb < <(tail -1 "$work/time")
  msgs=$(grep -c '"code"' "$work/out" || true)
  printf '%-10s %-10s %-10s %-10s %s\n' "$actual" "$wall" "$((kb / 1024))" "$rc" "$msgs"
done
