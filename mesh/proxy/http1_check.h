#pragma once
// The proxy's HTTP/1.1 request and response handling as pure functions over bytes: the
// same Beast parser configuration (header limits, no body limit, HEAD skips the body,
// interim 1xx responses dropped) and the same request-shape rules the proxy applies
// before routing (smuggling shapes, header count, missing Host, bad targets). Used by
// the fuzz targets and their regression tests; the proxy calls RequestShapeStatus itself.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mesh::proxy {

// Facts about one parsed request head that the shape rules look at.
struct RequestShape {
  size_t field_count = 0;
  size_t content_lengths = 0;  // Content-Length fields (Beast rejects differing values)
  bool has_transfer_encoding = false;
  bool chunked = false;  // Transfer-Encoding ends in chunked
  unsigned version = 11;  // 10 or 11
  std::string_view authority;
  std::string_view target;
  bool is_connect = false;
};

// Absolute-form targets ("GET http://host:port/path HTTP/1.1": a client using the listener
// as its http_proxy) are routed by the URI's authority, which wins over Host (RFC 9112
// 3.2.2), and forwarded in origin form. The proxy rewrites the request with this before
// RequestShapeStatus. nullopt (nothing to rewrite) for other targets, CONNECT, an empty
// authority or one with userinfo ("user@host").
struct AbsoluteFormTarget {
  std::string authority;  // the new Host
  std::string target;     // origin form: "/path?query", "/" when the URI has no path
};
std::optional<AbsoluteFormTarget> RewriteAbsoluteForm(std::string_view target, bool is_connect);

// 0 when the request may be routed; 431 for too many headers; 400 for shapes that allow
// request smuggling or are malformed (two Content-Lengths, Transfer-Encoding without a
// final chunked, HTTP/1.1 without Host, a target that is neither origin-form nor "*").
int RequestShapeStatus(const RequestShape& shape, size_t max_headers_count);

struct Http1Limits {
  size_t max_request_headers_kb = 60;  // HttpConnectionManager defaults
  size_t max_headers_count = 100;
  size_t max_response_header_bytes = 96 * 1024;
  // Largest read the in-memory stream returns at once (small values exercise the
  // parser's incremental paths, as a slow client does).
  size_t read_chunk = 4096;
};

struct Http1RequestResult {
  int status = 0;  // 0 accepted; 400/431 what the proxy answers; -1 closed without answer
  std::string method;
  std::string target;
  std::string authority;
  bool keep_alive = false;
  bool body_complete = false;
  uint64_t body_bytes = 0;
};

// Parses a client's byte stream as the proxy's downstream side does: one request after
// the other while the connection stays usable (accepted, keep-alive, body read whole).
// Absolute-form targets are rewritten first, as the proxy does (`target` and `authority`
// are then the rewritten ones).
std::vector<Http1RequestResult> ParseHttp1Requests(std::string_view bytes, const Http1Limits& limits);

struct Http1ResponseResult {
  bool header_ok = false;
  int status_code = 0;
  size_t interim_responses = 0;  // 1xx (not 101) dropped before the final response
  bool chunked = false;
  bool keep_alive = false;
  bool body_complete = false;
  uint64_t body_bytes = 0;
  std::string error;  // the parser's message when it stopped on an error
};

// Parses an upstream's byte stream as the proxy's upstream side does.
Http1ResponseResult ParseHttp1Response(std::string_view bytes, bool head_request, const Http1Limits& limits);

}  // namespace mesh::proxy
