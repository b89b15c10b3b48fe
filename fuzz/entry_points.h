#pragma once
// One function per fuzz target: feeds arbitrary bytes to a parser the way meshctl does.
// Shared by the libFuzzer targets (fuzz/*_fuzz.cc, clang only) and the regression tests
// (tests/fuzz_regressions, normal build), so a reproducer runs the same code in both.
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace mesh::fuzz {

// YAML/JSON documents -> resources -> Istio validation (and mesh config validation).
void FuzzConfigYaml(std::string_view data);
// Bytes from a client (request) or an upstream (response) through the proxy's HTTP/1.1
// parser configuration and request-shape rules. The first byte picks the mode and the
// read size.
void FuzzProxyHttp1(std::string_view data);
// Discovery protocol JSON (requests and responses) and their round trip.
void FuzzXdsProtocol(std::string_view data);
// Envoy-subset bootstrap and per-resource decoding.
void FuzzProxyconfigDecode(std::string_view data);
// Kubeconfig loading (through a scratch file) and ExecCredential / RFC 3339 parsing.
void FuzzKubeconfig(std::string_view data);
// `--set path=value` parsing and applying the path to a tree.
void FuzzInstallSet(std::string_view data);

}  // namespace mesh::fuzz
