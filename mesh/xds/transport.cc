// Beast/Asio transport for the discovery protocol. Kept in one translation unit: Beast
// headers are heavy. Everything of a server runs on its single io_context thread; state
// shared with other threads (the sync snapshot) sits behind a mutex.

#include <atomic>
#include <deque>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "mesh/common/strings.h"
#include "mesh/config/emit.h"
#include "mesh/xds/compression.h"
#include "mesh/xds/server.h"

namespace mesh::xds {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
using config::Node;

constexpr size_t kMaxMessageBytes = 64 << 20;

class ServerImpl;

// One aggregated stream (WebSocket) with one proxy.
class StreamSession : public std::enable_shared_from_this<StreamSession> {
 public:
  StreamSession(tcp::socket socket, ServerImpl* server, uint64_t id)
      : ws_(std::move(socket)), server_(server), id_(id), age_timer_(ws_.get_executor()) {}

  void Start(http::request<http::string_body> upgrade);
  std::string authorization_;
  void Push();
  void Close() {
    beast::error_code ec;
    beast::get_lowest_layer(ws_).socket().close(ec);
  }
  uint64_t id() const { return id_; }

 private:
  void Read();
  void OnRead(beast::error_code ec, std::size_t);
  void Handle(const DiscoveryRequest& req);
  void SendType(const std::string& type_url, bool force);
  void Enqueue(const std::string& type_url, std::shared_ptr<const SerializedResponse> message);
  void Write();
  void Publish();
  void Finish();
  void CloseWhenOld(std::chrono::milliseconds age);

  websocket::stream<beast::tcp_stream> ws_;
  ServerImpl* server_;
  uint64_t id_;
  net::steady_timer age_timer_;
  beast::flat_buffer buffer_;
  // Responses waiting to be written, at most one per type (a newer one replaces a
  // waiting older one), so a slow proxy costs a bounded amount of memory. The bytes of
  // the resources are shared with every other stream, not copied.
  struct Outgoing {
    std::string type_url;
    std::shared_ptr<const SerializedResponse> message;
  };
  std::deque<Outgoing> queue_;
  bool writing_ = false;
  StreamState state_;
  ResponseEncoding encoding_ = ResponseEncoding::kJson;  // negotiated on the upgrade
  bool connected_reported_ = false;
  bool finished_ = false;
};

class ServerImpl : public XdsServer {
 public:
  ServerImpl(std::shared_ptr<ResourceSource> source, const XdsServerOptions& options)
      : source_(std::move(source)),
        extra_http_(options.extra_http),
        compression_(options.compression),
        max_connection_age_(options.max_connection_age),
        http_only_(options.http_only),
        acceptor_(ioc_) {}

  absl::Status Listen(const XdsServerOptions& o) {
    beast::error_code ec;
    auto addr = net::ip::make_address(o.address, ec);
    if (ec) {
      return absl::InvalidArgumentError(common::StrCat("bad listen address ", o.address));
    }
    tcp::endpoint ep(addr, o.port);
    acceptor_.open(ep.protocol(), ec);
    if (!ec) {
      acceptor_.set_option(net::socket_base::reuse_address(true), ec);
      acceptor_.bind(ep, ec);
    }
    if (!ec) {
      acceptor_.listen(net::socket_base::max_listen_connections, ec);
    }
    if (ec) {
      return absl::UnavailableError(common::StrCat("listen on ", o.address, ":", o.port, ": ", ec.message()));
    }
    port_ = acceptor_.local_endpoint().port();
    Accept();
    thread_ = std::thread([this] { ioc_.run(); });
    return absl::OkStatus();
  }

  // mesh::xds::XdsServer
  uint16_t port() const override { return port_; }
  void PushAll() override {
    net::post(ioc_, [this] {
      for (auto& [id, weak] : sessions_) {
        if (auto s = weak.lock()) {
          s->Push();
        }
      }
    });
  }
  std::vector<ProxySyncInfo> Snapshot() const override {
    absl::MutexLock lock(&mu_);
    std::vector<ProxySyncInfo> out;
    for (const auto& [id, info] : sync_) {
      out.push_back(info);
    }
    return out;
  }
  size_t ConnectedProxies() const override {
    absl::MutexLock lock(&mu_);
    return sync_.size();
  }
  void Stop() override {
    if (stopped_.exchange(true)) {
      return;
    }
    net::post(ioc_, [this] {
      beast::error_code ec;
      acceptor_.close(ec);
      for (auto& [id, weak] : sessions_) {
        if (auto s = weak.lock()) {
          s->Close();
        }
      }
      ioc_.stop();
    });
    if (thread_.joinable()) {
      thread_.join();
    }
  }
  ~ServerImpl() override { Stop(); }

