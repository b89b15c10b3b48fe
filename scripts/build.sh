#!/usr/bin/env bash
# Installs the Debian packages (unless MESH_SKIP_DEPS=1) and builds meshctl and its tests.
#   BUILD_DIR   build directory (default: build)
#   BUILD_TYPE  Release (default) or Debug
#   MESH_CMAKE_ARGS  extra CMake arguments (e.g. -DMESH_SANITIZE=ON)
set -euo pipefail
cd "$(dirname "$0")/.."
[ "${MESH_SKIP_DEPS:-0}" = 1 ] || bash scripts/install_deps.sh
# ccache: paths relative to the checkout so a fresh clone (CI) reuses earlier objects.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$(pwd)}
export CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}
export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-5G}
BUILD_DIR=${BUILD_DIR:-build}
BUILD_TYPE=${BUILD_TYPE:-Release}
JOBS=${JOBS:-2}
# shellcheck disable=SC2086
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE="$BUILD_TYPE" -DMESH_WERROR=ON ${MESH_CMAKE_ARGS:-} >/dev/null
ninja -C "$BUILD_DIR" -j "$JOBS"
echo "build: $BUILD_DIR/bin/meshctl"
