#!/usr/bin/env bash
# CI's sanitizer job: builds everything with AddressSanitizer + UndefinedBehaviorSanitizer
# (Debug, build-sanitize/) and runs every unit and integration test against it. Any ASan
# report, leak or UBSan finding fails the test it happens in.
set -euo pipefail
cd "$(dirname "$0")/.."
export BUILD_DIR=${SANITIZE_BUILD_DIR:-build-sanitize}
BUILD_TYPE=Debug MESH_CMAKE_ARGS="-DMESH_SANITIZE=ON" bash scripts/build.sh
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
ctest --test-dir "$BUILD_DIR" -j 2 --output-on-failure --timeout 900
