// Fuzz entry point: see fuzz/entry_points.h.
#include "fuzz/entry_points.h"

#include <cstdint>

#include "mesh/proxy/http1_check.h"

namespace mesh::fuzz {

void FuzzProxyHttp1(std::string_view data) {
  if (data.empty()) {
    return;
  }
  uint8_t mode = static_cast<uint8_t>(data[0]);
  data.remove_prefix(1);
  proxy::Http1Limits limits;
  // Small header limits too, so the limit paths are reached with short inputs.
  limits.max_request_headers_kb = (mode & 0x40) ? 1 : 60;
  limits.max_headers_count = (mode & 0x40) ? 8 : 100;
  limits.max_response_header_bytes = (mode & 0x40) ? 1024 : 96 * 1024;
  limits.read_chunk = 1 + ((mode >> 2) & 0x0f) * 37;
  switch (mode & 0x03) {
    case 0:
    case 1:
      (void)proxy::ParseHttp1Requests(data, limits);
      break;
    case 2:
      (void)proxy::ParseHttp1Response(data, false, limits);
      break;
    default:
      (void)proxy::ParseHttp1Response(data, true, limits);
      break;
  }
}

}  // namespace mesh::fuzz
