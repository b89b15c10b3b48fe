#!/usr/bin/env bash
# Installs playwright-core (pinned by tests/e2e/package-lock.json) into tests/e2e/node_modules
# for the browser end-to-end tests; the browser itself is the Debian chromium package.
set -euo pipefail
cd "$(dirname "$0")/../tests/e2e"
command -v npm >/dev/null || { echo "install_e2e_deps: npm is not installed" >&2; exit 1; }
npm ci --no-audit --no-fund --loglevel=error
