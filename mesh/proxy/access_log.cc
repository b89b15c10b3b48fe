#include "mesh/proxy/access_log.h"

#include <ctime>

#include "mesh/common/strings.h"
#include "mesh/config/emit.h"

namespace mesh::proxy {
namespace {

std::string StartTime(std::chrono::system_clock::time_point t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}

std::optional<std::string> Header(const std::function<std::optional<std::string>(std::string_view)>& fn,
                                  std::string_view spec) {
  if (!fn) {
    return std::nullopt;
  }
  // "A?B": A, falling back to B.
  auto q = spec.find('?');
  std::string first = common::ToLower(spec.substr(0, q));
  if (auto v = fn(first)) {
    return v;
  }
  if (q != std::string_view::npos) {
    return fn(common::ToLower(spec.substr(q + 1)));
  }
  return std::nullopt;
}

// Value of one %COMMAND%, nullopt when unknown.
std::optional<std::string> Command(std::string_view cmd, const AccessLogRecord& r) {
  auto dash = [](std::string s) { return s.empty() ? std::string("-") : s; };
  if (cmd == "START_TIME") {
    return StartTime(r.start_time);
  }
  if (cmd == "PROTOCOL") {
    return r.protocol;
  }
  if (cmd == "RESPONSE_CODE") {
    return std::to_string(r.response_code);
  }
  if (cmd == "RESPONSE_FLAGS") {
    return dash(r.response_flags);
  }
  if (cmd == "RESPONSE_CODE_DETAILS") {
    if (!r.response_code_details.empty()) {
      return r.response_code_details;
    }
    return r.response_code > 0 ? std::string("via_upstream") : std::string("-");
  }
  if (cmd == "BYTES_RECEIVED") {
    return std::to_string(r.bytes_received);
  }
  if (cmd == "BYTES_SENT") {
    return std::to_string(r.bytes_sent);
  }
  if (cmd == "DURATION") {
    return std::to_string(r.duration_ms);
  }
  if (cmd == "UPSTREAM_HOST") {
    return dash(r.upstream_host);
  }
  if (cmd == "UPSTREAM_CLUSTER") {
    return dash(r.upstream_cluster);
  }
  if (cmd == "DOWNSTREAM_REMOTE_ADDRESS") {
    return dash(r.downstream_remote_address);
  }
  if (cmd == "ROUTE_NAME") {
    return dash(r.route_name);
  }
  if (cmd == "GRPC_STATUS") {  // Envoy prints the status name; meshctl prints the number
    return dash(r.grpc_status);
  }
  if (cmd.size() > 5 && cmd.substr(0, 4) == "REQ(" && cmd.back() == ')') {
    return dash(Header(r.request_header, cmd.substr(4, cmd.size() - 5)).value_or(""));
  }
  if (cmd.size() > 6 && cmd.substr(0, 5) == "RESP(" && cmd.back() == ')') {
    return dash(Header(r.response_header, cmd.substr(5, cmd.size() - 6)).value_or(""));
  }
  return std::nullopt;
}

}  // namespace

std::string FormatAccessLog(std::string_view format, const AccessLogRecord& record) {
  std::string out;
  size_t i = 0;
  while (i < format.size()) {
    if (format[i] == '%') {
      auto end = format.find('%', i + 1);
      if (end != std::string_view::npos) {
        std::string_view cmd = format.substr(i + 1, end - i - 1);
        // Strip a ":N" length limit (e.g. %REQ(USER-AGENT):10%).
        std::optional<size_t> limit;
        if (auto colon = cmd.rfind(':'); colon != std::string_view::npos && cmd.back() != ')') {
          limit = std::strtoul(std::string(cmd.substr(colon + 1)).c_str(), nullptr, 10);
          cmd = cmd.substr(0, colon);
        }
        if (auto v = Command(cmd, record)) {
          out += limit ? v->substr(0, *limit) : *v;
          i = end + 1;
          continue;
        }
      }
    }
    out.push_back(format[i]);
    ++i;
  }
  return out;
}

std::string FormatJsonAccessLog(const std::vector<std::pair<std::string, std::string>>& fields,
                                const AccessLogRecord& record) {
  std::string out = "{";
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) {
      out += ",";
    }
    std::string value = FormatAccessLog(fields[i].second, record);
    out += config::JsonQuote(fields[i].first);
    out += ":";
    // Numbers stay numbers, like Envoy's typed JSON formatter.
    bool numeric = !value.empty() && value.find_first_not_of("0123456789") == std::string::npos &&
                   (value.size() == 1 || value[0] != '0');
    out += numeric ? value : (value == "-" ? "null" : config::JsonQuote(value));
  }
  out += "}\n";
  return out;
}

std::string FormatAccessLogEntry(const proxyconfig::AccessLog& log, const AccessLogRecord& record) {
  if (!log.json_format.empty()) {
    return FormatJsonAccessLog(log.json_format, record);
  }
  std::string line = FormatAccessLog(log.text_format.empty() ? kDefaultAccessLogFormat : log.text_format, record);
  if (line.empty() || line.back() != '\n') {
    line.push_back('\n');
  }
  return line;
}

}  // namespace mesh::proxy
