#pragma once

// Compressed discovery responses: meshctl's own negotiated extension of the discovery
// stream (not part of xDS; Envoy's wire formats have nothing like it over WebSocket).
//
// A proxy that can decompress says so on the WebSocket upgrade with
//   Meshctl-Discovery-Accept-Encoding: zstd
// and a control plane that will compress answers the upgrade with
//   Meshctl-Discovery-Encoding: zstd
// From then on each DiscoveryResponse may arrive as a binary WebSocket message holding
// one or more zstd frames whose decompressed concatenation is the response's JSON text.
// Text messages stay plain JSON, so both sides of a stream that did not negotiate (or a
// control plane that does not compress) behave as before; requests are never compressed.
// The control plane compresses each shared chunk of resources once and writes the same
// compressed bytes to every stream that shares it.

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace mesh::xds {

inline constexpr char kAcceptEncodingHeader[] = "Meshctl-Discovery-Accept-Encoding";
inline constexpr char kEncodingHeader[] = "Meshctl-Discovery-Encoding";
inline constexpr char kZstdEncoding[] = "zstd";

// True when an Accept header value ("zstd", "gzip, zstd") lists zstd.
bool AcceptsZstd(std::string_view header_value);

// One zstd frame (with its content size, so a reader can refuse an oversized one before
// decompressing it).
std::string ZstdCompress(std::string_view text, int level = 3);

// Decompresses one or more concatenated zstd frames into `out` (replacing its content),
// refusing to produce more than `max_bytes`: a small message that would expand past the
// limit (a decompression bomb) is an error, found before the memory is spent.
absl::Status ZstdDecompressInto(std::string_view compressed, size_t max_bytes, std::string& out);

}  // namespace mesh::xds