  ResourceSource& source() { return *source_; }
  bool compression() const { return compression_; }
  std::chrono::milliseconds max_connection_age() const { return max_connection_age_; }
  void Register(uint64_t id, std::weak_ptr<StreamSession> s) { sessions_[id] = std::move(s); }
  void Unregister(uint64_t id) {
    sessions_.erase(id);
    absl::MutexLock lock(&mu_);
    sync_.erase(id);
  }
  void PublishSync(uint64_t id, ProxySyncInfo info) {
    absl::MutexLock lock(&mu_);
    sync_[id] = std::move(info);
  }

 private:
  void Accept() {
    acceptor_.async_accept(net::make_strand(ioc_), [this](beast::error_code ec, tcp::socket socket) {
      if (ec) {
        return;  // closed
      }
      ServeHttp(std::move(socket));
      Accept();
    });
  }

  // Plain HTTP on the same port: the upgrade to a stream, REST discovery and debug pages.
  void ServeHttp(tcp::socket socket) {
    struct Conn {
      beast::tcp_stream stream;
      beast::flat_buffer buffer;
      http::request_parser<http::string_body> parser;
      explicit Conn(tcp::socket s) : stream(std::move(s)) { parser.body_limit(kMaxMessageBytes); }
    };
    auto conn = std::make_shared<Conn>(std::move(socket));
    conn->stream.expires_after(std::chrono::seconds(30));
    http::async_read(conn->stream, conn->buffer, conn->parser, [this, conn](beast::error_code ec, std::size_t) {
      if (ec) {
        return;
      }
      auto req = conn->parser.release();
      if (websocket::is_upgrade(req) && !http_only_) {
        conn->stream.expires_never();
        auto session = std::make_shared<StreamSession>(conn->stream.release_socket(), this, ++next_id_);
        Register(session->id(), session);
        session->Start(std::move(req));
        return;
      }
      auto res = std::make_shared<http::response<http::string_body>>(HandleHttp(req));
      http::async_write(conn->stream, *res, [conn, res](beast::error_code, std::size_t) {
        beast::error_code ignored;
        conn->stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
      });
    });
  }

  http::response<http::string_body> HandleHttp(const http::request<http::string_body>& req) {
    http::response<http::string_body> res{http::status::ok, req.version()};
    res.set(http::field::content_type, "application/json");
    res.keep_alive(false);
    std::string target(req.target());
    std::string_view path = target;
    std::string query;
    if (size_t q = target.find('?'); q != std::string::npos) {
      path = std::string_view(target).substr(0, q);
      query = target.substr(q + 1);
    }
    std::string_view rest = path;
    if (req.method() == http::verb::post && common::ConsumePrefix(rest, "/v3/discovery:")) {
      std::string type = type_url::TypeUrlForRestPath(rest);
      auto dr = ParseRequest(req.body());
      if (type.empty() || !dr.ok()) {
        res.result(http::status::bad_request);
        res.body() = config::JsonQuote(type.empty() ? "unknown discovery type" : std::string(dr.status().message()));
      } else {
        DiscoveryResponse out;
        out.type_url = type;
        // The caller's credential, as on a stream: the source decides what it may see.
        dr->node.authorization = std::string(req[http::field::authorization]);
        out.resources = source_->Generate(dr->node, type);
        out.version_info = out.resources->version();
        out.nonce = "rest";
        res.body() = SerializeResponse(out);
      }
    } else if (req.method() == http::verb::get && path == "/debug/syncz") {
      res.body() = SyncJson();
    } else if (req.method() == http::verb::get && path == "/debug/config_dump") {
      std::string id;
      for (const std::string& kv : common::Split(query, '&')) {
        std::string_view v = kv;
        if (common::ConsumePrefix(v, "proxyID=")) {
          id = std::string(v);
        }
      }
      res.body() = ConfigDumpJson(id);
      if (res.body().empty()) {
        res.result(http::status::not_found);
        res.body() = config::JsonQuote("proxy not connected: " + id);
      }
    } else if (extra_http_) {
      HttpExchange ex;
      ex.method = std::string(req.method_string());
      ex.target = target;
      ex.body = req.body();
      ex.authorization = std::string(req[http::field::authorization]);
      extra_http_(ex);
      res.result(static_cast<unsigned>(ex.status));
      res.set(http::field::content_type, ex.content_type);
      res.body() = std::move(ex.response);
    } else {
      res.result(http::status::not_found);
      res.body() = "\"not found\"";
    }
    res.prepare_payload();
    return res;
  }

