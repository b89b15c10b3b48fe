#pragma once

// Envoy-style access log formatting (%REQ(X)%, %RESPONSE_CODE%, %RESPONSE_FLAGS% ...),
// as text or JSON. Pure functions over a record so they are testable without sockets.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "mesh/proxyconfig/types.h"

namespace mesh::proxy {

inline constexpr char kDefaultAccessLogFormat[] =
    "[%START_TIME%] \"%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%\" "
    "%RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% "
    "\"%REQ(X-FORWARDED-FOR)%\" \"%REQ(USER-AGENT)%\" \"%REQ(X-REQUEST-ID)%\" "
    "\"%REQ(:AUTHORITY)%\" \"%UPSTREAM_HOST%\" %UPSTREAM_CLUSTER% %ROUTE_NAME%\n";

struct AccessLogRecord {
  std::chrono::system_clock::time_point start_time;
  std::string protocol = "HTTP/1.1";
  int response_code = 0;
  std::string response_flags;  // "" renders as "-"
  std::string response_code_details;  // %RESPONSE_CODE_DETAILS%: "via_upstream" when empty
  uint64_t bytes_received = 0;
  uint64_t bytes_sent = 0;
  int64_t duration_ms = 0;
  std::string upstream_host;
  std::string upstream_cluster;
  std::string downstream_remote_address;
  std::string route_name;
  std::string grpc_status;  // gRPC requests: from trailers or a trailers-only response
  // Lower-case names; ":method", ":path", ":authority" are answered too.
  std::function<std::optional<std::string>(std::string_view)> request_header;
  std::function<std::optional<std::string>(std::string_view)> response_header;
};

std::string FormatAccessLog(std::string_view format, const AccessLogRecord& record);
// One JSON object per line; values are formatted with FormatAccessLog.
std::string FormatJsonAccessLog(const std::vector<std::pair<std::string, std::string>>& fields,
                                const AccessLogRecord& record);
std::string FormatAccessLogEntry(const proxyconfig::AccessLog& log, const AccessLogRecord& record);

}  // namespace mesh::proxy
