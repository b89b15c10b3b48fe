#include "mesh/proxy/http2_codec.h"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <cstring>

#include "mesh/common/strings.h"

namespace mesh::proxy {

using common::StrCat;

namespace {

std::vector<nghttp2_nv> ToNv(const H2Headers& headers) {
  std::vector<nghttp2_nv> nv;
  nv.reserve(headers.size());
  for (const auto& [name, value] : headers) {
    nv.push_back(nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                            reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
                            NGHTTP2_NV_FLAG_NONE});
  }
  return nv;
}

}  // namespace

struct H2Callbacks {
  static H2Codec* Self(void* user) { return static_cast<H2Codec*>(user); }

  static int OnBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    if (frame->hd.type == NGHTTP2_HEADERS) {
      Self(user)->incoming_[frame->hd.stream_id].clear();
    }
    return 0;
  }

  static int OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
                      const uint8_t* value, size_t valuelen, uint8_t, void* user) {
    H2Codec* self = Self(user);
    H2Headers& h = self->incoming_[frame->hd.stream_id];
    h.emplace_back(std::string(reinterpret_cast<const char*>(name), namelen),
                   std::string(reinterpret_cast<const char*>(value), valuelen));
    // RFC 9113 6.5.2 size: name + value + 32 per field.
    size_t total = 0;
    for (const auto& [n, v] : h) {
      total += n.size() + v.size() + 32;
    }
    if (total > self->limits_.max_header_list_size) {
      self->incoming_.erase(frame->hd.stream_id);
      return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;  // resets this stream only
    }
    return 0;
  }

  static int OnFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    H2Codec* self = Self(user);
    if (self->fatal_) {
      return 0;
    }
    bool ack = (frame->hd.flags & NGHTTP2_FLAG_ACK) != 0 &&
               (frame->hd.type == NGHTTP2_SETTINGS || frame->hd.type == NGHTTP2_PING);
    if (!ack && !self->CheckFlood(frame->hd.type)) {
      return 0;  // GOAWAY queued; the connection ends
    }
    int32_t id = frame->hd.stream_id;
    bool end = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    switch (frame->hd.type) {
      case NGHTTP2_HEADERS: {
        auto it = self->incoming_.find(id);
        if (it == self->incoming_.end()) {
          return 0;
        }
        H2Headers headers = std::move(it->second);
        self->incoming_.erase(it);
        if (!self->headers_seen_[id]) {
          if (self->role_ == H2Codec::Role::kClient && !headers.empty() && headers[0].first == ":status" &&
              headers[0].second.size() == 3 && headers[0].second[0] == '1') {
            return 0;  // interim response
          }
          self->headers_seen_[id] = true;
          self->listener_->OnHeaders(id, std::move(headers), end);
        } else if (end) {
          self->listener_->OnTrailers(id, std::move(headers));
        }
        break;
      }
      case NGHTTP2_DATA:
        if (end) {
          self->listener_->OnEndStream(id);
        }
        break;
      case NGHTTP2_GOAWAY:
        self->goaway_received_ = true;
        self->listener_->OnGoaway(frame->goaway.last_stream_id);
        break;
      default:
        break;
    }
    return 0;
  }

  static int OnDataChunk(nghttp2_session*, uint8_t, int32_t id, const uint8_t* data, size_t len, void* user) {
    H2Codec* self = Self(user);
    if (self->fatal_) {
      return 0;
    }
    self->listener_->OnData(id, std::string_view(reinterpret_cast<const char*>(data), len));
    return 0;
  }

  static int OnFrameSend(nghttp2_session* session, const nghttp2_frame* frame, void* user) {
    H2Codec* self = Self(user);
    if ((frame->hd.flags & NGHTTP2_FLAG_END_STREAM) == 0 ||
        (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA)) {
      return 0;
    }
    auto it = self->reset_after_response_.find(frame->hd.stream_id);
    if (it != self->reset_after_response_.end()) {
      nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, it->first, it->second);
      self->reset_after_response_.erase(it);
    }
    return 0;
  }

  static int OnStreamClose(nghttp2_session*, int32_t id, uint32_t error_code, void* user) {
    H2Codec* self = Self(user);
    self->reset_after_response_.erase(id);
    self->streams_.erase(id);
    self->incoming_.erase(id);
    self->headers_seen_.erase(id);
    self->listener_->OnStreamClose(id, error_code);
    return 0;
  }

  static ssize_t ReadData(nghttp2_session* session, int32_t id, uint8_t* buf, size_t length, uint32_t* flags,
                          nghttp2_data_source*, void* user) {
    H2Codec* self = Self(user);
    auto it = self->streams_.find(id);
    if (it == self->streams_.end()) {
      *flags |= NGHTTP2_DATA_FLAG_EOF;
      return 0;
    }
    H2Codec::OutStream& s = it->second;
    size_t copied = 0;
    while (copied < length && !s.chunks.empty()) {
      std::string& front = s.chunks.front();
      size_t n = std::min(length - copied, front.size() - s.offset);
      std::memcpy(buf + copied, front.data() + s.offset, n);
      copied += n;
      s.offset += n;
      if (s.offset == front.size()) {
        s.chunks.pop_front();
        s.offset = 0;
      }
    }
    s.pending -= copied;
    if (s.chunks.empty() && s.end) {
      *flags |= NGHTTP2_DATA_FLAG_EOF;
      if (!s.trailers.empty()) {
        *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
        std::vector<nghttp2_nv> nv = ToNv(s.trailers);
        nghttp2_submit_trailer(session, id, nv.data(), nv.size());
      }
      return static_cast<ssize_t>(copied);
    }
    if (copied == 0) {
      s.deferred = true;
      return NGHTTP2_ERR_DEFERRED;
    }
    return static_cast<ssize_t>(copied);
  }
};