  std::string SyncJson() const {
    Node list = Node::Sequence();
    for (const ProxySyncInfo& p : Snapshot()) {
      Node item = Node::Map();
      item.Set("proxy", Node::Scalar(p.node.id, true));
      item.Set("metadata", p.node.metadata.IsMap() ? p.node.metadata : Node::Map());
      item.Set("encoding", Node::Scalar(p.encoding, true));
      Node types = Node::Map();
      for (const auto& [type, t] : p.types) {
        Node ti = Node::Map();
        ti.Set("status", Node::Scalar(std::string(SyncStatusName(t.status)), true));
        ti.Set("sentVersion", Node::Scalar(t.sent_version, true));
        ti.Set("ackedVersion", Node::Scalar(t.acked_version, true));
        ti.Set("resources", Node::Scalar(std::to_string(t.resource_count)));
        if (!t.nack_message.empty()) {
          ti.Set("nack", Node::Scalar(t.nack_message, true));
        }
        types.Set(type_url::ShortName(type), ti);
      }
      item.Set("types", types);
      list.Append(item);
    }
    return config::EmitJson(list, {.indent = 2});
  }

  // Debug output never shows private keys, even those the control plane sends.
  static void RedactKeys(Node& n) {
    for (auto& [k, v] : n.mutable_entries()) {
      if (k == "private_key" && v.IsMap() && v.Find("inline_string") != nullptr) {
        v.Set("inline_string", Node::Scalar("[redacted]", true));
      } else {
        RedactKeys(v);
      }
    }
    for (Node& i : n.mutable_items()) {
      RedactKeys(i);
    }
  }

  std::string ConfigDumpJson(const std::string& id) const {
    for (const ProxySyncInfo& p : Snapshot()) {
      if (p.node.id != id) {
        continue;
      }
      Node dump = Node::Map();
      for (const auto& [type, resources] : p.sent) {
        Node list = Node::Sequence();
        for (Node& r : resources->Decode()) {
          RedactKeys(r);
          list.Append(std::move(r));
        }
        dump.Set(type_url::ShortName(type), list);
      }
      return config::EmitJson(dump, {.indent = 2});
    }
    return "";
  }

  std::shared_ptr<ResourceSource> source_;
  std::function<void(HttpExchange&)> extra_http_;
  bool compression_;
  std::chrono::milliseconds max_connection_age_;
  bool http_only_;
  net::io_context ioc_;
  tcp::acceptor acceptor_;
  std::thread thread_;
  uint16_t port_ = 0;
  std::atomic<bool> stopped_{false};
  uint64_t next_id_ = 0;
  std::map<uint64_t, std::weak_ptr<StreamSession>> sessions_;  // io thread only
  mutable absl::Mutex mu_;
  std::map<uint64_t, ProxySyncInfo> sync_ ABSL_GUARDED_BY(mu_);
};

void StreamSession::Start(http::request<http::string_body> upgrade) {
  authorization_ = std::string(upgrade[http::field::authorization]);
  ws_.read_message_max(kMaxMessageBytes);
  ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
  if (server_->compression() && AcceptsZstd(std::string(upgrade[kAcceptEncodingHeader]))) {
    encoding_ = ResponseEncoding::kZstd;
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(kEncodingHeader, kZstdEncoding); }));
  }
  auto self = shared_from_this();
  ws_.async_accept(upgrade, [self](beast::error_code ec) {
    if (ec) {
      self->Finish();
      return;
    }
    self->Read();
  });
  if (server_->max_connection_age().count() > 0) {
    CloseWhenOld(server_->max_connection_age());
  }
}

