// The Beast/Asio part of the proxy: workers, listeners, the HTTP connection manager and
// router, upstream pools, TCP proxying, TLS, admin servers. Kept in one translation unit
// so that Beast's headers are compiled once.

#include "mesh/proxy/proxy.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <sys/socket.h>

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cerrno>
#include <condition_variable>
#include <iostream>
#include <list>
#include <random>
#include <charconv>
#include <span>
#include <sstream>
#include <thread>

#include "mesh/common/status_macros.h"
#include "mesh/common/strings.h"
#include "mesh/config/emit.h"
#include "mesh/proxy/access_log.h"
#include "mesh/proxy/http1_check.h"
#include "mesh/proxy/http2_codec.h"
#include "mesh/proxy/load_balancer.h"
#include "mesh/proxy/router.h"
#include "mesh/proxy/rbac.h"
#include "mesh/proxy/runtime.h"
#include "mesh/proxy/stats.h"
#include "mesh/proxy/tls_inspector.h"
#include "mesh/proxyconfig/decode.h"
#include "mesh/proxyconfig/encode.h"

namespace mesh::proxy {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
// A concrete executor type everywhere instead of the type-erased any_io_executor: every
// coroutine step and I/O operation used to copy, compare and destroy an any_io_executor.
using Executor = net::io_context::executor_type;
template <class T>
using awaitable = net::awaitable<T, Executor>;
using TcpStream = beast::basic_stream<tcp, Executor>;
using Socket = net::basic_stream_socket<tcp, Executor>;
using Acceptor = net::basic_socket_acceptor<tcp, Executor>;
using Resolver = net::ip::basic_resolver<tcp, Executor>;
using Timer = net::basic_waitable_timer<std::chrono::steady_clock, net::wait_traits<std::chrono::steady_clock>, Executor>;
using common::StrCat;
using namespace proxyconfig;
using namespace std::chrono_literals;
using namespace net::experimental::awaitable_operators;

constexpr auto kUse = net::as_tuple(net::use_awaitable_t<Executor>());
constexpr size_t kChunkSize = 64 * 1024;
constexpr size_t kMaxIdlePerHost = 256;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void Log(const std::string& line) { std::cerr << "meshctl proxy: " << line << "\n"; }

// Sets a stream's expiry; 0 means no limit.
void Expire(TcpStream& s, Duration d) {
  if (d.count() > 0) {
    s.expires_after(d);
  } else {
    s.expires_never();
  }
}

// An ssl::stream for a shared SSL_CTX (the context object is only needed while SSL_new
// runs; the SSL keeps its own reference).
ssl::context WrapContext(const SslCtxPtr& ctx) {
  SSL_CTX_up_ref(ctx.get());
  return ssl::context(ctx.get());
}

bool IsHopByHop(http::field f, std::string_view name) {
  switch (f) {
    case http::field::connection:
    case http::field::keep_alive:
    case http::field::proxy_connection:
    case http::field::te:
    case http::field::trailer:
    case http::field::transfer_encoding:
    case http::field::upgrade:
    case http::field::content_length:
      return true;
    default:
      return beast::iequals(name, "proxy-connection") || beast::iequals(name, "http2-settings");
  }
}

std::string PeerUriSan(SSL* ssl) {
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (cert == nullptr) {
    return "";
  }
  std::string out;
  auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; names != nullptr && i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
    if (n->type == GEN_URI) {
      out.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(n->d.uniformResourceIdentifier)),
                 ASN1_STRING_length(n->d.uniformResourceIdentifier));
      break;
    }
  }
  GENERAL_NAMES_free(names);
  X509_free(cert);
  return out;
}

// ---------------------------------------------------------------------------------------
// Upstream connections

struct UpstreamConn {
  std::optional<TcpStream> tcp;
  std::optional<ssl::stream<TcpStream>> tls;
  beast::flat_buffer buffer;
  std::string pool_key;
  std::shared_ptr<ClusterState> cluster_state;
  ~UpstreamConn() {
    if (cluster_state) {
      cluster_state->active_connections.fetch_sub(1);
    }
  }
  TcpStream& lowest() { return tls ? tls->next_layer() : *tcp; }
};
using UpstreamPtr = std::unique_ptr<UpstreamConn>;

struct H2ClientConn;  // HTTP/2 upstream connection (http2_proxy.inc)

struct SessionHandle {
  bool idle = true;
  std::function<void()> cancel;
};

// SplitMix64: load balancing, sampling and request ids need speed, not cryptographic
// strength (std::mt19937_64's periodic state refresh showed up in profiles).
struct FastRng {
  using result_type = uint64_t;
  uint64_t state;
  static constexpr uint64_t min() { return 0; }
  static constexpr uint64_t max() { return ~uint64_t{0}; }
  uint64_t operator()() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
};

// One worker thread: its own io_context, snapshot slot, upstream pools and stats.
struct Worker {
  net::io_context ioc{1};
  std::thread thread;
  RuntimePtr runtime;  // touched only on this worker's thread
  std::unordered_map<std::string, std::vector<UpstreamPtr>> pools;
  std::unordered_map<std::string, std::vector<std::shared_ptr<H2ClientConn>>> h2_pools;
  std::map<std::string, std::shared_ptr<Acceptor>> acceptors;
  std::list<SessionHandle*> sessions;
  bool draining = false;
  FastRng rng{(uint64_t{std::random_device{}()} << 32) | std::random_device{}()};
  WorkerStats stats;
  std::atomic<int64_t>* active_requests = nullptr;  // proxy-wide, for drain
  // Proxy-wide HTTP/2 downstream connections: drain waits for their GOAWAY to go out.
  std::atomic<int64_t>* open_h2_connections = nullptr;
  std::unique_ptr<char[]> chunk_a{new char[kChunkSize]};

  double Random01() { return std::uniform_real_distribution<double>(0, 1)(rng); }
};

