// H2Codec without sockets: a client and a server codec exchange bytes in memory
// (headers, body, trailers, flow control), and a raw nghttp2 client plays the rapid-reset
// and PING-flood attacker against the server codec with an injected clock.

#include "mesh/proxy/http2_codec.h"

#include <nghttp2/nghttp2.h>

#include "gtest/gtest.h"

namespace mesh::proxy {
namespace {

struct Recorder : H2Codec::Listener {
  struct Stream {
    H2Headers headers;
    std::string body;
    H2Headers trailers;
    bool ended = false;
    bool closed = false;
    uint32_t error = 0;
  };
  std::map<int32_t, Stream> streams;
  int goaways = 0;
  H2Codec* codec = nullptr;  // to consume received data (manual flow control)

  void OnHeaders(int32_t id, H2Headers h, bool end) override {
    streams[id].headers = std::move(h);
    streams[id].ended = end;
  }
  void OnData(int32_t id, std::string_view d) override {
    streams[id].body.append(d);
    if (codec != nullptr) {
      codec->Consume(id, d.size());
    }
  }
  void OnTrailers(int32_t id, H2Headers t) override {
    streams[id].trailers = std::move(t);
    streams[id].ended = true;
  }
  void OnEndStream(int32_t id) override { streams[id].ended = true; }
  void OnStreamClose(int32_t id, uint32_t error) override {
    streams[id].closed = true;
    streams[id].error = error;
  }
  void OnGoaway(int32_t) override { ++goaways; }
};

// Moves bytes both ways until neither side has anything to send.
void Pump(H2Codec& a, H2Codec& b) {
  for (int i = 0; i < 100; ++i) {
    std::string ab, ba;
    bool any = a.TakeOutput(ab);
    any = b.TakeOutput(ba) || any;
    if (!any) {
      return;
    }
    if (!ab.empty()) {
      ASSERT_TRUE(b.Feed(ab.data(), ab.size()).ok());
    }
    if (!ba.empty()) {
      ASSERT_TRUE(a.Feed(ba.data(), ba.size()).ok());
    }
  }
}

const std::string* Find(const H2Headers& h, const std::string& name) {
  for (const auto& [k, v] : h) {
    if (k == name) {
      return &v;
    }
  }
  return nullptr;
}

TEST(H2Codec, RequestResponseWithBodyAndTrailers) {
  Recorder client_events, server_events;
  H2Limits limits;
  H2Codec client(H2Codec::Role::kClient, limits, &client_events);
  H2Codec server(H2Codec::Role::kServer, limits, &server_events);
  client_events.codec = &client;
  server_events.codec = &server;
  ASSERT_TRUE(client.Start().ok());
  ASSERT_TRUE(server.Start().ok());
  int32_t id = client.SubmitRequest({{":method", "POST"}, {":scheme", "http"}, {":authority", "echo"},
                                     {":path", "/echo.Echo/Say"}, {"content-type", "application/grpc"}},
                                    false);
  ASSERT_GT(id, 0);
  // 200 KiB: more than the 64 KiB default window, so WINDOW_UPDATEs must flow.
  std::string big(200 * 1024, 'x');
  client.SendData(id, big);
  client.EndStream(id, {});
  Pump(client, server);
  ASSERT_EQ(server_events.streams[id].body.size(), big.size());
  EXPECT_TRUE(server_events.streams[id].ended);
  EXPECT_EQ(*Find(server_events.streams[id].headers, ":path"), "/echo.Echo/Say");

  ASSERT_TRUE(server.SubmitResponse(id, {{":status", "200"}, {"content-type", "application/grpc"}}, false).ok());
  server.SendData(id, "hello");
  server.EndStream(id, {{"grpc-status", "0"}, {"grpc-message", "ok"}});
  Pump(client, server);
  const auto& s = client_events.streams[id];
  EXPECT_EQ(*Find(s.headers, ":status"), "200");
  EXPECT_EQ(s.body, "hello");
  ASSERT_NE(Find(s.trailers, "grpc-status"), nullptr);
  EXPECT_EQ(*Find(s.trailers, "grpc-status"), "0");
  EXPECT_TRUE(s.ended);
  EXPECT_TRUE(s.closed);
  EXPECT_EQ(s.error, 0u);
}

TEST(H2Codec, BodyIsNotFramedBeyondThePeerWindowUntilConsumed) {
  Recorder client_events, server_events;  // the server does not consume (no codec set)
  H2Limits limits;
  limits.initial_stream_window_size = 65535;
  limits.initial_connection_window_size = 65535;
  H2Codec client(H2Codec::Role::kClient, limits, &client_events);
  H2Codec server(H2Codec::Role::kServer, limits, &server_events);
  ASSERT_TRUE(client.Start().ok());
  ASSERT_TRUE(server.Start().ok());
  int32_t id = client.SubmitRequest({{":method", "POST"}, {":scheme", "http"}, {":authority", "a"}, {":path", "/"}},
                                    false);
  client.SendData(id, std::string(100000, 'y'));
  Pump(client, server);
  EXPECT_EQ(server_events.streams[id].body.size(), 65535u);
  EXPECT_EQ(client.Pending(id), 100000u - 65535u);
  server.Consume(id, 65535);
  Pump(client, server);
  EXPECT_EQ(server_events.streams[id].body.size(), 100000u);
}

TEST(H2Codec, HeaderListSizeLimitResetsTheStream) {
  Recorder client_events, server_events;
  H2Limits limits;
  limits.max_header_list_size = 1024;
  H2Codec client(H2Codec::Role::kClient, H2Limits(), &client_events);
  H2Codec server(H2Codec::Role::kServer, limits, &server_events);
  ASSERT_TRUE(client.Start().ok());
  ASSERT_TRUE(server.Start().ok());
  int32_t id = client.SubmitRequest(
      {{":method", "GET"}, {":scheme", "http"}, {":authority", "a"}, {":path", "/"}, {"x-big", std::string(2000, 'z')}},
      true);
  Pump(client, server);
  EXPECT_TRUE(server_events.streams[id].headers.empty());  // never delivered
  EXPECT_TRUE(client_events.streams[id].closed);
  EXPECT_NE(client_events.streams[id].error, 0u);
}

// A raw nghttp2 client: it can send any frame sequence, including abusive ones.
struct RawClient {
  nghttp2_session* session = nullptr;
  uint32_t goaway_error = 0xffffffff;
  RawClient() {
    nghttp2_session_callbacks* cbs;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_on_frame_recv_callback(
        cbs, [](nghttp2_session*, const nghttp2_frame* f, void* user) -> int {
          if (f->hd.type == NGHTTP2_GOAWAY) {
            static_cast<RawClient*>(user)->goaway_error = f->goaway.error_code;
          }
          return 0;
        });
    nghttp2_session_client_new(&session, cbs, this);
    nghttp2_session_callbacks_del(cbs);
    nghttp2_submit_settings(session, NGHTTP2_FLAG_NONE, nullptr, 0);
  }
  ~RawClient() { nghttp2_session_del(session); }
  std::string Take() {
    std::string out;
    const uint8_t* data;
    ssize_t n;
    while ((n = nghttp2_session_mem_send(session, &data)) > 0) {
      out.append(reinterpret_cast<const char*>(data), n);
    }
    return out;
  }
  void Give(const std::string& in) {
    nghttp2_session_mem_recv(session, reinterpret_cast<const uint8_t*>(in.data()), in.size());
  }
};

TEST(H2Codec, RapidResetGetsGoawayEnhanceYourCalm) {
  Recorder events;
  H2Limits limits;
  limits.max_resets_per_window = 50;
  limits.flood_window = std::chrono::milliseconds(10000);
  auto now = std::chrono::steady_clock::time_point() + std::chrono::hours(1);
  H2Codec server(H2Codec::Role::kServer, limits, &events, [&] { return now; });
  ASSERT_TRUE(server.Start().ok());
  RawClient client;
  nghttp2_nv nv[] = {
      {(uint8_t*)":method", (uint8_t*)"GET", 7, 3, 0},
      {(uint8_t*)":scheme", (uint8_t*)"http", 7, 4, 0},
      {(uint8_t*)":authority", (uint8_t*)"a", 10, 1, 0},
      {(uint8_t*)":path", (uint8_t*)"/", 5, 1, 0},
  };
  absl::Status st;
  int sent = 0;
  for (; sent < 200 && st.ok(); ++sent) {
    // HEADERS must be serialised before the reset: nghttp2 drops an unsent HEADERS.
    int32_t id = nghttp2_submit_request(client.session, nullptr, nv, 4, nullptr, nullptr);
    std::string bytes = client.Take();
    nghttp2_submit_rst_stream(client.session, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
    bytes += client.Take();
    st = server.Feed(bytes.data(), bytes.size());
    std::string reply;
    server.TakeOutput(reply);
    client.Give(reply);
  }
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(sent, 51);  // the 51st reset within the window trips the limit
  EXPECT_EQ(client.goaway_error, static_cast<uint32_t>(NGHTTP2_ENHANCE_YOUR_CALM));
  EXPECT_TRUE(server.GoawaySent());
}

TEST(H2Codec, ResetsSpreadOverTimeAreAllowed) {
  Recorder events;
  H2Limits limits;
  limits.max_resets_per_window = 50;
  auto now = std::chrono::steady_clock::time_point() + std::chrono::hours(1);
  H2Codec server(H2Codec::Role::kServer, limits, &events, [&] { return now; });
  ASSERT_TRUE(server.Start().ok());
  RawClient client;
  nghttp2_nv nv[] = {
      {(uint8_t*)":method", (uint8_t*)"GET", 7, 3, 0},
      {(uint8_t*)":scheme", (uint8_t*)"http", 7, 4, 0},
      {(uint8_t*)":authority", (uint8_t*)"a", 10, 1, 0},
      {(uint8_t*)":path", (uint8_t*)"/", 5, 1, 0},
  };
  for (int i = 0; i < 200; ++i) {
    now += std::chrono::milliseconds(500);  // 20 per 10 s window
    // HEADERS must be serialised before the reset: nghttp2 drops an unsent HEADERS.
    int32_t id = nghttp2_submit_request(client.session, nullptr, nv, 4, nullptr, nullptr);
    std::string bytes = client.Take();
    nghttp2_submit_rst_stream(client.session, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
    bytes += client.Take();
    ASSERT_TRUE(server.Feed(bytes.data(), bytes.size()).ok()) << i;
    std::string reply;
    server.TakeOutput(reply);
    client.Give(reply);
  }
  EXPECT_FALSE(server.GoawaySent());
  EXPECT_EQ(server.resets_received(), 200u);
}

TEST(H2Codec, PingFloodGetsGoaway) {
  Recorder events;
  H2Limits limits;
  limits.max_pings_per_window = 10;
  auto now = std::chrono::steady_clock::time_point() + std::chrono::hours(1);
  H2Codec server(H2Codec::Role::kServer, limits, &events, [&] { return now; });
  ASSERT_TRUE(server.Start().ok());
  RawClient client;
  for (int i = 0; i < 20; ++i) {
    nghttp2_submit_ping(client.session, NGHTTP2_FLAG_NONE, nullptr);
  }
  std::string bytes = client.Take();
  EXPECT_FALSE(server.Feed(bytes.data(), bytes.size()).ok());
  std::string reply;
  server.TakeOutput(reply);
  client.Give(reply);
  EXPECT_EQ(client.goaway_error, static_cast<uint32_t>(NGHTTP2_ENHANCE_YOUR_CALM));
}

TEST(H2Codec, Base64UrlDecoding) {
  std::string out;
  EXPECT_TRUE(DecodeBase64Url("aGk", out));
  EXPECT_EQ(out, "hi");
  EXPECT_TRUE(DecodeBase64Url("aGk=", out));
  EXPECT_EQ(out, "hi");
  EXPECT_TRUE(DecodeBase64Url("-_8", out));
  EXPECT_EQ(out, "\xfb\xff");
  EXPECT_TRUE(DecodeBase64Url("", out));
  EXPECT_EQ(out, "");
  EXPECT_FALSE(DecodeBase64Url("a+b/", out));  // standard base64 alphabet
  EXPECT_FALSE(DecodeBase64Url("a", out));     // no whole byte
}

// RFC 7540 3.2: a raw nghttp2 client upgraded from HTTP/1.1 gets the response to its
// upgraded request on stream 1 from a server codec that was upgraded with its settings.
TEST(H2Codec, UpgradeFromHttp1ServesStreamOne) {
  Recorder server_events;
  H2Codec server(H2Codec::Role::kServer, H2Limits{}, &server_events);
  ASSERT_TRUE(server.Start().ok());
  EXPECT_FALSE(server.UpgradeFromHttp1("not base64!", false).ok());

  nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 100}};
  uint8_t payload[64];
  ssize_t n = nghttp2_pack_settings_payload(payload, sizeof(payload), iv, 1);
  ASSERT_GT(n, 0);
  // base64url by hand (the header a client would send).
  static const char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string header;
  for (ssize_t i = 0; i < n; i += 3) {
    uint32_t v = static_cast<uint32_t>(payload[i]) << 16;
    if (i + 1 < n) v |= static_cast<uint32_t>(payload[i + 1]) << 8;
    if (i + 2 < n) v |= payload[i + 2];
    header.push_back(kAlphabet[(v >> 18) & 63]);
    header.push_back(kAlphabet[(v >> 12) & 63]);
    if (i + 1 < n) header.push_back(kAlphabet[(v >> 6) & 63]);
    if (i + 2 < n) header.push_back(kAlphabet[v & 63]);
  }
  ASSERT_TRUE(server.UpgradeFromHttp1(header, false).ok());
  ASSERT_TRUE(server.SubmitResponse(1, {{":status", "200"}, {"x-upgraded", "yes"}}, false).ok());
  server.SendData(1, "hello over h2c");
  server.EndStream(1, {});

  struct Client {
    int status = 0;
    std::string body;
    bool closed = false;
  } state;
  nghttp2_session_callbacks* cbs;
  nghttp2_session_callbacks_new(&cbs);
  nghttp2_session_callbacks_set_on_header_callback(
      cbs, [](nghttp2_session*, const nghttp2_frame* f, const uint8_t* name, size_t namelen, const uint8_t* value,
              size_t valuelen, uint8_t, void* u) {
        if (f->hd.stream_id == 1 && std::string_view(reinterpret_cast<const char*>(name), namelen) == ":status") {
          static_cast<Client*>(u)->status = std::stoi(std::string(reinterpret_cast<const char*>(value), valuelen));
        }
        return 0;
      });
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
      cbs, [](nghttp2_session*, uint8_t, int32_t id, const uint8_t* data, size_t len, void* u) {
        if (id == 1) {
          static_cast<Client*>(u)->body.append(reinterpret_cast<const char*>(data), len);
        }
        return 0;
      });
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, [](nghttp2_session*, int32_t id, uint32_t, void* u) {
    if (id == 1) {
      static_cast<Client*>(u)->closed = true;
    }
    return 0;
  });
  nghttp2_session* client;
  ASSERT_EQ(nghttp2_session_client_new(&client, cbs, &state), 0);
  nghttp2_session_callbacks_del(cbs);
  ASSERT_EQ(nghttp2_session_upgrade2(client, payload, static_cast<size_t>(n), 0, nullptr), 0);
  ASSERT_EQ(nghttp2_submit_settings(client, NGHTTP2_FLAG_NONE, iv, 1), 0);
  for (int round = 0; round < 10; ++round) {
    const uint8_t* data;
    ssize_t got;
    std::string to_server;
    while ((got = nghttp2_session_mem_send(client, &data)) > 0) {
      to_server.append(reinterpret_cast<const char*>(data), static_cast<size_t>(got));
    }
    if (!to_server.empty()) {
      ASSERT_TRUE(server.Feed(to_server.data(), to_server.size()).ok());
    }
    std::string to_client;
    server.TakeOutput(to_client);
    if (!to_client.empty()) {
      ASSERT_GE(nghttp2_session_mem_recv(client, reinterpret_cast<const uint8_t*>(to_client.data()),
                                         to_client.size()),
                0);
    }
  }
  nghttp2_session_del(client);
  EXPECT_EQ(state.status, 200);
  EXPECT_EQ(state.body, "hello over h2c");
  EXPECT_TRUE(state.closed);
  EXPECT_TRUE(server_events.streams[1].closed);
}