void StreamSession::CloseWhenOld(std::chrono::milliseconds age) {
  // Jitter so that proxies connected together do not all reconnect together.
  static thread_local std::mt19937 rng{std::random_device{}()};
  std::uniform_int_distribution<int64_t> jitter(0, age.count() / 10);
  age_timer_.expires_after(age + std::chrono::milliseconds(jitter(rng)));
  auto self = shared_from_this();
  age_timer_.async_wait([self](beast::error_code ec) {
    if (ec || self->finished_) {
      return;
    }
    // A normal close: the proxy keeps its configuration and reconnects at once.
    self->ws_.async_close(websocket::close_code::going_away, [self](beast::error_code) { self->Close(); });
  });
}

void StreamSession::Read() {
  ws_.async_read(buffer_, beast::bind_front_handler(&StreamSession::OnRead, shared_from_this()));
}

void StreamSession::OnRead(beast::error_code ec, std::size_t) {
  if (ec) {
    Finish();
    return;
  }
  std::string text = beast::buffers_to_string(buffer_.data());
  buffer_.consume(buffer_.size());
  auto req = ParseRequest(text);
  if (!req.ok()) {
    // A malformed request ends the stream; the proxy reconnects.
    Finish();
    Close();
    return;
  }
  Handle(*req);
  Read();
}

void StreamSession::Handle(const DiscoveryRequest& incoming) {
  DiscoveryRequest req = incoming;
  req.node.authorization = authorization_;
  RequestKind kind = state_.OnRequest(req);
  if (!connected_reported_ && !state_.node().id.empty()) {
    connected_reported_ = true;
    server_->source().OnProxyConnected(state_.node());
  }
  switch (kind) {
    case RequestKind::kSubscribe:
      SendType(req.type_url, /*force=*/false);
      break;
    case RequestKind::kNack:
      server_->source().OnNack(state_.node(), req.type_url, req.error_detail.message);
      break;
    case RequestKind::kAck:
    case RequestKind::kStaleNonce:
      break;
  }
  Publish();
}

void StreamSession::Push() {
  for (const std::string& type : state_.SubscribedTypes()) {
    SendType(type, false);
  }
  Publish();
}

void StreamSession::SendType(const std::string& type_url, bool force) {
  auto resp = state_.PrepareResponse(type_url, server_->source().Generate(state_.node(), type_url), force);
  if (resp) {
    Enqueue(type_url, std::make_shared<const SerializedResponse>(*resp, encoding_));
  }
}

void StreamSession::Enqueue(const std::string& type_url, std::shared_ptr<const SerializedResponse> message) {
  // The head of the queue may be on the wire already; later entries are not.
  for (size_t i = writing_ ? 1 : 0; i < queue_.size(); ++i) {
    if (queue_[i].type_url == type_url) {
      queue_[i].message = std::move(message);
      return;
    }
  }
  queue_.push_back(Outgoing{type_url, std::move(message)});
  if (!writing_) {
    Write();
  }
}

void StreamSession::Write() {
  writing_ = true;
  std::vector<net::const_buffer> buffers;
  for (std::string_view piece : queue_.front().message->pieces()) {
    buffers.emplace_back(piece.data(), piece.size());
  }
  ws_.binary(queue_.front().message->binary());
  ws_.async_write(buffers, [self = shared_from_this()](beast::error_code ec, std::size_t) {
    self->writing_ = false;
    if (ec) {
      self->queue_.clear();
      self->Finish();
      return;
    }
    self->queue_.pop_front();
    if (!self->queue_.empty()) {
      self->Write();
    }
  });
}