std::string NewRequestId(FastRng& rng) {
  // UUID version 4, formatted by hand (snprintf showed up in profiles).
  static constexpr char kHex[] = "0123456789abcdef";
  uint64_t a = (rng() & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;
  uint64_t b = (rng() & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
  std::string out(36, '-');
  int pos = 0;
  for (int i = 0; i < 32; ++i) {
    if (i == 8 || i == 12 || i == 16 || i == 20) {
      ++pos;
    }
    uint64_t word = i < 16 ? a : b;
    int shift = 60 - 4 * (i % 16);
    out[pos++] = kHex[(word >> shift) & 0xf];
  }
  return out;
}

// Envoy's "trusted client address": with use_remote_address the peer, or with
// xff_num_trusted_hops N > 0 the Nth x-forwarded-for entry from the right; without
// use_remote_address the (N+1)th from the right. Falls back to the peer.
std::string TrustedClientAddress(std::string_view xff, const std::string& peer, bool use_remote_address,
                                 uint32_t trusted_hops) {
  size_t from_right = use_remote_address ? trusted_hops : trusted_hops + 1;
  if (from_right == 0 || xff.empty()) {
    return peer;
  }
  std::vector<std::string> entries = common::Split(xff, ',');
  if (entries.size() < from_right) {
    return peer;
  }
  std::string_view entry = common::StripWhitespace(entries[entries.size() - from_right]);
  beast::error_code ec;
  net::ip::make_address(std::string(entry), ec);
  return ec ? peer : std::string(entry);
}

// RFC 1918, loopback, link-local and IPv6 unique-local addresses count as internal
// (Envoy's definition for x-envoy-external-address).
bool IsInternalAddress(const std::string& ip) {
  beast::error_code ec;
  auto a = net::ip::make_address(ip, ec);
  if (ec) {
    return false;
  }
  if (a.is_v4()) {
    auto b = a.to_v4().to_bytes();
    return b[0] == 10 || b[0] == 127 || (b[0] == 172 && (b[1] & 0xf0) == 16) || (b[0] == 192 && b[1] == 168) ||
           (b[0] == 169 && b[1] == 254);
  }
  auto v6 = a.to_v6();
  return v6.is_loopback() || v6.is_link_local() || (v6.to_bytes()[0] & 0xfe) == 0xfc;
}

// Load balancing and outlier detection live in load_balancer.cc (clock and RNG injected).
const HostRuntime* PickHost(Worker& w, const ClusterRuntime& c, std::optional<uint64_t> hash,
                            const HostRuntime* avoid) {
  return mesh::proxy::SelectHost(c, w.rng(), hash, avoid, NowMs());
}

void RecordOutcome(const ClusterRuntime& c, const HostRuntime& h, int status, bool gateway_failure) {
  mesh::proxy::RecordOutcome(c, h, status, gateway_failure, NowMs());
}

awaitable<std::tuple<beast::error_code, UpstreamPtr>> Connect(Worker& w, const ClusterRuntime& c,
                                                              const HostRuntime& h) {
  auto conn = std::make_unique<UpstreamConn>();
  conn->pool_key = h.pool_key;
  conn->cluster_state = c.state;
  c.state->active_connections.fetch_add(1);
  TcpStream stream(w.ioc);
  beast::error_code ec;
  auto addr = net::ip::make_address(h.address, ec);
  stream.expires_after(c.cluster->connect_timeout);
  if (!ec) {
    auto [cec] = co_await stream.async_connect(tcp::endpoint(addr, h.port), kUse);
    ec = cec;
  } else {
    Resolver resolver(w.ioc);
    auto [rec, results] = co_await resolver.async_resolve(h.address, std::to_string(h.port), kUse);
    ec = rec;
    if (!ec) {
      auto [cec, ep] = co_await stream.async_connect(results, kUse);
      ec = cec;
    }
  }
  if (ec) {
    co_return std::make_tuple(ec, UpstreamPtr());
  }
  stream.socket().set_option(tcp::no_delay(true), ec);
  if (c.tls) {
    ssl::context ctx = WrapContext(c.tls);
    conn->tls.emplace(std::move(stream), ctx);
    std::string sni = c.sni.empty() ? h.address : c.sni;
    beast::error_code not_ip;
    net::ip::make_address(sni, not_ip);
    if (not_ip) {  // SNI carries names only
      SSL_set_tlsext_host_name(conn->tls->native_handle(), sni.c_str());
    }
    conn->tls->next_layer().expires_after(c.cluster->connect_timeout);
    auto [hec] = co_await conn->tls->async_handshake(ssl::stream_base::client, kUse);
    if (hec) {
      co_return std::make_tuple(hec, UpstreamPtr());
    }
  } else {
    conn->tcp.emplace(std::move(stream));
  }
  co_return std::make_tuple(beast::error_code(), std::move(conn));
}

// `probe`: check (one non-blocking peek) that the upstream has not closed an idle
// connection; used for requests with a body, which cannot be replayed on a fresh one.
UpstreamPtr TakePooled(Worker& w, const std::string& key, bool probe) {
  auto it = w.pools.find(key);
  if (it == w.pools.end()) {
    return nullptr;
  }
  while (!it->second.empty()) {
    UpstreamPtr c = std::move(it->second.back());
    it->second.pop_back();
    if (!c->lowest().socket().is_open()) {
      continue;
    }
    if (probe && c->buffer.size() == 0) {
      char byte;
      ssize_t n = ::recv(c->lowest().socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
        continue;  // closed by the upstream while idle
      }
    }
    return c;
  }
  return nullptr;
}

void ReturnToPool(Worker& w, UpstreamPtr conn) {
  auto& pool = w.pools[conn->pool_key];
  if (pool.size() < kMaxIdlePerHost && !w.draining) {
    conn->lowest().expires_never();
    pool.push_back(std::move(conn));
  }
}

// ---------------------------------------------------------------------------------------
// Shared helpers for the HTTP connection manager

// A caller's proxy names its workload through Istio's outbound clusters only (mesh
// services and ServiceEntry hosts, as Istio's exchange headers go), not passthrough ones.
bool SendsPeerWorkload(const Runtime& rt, const std::string& listener, const std::string& cluster) {
  return !rt.peer_workload.empty() && rt.listeners.at(listener).reporter == 0 && cluster.starts_with("outbound|");
}

struct RequestContext {
  std::string scheme;
  std::string remote_ip;
  std::string remote_address;
  int policy = 0;  // 0 none, 1 mutual_tls, 2 unknown
  std::string peer_principal;
  bool authenticated = false;  // the peer's certificate verified
  std::string local_ip;
  uint32_t local_port = 0;
};

// The RBAC filters' view of a connection (the request fields are filled in by the caller).
RbacInput ConnectionRbacInput(const RequestContext& ctx) {
  RbacInput in;
  in.direct_remote_ip = ctx.remote_ip;
  in.remote_ip = ctx.remote_ip;
  in.destination_ip = ctx.local_ip;
  in.destination_port = ctx.local_port;
  in.authenticated = ctx.authenticated;
  in.principal = ctx.peer_principal;
  return in;
}

struct Outcome {
  int status = 0;
  std::string flags;
  std::string details;  // response code details (set for local replies such as RBAC denials)
  std::string fault_flags;  // DI / FI, kept across retries
  std::string upstream_host;
  std::string cluster;
  uint64_t bytes_received = 0;
  uint64_t bytes_sent = 0;
  bool keep_alive = true;
  const ClusterRuntime* cluster_rt = nullptr;
  http::response_header<> response_headers;
};

void AddFlag(std::string& flags, std::string_view flag) {
  if (!flags.empty()) {
    flags += ",";
  }
  flags += flag;
}

template <class Fields>
void ApplyHeaderOptions(Fields& fields, const std::vector<HeaderValueOption>& adds) {
  for (const auto& h : adds) {
    switch (h.action) {
      case HeaderValueOption::Action::kAppendIfExistsOrAdd:
        fields.insert(h.key, h.value);
        break;
      case HeaderValueOption::Action::kAddIfAbsent:
        if (fields.find(h.key) == fields.end()) {
          fields.insert(h.key, h.value);
        }
        break;
      case HeaderValueOption::Action::kOverwriteIfExistsOrAdd:
        fields.set(h.key, h.value);
        break;
    }
  }
}

template <class Fields>
void ApplyRequestMutations(Fields& f, const HeaderMutations& m) {
  for (const auto& name : m.request_headers_to_remove) {
    f.erase(name);
  }
  ApplyHeaderOptions(f, m.request_headers_to_add);
}

template <class Fields>
void ApplyResponseMutations(Fields& f, const HeaderMutations& m) {
  for (const auto& name : m.response_headers_to_remove) {
    f.erase(name);
  }
  ApplyHeaderOptions(f, m.response_headers_to_add);
}

const CorsPolicy* FindCors(const VirtualHost& vh, const Route& route) {
  if (const auto* a = std::get_if<RouteAction>(&route.action); a != nullptr && a->cors) {
    return &*a->cors;
  }
  return vh.cors ? &*vh.cors : nullptr;
}

bool OriginAllowed(const CorsPolicy& cors, std::string_view origin) {
  for (const auto& m : cors.allow_origin_string_match) {
    if (m.Matches(origin)) {
      return true;
    }
  }
  return false;
}

// ---------------------------------------------------------------------------------------
// Route features shared by the HTTP/1.1 session and the HTTP/2 streams: each codec
// supplies a header lookup over its own representation.

// Request header by lower-case name; nullopt when absent.
using HeaderLookup = std::function<std::optional<std::string_view>(std::string_view)>;

// The RBAC filters' view of an HTTP request.
RbacInput HttpRbacInput(const RequestContext& ctx, std::string_view method, std::string_view path,
                        std::string_view authority, HeaderLookup header) {
  RbacInput in = ConnectionRbacInput(ctx);
  in.is_http = true;
  in.method = method;
  in.path = path;
  in.authority = authority;
  in.header = std::move(header);
  return in;
}

// CORS (route policy, else the virtual host's): headers for the response, and whether
// the request is a preflight the proxy answers itself (200, nothing sent upstream).
struct CorsOutcome {
  std::vector<std::pair<std::string, std::string>> headers;
  bool preflight = false;
};

CorsOutcome EvaluateCors(const VirtualHost& vh, const Route& route, std::string_view method,
                         const HeaderLookup& header) {
  CorsOutcome out;
  const CorsPolicy* cors = FindCors(vh, route);
  if (cors == nullptr) {
    return out;
  }
  std::optional<std::string_view> origin = header("origin");
  if (!origin || origin->empty() || !OriginAllowed(*cors, *origin)) {
    return out;
  }
  out.headers.emplace_back("access-control-allow-origin", std::string(*origin));
  if (cors->allow_credentials) {
    out.headers.emplace_back("access-control-allow-credentials", "true");
  }
  if (!cors->expose_headers.empty()) {
    out.headers.emplace_back("access-control-expose-headers", cors->expose_headers);
  }
  if (method == "OPTIONS" && header("access-control-request-method")) {
    out.preflight = true;
    if (!cors->allow_methods.empty()) {
      out.headers.emplace_back("access-control-allow-methods", cors->allow_methods);
    }
    if (!cors->allow_headers.empty()) {
      out.headers.emplace_back("access-control-allow-headers", cors->allow_headers);
    }
    if (!cors->max_age.empty()) {
      out.headers.emplace_back("access-control-max-age", cors->max_age);
    }
  }
  return out;
}

// The consistent-hashing key (ring hash, maglev): the first hash policy that yields a
// value. `cookies` is the request's Cookie header (HTTP/2's cookie fields joined).
std::optional<uint64_t> RequestHash(const std::vector<HashPolicy>& policies, const HeaderLookup& header,
                                    std::string_view cookies, std::string_view client_ip) {
  for (const auto& hp : policies) {
    if (hp.kind == HashPolicy::Kind::kHeader) {
      if (std::optional<std::string_view> v = header(hp.name)) {  // decoded lower case
        return HashKey(*v);
      }
    } else if (hp.kind == HashPolicy::Kind::kSourceIp) {
      if (!client_ip.empty()) {
        return HashKey(client_ip);
      }
    } else {
      std::optional<uint64_t> hash;
      for (auto& part : common::Split(cookies, ';')) {
        std::string_view p = common::StripWhitespace(part);
        if (p.size() > hp.name.size() && p.substr(0, hp.name.size()) == hp.name && p[hp.name.size()] == '=') {
          hash = HashKey(p.substr(hp.name.size() + 1));
        }
      }
      if (hash) {
        return hash;
      }
    }
  }
  return std::nullopt;
}

// A copy of a bodiless request to one mirror cluster, over HTTP/1.1; the answer is read
// and dropped.
awaitable<void> Mirror(Worker& w, RuntimePtr rt, std::string cluster_name,
                       std::shared_ptr<http::request<http::empty_body>> req) {
  auto it = rt->clusters.find(cluster_name);
  const HostRuntime* host = PickHost(w, it->second, std::nullopt, nullptr);
  if (host == nullptr) {
    co_return;
  }
  auto [ec, conn] = co_await Connect(w, it->second, *host);
  if (ec) {
    co_return;
  }
  conn->lowest().expires_after(it->second.cluster->connect_timeout + 5s);
  http::response<http::string_body> res;
  if (conn->tls) {
    co_await http::async_write(*conn->tls, *req, kUse);
    co_await http::async_read(*conn->tls, conn->buffer, res, kUse);
  } else {
    co_await http::async_write(*conn->tcp, *req, kUse);
    co_await http::async_read(*conn->tcp, conn->buffer, res, kUse);
  }
}

// Request mirroring, fire and forget: `shadow` (method, target, headers of the request as
// sent upstream) goes to every mirror cluster of the route with the Host suffixed
// "-shadow", as Envoy does.
void SendMirrors(Worker& w, const RuntimePtr& rt, const RouteAction& action,
                 std::shared_ptr<http::request<http::empty_body>> shadow) {
  shadow->version(11);
  std::string host((*shadow)[http::field::host]);
  auto colon = host.rfind(':');
  shadow->set(http::field::host, colon == std::string::npos
                                     ? host + "-shadow"
                                     : StrCat(host.substr(0, colon), "-shadow", host.substr(colon)));
  for (const auto& mirror : action.request_mirror_clusters) {
    if (rt->clusters.count(mirror) > 0) {
      net::co_spawn(w.ioc, Mirror(w, rt, mirror, shadow), net::detached);
    }
  }
}

// Circuit breakers (the cluster's thresholds, else Envoy's defaults). Overflows are 503
// with response flag UO.
const CircuitBreakers& BreakersOf(const ClusterRuntime& c) {
  static const CircuitBreakers kDefaults;
  return c.cluster->circuit_breakers ? *c.cluster->circuit_breakers : kDefaults;
}

// max_requests: requests in flight to the cluster.
bool RequestsOverflow(const ClusterRuntime& c) {
  return c.state->active_requests.load() >= static_cast<int64_t>(BreakersOf(c).max_requests);
}

// A new connection is needed: max_connections reached and max_pending_requests already
// waiting for one.
bool ConnectionsOverflow(const ClusterRuntime& c) {
  const CircuitBreakers& limits = BreakersOf(c);
  return c.state->active_connections.load() >= static_cast<int64_t>(limits.max_connections) &&
         c.state->pending_requests.load() >= static_cast<int64_t>(limits.max_pending_requests);
}

// max_retries, or the retry budget (Envoy: budget_percent of active + pending requests,
// at least min_retry_concurrency).
bool RetriesOverflow(const ClusterRuntime& c) {
  const CircuitBreakers& limits = BreakersOf(c);
  int64_t allowed = limits.max_retries;
  if (limits.retry_budget) {
    double load =
        static_cast<double>(c.state->active_requests.load() + c.state->pending_requests.load() + 1);
    allowed = std::max<int64_t>(limits.retry_budget->min_retry_concurrency,
                                static_cast<int64_t>(load * limits.retry_budget->budget_percent / 100));
  }
  return c.state->active_retries.load() >= allowed;
}

// A retry counts against max_retries / the retry budget from its backoff until its
// response (or failure).
struct RetrySlot {
  ClusterState* state = nullptr;
  void Take(ClusterState* s) {
    state = s;
    state->active_retries.fetch_add(1);
  }
  void Release() {
    if (state != nullptr) {
      state->active_retries.fetch_sub(1);
      state = nullptr;
    }
  }
  ~RetrySlot() { Release(); }
};

// A request in flight on a host and its cluster (least request, max_requests).
struct ActiveRequest {
  const HostRuntime* h;
  const ClusterRuntime* c;
  ActiveRequest(const HostRuntime* h_, const ClusterRuntime* c_) : h(h_), c(c_) {
    h->state->active_requests.fetch_add(1);
    c->state->active_requests.fetch_add(1);
  }
  ~ActiveRequest() {
    h->state->active_requests.fetch_sub(1);
    c->state->active_requests.fetch_sub(1);
  }
  ActiveRequest(const ActiveRequest&) = delete;
  ActiveRequest& operator=(const ActiveRequest&) = delete;
};

template <class Stream>
awaitable<beast::error_code> WriteLocal(Stream& stream, int status, const std::string& body, bool keep_alive,
                                        unsigned version, const std::vector<std::pair<std::string, std::string>>& extra,
                                        const HeaderMutations* m1, const HeaderMutations* m2, const HeaderMutations* m3,
                                        bool head, uint64_t& bytes_sent) {
  http::response<http::string_body> res{static_cast<http::status>(status), version};
  res.set(http::field::server, "meshctl");
  if (!body.empty()) {
    res.set(http::field::content_type, "text/plain");
  }
  for (const auto& [k, v] : extra) {
    res.set(k, v);
  }
  for (const HeaderMutations* m : {m3, m2, m1}) {
    if (m != nullptr) {
      ApplyResponseMutations(res, *m);
    }
  }
  res.body() = body;
  res.keep_alive(keep_alive);
  res.prepare_payload();
  if (head) {
    res.body().clear();
  }
  bytes_sent = head ? 0 : body.size();
  auto [ec, n] = co_await http::async_write(stream, res, kUse);
  co_return ec;
}

// Formats a message header as HTTP/1.x bytes into `out` (reused per connection, so no
// allocation in steady state). Replaces Beast's serializer on the forwarding path: its
// generic buffer-sequence machinery was the largest user-space cost per request.
template <bool isRequest, class Fields>
void FormatHeader(const http::header<isRequest, Fields>& h, std::string& out) {
  auto append = [&out](beast::string_view v) { out.append(v.data(), v.size()); };
  out.clear();
  const unsigned version = h.version();
  char proto[] = "HTTP/1.1";
  proto[5] = static_cast<char>('0' + version / 10 % 10);
  proto[7] = static_cast<char>('0' + version % 10);
  if constexpr (isRequest) {
    append(h.method_string());
    out += ' ';
    append(h.target());
    out += ' ';
    out.append(proto, 8);
  } else {
    const unsigned code = h.result_int();
    out.append(proto, 8);
    out += ' ';
    out += static_cast<char>('0' + code / 100 % 10);
    out += static_cast<char>('0' + code / 10 % 10);
    out += static_cast<char>('0' + code % 10);
    out += ' ';
    beast::string_view reason = h.reason();
    append(reason.empty() ? http::obsolete_reason(h.result()) : reason);
  }
  out.append("\r\n");
  for (const auto& f : h) {
    append(f.name_string());
    out.append(": ");
    append(f.value());
    out.append("\r\n");
  }
  out.append("\r\n");
}

// Points `parser`'s body at `dest` (sized to the Content-Length) and parses the bytes
// already buffered; the caller reads the rest.
template <class Parser>
beast::error_code ReadWholeBody(beast::flat_buffer& buffer, Parser& parser, std::string& dest) {
  parser.get().body().data = dest.data();
  parser.get().body().size = dest.size();
  beast::error_code ec;
  if (buffer.size() > 0 && !parser.is_done()) {
    size_t used = parser.put(buffer.data(), ec);
    buffer.consume(used);
    if (ec == http::error::need_more || ec == http::error::need_buffer) {
      ec = {};
    }
  }
  return ec;
}

// Writes every byte of `bufs` (modified). On plain TCP one non-blocking send is tried
// first: it usually takes everything, and then no asynchronous operation, coroutine
// suspension or timer is needed. What is left goes out asynchronously with `timeout`.
template <class Stream>
awaitable<beast::error_code> WriteAll(Stream& to, std::span<net::const_buffer> bufs, Duration timeout) {
  if constexpr (std::is_same_v<Stream, TcpStream>) {
    auto& sock = to.socket();
    beast::error_code ec;
    if (!sock.non_blocking()) {
      sock.non_blocking(true, ec);
    }
    size_t sent = ec ? 0 : sock.write_some(bufs, ec);
    if (ec && ec != net::error::would_block && ec != net::error::try_again) {
      co_return ec;
    }
    while (!bufs.empty() && sent >= bufs.front().size()) {
      sent -= bufs.front().size();
      bufs = bufs.subspan(1);
    }
    if (bufs.empty()) {
      co_return beast::error_code();
    }
    bufs.front() += sent;
  }
  Expire(beast::get_lowest_layer(to), timeout);
  auto [ec, n] = co_await net::async_write(to, bufs, kUse);
  co_return ec;
}

// Writes `head` (a formatted header) and then the message body from `parser`, in bounded
// chunks, chunk-encoded when `chunked_out`. The header goes out with the first body bytes in
// one write. With `send_body` false only the header is written. Reports (read error on
// `from`, write error on `to`); a body growing past `body_limit` bytes stops the relay
// with http::error::body_limit as the read error, before the bytes over it are written.
template <class ReadStream, class WriteStream, class Parser>
awaitable<std::tuple<beast::error_code, beast::error_code>> Relay(ReadStream& from, beast::flat_buffer& buffer,
                                                                  Parser& parser, WriteStream& to,
                                                                  const std::string& head, bool chunked_out,
                                                                  bool send_body, char* chunk, Duration read_timeout,
                                                                  uint64_t& bytes,
                                                                  uint64_t body_limit = UINT64_MAX) {
  static constexpr char kCrlf[] = "\r\n";
  static constexpr char kLastChunk[] = "0\r\n\r\n";
  bool head_sent = false;
  for (;;) {
    size_t n = 0;
    bool more = false;
    if (send_body && !parser.is_done()) {
      parser.get().body().data = chunk;
      parser.get().body().size = kChunkSize;
      // Bytes already buffered are parsed synchronously: no extra async round trip.
      if (buffer.size() > 0) {
        beast::error_code pec;
        size_t used = parser.put(buffer.data(), pec);
        buffer.consume(used);
        if (pec && pec != http::error::need_buffer && pec != http::error::need_more) {
          co_return std::make_tuple(pec, beast::error_code());
        }
      }
      if (parser.get().body().size == kChunkSize && !parser.is_done()) {
        Expire(beast::get_lowest_layer(from), read_timeout);
        auto [ec, rn] = co_await http::async_read(from, buffer, parser, kUse);
        if (ec == http::error::need_buffer) {
          ec = {};
        }
        if (ec) {
          co_return std::make_tuple(ec, beast::error_code());
        }
      }
      n = kChunkSize - parser.get().body().size;
      more = !parser.is_done();
      bytes += n;
      if (bytes > body_limit) {  // reported as a read error; the caller answers 413
        co_return std::make_tuple(beast::error_code(http::error::body_limit), beast::error_code());
      }
    }
    std::array<net::const_buffer, 5> bufs;
    size_t nb = 0;
    char size_line[20];
    if (!head_sent) {
      bufs[nb++] = net::buffer(head);
    }
    if (chunked_out && send_body) {
      if (n > 0) {
        static constexpr char kHex[] = "0123456789abcdef";
        char* end = size_line + sizeof(size_line);
        char* p = end;
        *--p = '\n';
        *--p = '\r';
        for (size_t v = n; v > 0; v >>= 4) {
          *--p = kHex[v & 0xf];
        }
        bufs[nb++] = net::buffer(p, end - p);
        bufs[nb++] = net::buffer(chunk, n);
        bufs[nb++] = net::buffer(kCrlf, 2);
      }
      if (!more) {
        bufs[nb++] = net::buffer(kLastChunk, sizeof(kLastChunk) - 1);
      }
    } else if (n > 0) {
      bufs[nb++] = net::buffer(chunk, n);
    }
    head_sent = true;
    if (nb > 0) {
      if (beast::error_code wec = co_await WriteAll(to, std::span<net::const_buffer>(bufs.data(), nb), read_timeout)) {
        co_return std::make_tuple(beast::error_code(), wec);
      }
    }
    if (!more) {
      co_return std::make_tuple(beast::error_code(), beast::error_code());
    }
  }
}

// Bidirectional byte pump (TCP proxy, TLS passthrough, WebSocket after the upgrade).
template <class From, class To>
awaitable<void> Pump(From& from, To& to, Duration idle, uint64_t& bytes, std::shared_ptr<bool> done) {
  std::vector<char> buf(16384);
  for (;;) {
    Expire(beast::get_lowest_layer(from), idle);
    auto [ec, n] = co_await from.async_read_some(net::buffer(buf), kUse);
    if (n > 0) {
      Expire(beast::get_lowest_layer(to), idle);
      auto [wec, wn] = co_await net::async_write(to, net::buffer(buf.data(), n), kUse);
      bytes += wn;
      if (wec) {
        break;
      }
    }
    if (ec) {
      break;
    }
  }
  // Half-close towards the peer; when both directions ended the caller closes.
  beast::error_code ignored;
  if (*done) {
    beast::get_lowest_layer(to).socket().close(ignored);
    beast::get_lowest_layer(from).socket().close(ignored);
  } else {
    *done = true;
    beast::get_lowest_layer(to).socket().shutdown(tcp::socket::shutdown_send, ignored);
  }
}

template <class A, class B>
awaitable<void> PumpBoth(A& a, B& b, Duration idle, uint64_t& a_to_b, uint64_t& b_to_a) {
  auto done = std::make_shared<bool>(false);
  co_await (Pump(a, b, idle, a_to_b, done) && Pump(b, a, idle, b_to_a, done));
}

// Writes an access log line for every configured sink.
void WriteAccessLogs(const ChainRuntime& chain, const AccessLogRecord& record) {
  for (const auto& sink : chain.logs) {
    std::string line = FormatAccessLogEntry(sink.config, record);
    FILE* f = sink.file ? sink.file.get() : stdout;
    std::fwrite(line.data(), 1, line.size(), f);
    std::fflush(f);
  }
}

// ---- HTTP/2 (begin) -------------------------------------------------------------------
// GCC flags coroutine frames of templates from an included file that hold types of this
// anonymous namespace (-Wsubobject-linkage); everything here is one translation unit.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wsubobject-linkage"
// The body limit for a request: the route's BufferPerRoute wins over the buffer filter's
// max_request_bytes; without the buffer filter there is none.
uint64_t RequestBodyLimit(const HttpConnectionManager& hcm, const Route& route) {
  if (!hcm.max_request_bytes) {
    return UINT64_MAX;
  }
  if (route.buffer) {
    return route.buffer->disabled ? UINT64_MAX : route.buffer->max_request_bytes;
  }
  return *hcm.max_request_bytes;
}

#include "mesh/proxy/http2_proxy.inc"
#pragma GCC diagnostic pop
// ---- HTTP/2 (end) ---------------------------------------------------------------------

// ---------------------------------------------------------------------------------------
// The HTTP connection manager: one coroutine per downstream connection.

template <class Stream>
class HttpSession {
 public:
  HttpSession(Worker& w, Stream& stream, RuntimePtr rt, std::string listener, size_t chain, RequestContext ctx)
      : w_(w), stream_(stream), rt_(std::move(rt)), listener_(std::move(listener)), chain_(chain), ctx_(std::move(ctx)) {}

  awaitable<void> Run(beast::flat_buffer& buffer) {
    SessionHandle handle;
    handle.cancel = [this] {
      beast::error_code ignored;
      beast::get_lowest_layer(stream_).socket().cancel(ignored);
      beast::get_lowest_layer(stream_).socket().shutdown(tcp::socket::shutdown_both, ignored);
    };
    w_.sessions.push_front(&handle);
    auto it = w_.sessions.begin();
    for (;;) {
      // New requests use the newest snapshot that still has this listener.
      if (w_.runtime && w_.runtime != rt_ && w_.runtime->listeners.count(listener_) &&
          w_.runtime->listeners.at(listener_).chains.size() > chain_) {
        rt_ = w_.runtime;
      }
      const ChainRuntime& chain = rt_->listeners.at(listener_).chains[chain_];
      handle.idle = true;
      if (w_.draining) {
        break;
      }
      bool keep = co_await OneRequest(chain, buffer, handle);
      if (!keep || w_.draining) {
        break;
      }
    }
    w_.sessions.erase(it);
  }

  // Set when the connection was upgraded to HTTP/2 (h2c): the caller serves it next.
  std::optional<H2cUpgrade> TakeH2cUpgrade() { return std::move(h2c_); }

 private:
  awaitable<bool> OneRequest(const ChainRuntime& chain, beast::flat_buffer& buffer, SessionHandle& handle) {
    const HttpConnectionManager& hcm = *chain.hcm;
    http::request_parser<http::buffer_body> parser;
    parser.header_limit(hcm.max_request_headers_kb * 1024);
    parser.body_limit(boost::none);
    Duration wait = hcm.idle_timeout;
    if (hcm.request_headers_timeout.count() > 0 && (wait.count() == 0 || hcm.request_headers_timeout < wait)) {
      wait = hcm.request_headers_timeout;
    }
    Expire(beast::get_lowest_layer(stream_), wait);
    auto [ec, n] = co_await http::async_read_header(stream_, buffer, parser, kUse);
    handle.idle = false;
    auto start = std::chrono::steady_clock::now();
    auto start_wall = std::chrono::system_clock::now();
    uint64_t ignored_bytes = 0;
    if (!ec && ctx_.scheme == "http" && hcm.codec_type != "HTTP1" && WantsH2c(parser.get()) && !parser.chunked() &&
        parser.get().find(http::field::transfer_encoding) == parser.get().end() &&
        parser.content_length().value_or(0) == 0) {
      // h2c upgrade (RFC 7540 3.2): 101 here, then HandleConnection continues the
      // connection as HTTP/2 with this request as stream 1. Requests with a body stay
      // HTTP/1.1 (the server may ignore an upgrade).
      h2c_ = H2cFromHttp1(parser.get());
      static const char k101[] = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n";
      auto [wec, wn] = co_await net::async_write(stream_, net::buffer(k101, sizeof(k101) - 1), kUse);
      if (wec) {
        h2c_.reset();
      }
      co_return false;
    }
    if (ec) {
      if (ec == http::error::header_limit) {
        co_await WriteLocal(stream_, 431, "request header too large", false, 11, {}, nullptr, nullptr, nullptr, false,
                            ignored_bytes);
      } else if (ec == http::error::bad_content_length || ec == http::error::multiple_content_length ||
                 ec == http::error::bad_transfer_encoding || ec == http::error::bad_version ||
                 ec == http::error::bad_method || ec == http::error::bad_target || ec == http::error::bad_field ||
                 ec == http::error::bad_value || ec == http::error::bad_line_ending) {
        co_await WriteLocal(stream_, 400, "bad request", false, 11, {}, nullptr, nullptr, nullptr, false,
                            ignored_bytes);
      }
      co_return false;
    }
    w_.active_requests->fetch_add(1);
    struct Done {
      std::atomic<int64_t>* c;
      ~Done() { c->fetch_sub(1); }
    } done{w_.active_requests};

    auto& req = parser.get();
    const unsigned client_version = req.version();
    client_version_ = client_version;
    Outcome out;
    const VirtualHost* vh = nullptr;
    const Route* route = nullptr;
    std::string request_id;
    bool head = req.method() == http::verb::head;
    out.keep_alive = req.keep_alive() && !w_.draining;

    // Request validation beyond Beast's parser.
    size_t field_count = 0, content_lengths = 0;
    for (const auto& f : req) {
      ++field_count;
      if (f.name() == http::field::content_length) {
        ++content_lengths;
      }
    }
    bool has_te = req.find(http::field::transfer_encoding) != req.end();
    std::string authority(req[http::field::host]);
    std::string target(req.target());
    // Absolute-form targets (clients using this listener as their http_proxy): see http1_check.h.
    if (auto rewritten = RewriteAbsoluteForm(target, req.method() == http::verb::connect)) {
      authority = std::move(rewritten->authority);
      target = std::move(rewritten->target);
      req.set(http::field::host, authority);
      req.target(target);
    }
    orig_target_ = target;
    orig_authority_ = authority;
    // The caller's identity (peer metadata exchange): the serving side keeps it for its
    // metrics; neither side forwards what the client sent.
    source_peer_.clear();
    if (auto peer = req.find(beast::string_view(kPeerWorkloadHeader.data(), kPeerWorkloadHeader.size()));
        peer != req.end()) {
      if (rt_->listeners.at(listener_).reporter == 1) {
        source_peer_ = std::string(peer->value());
      }
      req.erase(peer);
    }
    out.status = RequestShapeStatus({.field_count = field_count,
                                     .content_lengths = content_lengths,
                                     .has_transfer_encoding = has_te,
                                     .chunked = parser.chunked(),
                                     .version = client_version,
                                     .authority = authority,
                                     .target = target,
                                     .is_connect = req.method() == http::verb::connect},
                                    hcm.max_headers_count);
    if (out.status != 0) {
      co_await WriteLocal(stream_, out.status, out.status == 431 ? "too many headers" : "bad request", false,
                          client_version, {}, nullptr, nullptr, nullptr, head, out.bytes_sent);
      Finish(chain, req, out, start, start_wall, nullptr, "");
      co_return false;
    }
    if (hcm.generate_request_id) {
      auto rid = req.find("x-request-id");
      if (rid == req.end()) {
        request_id = NewRequestId(w_.rng);
        req.set("x-request-id", request_id);
      }
    }

    std::string method(req.method_string());
    const HeaderLookup header = [&req](std::string_view name) -> std::optional<std::string_view> {
      auto it = req.find(beast::string_view(name.data(), name.size()));
      if (it == req.end()) {
        return std::nullopt;
      }
      return std::string_view(it->value().data(), it->value().size());
    };
    if (!hcm.rbac.empty()) {
      RbacDecision decision = EvaluateRbac(hcm.rbac, HttpRbacInput(ctx_, method, target, authority, header));
      w_.stats.Add(chain.stat_prefix + (decision.allowed ? "rbac.allowed" : "rbac.denied"));
      if (!decision.allowed) {
        out.status = 403;
        out.flags = "RBAC";
        out.details = std::move(decision.details);
        bool body_pending = parser.chunked() || (parser.content_length() && *parser.content_length() > 0);
        out.keep_alive = out.keep_alive && !body_pending;
        co_await WriteLocal(stream_, 403, kRbacDeniedBody, out.keep_alive, client_version, {}, nullptr, nullptr,
                            nullptr, head, out.bytes_sent);
        Finish(chain, req, out, start, start_wall, nullptr, "");
        co_return out.keep_alive;
      }
    }
    RequestView view{method, target, authority, header};
    if (chain.routes != nullptr) {
      vh = SelectVirtualHost(*chain.routes, authority);
      if (vh != nullptr) {
        route = SelectRoute(*vh, view);
      }
    }
    const HeaderMutations* rc_mut = chain.routes ? &chain.routes->headers : nullptr;
    const HeaderMutations* vh_mut = vh ? &vh->headers : nullptr;
    const HeaderMutations* route_mut = route ? &route->headers : nullptr;
    bool has_body = parser.chunked() || (parser.content_length() && *parser.content_length() > 0);
    if (route == nullptr) {
      out.status = 404;
      out.flags = "NR";
      out.keep_alive = out.keep_alive && !has_body;
      co_await WriteLocal(stream_, 404, "", out.keep_alive, client_version, {}, rc_mut, nullptr, nullptr, head,
                          out.bytes_sent);
      Finish(chain, req, out, start, start_wall, route, "");
      co_return out.keep_alive;
    }

    // Fault injection (route-level config wins over the filter's).
    const FaultPolicy* fault = route->fault ? &*route->fault : (hcm.fault ? &*hcm.fault : nullptr);
    if (fault != nullptr) {
      if (fault->delay && w_.Random01() * 100 < fault->delay_percent) {
        Timer timer(w_.ioc, *fault->delay);
        co_await timer.async_wait(kUse);
        AddFlag(out.fault_flags, "DI");
      }
      if (fault->abort_status && w_.Random01() * 100 < fault->abort_percent) {
        out.status = static_cast<int>(*fault->abort_status);
        AddFlag(out.fault_flags, "FI");
        out.keep_alive = out.keep_alive && !has_body;
        co_await WriteLocal(stream_, out.status, "fault filter abort", out.keep_alive, client_version, {}, rc_mut,
                            vh_mut, route_mut, head, out.bytes_sent);
        Finish(chain, req, out, start, start_wall, route, "");
        co_return out.keep_alive;
      }
    }

    // Request body limit (envoy.filters.http.buffer). A Content-Length over it is refused
    // before any body byte is read; chunked bodies are counted while they stream (Relay).
    const uint64_t body_limit = RequestBodyLimit(hcm, *route);
    if (parser.content_length() && *parser.content_length() > body_limit) {
      co_return co_await PayloadTooLarge(chain, req, out, start, start_wall, route, request_id, client_version, head,
                                         !parser.is_done());
    }

    // CORS.
    CorsOutcome cors = EvaluateCors(*vh, *route, method, header);
    const std::vector<std::pair<std::string, std::string>>& cors_headers = cors.headers;
    if (cors.preflight) {
      out.status = 200;
      co_await WriteLocal(stream_, 200, "", out.keep_alive && !has_body, client_version, cors_headers, nullptr,
                          nullptr, nullptr, head, out.bytes_sent);
      Finish(chain, req, out, start, start_wall, route, "");
      co_return out.keep_alive && !has_body;
    }

    if (const auto* direct = std::get_if<DirectResponseAction>(&route->action)) {
      out.status = static_cast<int>(direct->status);
      out.keep_alive = out.keep_alive && !has_body;
      co_await WriteLocal(stream_, out.status, direct->body, out.keep_alive, client_version, cors_headers, rc_mut,
                          vh_mut, route_mut, head, out.bytes_sent);
      Finish(chain, req, out, start, start_wall, route, "");
      co_return out.keep_alive;
    }
    if (const auto* redirect = std::get_if<RedirectAction>(&route->action)) {
      out.status = static_cast<int>(redirect->response_code);
      out.keep_alive = out.keep_alive && !has_body;
      std::vector<std::pair<std::string, std::string>> extra = cors_headers;
      extra.emplace_back("location", RedirectLocation(*redirect, route->match, ctx_.scheme, authority, target));
      co_await WriteLocal(stream_, out.status, "", out.keep_alive, client_version, extra, rc_mut, vh_mut, route_mut,
                          head, out.bytes_sent);
      Finish(chain, req, out, start, start_wall, route, "");
      co_return out.keep_alive;
    }

    const RouteAction& action = std::get<RouteAction>(route->action);
    const std::string& cluster_name =
        action.cluster.empty() ? PickWeightedCluster(action.weighted_clusters, w_.rng()) : action.cluster;
    out.cluster = cluster_name;
    auto cit = rt_->clusters.find(cluster_name);
    if (cit == rt_->clusters.end()) {
      out.status = 503;
      out.flags = "NC";
      out.keep_alive = out.keep_alive && !has_body;
      co_await WriteLocal(stream_, 503, "no cluster", out.keep_alive, client_version, cors_headers, rc_mut, vh_mut,
                          route_mut, head, out.bytes_sent);
      Finish(chain, req, out, start, start_wall, route, "");
      co_return out.keep_alive;
    }
    const ClusterRuntime& cluster = cit->second;
    out.cluster_rt = &cluster;

    // Upstream request headers.
    // The parsed request is edited in place and forwarded (no copy of every field).
    auto& up_req = req;
    bool upgrade = req.find(http::field::upgrade) != req.end() &&
                   common::ToLower(std::string_view(req[http::field::connection].data(),
                                                    req[http::field::connection].size()))
                           .find("upgrade") != std::string::npos;
    bool expect_continue = beast::iequals(req[http::field::expect], "100-continue");
    std::string upgrade_value = upgrade ? std::string(req[http::field::upgrade]) : std::string();
    // An h2c upgrade not taken (TLS, a body, HTTP/1-only listener) is not passed upstream.
    upgrade = upgrade && !HasToken(upgrade_value, "h2c");
    for (auto it = req.begin(); it != req.end();) {
      if (IsHopByHop(it->name(), it->name_string()) || it->name() == http::field::expect) {
        it = req.erase(it);
      } else {
        ++it;
      }
    }
    if (action.prefix_rewrite) {
      req.target(RewritePrefix(target, route->match, *action.prefix_rewrite));
    }
    req.version(11);
    if (upgrade) {
      up_req.set(http::field::connection, "upgrade");
      up_req.set(http::field::upgrade, upgrade_value);
    }
    if (action.host_rewrite_literal) {
      up_req.set(http::field::host, *action.host_rewrite_literal);
    }
    std::string client_ip = ctx_.remote_ip;  // source-IP hashing uses the trusted client address
    {
      std::string xff(req["x-forwarded-for"]);
      if (hcm.use_remote_address || hcm.xff_num_trusted_hops > 0) {
        client_ip = TrustedClientAddress(xff, ctx_.remote_ip, hcm.use_remote_address, hcm.xff_num_trusted_hops);
      }
      if (hcm.use_remote_address) {
        // Edge proxy: the client cannot choose this header.
        if (IsInternalAddress(client_ip)) {
          req.erase("x-envoy-external-address");
        } else {
          req.set("x-envoy-external-address", client_ip);
        }
      }
      req.set("x-forwarded-for", xff.empty() ? ctx_.remote_ip : StrCat(xff, ", ", ctx_.remote_ip));
      if (hcm.use_remote_address || req.find("x-forwarded-proto") == req.end()) {
        up_req.set("x-forwarded-proto", ctx_.scheme);
      }
      if (ctx_.policy == 1 && !ctx_.peer_principal.empty()) {
        up_req.set("x-forwarded-client-cert", StrCat("URI=", ctx_.peer_principal));
      }
    }
    if (SendsPeerWorkload(*rt_, listener_, cluster_name)) {
      up_req.set(beast::string_view(kPeerWorkloadHeader.data(), kPeerWorkloadHeader.size()), rt_->peer_workload);
    }
    for (const HeaderMutations* m : {route_mut, vh_mut, rc_mut}) {
      if (m != nullptr) {
        ApplyRequestMutations(up_req, *m);
      }
    }
    if (parser.chunked()) {
      up_req.chunked(true);
    } else if (parser.content_length()) {
      up_req.content_length(*parser.content_length());
    }

    // Hash for consistent hashing.
    std::optional<uint64_t> hash;
    if (!action.hash_policy.empty()) {
      std::string cookies(req[http::field::cookie]);
      hash = RequestHash(action.hash_policy, header, cookies, client_ip);
    }

    // Mirroring: bodiless requests only, fire and forget.
    if (!has_body && !action.request_mirror_clusters.empty()) {
      auto shadow = std::make_shared<http::request<http::empty_body>>();
      shadow->method(up_req.method());
      shadow->target(up_req.target());
      for (const auto& f : up_req) {
        shadow->insert(f.name_string(), f.value());
      }
      SendMirrors(w_, rt_, action, std::move(shadow));
    }

    const RetryPolicy* retry = action.retry_policy ? &*action.retry_policy : (vh->retry_policy ? &*vh->retry_policy : nullptr);
    if (cluster.cluster->http2 && !upgrade) {  // HTTP/1.1 -> HTTP/2 (http2_proxy.inc)
      auto h2_deadline = action.timeout.count() > 0 ? std::optional(start + action.timeout) : std::nullopt;
      bool keep = co_await ForwardH1ToH2(w_, stream_, buffer, parser, up_req, cluster, hash, retry, h2_deadline, head,
                                         client_version, out);
      cluster.rq_total->fetch_add(1, std::memory_order_relaxed);
      if (out.status > 0) {
        cluster.rq_class[std::clamp(out.status / 100, 1, 5)]->fetch_add(1, std::memory_order_relaxed);
      }
      Finish(chain, req, out, start, start_wall, route, request_id);
      co_return keep && !w_.draining;
    }
    // A small request body (Content-Length up to 64 KiB) is read whole before the first
    // try when a retry policy applies, so that retries can replay it.
    const bool buffered = retry && has_body && !upgrade && !parser.chunked() && parser.content_length() &&
                          *parser.content_length() <= kChunkSize;
    // request_timeout bounds receiving the whole request (408 when it fires first). Its
    // own timer cancels the pending downstream read (the stream's timer would close the
    // socket, leaving no way to answer).
    struct RequestTimeoutState {
      bool fired = false;
      bool disarmed = false;
    };
    std::shared_ptr<RequestTimeoutState> request_timeout;  // only for bodies still to read
    std::optional<Timer> request_timer;
    if (hcm.request_timeout.count() > 0 && has_body && !parser.is_done()) {
      request_timeout = std::make_shared<RequestTimeoutState>();
      request_timer.emplace(w_.ioc, start + hcm.request_timeout);
      auto* socket = &beast::get_lowest_layer(stream_).socket();
      request_timer->async_wait([state = request_timeout, socket](beast::error_code ec) {
        if (!ec && !state->disarmed) {
          state->fired = true;
          beast::error_code ignored;
          socket->cancel(ignored);
        }
      });
    }
    struct Disarm {
      std::shared_ptr<RequestTimeoutState> state;
      ~Disarm() {
        if (state) {
          state->disarmed = true;
        }
      }
    } disarm_request_timeout{request_timeout};
    auto body_timeout = [&]() -> Duration { return hcm.stream_idle_timeout; };
    auto request_timed_out = [&](const beast::error_code&) { return request_timeout && request_timeout->fired; };
    bool sent_continue = false;
    std::string body_copy;
    if (buffered) {
      if (expect_continue) {
        sent_continue = true;
        static const char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
        co_await net::async_write(stream_, net::buffer(kContinue, sizeof(kContinue) - 1), kUse);
      }
      body_copy.resize(*parser.content_length());
      beast::error_code rec = ReadWholeBody(buffer, parser, body_copy);
      while (!rec && !parser.is_done()) {
        Expire(beast::get_lowest_layer(stream_), body_timeout());
        std::tie(rec, std::ignore) = co_await http::async_read(stream_, buffer, parser, kUse);
      }
      if (rec) {
        out.keep_alive = false;
        if (request_timed_out(rec)) {
          out.status = 408;
          co_await WriteLocal(stream_, 408, "request timeout", false, client_version, {}, nullptr, nullptr, nullptr,
                              head, out.bytes_sent);
        } else {
          out.flags = "DC";
        }
        Finish(chain, req, out, start, start_wall, route, request_id);
        co_return false;
      }
      out.bytes_received = body_copy.size();
      if (request_timeout) {
        request_timeout->disarmed = true;
      }
    }
    uint32_t max_attempts = 1 + ((retry && (!has_body || buffered) && !upgrade) ? retry->num_retries : 0);
    Duration try_timeout = action.timeout;
    if (retry && retry->per_try_timeout.count() > 0 &&
        (try_timeout.count() == 0 || retry->per_try_timeout < try_timeout)) {
      try_timeout = retry->per_try_timeout;
    }
    auto deadline = action.timeout.count() > 0 ? std::optional(start + action.timeout) : std::nullopt;

    const HostRuntime* previous = nullptr;
    UpstreamPtr conn;
    std::optional<http::response_parser<http::buffer_body>> up_parser;
    bool request_sent = false;
    char* chunk = w_.chunk_a.get();
    RetrySlot retry_slot;
    for (uint32_t attempt = 0; attempt < max_attempts; ++attempt) {
      bool last = attempt + 1 == max_attempts;
      if (attempt > 0) {
        retry_slot.Release();
        if (RetriesOverflow(cluster)) {
          w_.stats.Add(cluster.stat_prefix + "upstream_rq_retry_overflow");
          AddFlag(out.flags, "URX");
          break;
        }
        w_.stats.Add(cluster.stat_prefix + "upstream_rq_retry");
        retry_slot.Take(cluster.state.get());
        // Jittered exponential backoff.
        int64_t base = retry->base_interval.count() << std::min<uint32_t>(attempt - 1, 10);
        int64_t sleep = std::min<int64_t>(static_cast<int64_t>(w_.Random01() * base), retry->max_interval.count());
        Timer timer(w_.ioc, std::chrono::milliseconds(sleep));
        co_await timer.async_wait(kUse);
        out.flags.clear();
      }
      const HostRuntime* host = PickHost(w_, cluster, hash, previous);
      if (host == nullptr) {
        out.status = 503;
        out.flags = "UH";
        break;
      }
      previous = host;
      out.upstream_host = host->key;
      if (RequestsOverflow(cluster)) {
        out.status = 503;
        out.flags = "UO";
        w_.stats.Add(cluster.stat_prefix + "upstream_rq_pending_overflow");
        break;
      }
      conn = TakePooled(w_, host->pool_key, has_body && !buffered);
      bool pooled = conn != nullptr;
      ActiveRequest active(host, &cluster);
      if (!conn) {
        if (ConnectionsOverflow(cluster)) {
          out.status = 503;
          out.flags = "UO";
          w_.stats.Add(cluster.stat_prefix + "upstream_rq_pending_overflow");
          break;
        }
        cluster.state->pending_requests.fetch_add(1);
        auto [cec, fresh] = co_await Connect(w_, cluster, *host);
        cluster.state->pending_requests.fetch_sub(1);
        if (cec) {
          w_.stats.Add(cluster.stat_prefix + "upstream_cx_connect_fail");
          RecordOutcome(cluster, *host, 503, true);
          out.status = 503;
          out.flags = "UF";
          if (!last && retry && (retry->RetriesOn("connect-failure") || retry->RetriesOn("5xx") ||
                                 retry->RetriesOn("gateway-error") || retry->RetriesOn("reset"))) {
            continue;
          }
          if (attempt > 0) {
            AddFlag(out.flags, "URX");
          }
          break;
        }
        conn = std::move(fresh);
        w_.stats.Add(cluster.stat_prefix + "upstream_cx_total");
      }
      // Expect: 100-continue is answered here (Envoy's default) before the body is read.
      if (expect_continue && has_body && !sent_continue) {
        sent_continue = true;
        static const char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
        co_await net::async_write(stream_, net::buffer(kContinue, sizeof(kContinue) - 1), kUse);
      }
      beast::error_code send_ec, recv_ec, down_ec;
      uint64_t body_bytes = 0;
      if (buffered) {
        FormatHeader<true>(up_req, head_buf_);
        std::array<net::const_buffer, 2> bufs{net::buffer(head_buf_), net::buffer(body_copy)};
        if (conn->tls) {
          send_ec = co_await WriteAll(*conn->tls, bufs, hcm.stream_idle_timeout);
        } else {
          send_ec = co_await WriteAll(*conn->tcp, bufs, hcm.stream_idle_timeout);
        }
        body_bytes = body_copy.size();
      } else {
        // Relay reports (downstream read error, upstream write error).
        FormatHeader<true>(up_req, head_buf_);
        const bool chunked_out = parser.chunked();
        if (conn->tls) {
          std::tie(down_ec, send_ec) = co_await Relay(stream_, buffer, parser, *conn->tls, head_buf_, chunked_out,
                                                      true, chunk, body_timeout(), body_bytes, body_limit);
        } else {
          std::tie(down_ec, send_ec) = co_await Relay(stream_, buffer, parser, *conn->tcp, head_buf_, chunked_out,
                                                      true, chunk, body_timeout(), body_bytes, body_limit);
        }
      }
      out.bytes_received = body_bytes;
      if (request_timeout) {
        request_timeout->disarmed = true;
      }
      if (down_ec == http::error::body_limit) {
        // The upstream may have the start of the body: its request is cut (connection
        // closed) and the client gets the 413.
        conn.reset();
        out.upstream_host.clear();
        co_return co_await PayloadTooLarge(chain, req, out, start, start_wall, route, request_id, client_version, head,
                                           true);
      }
      if (down_ec) {
        out.status = 0;
        out.flags = "DC";
        out.keep_alive = false;
        if (request_timed_out(down_ec)) {
          conn.reset();
          out.status = 408;
          out.flags.clear();
          co_await WriteLocal(stream_, 408, "request timeout", false, client_version, {}, nullptr, nullptr, nullptr,
                              head, out.bytes_sent);
        }
        Finish(chain, req, out, start, start_wall, route, request_id);
        co_return false;
      }
      request_sent = !send_ec;
      up_parser.emplace();
      up_parser->body_limit(boost::none);
      up_parser->header_limit(96 * 1024);
      if (head) {
        up_parser->skip(true);
      }
      Duration timeout = try_timeout;
      if (deadline) {
        auto left = std::chrono::duration_cast<Duration>(*deadline - std::chrono::steady_clock::now());
        if (timeout.count() == 0 || left < timeout) {
          timeout = std::max(left, Duration(1));
        }
      }
      // No route timeout: the stream idle timeout still bounds the wait for the response
      // (Envoy's behaviour: 504 with SI), so an upstream that never answers cannot pin it.
      const bool idle_bounded = timeout.count() == 0;
      if (idle_bounded) {
        timeout = hcm.stream_idle_timeout;
      }
      if (!send_ec) {
        Expire(conn->lowest(), timeout);
        for (;;) {
          if (conn->tls) {
            std::tie(recv_ec, std::ignore) = co_await http::async_read_header(*conn->tls, conn->buffer, *up_parser, kUse);
          } else {
            std::tie(recv_ec, std::ignore) = co_await http::async_read_header(*conn->tcp, conn->buffer, *up_parser, kUse);
          }
          // Interim 1xx responses (other than 101) are dropped; the final one follows.
          int code = recv_ec ? 0 : up_parser->get().result_int();
          if (!recv_ec && code >= 100 && code < 200 && code != 101) {
            up_parser.emplace();
            up_parser->body_limit(boost::none);
            if (head) {
              up_parser->skip(true);
            }
            continue;
          }
          break;
        }
      }
      beast::error_code failure = send_ec ? send_ec : recv_ec;
      if (failure) {
        bool timed_out = failure == beast::error::timeout;
        conn.reset();
        if (pooled && !timed_out && (!has_body || buffered)) {
          // A kept-alive connection the upstream had closed: retry on a fresh one for free.
          --attempt;
          previous = nullptr;
          continue;
        }
        RecordOutcome(cluster, *host, timed_out ? 504 : 503, true);
        out.status = timed_out ? 504 : 503;
        out.flags = timed_out ? (idle_bounded ? "SI" : "UT") : "UC";
        if (timed_out) {
          w_.stats.Add(cluster.stat_prefix + "upstream_rq_timeout");
        }
        bool per_try = timed_out && try_timeout != action.timeout;
        if (!last && retry &&
            ((timed_out && per_try && (retry->RetriesOn("5xx") || retry->RetriesOn("gateway-error"))) ||
             (!timed_out && (retry->RetriesOn("reset") || retry->RetriesOn("5xx") || retry->RetriesOn("gateway-error"))))) {
          continue;
        }
        if (attempt > 0 && !timed_out) {
          AddFlag(out.flags, "URX");
        }
        break;
      }
      int code = up_parser->get().result_int();
      RecordOutcome(cluster, *host, code, false);
      bool retriable = retry && !last &&
                       ((retry->RetriesOn("5xx") && code >= 500) ||
                        (retry->RetriesOn("gateway-error") && (code == 502 || code == 503 || code == 504)) ||
                        (retry->RetriesOn("retriable-4xx") && code == 409));
      if (retriable) {
        // Discard this response's body so the connection can be reused.
        out.status = code;
        beast::error_code dec;
        while (!up_parser->is_done() && !dec) {
          up_parser->get().body().data = chunk;
          up_parser->get().body().size = kChunkSize;
          if (conn->tls) {
            std::tie(dec, std::ignore) = co_await http::async_read(*conn->tls, conn->buffer, *up_parser, kUse);
          } else {
            std::tie(dec, std::ignore) = co_await http::async_read(*conn->tcp, conn->buffer, *up_parser, kUse);
          }
          if (dec == http::error::need_buffer) {
            dec = {};
          }
        }
        if (!dec && up_parser->keep_alive()) {
          ReturnToPool(w_, std::move(conn));
        }
        conn.reset();
        continue;
      }
      out.status = code;
      out.flags.clear();
      if (attempt > 0 && code >= 500) {
        AddFlag(out.flags, "URX");
      }
      break;
    }
    (void)request_sent;
    retry_slot.Release();

    if (!conn || !up_parser || !up_parser->is_header_done() || out.status != static_cast<int>(up_parser->get().result_int())) {
      // No upstream response to forward: a local reply.
      std::string body = out.flags.find("UH") != std::string::npos   ? "no healthy upstream"
                         : out.flags.find("UO") != std::string::npos ? "upstream connect error or disconnect/reset before headers. reset reason: overflow"
                         : out.flags.find("UT") != std::string::npos ? "upstream request timeout"
                         : out.flags.find("UF") != std::string::npos ? "upstream connect error or disconnect/reset before headers. reset reason: connection failure"
                                                                     : "upstream connect error or disconnect/reset before headers. reset reason: connection termination";
      if (out.status == 0) {
        out.status = 503;
      }
      out.keep_alive = out.keep_alive && !has_body;
      if (has_body && !parser.is_done()) {
        out.keep_alive = false;
      }
      conn.reset();
      co_await WriteLocal(stream_, out.status, body, out.keep_alive, client_version, cors_headers, rc_mut, vh_mut,
                          route_mut, head, out.bytes_sent);
      cluster.rq_class[std::clamp(out.status / 100, 1, 5)]->fetch_add(1, std::memory_order_relaxed);
      Finish(chain, req, out, start, start_wall, route, request_id);
      co_return out.keep_alive;
    }

    // Forward the upstream response.
    auto& res = up_parser->get();
    auto& up_res = res;
    std::string up_upgrade(res[http::field::upgrade]);
    for (auto it = res.begin(); it != res.end();) {
      if (IsHopByHop(it->name(), it->name_string())) {
        it = res.erase(it);
      } else {
        ++it;
      }
    }
    res.version(client_version);
    for (const auto& [k, v] : cors_headers) {
      res.set(k, v);
    }
    for (const HeaderMutations* m : {route_mut, vh_mut, rc_mut}) {
      if (m != nullptr) {
        ApplyResponseMutations(res, *m);
      }
    }
    int code = static_cast<int>(up_res.result_int());
    if (code == 101 && upgrade) {
      res.set(http::field::connection, "upgrade");
      res.set(http::field::upgrade, up_upgrade);
      http::response<http::empty_body> sw;
      sw.result(101);
      sw.version(11);
      for (const auto& f : res) {
        sw.insert(f.name_string(), f.value());
      }
      auto [wec, wn] = co_await http::async_write(stream_, sw, kUse);
      out.status = 101;
      Finish(chain, req, out, start, start_wall, route, request_id);
      if (wec) {
        co_return false;
      }
      // Bytes already buffered on either side go first, then raw bytes both ways.
      beast::error_code ignored;
      if (buffer.size() > 0) {
        if (conn->tls) {
          co_await net::async_write(*conn->tls, buffer.data(), kUse);
        } else {
          co_await net::async_write(*conn->tcp, buffer.data(), kUse);
        }
        buffer.consume(buffer.size());
      }
      if (conn->buffer.size() > 0) {
        co_await net::async_write(stream_, conn->buffer.data(), kUse);
        conn->buffer.consume(conn->buffer.size());
      }
      uint64_t a = 0, b = 0;
      if (conn->tls) {
        co_await PumpBoth(stream_, *conn->tls, hcm.stream_idle_timeout, a, b);
      } else {
        co_await PumpBoth(stream_, *conn->tcp, hcm.stream_idle_timeout, a, b);
      }
      co_return false;
    }
    bool no_body = head || code == 204 || code == 304 || (code >= 100 && code < 200);
    if (!no_body) {
      if (up_parser->content_length()) {
        res.content_length(*up_parser->content_length());
      } else if (!up_parser->is_done() || up_parser->chunked()) {
        if (client_version >= 11) {
          res.chunked(true);
        } else {
          out.keep_alive = false;
        }
      } else {
        res.content_length(0);
      }
    } else if (head && up_parser->content_length()) {
      res.content_length(*up_parser->content_length());
    }
    if (has_body && !parser.is_done()) {
      out.keep_alive = false;
    }
    out.keep_alive = out.keep_alive && !w_.draining;
    res.keep_alive(out.keep_alive);
    FormatHeader<false>(res, head_buf_);
    const bool send_body = !(head || no_body);
    const bool chunked_out = send_body && res.chunked();
    beast::error_code up_ec, down_ec;
    if (conn->tls) {
      std::tie(up_ec, down_ec) = co_await Relay(*conn->tls, conn->buffer, *up_parser, stream_, head_buf_, chunked_out,
                                                send_body, chunk, hcm.stream_idle_timeout, out.bytes_sent);
    } else {
      std::tie(up_ec, down_ec) = co_await Relay(*conn->tcp, conn->buffer, *up_parser, stream_, head_buf_, chunked_out,
                                                send_body, chunk, hcm.stream_idle_timeout, out.bytes_sent);
    }
    if (up_ec && !down_ec && out.bytes_sent == 0) {
      // The upstream went away before the proxy wrote anything downstream (headers go out
      // with the first body bytes): the client still gets an answer, 503 UC, not a bare close.
      out.status = code = 503;
      out.keep_alive = false;
      co_await WriteLocal(stream_, 503,
                          "upstream connect error or disconnect/reset before headers. reset reason: connection termination",
                          false, client_version, {}, rc_mut, vh_mut, route_mut, head, out.bytes_sent);
    }
    cluster.rq_class[std::clamp(code / 100, 1, 5)]->fetch_add(1, std::memory_order_relaxed);
    cluster.rq_total->fetch_add(1, std::memory_order_relaxed);
    if (up_ec) {
      AddFlag(out.flags, "UC");
      out.keep_alive = false;
    } else if (down_ec) {
      AddFlag(out.flags, "DC");
      out.keep_alive = false;
    }
    if (!up_ec && !down_ec && up_parser->is_done() && up_parser->keep_alive()) {
      ReturnToPool(w_, std::move(conn));
    }
    Finish(chain, req, out, start, start_wall, route, request_id);
    co_return out.keep_alive;
  }

  // 413 for a request body over the limit (Envoy's buffer filter answer). The connection
  // closes; body bytes still arriving are read and dropped for a moment first, so that
  // the close does not reset the connection before the client has read the answer.
  template <class Req>
  awaitable<bool> PayloadTooLarge(const ChainRuntime& chain, Req& req, Outcome& out,
                                  std::chrono::steady_clock::time_point start,
                                  std::chrono::system_clock::time_point start_wall, const Route* route,
                                  const std::string& request_id, unsigned client_version, bool head,
                                  bool body_pending) {
    out.status = 413;
    out.flags.clear();
    out.details = "request_payload_too_large";
    out.keep_alive = false;
    w_.stats.Add(chain.stat_prefix + "downstream_rq_too_large");
    beast::error_code wec = co_await WriteLocal(stream_, 413, "Payload Too Large", false, client_version, {}, nullptr,
                                                nullptr, nullptr, head, out.bytes_sent);
    Finish(chain, req, out, start, start_wall, route, request_id);
    if (!wec && body_pending) {
      constexpr uint64_t kMaxDiscard = 4 << 20;
      auto until = std::chrono::steady_clock::now() + std::chrono::seconds(1);
      uint64_t dropped = 0;
      while (dropped < kMaxDiscard) {
        auto left = std::chrono::duration_cast<Duration>(until - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
          break;
        }
        Expire(beast::get_lowest_layer(stream_), left);
        auto [ec, n] = co_await stream_.async_read_some(net::buffer(w_.chunk_a.get(), kChunkSize), kUse);
        dropped += n;
        if (ec) {
          break;
        }
      }
    }
    co_return false;
  }

  template <class Req>
  void Finish(const ChainRuntime& chain, Req& req, const Outcome& out, std::chrono::steady_clock::time_point start,
              std::chrono::system_clock::time_point start_wall, const Route* route, const std::string&) {
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    std::string flags = out.fault_flags;
    if (!out.flags.empty()) {
      AddFlag(flags, out.flags);
    }
    const ListenerRuntime& lr = rt_->listeners.at(listener_);
    uint32_t labels = out.cluster_rt ? out.cluster_rt->labels[lr.reporter][ctx_.policy]
                                     : rt_->no_cluster_labels[lr.reporter][ctx_.policy];
    if (!source_peer_.empty()) {
      labels = SourceWorkloadLabels(labels, source_peer_);
    }
    w_.stats.RecordRequest(labels, out.status, flags, ms, out.bytes_received, out.bytes_sent);
    chain.downstream_rq_total->fetch_add(1, std::memory_order_relaxed);
    if (chain.logs.empty()) {
      return;
    }
    AccessLogRecord r;
    r.start_time = start_wall;
    r.protocol = client_version_ == 10 ? "HTTP/1.0" : "HTTP/1.1";
    r.response_code = out.status;
    r.response_flags = flags;
    r.response_code_details = out.details;
    r.bytes_received = out.bytes_received;
    r.bytes_sent = out.bytes_sent;
    r.duration_ms = static_cast<int64_t>(ms);
    r.upstream_host = out.upstream_host;
    r.upstream_cluster = out.cluster;
    r.downstream_remote_address = ctx_.remote_address;
    r.route_name = route ? route->name : "";
    std::string method(req.method_string()), path(orig_target_), host(orig_authority_);
    r.request_header = [&](std::string_view name) -> std::optional<std::string> {
      if (name == ":method") {
        return method;
      }
      if (name == ":path") {
        return path;
      }
      if (name == ":authority") {
        return host;
      }
      auto it = req.find(beast::string_view(name.data(), name.size()));
      if (it == req.end()) {
        return std::nullopt;
      }
      return std::string(it->value());
    };
    WriteAccessLogs(chain, r);
  }

  Worker& w_;
  Stream& stream_;
  RuntimePtr rt_;
  std::string head_buf_;  // formatted request/response header, reused per connection
  unsigned client_version_ = 11;
  std::string orig_target_;
  std::string orig_authority_;
  std::optional<H2cUpgrade> h2c_;
  std::string source_peer_;  // the caller's kPeerWorkloadHeader (destination side only)
  std::string listener_;
  size_t chain_;
  RequestContext ctx_;
};

// ---------------------------------------------------------------------------------------
// TCP proxy

template <class Stream>
awaitable<void> ServeTcp(Worker& w, Stream& down, beast::flat_buffer& initial, RuntimePtr rt,
                         const ListenerRuntime& lr, const ChainRuntime& chain, const RequestContext& ctx) {
  auto start_wall = std::chrono::system_clock::now();
  auto start = std::chrono::steady_clock::now();
  auto it = rt->clusters.find(chain.tcp->cluster);
  const ClusterRuntime& cluster = it->second;
  const std::string labels = LabelsById(cluster.labels[lr.reporter][ctx.policy]);
  w.stats.RecordTcpOpen(labels);
  uint64_t sent = 0, received = 0;
  std::string flags, upstream_host;
  const HostRuntime* host = PickHost(w, cluster, HashKey(ctx.remote_ip), nullptr);
  if (host == nullptr) {
    flags = "UH";
  } else {
    upstream_host = host->key;
    auto [ec, conn] = co_await Connect(w, cluster, *host);
    if (ec) {
      flags = "UF";
      RecordOutcome(cluster, *host, 503, true);
    } else {
      if (initial.size() > 0) {
        received += initial.size();
        if (conn->tls) {
          co_await net::async_write(*conn->tls, initial.data(), kUse);
        } else {
          co_await net::async_write(*conn->tcp, initial.data(), kUse);
        }
        initial.consume(initial.size());
      }
      if (conn->tls) {
        co_await PumpBoth(down, *conn->tls, chain.tcp->idle_timeout, received, sent);
      } else {
        co_await PumpBoth(down, *conn->tcp, chain.tcp->idle_timeout, received, sent);
      }
    }
  }
  w.stats.RecordTcpClose(labels, sent, received);
  if (!chain.logs.empty()) {
    AccessLogRecord r;
    r.start_time = start_wall;
    r.protocol = "";
    r.response_flags = flags;
    r.bytes_received = received;
    r.bytes_sent = sent;
    r.duration_ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
    r.upstream_host = upstream_host;
    r.upstream_cluster = cluster.cluster->name;
    r.downstream_remote_address = ctx.remote_address;
    WriteAccessLogs(chain, r);
  }
}

// envoy.filters.network.rbac: false when the connection must be closed.
bool NetworkRbacAllows(Worker& w, const ListenerRuntime& lr, const ChainRuntime& chain, const RequestContext& ctx) {
  const auto& filters = chain.chain->network_rbac;
  if (filters.empty()) {
    return true;
  }
  RbacDecision decision = EvaluateRbac(filters, ConnectionRbacInput(ctx));
  w.stats.Add(lr.stat_prefix + (decision.allowed ? "rbac.allowed" : "rbac.denied"));
  if (!decision.allowed && !chain.logs.empty()) {
    AccessLogRecord r;
    r.start_time = std::chrono::system_clock::now();
    r.protocol = "";
    r.response_flags = "RBAC";
    r.response_code_details = decision.details;
    r.downstream_remote_address = ctx.remote_address;
    WriteAccessLogs(chain, r);
  }
  return decision.allowed;
}

// Picks the filter chain for a connection given what the ClientHello said.
int SelectChain(const ListenerRuntime& lr, bool is_tls, const std::string& sni) {
  int best = -1, best_score = -1;
  for (size_t i = 0; i < lr.chains.size(); ++i) {
    const FilterChainMatch& m = lr.chains[i].chain->filter_chain_match;
    if (m.transport_protocol == "tls" && !is_tls) {
      continue;
    }
    if (m.transport_protocol == "raw_buffer" && is_tls) {
      continue;
    }
    if (lr.chains[i].tls && !is_tls) {
      continue;
    }
    int score = 0;
    if (!m.server_names.empty()) {
      bool hit = false;
      for (const auto& name : m.server_names) {
        if (ServerNameMatches(name, sni)) {
          hit = true;
          score = name == sni ? 3 : 2;
        }
      }
      if (!hit) {
        continue;
      }
    }
    if (!m.transport_protocol.empty()) {
      score += 1;
    }
    if (score > best_score) {
      best = static_cast<int>(i);
      best_score = score;
    }
  }
  return best;
}

awaitable<void> HandleConnection(Worker& w, Socket socket, std::string listener_name) {
  RuntimePtr rt = w.runtime;
  auto lit = rt->listeners.find(listener_name);
  if (lit == rt->listeners.end()) {
    co_return;
  }
  const ListenerRuntime& lr = lit->second;
  beast::error_code ec;
  socket.set_option(tcp::no_delay(true), ec);
  RequestContext ctx;
  auto remote = socket.remote_endpoint(ec);
  ctx.remote_ip = ec ? "" : remote.address().to_string();
  ctx.remote_address = ec ? "" : StrCat(ctx.remote_ip, ":", remote.port());
  auto local = socket.local_endpoint(ec);
  ctx.local_ip = ec ? "" : local.address().to_string();
  ctx.local_port = ec ? 0 : local.port();
  ctx.policy = lr.reporter == 1 ? 0 : 2;
  w.stats.Add(lr.stat_prefix + "downstream_cx_total");
  TcpStream stream(std::move(socket));
  beast::flat_buffer buffer;
  int chain_index = 0;
  bool is_tls = false;
  if (lr.inspect) {
    std::string sni;
    stream.expires_after(10s);
    for (;;) {
      auto data = buffer.data();
      std::string_view view(static_cast<const char*>(data.data()), data.size());
      auto result = InspectClientHello(view, sni);
      if (result != ClientHelloResult::kNeedMoreData) {
        is_tls = result == ClientHelloResult::kTls;
        break;
      }
      auto [rec, n] = co_await stream.async_read_some(buffer.prepare(4096), kUse);
      if (rec) {
        co_return;
      }
      buffer.commit(n);
    }
    chain_index = SelectChain(lr, is_tls, sni);
    if (chain_index < 0) {
      co_return;  // no chain: Envoy closes the connection
    }
  }
  const ChainRuntime& chain = lr.chains[chain_index];
  if (chain.tls) {
    ssl::context ctx_wrap = WrapContext(chain.tls);
    ssl::stream<TcpStream> tls(std::move(stream), ctx_wrap);
    tls.next_layer().expires_after(10s);
    auto [hec, used] = co_await tls.async_handshake(ssl::stream_base::server, buffer.data(), kUse);
    if (hec) {
      co_return;
    }
    buffer.consume(used);
    ctx.scheme = "https";
    if (SSL_get_verify_result(tls.native_handle()) == X509_V_OK) {
      X509* peer = SSL_get0_peer_certificate(tls.native_handle());
      if (peer != nullptr) {
        ctx.policy = lr.reporter == 1 ? 1 : 2;
        ctx.peer_principal = PeerUriSan(tls.native_handle());
        ctx.authenticated = true;
      }
    }
    if (!NetworkRbacAllows(w, lr, chain, ctx)) {
      co_return;  // closes the connection
    }
    const unsigned char* alpn = nullptr;
    unsigned int alpn_len = 0;
    SSL_get0_alpn_selected(tls.native_handle(), &alpn, &alpn_len);
    if (chain.hcm && alpn_len == 2 && std::memcmp(alpn, "h2", 2) == 0) {  // HTTP/2 by ALPN
      H2ServerConn<ssl::stream<TcpStream>> h2(w, tls, rt, listener_name, chain_index, ctx);
      co_await h2.Run(buffer);
    } else if (chain.hcm) {
      HttpSession<ssl::stream<TcpStream>> session(w, tls, rt, listener_name, chain_index, ctx);
      co_await session.Run(buffer);
      tls.next_layer().expires_after(1s);
      co_await tls.async_shutdown(kUse);
    } else {
      co_await ServeTcp(w, tls, buffer, rt, lr, chain, ctx);
    }
    co_return;
  }
  ctx.scheme = "http";
  if (!NetworkRbacAllows(w, lr, chain, ctx)) {
    co_return;
  }
  if (chain.hcm && chain.hcm->codec_type != "HTTP1") {  // HTTP/2 with prior knowledge
    Expire(stream, chain.hcm->idle_timeout);
    if (co_await SniffH2Preface(stream, buffer)) {
      H2ServerConn<TcpStream> h2(w, stream, rt, listener_name, chain_index, ctx);
      co_await h2.Run(buffer);
      co_return;
    }
  }
  if (chain.hcm) {
    HttpSession<TcpStream> session(w, stream, rt, listener_name, chain_index, ctx);
    co_await session.Run(buffer);
    if (std::optional<H2cUpgrade> h2c = session.TakeH2cUpgrade()) {
      H2ServerConn<TcpStream> h2(w, stream, rt, listener_name, chain_index, ctx);
      co_await h2.Run(buffer, &*h2c);
      co_return;
    }
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  } else {
    co_await ServeTcp(w, stream, buffer, rt, lr, chain, ctx);
  }
}

awaitable<void> AcceptLoop(Worker& w, std::shared_ptr<Acceptor> acceptor, std::string listener_name) {
  for (;;) {
    auto [ec, socket] = co_await acceptor->async_accept(kUse);
    if (ec == net::error::operation_aborted || !acceptor->is_open()) {
      co_return;
    }
    if (ec) {
      // EMFILE and friends: back off a little instead of spinning.
      Timer t(w.ioc, 10ms);
      co_await t.async_wait(kUse);
      continue;
    }
    net::co_spawn(w.ioc, HandleConnection(w, std::move(socket), listener_name), [](std::exception_ptr e) {
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          Log(StrCat("connection error: ", ex.what()));
        }
      }
    });
  }
}

