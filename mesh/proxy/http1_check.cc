#include "mesh/proxy/http1_check.h"

#include <algorithm>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstring>

#include "mesh/common/strings.h"

namespace mesh::proxy {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;

// A SyncReadStream over bytes in memory: at most `chunk` bytes per read, then EOF.
class MemoryReadStream {
 public:
  MemoryReadStream(std::string_view bytes, size_t chunk) : left_(bytes), chunk_(std::max<size_t>(chunk, 1)) {}

  template <class MutableBufferSequence>
  size_t read_some(const MutableBufferSequence& buffers, beast::error_code& ec) {
    ec = {};
    if (left_.empty()) {
      ec = boost::asio::error::eof;
      return 0;
    }
    size_t n = boost::asio::buffer_copy(buffers, boost::asio::buffer(left_.data(), std::min(left_.size(), chunk_)));
    left_.remove_prefix(n);
    return n;
  }

  template <class MutableBufferSequence>
  size_t read_some(const MutableBufferSequence& buffers) {
    beast::error_code ec;
    size_t n = read_some(buffers, ec);
    if (ec) {
      throw beast::system_error(ec);
    }
    return n;
  }

 private:
  std::string_view left_;
  size_t chunk_;
};

// Reads a buffer_body message's body in fixed chunks, as the proxy's relay does.
template <class Parser>
beast::error_code ReadBody(MemoryReadStream& stream, beast::flat_buffer& buffer, Parser& parser, uint64_t& bytes) {
  constexpr size_t kChunkSize = 16 * 1024;
  char chunk[kChunkSize];
  while (!parser.is_done()) {
    parser.get().body().data = chunk;
    parser.get().body().size = kChunkSize;
    beast::error_code ec;
    http::read(stream, buffer, parser, ec);
    if (ec == http::error::need_buffer) {
      ec = {};
    }
    bytes += kChunkSize - parser.get().body().size;
    if (ec) {
      return ec;
    }
  }
  return {};
}

}  // namespace

std::optional<AbsoluteFormTarget> RewriteAbsoluteForm(std::string_view target, bool is_connect) {
  if (is_connect || target.size() <= 7 || common::ToLower(target.substr(0, 7)) != "http://") {
    return std::nullopt;
  }
  std::string_view rest = target.substr(7);
  size_t end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  if (authority.empty() || authority.find('@') != std::string_view::npos) {
    return std::nullopt;
  }
  AbsoluteFormTarget out;
  out.authority = std::string(authority);
  out.target = end == std::string_view::npos ? "/" : std::string(rest.substr(end));
  if (out.target[0] != '/') {
    out.target.insert(0, "/");  // "http://h?q" -> "/?q"
  }
  return out;
}

int RequestShapeStatus(const RequestShape& shape, size_t max_headers_count) {
  if (shape.field_count > max_headers_count) {
    return 431;
  }
  if (shape.content_lengths > 1 || (shape.has_transfer_encoding && !shape.chunked) ||
      (shape.version == 11 && shape.authority.empty()) || shape.target.empty() ||
      (shape.target[0] != '/' && shape.target != "*" && !shape.is_connect)) {
    return 400;
  }
  return 0;
}

std::vector<Http1RequestResult> ParseHttp1Requests(std::string_view bytes, const Http1Limits& limits) {
  std::vector<Http1RequestResult> out;
  MemoryReadStream stream(bytes, limits.read_chunk);
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::buffer_body> parser;
    parser.header_limit(static_cast<uint32_t>(limits.max_request_headers_kb * 1024));
    parser.body_limit(boost::none);
    beast::error_code ec;
    http::read_header(stream, buffer, parser, ec);
    if (ec) {
      if (ec == http::error::end_of_stream || ec == boost::asio::error::eof) {
        if (buffer.size() == 0 && !parser.got_some()) {
          return out;  // clean close between requests
        }
      }
      Http1RequestResult r;
      if (ec == http::error::header_limit) {
        r.status = 431;
      } else if (ec == http::error::bad_content_length || ec == http::error::multiple_content_length ||
                 ec == http::error::bad_transfer_encoding || ec == http::error::bad_version ||
                 ec == http::error::bad_method || ec == http::error::bad_target || ec == http::error::bad_field ||
                 ec == http::error::bad_value || ec == http::error::bad_line_ending) {
        r.status = 400;
      } else {
        r.status = -1;
      }
      out.push_back(std::move(r));
      return out;
    }
    auto& req = parser.get();
    Http1RequestResult r;
    RequestShape shape;
    for (const auto& f : req) {
      ++shape.field_count;
      if (f.name() == http::field::content_length) {
        ++shape.content_lengths;
      }
    }
    shape.has_transfer_encoding = req.find(http::field::transfer_encoding) != req.end();
    shape.chunked = parser.chunked();
    shape.version = req.version();
    r.authority = std::string(req[http::field::host]);
    r.target = std::string(req.target());
    r.method = std::string(req.method_string());
    shape.is_connect = req.method() == http::verb::connect;
    if (auto rewritten = RewriteAbsoluteForm(r.target, shape.is_connect)) {
      r.authority = std::move(rewritten->authority);
      r.target = std::move(rewritten->target);
    }
    shape.authority = r.authority;
    shape.target = r.target;
    r.keep_alive = req.keep_alive();
    r.status = RequestShapeStatus(shape, limits.max_headers_count);
    if (r.status != 0) {
      out.push_back(std::move(r));
      return out;
    }
    beast::error_code body_ec = ReadBody(stream, buffer, parser, r.body_bytes);
    r.body_complete = !body_ec && parser.is_done();
    bool again = r.keep_alive && r.body_complete;
    out.push_back(std::move(r));
    if (!again) {
      return out;
    }
  }
}

Http1ResponseResult ParseHttp1Response(std::string_view bytes, bool head_request, const Http1Limits& limits) {
  Http1ResponseResult out;
  MemoryReadStream stream(bytes, limits.read_chunk);
  beast::flat_buffer buffer;
  std::optional<http::response_parser<http::buffer_body>> parser;
  parser.emplace();
  parser->body_limit(boost::none);
  parser->header_limit(static_cast<uint32_t>(limits.max_response_header_bytes));
  if (head_request) {
    parser->skip(true);
  }
  beast::error_code ec;
  for (;;) {
    http::read_header(stream, buffer, *parser, ec);
    int code = ec ? 0 : parser->get().result_int();
    if (!ec && code >= 100 && code < 200 && code != 101) {
      ++out.interim_responses;
      parser.emplace();
      parser->body_limit(boost::none);
      if (head_request) {
        parser->skip(true);
      }
      continue;
    }
    break;
  }
  if (ec) {
    out.error = ec.message();
    return out;
  }
  out.header_ok = true;
  out.status_code = static_cast<int>(parser->get().result_int());
  out.chunked = parser->chunked();
  out.keep_alive = parser->keep_alive();
  bool no_body = head_request || out.status_code == 204 || out.status_code == 304 ||
                 (out.status_code >= 100 && out.status_code < 200);
  if (!no_body) {
    ec = ReadBody(stream, buffer, *parser, out.body_bytes);
    if (ec && ec != http::error::partial_message) {
      out.error = ec.message();
    }
  }
  out.body_complete = !ec && parser->is_done();
  return out;
}

}  // namespace mesh::proxy