void StreamSession::Publish() {
  if (state_.node().id.empty()) {
    return;
  }
  ProxySyncInfo info;
  info.node = state_.node();
  info.encoding = encoding_ == ResponseEncoding::kZstd ? kZstdEncoding : "json";
  for (const auto& [type, t] : state_.types()) {
    TypeSyncInfo ti;
    ti.status = state_.Status(type);
    ti.sent_version = t.sent_version;
    ti.acked_version = t.acked_version;
    ti.nack_message = t.nack_message;
    ti.resource_count = t.sent_resources->size();
    info.types[type] = ti;
    info.sent[type] = t.sent_resources;
  }
  server_->PublishSync(id_, std::move(info));
}

void StreamSession::Finish() {
  if (finished_) {
    return;
  }
  finished_ = true;
  age_timer_.cancel();  // its handler holds the session
  if (connected_reported_) {
    server_->source().OnProxyDisconnected(state_.node());
  }
  server_->Unregister(id_);
}

// ---------------------------------------------------------------------------------------

class ClientImpl : public XdsClient {
 public:
  ClientImpl(XdsClientOptions options, std::shared_ptr<XdsClientCallbacks> callbacks)
      : options_(std::move(options)), callbacks_(std::move(callbacks)), timer_(ioc_) {}

  void Run() {
    net::post(ioc_, [this] { Connect(); });
    thread_ = std::thread([this] { ioc_.run(); });
  }

  // mesh::xds::XdsClient
  bool connected() const override { return connected_.load(); }
  void Stop() override {
    if (stopped_.exchange(true)) {
      return;
    }
    net::post(ioc_, [this] {
      timer_.cancel();
      if (ws_) {
        beast::error_code ec;
        beast::get_lowest_layer(*ws_).socket().close(ec);
      }
      ioc_.stop();
    });
    if (thread_.joinable()) {
      thread_.join();
    }
  }
  ~ClientImpl() override { Stop(); }

 private:
  void Connect() {
    if (stopped_) {
      return;
    }
    ws_ = std::make_unique<websocket::stream<beast::tcp_stream>>(net::make_strand(ioc_));
    ws_->read_message_max(std::min(kMaxMessageBytes, options_.max_response_bytes));
    compressed_ = false;
    handshake_response_ = {};
    auto& tcp_stream = beast::get_lowest_layer(*ws_);
    tcp_stream.expires_after(std::chrono::seconds(5));
    beast::error_code ec;
    auto addr = net::ip::make_address(options_.host, ec);
    tcp::endpoint ep;
    if (!ec) {
      ep = tcp::endpoint(addr, options_.port);
    } else {
      tcp::resolver resolver(ioc_);
      auto results = resolver.resolve(options_.host, std::to_string(options_.port), ec);
      if (ec || results.empty()) {
        Retry();
        return;
      }
      ep = *results.begin();
    }
    tcp_stream.async_connect(ep, [this](beast::error_code ec) {
      if (ec) {
        Retry();
        return;
      }
      beast::get_lowest_layer(*ws_).expires_never();
      ws_->set_option(websocket::stream_base::timeout::suggested(beast::role_type::client));
      std::string authorization =
          options_.authorization_provider ? options_.authorization_provider() : options_.node.authorization;
      ws_->set_option(websocket::stream_base::decorator(
          [auth = std::move(authorization), compress = options_.accept_compression](websocket::request_type& req) {
            if (!auth.empty()) {
              req.set(http::field::authorization, auth);
            }
            if (compress) {
              req.set(kAcceptEncodingHeader, kZstdEncoding);
            }
          }));
      std::string host = options_.host + ":" + std::to_string(options_.port);
      ws_->async_handshake(handshake_response_, host, "/v3/discovery", [this](beast::error_code ec) {
        if (ec) {
          Retry();
          return;
        }
        // Compressed responses only when we asked and the control plane agreed.
        compressed_ =
            options_.accept_compression && AcceptsZstd(std::string(handshake_response_[kEncodingHeader]));
        attempt_ = 0;
        connected_ = true;
        callbacks_->OnConnectionChange(true);
        for (const std::string& type : options_.type_urls) {
          DiscoveryRequest r;
          r.node = options_.node;
          r.type_url = type;
          r.version_info = accepted_[type];  // what we run already (after a reconnect)
          Send(SerializeRequest(r));
        }
        Read();
      });
    });
  }