bool H2Codec::FloodCounter::Hit(std::chrono::steady_clock::time_point now, std::chrono::milliseconds window,
                                uint32_t max) {
  times.push_back(now);
  while (!times.empty() && now - times.front() > window) {
    times.pop_front();
  }
  return times.size() > max;
}

H2Codec::H2Codec(Role role, const H2Limits& limits, Listener* listener, Clock clock)
    : role_(role), limits_(limits), listener_(listener), clock_(std::move(clock)) {
  if (!clock_) {
    clock_ = [] { return std::chrono::steady_clock::now(); };
  }
}

H2Codec::~H2Codec() {
  if (session_ != nullptr) {
    nghttp2_session_del(session_);
  }
}

absl::Status H2Codec::Start() {
  nghttp2_session_callbacks* cbs = nullptr;
  nghttp2_session_callbacks_new(&cbs);
  nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, &H2Callbacks::OnBeginHeaders);
  nghttp2_session_callbacks_set_on_header_callback(cbs, &H2Callbacks::OnHeader);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, &H2Callbacks::OnFrameRecv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, &H2Callbacks::OnDataChunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, &H2Callbacks::OnStreamClose);
  nghttp2_session_callbacks_set_on_frame_send_callback(cbs, &H2Callbacks::OnFrameSend);
  nghttp2_option* opt = nullptr;
  nghttp2_option_new(&opt);
  nghttp2_option_set_no_auto_window_update(opt, 1);
  nghttp2_option_set_max_outbound_ack(opt, 1000);  // queued SETTINGS/PING ACKs
  nghttp2_option_set_max_settings(opt, 32);        // entries per SETTINGS frame
  int rv = role_ == Role::kServer ? nghttp2_session_server_new2(&session_, cbs, this, opt)
                                  : nghttp2_session_client_new2(&session_, cbs, this, opt);
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cbs);
  if (rv != 0) {
    return absl::InternalError(StrCat("nghttp2 session: ", nghttp2_strerror(rv)));
  }
  nghttp2_settings_entry iv[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, limits_.max_concurrent_streams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, limits_.initial_stream_window_size},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, limits_.max_header_list_size},
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
  };
  size_t n = role_ == Role::kServer ? 3 : 4;  // ENABLE_PUSH is for clients to send
  rv = nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, iv, n);
  if (rv == 0) {
    rv = nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0,
                                               static_cast<int32_t>(limits_.initial_connection_window_size));
  }
  if (rv != 0) {
    return absl::InternalError(StrCat("nghttp2 settings: ", nghttp2_strerror(rv)));
  }
  return absl::OkStatus();
}