// ---------------------------------------------------------------------------------------
// Admin, health and stats servers (on the control thread).

struct AdminResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=UTF-8";
  std::string body;
};
using AdminHandler = std::function<AdminResponse(const std::string& method, const std::string& target)>;

awaitable<void> ServeAdminConnection(Socket socket, AdminHandler handler) {
  TcpStream stream(std::move(socket));
  beast::flat_buffer buffer;
  for (;;) {
    http::request<http::string_body> req;
    stream.expires_after(30s);
    auto [ec, n] = co_await http::async_read(stream, buffer, req, kUse);
    if (ec) {
      break;
    }
    AdminResponse r = handler(std::string(req.method_string()), std::string(req.target()));
    http::response<http::string_body> res{static_cast<http::status>(r.status), req.version()};
    res.set(http::field::content_type, r.content_type);
    res.body() = std::move(r.body);
    res.keep_alive(req.keep_alive());
    res.prepare_payload();
    auto [wec, wn] = co_await http::async_write(stream, res, kUse);
    if (wec || !req.keep_alive()) {
      break;
    }
  }
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

awaitable<void> AdminAcceptLoop(std::shared_ptr<Acceptor> acceptor, AdminHandler handler) {
  for (;;) {
    auto [ec, socket] = co_await acceptor->async_accept(kUse);
    if (ec == net::error::operation_aborted || !acceptor->is_open()) {
      co_return;
    }
    if (ec) {
      continue;
    }
    net::co_spawn(acceptor->get_executor(), ServeAdminConnection(std::move(socket), handler), net::detached);
  }
}

absl::StatusOr<std::shared_ptr<Acceptor>> OpenAcceptor(net::io_context& ioc, const std::string& address, int port,
                                                            bool reuse_port) {
  beast::error_code ec;
  auto addr = net::ip::make_address(address.empty() ? "0.0.0.0" : address, ec);
  if (ec) {
    return absl::InvalidArgumentError(StrCat("bad listen address \"", address, "\""));
  }
  auto acc = std::make_shared<Acceptor>(ioc);
  tcp::endpoint ep(addr, static_cast<uint16_t>(port));
  acc->open(ep.protocol(), ec);
  if (!ec) {
    acc->set_option(net::socket_base::reuse_address(true), ec);
  }
  if (!ec && reuse_port) {
    int one = 1;
    ::setsockopt(acc->native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
  }
  if (!ec) {
    acc->bind(ep, ec);
  }
  if (!ec) {
    acc->listen(net::socket_base::max_listen_connections, ec);
  }
  if (ec) {
    return absl::UnavailableError(StrCat("cannot listen on ", address, ":", port, ": ", ec.message()));
  }
  return acc;
}

// ---------------------------------------------------------------------------------------
// Active HTTP health checks (on the control thread): GET path, healthy on 2xx.

awaitable<void> HealthCheckHost(net::io_context& ioc, RuntimePtr rt, const ClusterRuntime* cluster, size_t host_index,
                                std::shared_ptr<std::atomic<uint64_t>> generation, uint64_t mine) {
  (void)rt;  // held so that *cluster outlives this coroutine
  const HealthCheck& hc = cluster->cluster->health_checks.front();
  const HostRuntime& host = cluster->hosts[host_index];
  uint32_t successes = 0, failures = 0;
  while (generation->load() == mine) {
    bool healthy = false;
    beast::error_code ec;
    TcpStream stream(ioc);
    stream.expires_after(hc.timeout);
    tcp::endpoint ep(net::ip::make_address(host.address, ec), host.port);
    if (!ec) {
      auto [cec] = co_await stream.async_connect(ep, kUse);
      if (!cec) {
        http::request<http::empty_body> req{http::verb::get, hc.path, 11};
        req.set(http::field::host, cluster->cluster->name);
        req.set(http::field::user_agent, "meshctl-health-checker");
        req.keep_alive(false);
        auto [wec, wn] = co_await http::async_write(stream, req, kUse);
        if (!wec) {
          beast::flat_buffer buf;
          http::response<http::string_body> res;
          auto [rec, rn] = co_await http::async_read(stream, buf, res, kUse);
          healthy = !rec && res.result_int() >= 200 && res.result_int() < 300;
        }
      }
    }
    beast::error_code ignored;
    stream.socket().close(ignored);
    if (healthy) {
      failures = 0;
      if (++successes >= std::max<uint32_t>(1, hc.healthy_threshold)) {
        host.state->health_check_failed.store(false);
      }
    } else {
      successes = 0;
      if (++failures >= std::max<uint32_t>(1, hc.unhealthy_threshold)) {
        host.state->health_check_failed.store(true);
      }
    }
    Timer timer(ioc, hc.interval);
    co_await timer.async_wait(kUse);
  }
}

// ---------------------------------------------------------------------------------------

class ProxyImpl : public Proxy {
 public:
  explicit ProxyImpl(const ProxyOptions& options) : options_(options) {
    int n = std::max(1, options.concurrency);
    for (int i = 0; i < n; ++i) {
      workers_.push_back(std::make_unique<Worker>());
      workers_.back()->active_requests = &active_requests_;
      workers_.back()->open_h2_connections = &open_h2_connections_;
    }
  }
  ~ProxyImpl() override {
    Stop();
    // Pending coroutine frames die with the workers' io_contexts and may touch the
    // proxy's counters: destroy the workers first.
    workers_.clear();
  }

  absl::Status Start() override {
    struct Server {
      std::string address;
      int port;
      AdminHandler handler;
    };
    std::vector<Server> servers;
    if (options_.admin_port > 0) {
      servers.push_back({options_.admin_address, options_.admin_port,
                         [this](const std::string& m, const std::string& t) { return Admin(m, t); }});
    }
    if (options_.health_port > 0) {
      servers.push_back({options_.health_address, options_.health_port, [this](const std::string&, const std::string& t) {
                           AdminResponse r;
                           if (t.rfind("/healthz/ready", 0) == 0) {
                             r.status = Ready() ? 200 : 503;
                             r.body = Ready() ? "" : "config not loaded\n";
                           } else {
                             r.status = 404;
                           }
                           return r;
                         }});
    }
    if (options_.stats_port > 0) {
      servers.push_back({options_.stats_address, options_.stats_port, [this](const std::string&, const std::string& t) {
                           AdminResponse r;
                           if (t.rfind("/stats/prometheus", 0) == 0) {
                             r.content_type = "text/plain; version=0.0.4";
                             r.body = Prometheus();
                           } else {
                             r.status = 404;
                           }
                           return r;
                         }});
    }
    for (auto& s : servers) {
      MESH_ASSIGN_OR_RETURN(auto acc, OpenAcceptor(control_, s.address, s.port, false));
      admin_acceptors_.push_back(acc);
      net::co_spawn(control_, AdminAcceptLoop(acc, s.handler), net::detached);
    }
    control_guard_.emplace(control_.get_executor());
    control_thread_ = std::thread([this] { control_.run(); });
    for (auto& w : workers_) {
      w->thread = std::thread([wp = w.get()] {
        auto guard = net::make_work_guard(wp->ioc);
        wp->ioc.run();
      });
    }
    started_ = true;
    return absl::OkStatus();
  }

  absl::Status UpdateConfig(ConfigSnapshotPtr snapshot) override {
    std::lock_guard<std::mutex> lock(update_mu_);
    MESH_ASSIGN_OR_RETURN(RuntimePtr rt, CompileRuntime(snapshot, registry_));
    // Listener identity: name + address; a changed address is a new listener.
    std::map<std::string, std::string> wanted;  // key -> listener name
    for (const auto& l : snapshot->resources.listeners) {
      wanted[StrCat(l.name, "|", l.address.address, ":", l.address.port_value)] = l.name;
    }
    std::map<std::string, std::vector<std::shared_ptr<Acceptor>>> opened;
    for (const auto& [key, name] : wanted) {
      if (listeners_.count(key)) {
        continue;
      }
      const Listener* l = nullptr;
      for (const auto& x : snapshot->resources.listeners) {
        if (x.name == name) {
          l = &x;
        }
      }
      int port = static_cast<int>(l->address.port_value);
      for (auto& w : workers_) {
        auto acc = OpenAcceptor(w->ioc, l->address.address, port, workers_.size() > 1);
        if (!acc.ok()) {
          for (auto& [k, accs] : opened) {
            for (auto& a : accs) {
              beast::error_code ignored;
              a->close(ignored);
            }
          }
          return absl::Status(acc.status().code(), StrCat("listener \"", name, "\": ", std::string(acc.status().message())));
        }
        port = (*acc)->local_endpoint().port();  // port 0: the other workers share the chosen port
        opened[key].push_back(*acc);
      }
      bound_ports_[name] = port;
    }
    std::vector<std::string> removed;
    for (const auto& [key, name] : listeners_) {
      if (!wanted.count(key)) {
        removed.push_back(key);
        bound_ports_.erase(name);
      }
    }
    for (const auto& key : removed) {
      listeners_.erase(key);
    }
    for (const auto& [key, accs] : opened) {
      listeners_[key] = wanted[key];
    }
    for (size_t i = 0; i < workers_.size(); ++i) {
      Worker* w = workers_[i].get();
      std::vector<std::pair<std::string, std::shared_ptr<Acceptor>>> add;
      for (const auto& [key, accs] : opened) {
        add.emplace_back(key, accs[i]);
      }
      std::map<std::string, std::string> names = listeners_;
      net::post(w->ioc, [w, rt, add, removed, names] {
        w->runtime = rt;
        for (const auto& key : removed) {
          auto it = w->acceptors.find(key);
          if (it != w->acceptors.end()) {
            beast::error_code ignored;
            it->second->close(ignored);
            w->acceptors.erase(it);
          }
        }
        for (const auto& [key, acc] : add) {
          w->acceptors[key] = acc;
          net::co_spawn(w->ioc, AcceptLoop(*w, acc, names.at(key)), net::detached);
        }
      });
    }
    {
      std::lock_guard<std::mutex> l(state_mu_);
      current_ = rt;
    }
    // Health checkers follow the newest snapshot; older ones stop at their next round.
    uint64_t gen = health_generation_->fetch_add(1) + 1;
    for (const auto& [name, cluster] : rt->clusters) {
      if (cluster.cluster->health_checks.empty()) {
        continue;
      }
      for (size_t i = 0; i < cluster.hosts.size(); ++i) {
        net::co_spawn(control_, HealthCheckHost(control_, rt, &cluster, i, health_generation_, gen), net::detached);
      }
    }
    ready_ = true;
    return absl::OkStatus();
  }

  void Drain() override {
    if (!started_) {
      return;
    }
    // 1. Stop accepting and close idle keep-alive connections.
    for (auto& w : workers_) {
      Worker* wp = w.get();
      net::post(wp->ioc, [wp] {
        wp->draining = true;
        for (auto& [key, acc] : wp->acceptors) {
          beast::error_code ignored;
          acc->close(ignored);
        }
        wp->acceptors.clear();
        for (SessionHandle* s : wp->sessions) {
          if (s->idle) {
            s->cancel();
          }
        }
        wp->pools.clear();
      });
    }
    ready_ = false;
    // 2. Wait for in-flight requests, up to the drain timeout.
    auto deadline = std::chrono::steady_clock::now() + options_.drain_timeout;
    // HTTP/2 connections count too: an idle one closes as soon as its GOAWAY is written.
    while ((active_requests_.load() > 0 || open_h2_connections_.load() > 0) &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(20ms);
    }
    Stop();
  }

  void Stop() override {
    std::lock_guard<std::mutex> lock(stop_mu_);
    if (stopped_) {
      return;
    }
    stopped_ = true;
    for (auto& w : workers_) {
      w->ioc.stop();
    }
    for (auto& w : workers_) {
      if (w->thread.joinable()) {
        w->thread.join();
      }
    }
    control_guard_.reset();
    control_.stop();
    if (control_thread_.joinable()) {
      control_thread_.join();
    }
    {
      std::lock_guard<std::mutex> l(done_mu_);
      done_ = true;
    }
    done_cv_.notify_all();
  }

  void Wait() override {
    std::unique_lock<std::mutex> l(done_mu_);
    done_cv_.wait(l, [this] { return done_ || quit_requested_; });
  }

  bool Ready() const override { return ready_.load(); }

  std::vector<std::pair<std::string, int>> ListenerPorts() const override {
    std::lock_guard<std::mutex> lock(update_mu_);
    return {bound_ports_.begin(), bound_ports_.end()};
  }

 private:
  RuntimePtr Current() const {
    std::lock_guard<std::mutex> l(state_mu_);
    return current_;
  }

  std::vector<WorkerStats*> AllStats() const {
    std::vector<WorkerStats*> out;
    for (const auto& w : workers_) {
      out.push_back(&w->stats);
    }
    return out;
  }

  std::map<std::string, double> Gauges() const {
    std::map<std::string, double> g;
    g["server.live"] = 1;
    g["server.ready"] = Ready() ? 1 : 0;
    g["server.concurrency"] = static_cast<double>(workers_.size());
    g["server.active_requests"] = static_cast<double>(active_requests_.load());
    return g;
  }

  std::string Prometheus() const { return StatsRenderer(AllStats()).Prometheus(Gauges(), registry_.Counters()); }

  AdminResponse Admin(const std::string& method, const std::string& target) {
    AdminResponse r;
    std::string path = target.substr(0, target.find('?'));
    RuntimePtr rt = Current();
    if (path == "/ready") {
      r.status = Ready() ? 200 : 503;
      r.body = Ready() ? "LIVE\n" : "PRE_INITIALIZING\n";
    } else if (path == "/healthz") {
      r.body = "OK\n";
    } else if (path == "/stats/prometheus") {
      r.content_type = "text/plain; version=0.0.4";
      r.body = Prometheus();
    } else if (path == "/stats") {
      r.body = StatsRenderer(AllStats()).EnvoyText(Gauges(), registry_.Counters());
    } else if (path == "/config_dump") {
      r.content_type = "application/json";
      if (rt) {
        r.body = config::EmitJson(EncodeConfigDump(rt->snapshot->bootstrap, rt->snapshot->resources)) + "\n";
      } else {
        r.body = "{\"configs\": []}\n";
      }
    } else if (path == "/clusters") {
      if (rt) {
        std::vector<std::string> names;
        for (const auto& [name, c] : rt->clusters) {
          names.push_back(name);
        }
        std::sort(names.begin(), names.end());
        int64_t now = NowMs();
        for (const auto& name : names) {
          const ClusterRuntime& c = rt->clusters.at(name);
          for (const auto& h : c.hosts) {
            std::string p = StrCat(name, "::", h.key, "::");
            std::string flags = "healthy";
            if (!h.configured_healthy) {
              flags = "/eds_health_status_unhealthy";
            } else if (h.state->ejected_until_ms.load() > now) {
              flags = "/failed_outlier_check";
            } else if (h.state->health_check_failed.load()) {
              flags = "/failed_active_hc";
            }
            r.body += StrCat(p, "cx_active::", c.state->active_connections.load(), "\n");
            r.body += StrCat(p, "rq_active::", h.state->active_requests.load(), "\n");
            r.body += StrCat(p, "rq_total::", h.state->requests_total.load(), "\n");
            r.body += StrCat(p, "rq_error::", h.state->requests_error.load(), "\n");
            r.body += StrCat(p, "weight::", h.weight, "\n");
            r.body += StrCat(p, "health_flags::", flags, "\n");
          }
        }
      }
    } else if (path == "/listeners") {
      for (const auto& [name, port] : ListenerPorts()) {
        r.body += StrCat(name, "::", port, "\n");
      }
    } else if (path == "/quitquitquit") {
      if (method != "POST") {
        r.status = 405;
        r.body = "use POST\n";
        return r;
      }
      r.body = "OK\n";
      if (options_.on_quit) {
        options_.on_quit();
        return r;
      }
      {
        std::lock_guard<std::mutex> l(done_mu_);
        quit_requested_ = true;
      }
      done_cv_.notify_all();
    } else {
      r.status = 404;
      r.body = "admin commands: /config_dump /clusters /listeners /stats /stats/prometheus /ready /healthz /quitquitquit\n";
    }
    return r;
  }

  ProxyOptions options_;
  std::vector<std::unique_ptr<Worker>> workers_;
  net::io_context control_{1};
  std::optional<net::executor_work_guard<net::io_context::executor_type>> control_guard_;
  std::thread control_thread_;
  std::vector<std::shared_ptr<Acceptor>> admin_acceptors_;
  mutable SharedStateRegistry registry_;
  mutable std::mutex update_mu_;
  std::map<std::string, std::string> listeners_;  // key -> name
  std::map<std::string, int> bound_ports_;
  mutable std::mutex state_mu_;
  RuntimePtr current_;
  std::atomic<bool> ready_{false};
  std::atomic<int64_t> active_requests_{0};
  std::atomic<int64_t> open_h2_connections_{0};
  std::shared_ptr<std::atomic<uint64_t>> health_generation_ = std::make_shared<std::atomic<uint64_t>>(0);
  bool started_ = false;
  std::mutex stop_mu_;
  bool stopped_ = false;
  std::mutex done_mu_;
  std::condition_variable done_cv_;
  bool done_ = false;
  bool quit_requested_ = false;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Proxy>> CreateProxy(const ProxyOptions& options) {
  if (options.concurrency < 1 || options.concurrency > 256) {
    return absl::InvalidArgumentError("--concurrency must be between 1 and 256");
  }
  return std::unique_ptr<Proxy>(new ProxyImpl(options));
}

}  // namespace mesh::proxy