  // A response we cannot read: say why, drop the stream (the read side then sees the
  // close), and start over.
  void Fail(const absl::Status& st) {
    callbacks_->OnStreamError(st);
    beast::error_code ignored;
    beast::get_lowest_layer(*ws_).socket().close(ignored);
    Retry();
  }

  void Retry() {
    if (connected_.exchange(false)) {
      callbacks_->OnConnectionChange(false);
    }
    queue_.clear();
    if (stopped_) {
      return;
    }
    std::uniform_real_distribution<double> dist(0.0, 1.0);
    auto delay = ReconnectDelay(attempt_++, dist(rng_), options_.reconnect_base, options_.reconnect_max);
    timer_.expires_after(delay);
    timer_.async_wait([this](beast::error_code ec) {
      if (!ec) {
        Connect();
      }
    });
  }

  void Read() {
    ws_->async_read(buffer_, [this](beast::error_code ec, std::size_t) {
      if (ec) {
        Retry();
        return;
      }
      std::string text;
      if (ws_->got_binary()) {
        // Bounded: a small message that would expand past the limit is refused.
        std::string_view message(static_cast<const char*>(buffer_.data().data()), buffer_.size());
        absl::Status st =
            compressed_ ? ZstdDecompressInto(message, options_.max_response_bytes, text)
                        : absl::InvalidArgumentError("binary discovery response on a stream without compression");
        buffer_.consume(buffer_.size());
        if (!st.ok()) {
          Fail(st);
          return;
        }
      } else {
        text = beast::buffers_to_string(buffer_.data());
        buffer_.consume(buffer_.size());
      }
      auto resp = ParseResponse(text);
      if (!resp.ok()) {
        Fail(resp.status());
        return;
      }
      absl::Status st = callbacks_->OnResources(resp->type_url, resp->version_info, *resp->resources);
      DiscoveryRequest ack;
      ack.node = options_.node;
      ack.type_url = resp->type_url;
      ack.response_nonce = resp->nonce;
      if (st.ok()) {
        accepted_[resp->type_url] = resp->version_info;
        ack.version_info = resp->version_info;
      } else {
        ack.version_info = accepted_[resp->type_url];  // still running the previous one
        ack.error_detail.code = static_cast<int>(st.code());
        ack.error_detail.message = std::string(st.message());
      }
      Send(SerializeRequest(ack));
      Read();
    });
  }

  void Send(std::string text) {
    queue_.push_back(std::move(text));
    if (queue_.size() == 1) {
      Write();
    }
  }

  void Write() {
    ws_->text(true);
    ws_->async_write(net::buffer(queue_.front()), [this](beast::error_code ec, std::size_t) {
      if (ec) {
        return;  // the read side notices and reconnects
      }
      queue_.pop_front();
      if (!queue_.empty()) {
        Write();
      }
    });
  }

  XdsClientOptions options_;
  std::shared_ptr<XdsClientCallbacks> callbacks_;
  net::io_context ioc_;
  net::steady_timer timer_;
  std::thread thread_;
  std::unique_ptr<websocket::stream<beast::tcp_stream>> ws_;
  websocket::response_type handshake_response_;
  bool compressed_ = false;  // this connection's responses may be zstd (binary messages)
  beast::flat_buffer buffer_;
  std::deque<std::string> queue_;
  std::map<std::string, std::string> accepted_;
  std::atomic<bool> connected_{false};
  std::atomic<bool> stopped_{false};
  int attempt_ = 0;
  std::mt19937 rng_{std::random_device{}()};
};

}  // namespace

absl::StatusOr<std::unique_ptr<XdsServer>> StartXdsServer(const XdsServerOptions& options,
                                                         std::shared_ptr<ResourceSource> source) {
  auto server = std::make_unique<ServerImpl>(std::move(source), options);
  if (auto st = server->Listen(options); !st.ok()) {
    return st;
  }
  return std::unique_ptr<XdsServer>(std::move(server));
}

std::unique_ptr<XdsClient> StartXdsClient(const XdsClientOptions& options,
                                          std::shared_ptr<XdsClientCallbacks> callbacks) {
  auto client = std::make_unique<ClientImpl>(options, std::move(callbacks));
  client->Run();
  return client;
}

}  // namespace mesh::xds
