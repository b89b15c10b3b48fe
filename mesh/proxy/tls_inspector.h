#pragma once

// Reads the SNI from a TLS ClientHello without terminating TLS (Envoy's tls_inspector):
// chooses the filter chain for SNI routing and for TLS passthrough.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace mesh::proxy {

enum class ClientHelloResult { kNeedMoreData, kNotTls, kTls };

// `sni` is set (possibly empty) when the result is kTls.
ClientHelloResult InspectClientHello(std::string_view data, std::string& sni);

// Envoy's server_names matching: exact, or "*.example.com" for any subdomain.
bool ServerNameMatches(std::string_view pattern, std::string_view sni);

}  // namespace mesh::proxy
