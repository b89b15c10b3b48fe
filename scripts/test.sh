#!/usr/bin/env bash
# README command 2: installs what is needed, builds, and runs every test:
#   1. the analyze conformance corpus (when ../shared is present), failing on regressions;
#   2. all unit and integration tests through CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bash scripts/build.sh
BUILD_DIR=${BUILD_DIR:-build}
bin="$root/$BUILD_DIR/bin/meshctl"

status=0
if [ -f ../shared/conformance/analyze/check.py ]; then
  bash scripts/conformance.sh "$bin" || status=1
else
  echo "conformance: ../shared not present, skipped"
fi

ctest --test-dir "$BUILD_DIR" -j 2 --output-on-failure --timeout 600 || status=1
exit $status
