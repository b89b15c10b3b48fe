#!/usr/bin/env bash
# Rebuilds the dashboard's front end (web/dashboard, Vite + TypeScript) into
# web/dashboard/dist with the exact versions of package-lock.json. dist/ is committed
# and compiled into meshctl (mesh/dashboard/CMakeLists.txt), so only people changing the
# page need npm; the C++ build never runs this. Commit dist/ together with the sources.
set -euo pipefail
cd "$(dirname "$0")/../web/dashboard"
command -v npm >/dev/null || { echo "build_dashboard: npm is not installed (apt-get install npm)" >&2; exit 1; }
npm ci --no-audit --no-fund --loglevel=error
npm run build
echo "build_dashboard: web/dashboard/dist rebuilt; rebuild meshctl (scripts/build.sh) to embed it"
