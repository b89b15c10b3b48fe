# The meshctl image: one binary for istiod's role (`meshctl control-plane`), the
# gateways and sidecars (`meshctl proxy router|sidecar`) and the init container
# (`meshctl proxy init`). The rendered manifests use {{hub}}/meshctl:{{tag}}.
#
#   docker build -t registry.example/mesh/meshctl:0.1.0 .
#   meshctl install --set hub=registry.example/mesh --set tag=0.1.0
#
# Not built in this repository's CI (no Docker there); tests/inject/cli_test.cc checks
# that what it copies exists.

# --- build: the same scripts as a developer machine (Debian 12) ---
FROM debian:12 AS build
WORKDIR /src
COPY scripts/install_deps.sh scripts/install_deps.sh
RUN bash scripts/install_deps.sh && rm -rf /var/lib/apt/lists/*
COPY CMakeLists.txt ./
COPY cmake cmake
COPY mesh mesh
COPY cmd cmd
COPY profiles profiles
COPY manifests manifests
COPY bench bench
COPY scripts scripts
RUN MESH_SKIP_DEPS=1 JOBS="$(nproc)" MESH_CMAKE_ARGS=-DMESH_BUILD_TESTS=OFF scripts/build.sh \
    && strip build/bin/meshctl \
    && build/bin/meshctl version

# --- runtime: the shared libraries meshctl links, iptables for `proxy init` ---
FROM debian:12-slim
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
       libabsl20220623 libfmt9 libre2-9 libssl3 libyaml-0-2 libzstd1 ca-certificates iptables \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 1337 istio-proxy \
    && useradd --uid 1337 --gid 1337 --no-create-home --shell /usr/sbin/nologin istio-proxy
COPY --from=build /src/build/bin/meshctl /usr/local/bin/meshctl
# Sidecars and istiod run as 1337 (the uid `proxy init` excludes from capture); the
# init container overrides this with runAsUser: 0 and NET_ADMIN.
USER 1337:1337
ENTRYPOINT ["/usr/local/bin/meshctl"]
