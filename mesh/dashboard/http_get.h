#pragma once

// A small blocking HTTP/1.0 GET for scraping /stats/prometheus on loopback or the pod
// network: one connection per request, a deadline for the whole exchange and a cap on
// the body, so a stuck or hostile proxy cannot hold the scraper.

#include <chrono>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace mesh::dashboard {

struct HttpGetOptions {
  std::chrono::milliseconds timeout{1000};
  size_t max_body = 32 << 20;
};

// The body of a 200 answer; other statuses and transport failures are errors.
absl::StatusOr<std::string> HttpGet(const std::string& address, uint16_t port, const std::string& path,
                                    const HttpGetOptions& options = {});

}  // namespace mesh::dashboard