absl::Status H2Codec::UpgradeFromHttp1(std::string_view http2_settings, bool head_request) {
  std::string payload;
  if (!DecodeBase64Url(http2_settings, payload)) {
    return absl::InvalidArgumentError("HTTP2-Settings is not base64url");
  }
  int rv = nghttp2_session_upgrade2(session_, reinterpret_cast<const uint8_t*>(payload.data()), payload.size(),
                                    head_request ? 1 : 0, nullptr);
  if (rv != 0) {
    return absl::InvalidArgumentError(StrCat("h2c upgrade: ", nghttp2_strerror(rv)));
  }
  return absl::OkStatus();
}

bool H2Codec::CheckFlood(uint8_t type) {
  auto now = clock_();
  bool flood = false;
  std::string what;
  if (type == NGHTTP2_RST_STREAM) {
    ++resets_received_;
    flood = resets_.Hit(now, limits_.flood_window, limits_.max_resets_per_window);
    what = "RST_STREAM";
  } else if (type == NGHTTP2_SETTINGS) {
    flood = settings_.Hit(now, limits_.flood_window, limits_.max_settings_per_window);
    what = "SETTINGS";
  } else if (type == NGHTTP2_PING) {
    flood = pings_.Hit(now, limits_.flood_window, limits_.max_pings_per_window);
    what = "PING";
  }
  if (flood && role_ == Role::kServer) {
    fatal_ = true;
    fatal_reason_ = StrCat("too many ", what, " frames");
    Goaway(NGHTTP2_ENHANCE_YOUR_CALM);
    return false;
  }
  return true;
}

absl::Status H2Codec::Feed(const char* data, size_t size) {
  if (fatal_) {
    return absl::ResourceExhaustedError(fatal_reason_);
  }
  ssize_t rv = nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(data), size);
  if (rv < 0) {
    if (!goaway_sent_) {
      // nghttp2 has already queued a GOAWAY for protocol errors; this is a fallback.
      nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(session_),
                            NGHTTP2_PROTOCOL_ERROR, nullptr, 0);
      goaway_sent_ = true;
    }
    fatal_ = true;
    fatal_reason_ = nghttp2_strerror(static_cast<int>(rv));
    return absl::InvalidArgumentError(StrCat("HTTP/2: ", fatal_reason_));
  }
  if (fatal_) {
    return absl::ResourceExhaustedError(fatal_reason_);
  }
  return absl::OkStatus();
}

bool H2Codec::TakeOutput(std::string& out) {
  bool any = false;
  for (;;) {
    const uint8_t* data = nullptr;
    ssize_t n = nghttp2_session_mem_send(session_, &data);
    if (n <= 0) {
      break;
    }
    out.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
    any = true;
    if (out.size() > 256 * 1024) {
      break;  // write what we have; the caller comes back for the rest
    }
  }
  return any;
}

bool H2Codec::Finished() const {
  if (fatal_) {
    return nghttp2_session_want_write(session_) == 0;
  }
  return nghttp2_session_want_read(session_) == 0 && nghttp2_session_want_write(session_) == 0;
}

int32_t H2Codec::SubmitRequest(const H2Headers& headers, bool end_stream) {
  std::vector<nghttp2_nv> nv = ToNv(headers);
  nghttp2_data_provider provider{};
  provider.read_callback = &H2Callbacks::ReadData;
  int32_t id = nghttp2_submit_request(session_, nullptr, nv.data(), nv.size(), end_stream ? nullptr : &provider,
                                      nullptr);
  if (id > 0) {
    OutStream& s = streams_[id];
    s.end = end_stream;
    s.provider_attached = !end_stream;
  }
  return id;
}

absl::Status H2Codec::SubmitResponse(int32_t stream, const H2Headers& headers, bool end_stream) {
  std::vector<nghttp2_nv> nv = ToNv(headers);
  nghttp2_data_provider provider{};
  provider.read_callback = &H2Callbacks::ReadData;
  OutStream& s = streams_[stream];
  s.end = s.end || end_stream;
  s.provider_attached = !end_stream;
  int rv = nghttp2_submit_response(session_, stream, nv.data(), nv.size(), end_stream ? nullptr : &provider);
  if (rv != 0) {
    return absl::InternalError(StrCat("HTTP/2 response: ", nghttp2_strerror(rv)));
  }
  return absl::OkStatus();
}

