#!/usr/bin/env bash
# README command 1: installs what is needed, builds meshctl and runs the main job.
# Until the local seed scenario lands, the main job analyzes the talk's manifests
# (examples/seed/, typed from the slides, mistakes included) the way a CI step would.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
bin=build/bin/meshctl
echo
echo "\$ meshctl analyze --all-namespaces examples/seed/"
set +e
"$bin" analyze --all-namespaces examples/seed/
rc=$?
set -e
echo
case $rc in
  0) echo "analyze: no issues (exit 0)";;
  79) echo "analyze: found issues at or above the failure threshold (exit 79), as expected for the talk's manifests";;
  65) echo "analyze: some files could not be parsed (exit 65)";;
  *) echo "analyze: failed (exit $rc)"; exit $rc;;
esac
echo "The corrected manifests: examples/helloworld/ (see examples/seed/README.md)."
