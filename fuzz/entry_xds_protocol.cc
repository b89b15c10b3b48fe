// Fuzz entry point: see fuzz/entry_points.h.
#include "fuzz/entry_points.h"

#include <cstdio>
#include <cstdlib>
#include <string>

#include "mesh/xds/protocol.h"

namespace mesh::fuzz {

void FuzzXdsProtocol(std::string_view data) {
  absl::StatusOr<xds::DiscoveryRequest> req = xds::ParseRequest(data);
  if (req.ok()) {
    std::string text = xds::SerializeRequest(*req);
    absl::StatusOr<xds::DiscoveryRequest> again = xds::ParseRequest(text);
    if (!again.ok()) {
      std::fprintf(stderr, "request does not round-trip: %s\n%s\n", std::string(again.status().message()).c_str(),
                   text.c_str());
      std::abort();
    }
    (void)req->IsNack();
  }
  absl::StatusOr<xds::DiscoveryResponse> res = xds::ParseResponse(data);
  if (res.ok()) {
    std::string text = xds::SerializeResponse(*res);
    absl::StatusOr<xds::DiscoveryResponse> again = xds::ParseResponse(text);
    if (!again.ok()) {
      std::fprintf(stderr, "response does not round-trip: %s\n%s\n", std::string(again.status().message()).c_str(),
                   text.c_str());
      std::abort();
    }
    (void)xds::ContentVersion(*res->resources);
    (void)xds::type_url::ShortName(res->type_url);
  }
}

}  // namespace mesh::fuzz