void H2Codec::Resume(int32_t stream) {
  auto it = streams_.find(stream);
  if (it != streams_.end() && it->second.deferred) {
    it->second.deferred = false;
    nghttp2_session_resume_data(session_, stream);
  }
}

void H2Codec::SendData(int32_t stream, std::string_view data) {
  auto it = streams_.find(stream);
  if (it == streams_.end() || data.empty()) {
    return;
  }
  it->second.chunks.emplace_back(data);
  it->second.pending += data.size();
  Resume(stream);
}

void H2Codec::EndStream(int32_t stream, const H2Headers& trailers) {
  auto it = streams_.find(stream);
  if (it == streams_.end()) {
    return;
  }
  it->second.end = true;
  it->second.trailers = trailers;
  Resume(stream);
}

void H2Codec::Reset(int32_t stream, uint32_t error_code) {
  nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, stream, error_code);
}

void H2Codec::ResetAfterResponse(int32_t stream, uint32_t error_code) {
  reset_after_response_[stream] = error_code;
}

void H2Codec::Goaway(uint32_t error_code) {
  if (goaway_sent_) {
    return;
  }
  goaway_sent_ = true;
  nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(session_), error_code,
                        nullptr, 0);
}

void H2Codec::Consume(int32_t stream, size_t n) {
  if (n > 0) {
    nghttp2_session_consume(session_, stream, n);
  }
}

size_t H2Codec::Pending(int32_t stream) const {
  auto it = streams_.find(stream);
  return it == streams_.end() ? 0 : it->second.pending;
}

uint32_t H2Codec::PeerMaxConcurrentStreams() const {
  return nghttp2_session_get_remote_settings(session_, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
}

bool DecodeBase64Url(std::string_view in, std::string& out) {
  out.clear();
  while (!in.empty() && in.back() == '=') {
    in.remove_suffix(1);
  }
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v;
    if (c >= 'A' && c <= 'Z') {
      v = c - 'A';
    } else if (c >= 'a' && c <= 'z') {
      v = c - 'a' + 26;
    } else if (c >= '0' && c <= '9') {
      v = c - '0' + 52;
    } else if (c == '-') {
      v = 62;
    } else if (c == '_') {
      v = 63;
    } else {
      return false;
    }
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return bits < 6;  // a lone trailing character cannot encode a byte
}

std::chrono::milliseconds ParseGrpcTimeout(std::string_view value, bool* ok) {
  *ok = false;
  if (value.size() < 2 || value.size() > 9) {  // at most 8 digits (gRPC spec)
    return {};
  }
  int64_t n = 0;
  for (char c : value.substr(0, value.size() - 1)) {
    if (c < '0' || c > '9') {
      return {};
    }
    n = n * 10 + (c - '0');
  }
  using namespace std::chrono;
  milliseconds out;
  switch (value.back()) {
    case 'H': out = duration_cast<milliseconds>(hours(n)); break;
    case 'M': out = duration_cast<milliseconds>(minutes(n)); break;
    case 'S': out = duration_cast<milliseconds>(seconds(n)); break;
    case 'm': out = milliseconds(n); break;
    case 'u': out = duration_cast<milliseconds>(microseconds(n) + microseconds(999)); break;
    case 'n': out = duration_cast<milliseconds>(nanoseconds(n) + nanoseconds(999999)); break;
    default: return {};
  }
  *ok = true;
  return out;
}

int GrpcStatusForHttp(int http_status) {
  // The mapping gRPC documents for HTTP statuses (doc/http-grpc-status-mapping.md).
  switch (http_status) {
    case 400: return 13;  // INTERNAL
    case 401: return 16;  // UNAUTHENTICATED
    case 403: return 7;   // PERMISSION_DENIED
    case 404: return 12;  // UNIMPLEMENTED
    case 429:
    case 502:
    case 503:
    case 504: return 14;  // UNAVAILABLE
    default: return 2;    // UNKNOWN
  }
}

}  // namespace mesh::proxy