TEST(H2Codec, GrpcTimeoutParsing) {
  bool ok = false;
  EXPECT_EQ(ParseGrpcTimeout("100m", &ok), std::chrono::milliseconds(100));
  EXPECT_TRUE(ok);
  EXPECT_EQ(ParseGrpcTimeout("2S", &ok), std::chrono::milliseconds(2000));
  EXPECT_EQ(ParseGrpcTimeout("1M", &ok), std::chrono::milliseconds(60000));
  EXPECT_EQ(ParseGrpcTimeout("1H", &ok), std::chrono::milliseconds(3600000));
  EXPECT_EQ(ParseGrpcTimeout("1500u", &ok), std::chrono::milliseconds(2));  // rounded up
  EXPECT_EQ(ParseGrpcTimeout("1n", &ok), std::chrono::milliseconds(1));
  for (const char* bad : {"", "5", "m", "12x", "-1S", "123456789S"}) {
    ParseGrpcTimeout(bad, &ok);
    EXPECT_FALSE(ok) << bad;
  }
  EXPECT_EQ(GrpcStatusForHttp(503), 14);
  EXPECT_EQ(GrpcStatusForHttp(404), 12);
  EXPECT_EQ(GrpcStatusForHttp(403), 7);
  EXPECT_EQ(GrpcStatusForHttp(500), 2);
}

}  // namespace
}  // namespace mesh::proxy
