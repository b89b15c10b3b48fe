#pragma once

// Fixed metric texts in the proxies' format (Istio's label set) for the dashboard tests.

#include <string>
#include <vector>

#include "mesh/common/strings.h"

namespace mesh::dashboard::testdata {

// What a gateway (source reporter) publishes for its calls to `service`. Istio's source
// reporter says connection_security_policy="unknown"; other proxies may know it.
inline std::string SourceSeries(const std::string& workload, const std::string& ns, const std::string& service,
                                int code, double count, const std::vector<std::pair<std::string, double>>& buckets,
                                const std::string& policy = "unknown") {
  std::string labels = common::StrCat(
      "reporter=\"source\",source_workload=\"", workload, "\",source_workload_namespace=\"", ns,
      "\",destination_workload=\"unknown\",destination_service=\"", service,
      "\",connection_security_policy=\"", policy, "\",response_code=\"", code, "\",response_flags=\"-\"");
  std::string out = common::StrCat("istio_requests_total{", labels, "} ", count, "\n");
  for (const auto& [le, n] : buckets) {
    out += common::StrCat("istio_request_duration_milliseconds_bucket{", labels, ",le=\"", le, "\"} ", n, "\n");
  }
  return out;
}

// What a sidecar (destination reporter) publishes for requests it served. meshctl's
// proxies leave destination_service empty on this side and name the source when the
// caller's proxy said who it is (x-meshctl-peer-workload), else "unknown".
inline std::string DestinationSeries(const std::string& workload, const std::string& ns, const std::string& policy,
                                     int code, double count, const std::string& source_workload = "unknown",
                                     const std::string& source_ns = "unknown") {
  return common::StrCat("istio_requests_total{reporter=\"destination\",source_workload=\"", source_workload,
                        "\",source_workload_namespace=\"", source_ns, "\",destination_workload=\"", workload,
                        "\",destination_workload_namespace=\"", ns,
                        "\",destination_service=\"\",connection_security_policy=\"", policy, "\",response_code=\"",
                        code, "\",response_flags=\"-\"} ", count, "\n");
}

}  // namespace mesh::dashboard::testdata
