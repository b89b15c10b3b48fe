#!/usr/bin/env bash
# Installs every Debian package meshctl needs to build, test and benchmark.
# Idempotent: packages already present are skipped, so a second run is quick.
set -euo pipefail

PACKAGES=(
  # build
  build-essential cmake ninja-build ccache pkg-config
  libboost1.81-dev libssl-dev libcli11-dev libfmt-dev libabsl-dev
  libyaml-dev libgtest-dev libgmock-dev libnghttp2-dev libre2-dev
  # compressed discovery responses (mesh/xds/compression.cc)
  libzstd-dev
  # tests: real clients and servers on loopback
  curl openssl python3 procps iproute2 prometheus nghttp2-client
  # fault drills: TLS configuration scan of the gateway (tests/integration/scenario_test.sh)
  sslscan
  # dashboard end-to-end test: a real headless browser (driven by playwright-core from npm)
  chromium chromium-driver nodejs
  # gRPC integration test (a tiny echo client and server, one test TU)
  libgrpc++-dev protobuf-compiler protobuf-compiler-grpc
  # meshctl proxy init (iptables-restore) and its network-namespace test
  iptables
  # benchmarks
  wrk hyperfine nginx-light haproxy time
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install_deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install_deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install_deps: done"
