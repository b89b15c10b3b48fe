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
  absl::StatusOr<xds::ReceivedResponse> res = xds::ParseResponse(data);
  if (res.ok()) {
    // What a control plane would send with the same content must parse again, whole.
    xds::DiscoveryResponse out{.version_info = res->version_info,
                               .resources = xds::MakeResourceList(*res->resources),
                               .type_url = res->type_url,
                               .nonce = res->nonce};
    std::string text = xds::SerializeResponse(out);
    absl::StatusOr<xds::ReceivedResponse> again = xds::ParseResponse(text);
    if (!again.ok() || again->resources->size() != res->resources->size()) {
      std::fprintf(stderr, "response does not round-trip: %s\n%s\n", std::string(again.status().message()).c_str(),
                   text.c_str());
      std::abort();
    }
    // The zero-copy pieces a stream writes are the same bytes.
    xds::SerializedResponse pieces(out);
    std::string joined;
    for (std::string_view p : pieces.pieces()) {
      joined.append(p);
    }
    if (joined != text || pieces.size() != text.size()) {
      std::fprintf(stderr, "SerializedResponse differs from SerializeResponse:\n%s\n%s\n", joined.c_str(),
                   text.c_str());
      std::abort();
    }
    (void)xds::ContentVersion(*res->resources);
    (void)xds::type_url::ShortName(res->type_url);
  }
}

}  // namespace mesh::fuzz
