#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (build-fuzz/, MESH_FUZZ=ON) and runs them.
#   scripts/fuzz.sh [target|all] [seconds]    default: all, 600 s per target
# Targets: config_yaml proxy_http1 xds_protocol proxyconfig_decode kubeconfig install_set.
# Seeds come from fuzz/corpus/<target>/ (read only); new corpus entries, crashes and logs go
# to $FUZZ_WORK (default /tmp/meshctl-fuzz)/<target>/. Targets run one after the other;
# run two instances with different targets to use two cores.
#   FUZZ_NO_BUILD=1  skip the build step
#   FUZZ_ARGS        extra libFuzzer flags (e.g. -jobs=2)
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=${1:-all}
SECONDS_PER_TARGET=${2:-600}
WORK=${FUZZ_WORK:-/tmp/meshctl-fuzz}
BUILD_DIR=${FUZZ_BUILD_DIR:-build-fuzz}
ALL=(config_yaml proxy_http1 xds_protocol proxyconfig_decode kubeconfig install_set)

max_len() {  # bytes: large enough for real inputs of the kind, small enough to stay fast
  case "$1" in
    config_yaml|proxyconfig_decode) echo 16384 ;;
    kubeconfig) echo 8192 ;;
    proxy_http1) echo 4096 ;;
    xds_protocol) echo 8192 ;;
    install_set) echo 256 ;;
  esac
}

if [ "$TARGET" = all ]; then
  TARGETS=("${ALL[@]}")
else
  TARGETS=("$TARGET")
  [ -n "$(max_len "$TARGET")" ] || { echo "unknown target: $TARGET (one of: ${ALL[*]})" >&2; exit 2; }
fi

if [ "${FUZZ_NO_BUILD:-0}" != 1 ]; then
  export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$(pwd)} CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}
  CC=clang CXX=clang++ cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DMESH_WERROR=ON -DMESH_FUZZ=ON -DMESH_BUILD_TESTS=OFF >/dev/null
  ninja -C "$BUILD_DIR" -j "${JOBS:-2}" "${TARGETS[@]/%/_fuzz}"
fi

for t in "${TARGETS[@]}"; do
  dir="$WORK/$t"
  mkdir -p "$dir/corpus" "$dir/crashes"
  echo "== $t: ${SECONDS_PER_TARGET}s, -max_len=$(max_len "$t"), output in $dir"
  # New inputs go to the first corpus directory (scratch); the checked-in seeds are read only.
  # shellcheck disable=SC2086
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} \
    "$BUILD_DIR/fuzz/${t}_fuzz" "$dir/corpus" "fuzz/corpus/$t" \
    -max_total_time="$SECONDS_PER_TARGET" -max_len="$(max_len "$t")" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$dir/crashes/" -print_final_stats=1 ${FUZZ_ARGS:-} 2>&1 | tee "$dir/fuzz.log" |
    grep -E "^#[0-9]+[[:space:]]+(INITED|DONE)|^stat::|ERROR|SUMMARY|Test unit written|artifact_prefix" || true
  echo "== $t: $(ls "$dir/corpus" | wc -l) new corpus entries, $(ls "$dir/crashes" | wc -l) crash/leak/timeout files"
done
