#pragma once

// HTTP/2 framing for the proxy, on top of nghttp2, with no I/O: bytes in (Feed), bytes
// out (TakeOutput), events to a Listener. proxy.cc drives it from Asio coroutines for
// both downstream (server) and upstream (client) connections. Flow control is manual:
// the receiver calls Consume() once data has been passed on, so a slow reader
// back-pressures the sender instead of growing buffers.
//
// Flood protection (server side): RST_STREAM frames received, SETTINGS and PING frames
// are counted per connection in a sliding window; past a threshold the connection gets
// GOAWAY(ENHANCE_YOUR_CALM) and Feed() reports an error (CVE-2023-44487 "rapid reset"
// and the older settings/ping floods).

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"

typedef struct nghttp2_session nghttp2_session;

namespace mesh::proxy {

using H2Headers = std::vector<std::pair<std::string, std::string>>;

struct H2Limits {
  uint32_t max_concurrent_streams = 1024;
  uint32_t initial_stream_window_size = 1 << 20;
  uint32_t initial_connection_window_size = 1 << 22;
  uint32_t max_header_list_size = 60 * 1024;
  // Flood caps: at most this many frames of each kind per `flood_window`.
  uint32_t max_resets_per_window = 200;
  uint32_t max_settings_per_window = 100;
  uint32_t max_pings_per_window = 100;
  std::chrono::milliseconds flood_window{10000};
};

class H2Codec {
 public:
  class Listener {
   public:
    virtual ~Listener() = default;
    // Request headers (server) or response headers (client; 1xx are skipped).
    virtual void OnHeaders(int32_t stream, H2Headers headers, bool end_stream) = 0;
    virtual void OnData(int32_t stream, std::string_view data) = 0;
    virtual void OnTrailers(int32_t stream, H2Headers trailers) = 0;
    // END_STREAM received without trailers.
    virtual void OnEndStream(int32_t stream) = 0;
    // The stream is gone (closed normally or reset; error_code 0 = NO_ERROR).
    virtual void OnStreamClose(int32_t stream, uint32_t error_code) = 0;
    virtual void OnGoaway(int32_t last_stream_id) = 0;
  };
  enum class Role { kServer, kClient };
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  H2Codec(Role role, const H2Limits& limits, Listener* listener, Clock clock = nullptr);
  ~H2Codec();
  H2Codec(const H2Codec&) = delete;
  H2Codec& operator=(const H2Codec&) = delete;

  // Queues the connection preface and SETTINGS.
  absl::Status Start();
  // Server, after Start(): the connection was upgraded from HTTP/1.1 (`Upgrade: h2c`,
  // RFC 7540 3.2). `http2_settings` is the request's HTTP2-Settings header (base64url
  // SETTINGS payload); stream 1 is the upgraded request, already complete (half-closed
  // remote), and the caller serves it as if its HEADERS had arrived.
  absl::Status UpgradeFromHttp1(std::string_view http2_settings, bool head_request);
  // Processes received bytes. An error means the connection must be closed once the
  // pending output (usually a GOAWAY) has been written.
  absl::Status Feed(const char* data, size_t size);
  // Appends frames ready to be sent; false when there is nothing to send.
  bool TakeOutput(std::string& out);
  // Neither side wants to keep the connection (after GOAWAY exchange or fatal error).
  bool Finished() const;

  // Client: opens a stream; returns its id or a negative nghttp2 error.
  int32_t SubmitRequest(const H2Headers& headers, bool end_stream);
  // Server: response headers (":status" first).
  absl::Status SubmitResponse(int32_t stream, const H2Headers& headers, bool end_stream);
  // Queues body bytes; they leave as the peer's flow-control window allows.
  void SendData(int32_t stream, std::string_view data);
  // Ends the sending side, with trailers when non-empty.
  void EndStream(int32_t stream, const H2Headers& trailers);
  void Reset(int32_t stream, uint32_t error_code);
  // Server: resets the stream once the response's last frame (END_STREAM) has been
  // framed, to refuse request body the response no longer needs (RFC 9113 8.1). A plain
  // Reset() would go out first: nghttp2 sends RST_STREAM ahead of queued HEADERS/DATA,
  // and the client would never see the response.
  void ResetAfterResponse(int32_t stream, uint32_t error_code);
  // Graceful shutdown: GOAWAY with the last processed stream id.
  void Goaway(uint32_t error_code);
  // Reopens the flow-control window for `n` bytes delivered to the other side.
  void Consume(int32_t stream, size_t n);

  // Bytes queued by SendData but not yet framed, for back-pressure.
  size_t Pending(int32_t stream) const;
  uint32_t PeerMaxConcurrentStreams() const;
  size_t OpenStreams() const { return streams_.size(); }
  bool GoawayReceived() const { return goaway_received_; }
  bool GoawaySent() const { return goaway_sent_; }
  uint64_t resets_received() const { return resets_received_; }

 private:
  struct OutStream {
    std::deque<std::string> chunks;
    size_t offset = 0;  // into chunks.front()
    size_t pending = 0;
    bool end = false;
    H2Headers trailers;
    bool provider_attached = false;
    bool deferred = false;
  };
  struct FloodCounter {
    std::deque<std::chrono::steady_clock::time_point> times;
    bool Hit(std::chrono::steady_clock::time_point now, std::chrono::milliseconds window, uint32_t max);
  };

  void Resume(int32_t stream);
  bool CheckFlood(uint8_t frame_type);

  // nghttp2 callbacks (static trampolines in the .cc).
  friend struct H2Callbacks;

  Role role_;
  H2Limits limits_;
  Listener* listener_;
  Clock clock_;
  nghttp2_session* session_ = nullptr;
  std::map<int32_t, OutStream> streams_;
  std::map<int32_t, H2Headers> incoming_;  // headers being received
  std::map<int32_t, bool> headers_seen_;   // final headers delivered (next block = trailers)
  std::map<int32_t, uint32_t> reset_after_response_;  // stream -> error code
  FloodCounter resets_, settings_, pings_;
  bool goaway_received_ = false;
  bool goaway_sent_ = false;
  bool fatal_ = false;
  uint64_t resets_received_ = 0;
  std::string fatal_reason_;
};

// RFC 4648 5 base64url, padding optional; false on any other character.
bool DecodeBase64Url(std::string_view in, std::string& out);

// gRPC helpers.
// Parses a grpc-timeout header value ("100m", "5S", "1H"...); *ok false when invalid.
std::chrono::milliseconds ParseGrpcTimeout(std::string_view value, bool* ok);
// The gRPC status Envoy uses for a local HTTP reply to a gRPC request.
int GrpcStatusForHttp(int http_status);

}  // namespace mesh::proxy
