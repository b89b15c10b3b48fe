// Beast/OpenSSL implementation of KubeClient. The only translation unit of mesh/kube that
// includes Beast (heavy headers). Requests are synchronous, one connection each: simple,
// and callers (install, control plane) run them from their own threads.

#include "mesh/kube/client.h"

#include <map>
#include <mutex>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "absl/strings/cord.h"
#include "mesh/common/status_macros.h"
#include "mesh/common/strings.h"
#include "mesh/config/emit.h"
#include "mesh/config/yaml_loader.h"

namespace mesh::kube {

using common::StrCat;
using config::Node;

namespace {

namespace net = boost::asio;
namespace ssl = net::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

constexpr char kReasonPayload[] = "meshctl.kube/reason";
constexpr char kMessagePayload[] = "meshctl.kube/message";

std::string UrlEncode(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

std::string Query(const std::vector<std::pair<std::string, std::string>>& params) {
  std::string q;
  for (const auto& [k, v] : params) {
    if (v.empty()) {
      continue;
    }
    q += StrCat(q.empty() ? "?" : "&", k, "=", UrlEncode(v));
  }
  return q;
}

struct HttpResponse {
  int code = 0;
  std::string body;
};

using LineHandler = std::function<bool(std::string_view line)>;

struct Endpoint {
  bool tls = true;
  std::string host;  // without brackets
  std::string port;
  std::string base_path;  // e.g. "/k8s/clusters/x" behind a proxy
};

absl::StatusOr<Endpoint> ParseServer(const std::string& server) {
  Endpoint ep;
  std::string_view rest = server;
  if (common::ConsumePrefix(rest, "https://")) {
    ep.tls = true;
  } else if (common::ConsumePrefix(rest, "http://")) {
    ep.tls = false;
  } else {
    return absl::InvalidArgumentError(StrCat("server \"", server, "\": expected http(s)://"));
  }
  auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    ep.base_path = std::string(rest.substr(slash));
    while (!ep.base_path.empty() && ep.base_path.back() == '/') {
      ep.base_path.pop_back();
    }
  }
  if (!authority.empty() && authority[0] == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) {
      return absl::InvalidArgumentError(StrCat("server \"", server, "\": bad IPv6 address"));
    }
    ep.host = std::string(authority.substr(1, close - 1));
    authority.remove_prefix(close + 1);
    ep.port = common::ConsumePrefix(authority, ":") ? std::string(authority) : "";
  } else {
    auto colon = authority.rfind(':');
    ep.host = std::string(authority.substr(0, colon));
    ep.port = colon == std::string_view::npos ? "" : std::string(authority.substr(colon + 1));
  }
  if (ep.port.empty()) {
    ep.port = ep.tls ? "443" : "80";
  }
  if (ep.host.empty()) {
    return absl::InvalidArgumentError(StrCat("server \"", server, "\": missing host"));
  }
  return ep;
}

bool IsIpAddress(const std::string& host) {
  boost::system::error_code ec;
  net::ip::make_address(host, ec);
  return !ec;
}

absl::StatusCode CodeForHttp(int code, const std::string& reason) {
  switch (code) {
    case 400: return absl::StatusCode::kInvalidArgument;
    case 401: return absl::StatusCode::kUnauthenticated;
    case 403: return absl::StatusCode::kPermissionDenied;
    case 404: return absl::StatusCode::kNotFound;
    case 405: return absl::StatusCode::kUnimplemented;
    case 409:
      return reason == "AlreadyExists" ? absl::StatusCode::kAlreadyExists : absl::StatusCode::kAborted;
    case 410: return absl::StatusCode::kOutOfRange;
    case 415: return absl::StatusCode::kInvalidArgument;
    case 422: return absl::StatusCode::kInvalidArgument;
    case 429: return absl::StatusCode::kResourceExhausted;
    case 500: return absl::StatusCode::kInternal;
    case 503: return absl::StatusCode::kUnavailable;
    case 504: return absl::StatusCode::kDeadlineExceeded;
    default: return code >= 500 ? absl::StatusCode::kUnavailable : absl::StatusCode::kUnknown;
  }
}

absl::Status StatusFromObject(const Node& status, int fallback_code, const std::string& what) {
  int code = static_cast<int>(status["code"].Int().value_or(fallback_code));
  std::string reason = status["reason"].Str();
  std::string message = status["message"].Str();
  if (message.empty()) {
    message = reason.empty() ? StrCat("HTTP ", code) : reason;
  }
  absl::Status st(CodeForHttp(code, reason), StrCat(what, ": ", message));
  if (code == 410 && reason.empty()) {
    reason = "Gone";
  }
  if (!reason.empty()) {
    st.SetPayload(kReasonPayload, absl::Cord(reason));
  }
  st.SetPayload(kMessagePayload, absl::Cord(message));
  return st;
}


}  // namespace

absl::Status StatusFromResponse(int http_code, const std::string& body, const std::string& what) {
  auto parsed = config::ParseYamlNode(body, what);
  if (parsed.ok() && parsed->IsMap() && (*parsed)["kind"].Str() == "Status") {
    return StatusFromObject(*parsed, http_code, what);
  }
  Node synthetic = Node::Map();
  std::string text(common::StripWhitespace(body));
  if (text.size() > 200) {
    text = text.substr(0, 200) + "...";
  }
  synthetic.Set("message", Node::Scalar(text.empty() ? StrCat("HTTP ", http_code) : StrCat("HTTP ", http_code, ": ", text)));
  return StatusFromObject(synthetic, http_code, what);
}

std::string KubeMessage(const absl::Status& status) {
  auto p = status.GetPayload(kMessagePayload);
  return p ? std::string(*p) : std::string(status.message());
}

std::string KubeReason(const absl::Status& status) {
  auto p = status.GetPayload(kReasonPayload);
  return p ? std::string(*p) : std::string();
}

Node ApplyBody(Node object) {
  // What the server maintains. An API server rejects an apply body with managedFields
  // ("metadata.managedFields must be nil"), takes resourceVersion and uid as preconditions
  // (a stale copy, e.g. from `get -o yaml`, would be a 409 Conflict) and ignores the rest.
  if (Node* meta = object.FindMutable("metadata")) {
    for (const char* f : {"managedFields", "resourceVersion", "uid", "creationTimestamp", "generation", "selfLink",
                          "deletionTimestamp", "deletionGracePeriodSeconds"}) {
      meta->Erase(f);
    }
  }
  return object;
}

bool IsGone(const absl::Status& status) {
  return status.code() == absl::StatusCode::kOutOfRange &&
         (KubeReason(status) == "Expired" || KubeReason(status) == "Gone");
}

std::string ResourcePath(const ResourceInfo& info, const std::string& ns, const std::string& name) {
  std::string path = info.group.empty() ? StrCat("/api/", info.version)
                                        : StrCat("/apis/", info.group, "/", info.version);
  if (info.namespaced && !ns.empty()) {
    path += StrCat("/namespaces/", ns);
  }
  path += StrCat("/", info.resource);
  if (!name.empty()) {
    path += StrCat("/", name);
  }
  return path;
}

absl::StatusOr<ListResult> KubeClient::ListAll(const ObjectRef& collection, ListOptions options) {
  ListResult all;
  for (int page = 0;; ++page) {
    MESH_ASSIGN_OR_RETURN(ListResult r, List(collection, options));
    for (auto& item : r.items) {
      all.items.push_back(std::move(item));
    }
    all.resource_version = r.resource_version;
    if (r.continue_token.empty()) {
      return all;
    }
    if (page > 100000) {
      return absl::InternalError("list: too many pages");
    }
    options.continue_token = r.continue_token;
  }
}

absl::StatusOr<Node> KubeClient::Create(const Node& object) {
  return absl::UnimplementedError(StrCat("create ", object["kind"].Str(), ": not supported by this client"));
}

namespace {

class BeastKubeClient : public KubeClient {
 public:
  BeastKubeClient(RestConfig config, Endpoint ep, std::shared_ptr<const common::TimeSource> clock)
      : config_(std::move(config)),
        ep_(std::move(ep)),
        tokens_(config_, std::move(clock)),
        base_ctx_(nullptr) {}

  absl::Status Init() {
    if (!ep_.tls) {
      return absl::OkStatus();
    }
    MESH_ASSIGN_OR_RETURN(base_ctx_, BuildContext(config_.client_cert_pem, config_.client_key_pem));
    return absl::OkStatus();
  }

  absl::StatusOr<std::shared_ptr<ssl::context>> BuildContext(const std::string& cert_pem,
                                                             const std::string& key_pem) {
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
    boost::system::error_code ec;
    if (config_.insecure_skip_tls_verify) {
      ctx->set_verify_mode(ssl::verify_none);
    } else {
      ctx->set_verify_mode(ssl::verify_peer);
      if (config_.ca_pem.empty()) {
        ctx->set_default_verify_paths(ec);
      } else {
        ctx->add_certificate_authority(net::buffer(config_.ca_pem), ec);
      }
      if (ec) {
        return absl::InvalidArgumentError(StrCat("cluster CA: ", ec.message()));
      }
    }
    if (!cert_pem.empty()) {
      ctx->use_certificate_chain(net::buffer(cert_pem), ec);
      if (ec) {
        return absl::InvalidArgumentError(StrCat("client certificate: ", ec.message()));
      }
      ctx->use_private_key(net::buffer(key_pem), ssl::context::pem, ec);
      if (ec) {
        return absl::InvalidArgumentError(StrCat("client key: ", ec.message()));
      }
    }
    return ctx;
  }

  // The TLS context for a request: an exec plugin's client certificate replaces the
  // kubeconfig's; rebuilt only when the plugin returns a different one.
  absl::StatusOr<std::shared_ptr<ssl::context>> ContextFor(const ExecCredential& cred) {
    if (!ep_.tls || cred.client_cert_pem.empty()) {
      return base_ctx_;
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (exec_ctx_ == nullptr || exec_ctx_cert_ != cred.client_cert_pem) {
      MESH_ASSIGN_OR_RETURN(exec_ctx_, BuildContext(cred.client_cert_pem, cred.client_key_pem));
      exec_ctx_cert_ = cred.client_cert_pem;
    }
    return exec_ctx_;
  }

  absl::StatusOr<ResourceInfo> Resolve(const std::string& api_version, const std::string& kind) override {
    for (int attempt = 0; attempt < 2; ++attempt) {
      MESH_ASSIGN_OR_RETURN(std::vector<ResourceInfo> resources, GroupVersion(api_version, attempt > 0));
      for (const auto& r : resources) {
        if (r.kind == kind) {
          return r;
        }
      }
    }
    return absl::NotFoundError(
        StrCat("the server does not serve kind \"", kind, "\" in version \"", api_version, "\""));
  }

  absl::StatusOr<std::vector<ResourceInfo>> DiscoverAll() override {
    std::vector<std::string> gvs;
    MESH_ASSIGN_OR_RETURN(Node core, GetJson("/api"));
    for (const auto& v : core["versions"].StringList()) {
      gvs.push_back(v);
    }
    MESH_ASSIGN_OR_RETURN(Node groups, GetJson("/apis"));
    for (const Node& g : groups["groups"].items()) {
      for (const Node& v : g["versions"].items()) {
        gvs.push_back(v["groupVersion"].Str());
      }
    }
    std::vector<ResourceInfo> all;
    for (const auto& gv : gvs) {
      auto resources = GroupVersion(gv, false);
      if (!resources.ok()) {
        // An unavailable aggregated API (503) must not hide the others; kubectl warns too.
        // Nor must a group whose CRDs were just deleted (still listed in /apis, 404 on
        // its own discovery document for a moment).
        if (resources.status().code() == absl::StatusCode::kUnavailable || absl::IsNotFound(resources.status())) {
          continue;
        }
        return resources.status();
      }
      all.insert(all.end(), resources->begin(), resources->end());
    }
    return all;
  }

  void InvalidateDiscovery() override {
    std::lock_guard<std::mutex> lock(mu_);
    discovery_.clear();
  }

  absl::StatusOr<Node> Get(const ObjectRef& ref) override {
    MESH_ASSIGN_OR_RETURN(std::string path, PathFor(ref, true));
    return GetJson(path);
  }

  absl::StatusOr<ListResult> List(const ObjectRef& collection, const ListOptions& options) override {
    ObjectRef c = collection;
    c.name.clear();
    MESH_ASSIGN_OR_RETURN(std::string path, PathFor(c, false));
    MESH_ASSIGN_OR_RETURN(Node list, GetJson(StrCat(path, Query({{"labelSelector", options.label_selector},
                                                                 {"fieldSelector", options.field_selector},
                                                                 {"limit", options.limit > 0 ? std::to_string(options.limit) : ""},
                                                                 {"continue", options.continue_token}}))));
    ListResult r;
    r.resource_version = list.At({"metadata", "resourceVersion"}).Str();
    r.continue_token = list.At({"metadata", "continue"}).Str();
    r.items = list["items"].items();
    return r;
  }

  absl::StatusOr<Node> Apply(const Node& object, const ApplyOptions& options) override {
    ObjectRef ref{object["apiVersion"].Str(), object["kind"].Str(),
                  object.At({"metadata", "namespace"}).Str(), object.At({"metadata", "name"}).Str()};
    if (ref.api_version.empty() || ref.kind.empty() || ref.name.empty()) {
      return absl::InvalidArgumentError("apply: apiVersion, kind and metadata.name are required");
    }
    MESH_ASSIGN_OR_RETURN(std::string path, PathFor(ref, true));
    std::string q = Query({{"fieldManager", options.field_manager}, {"force", options.force ? "true" : ""}});
    return JsonCall("PATCH", path + q, config::EmitJson(ApplyBody(object), {.indent = 0}), "application/apply-patch+yaml",
                    StrCat("apply ", ref.kind, " ", ref.name));
  }

  absl::StatusOr<Node> MergePatch(const ObjectRef& ref, const Node& patch) override {
    MESH_ASSIGN_OR_RETURN(std::string path, PathFor(ref, true));
    return JsonCall("PATCH", path, config::EmitJson(patch, {.indent = 0}), "application/merge-patch+json",
                    StrCat("patch ", ref.kind, " ", ref.name));
  }

  absl::StatusOr<Node> Create(const Node& object) override {
    const std::string kind = object["kind"].Str();
    if (object["apiVersion"].Str().empty() || kind.empty()) {
      return absl::InvalidArgumentError("create: apiVersion and kind are required");
    }
    MESH_ASSIGN_OR_RETURN(ResourceInfo info, Resolve(object["apiVersion"].Str(), kind));
    std::string ns = object.At({"metadata", "namespace"}).Str();
    if (info.namespaced && ns.empty()) {
      ns = config_.namespace_name;
    }
    return JsonCall("POST", ResourcePath(info, ns, ""), config::EmitJson(object, {.indent = 0}), "application/json",
                    StrCat("create ", kind));
  }

  absl::Status Delete(const ObjectRef& ref, const DeleteOptions& options) override {
    MESH_ASSIGN_OR_RETURN(std::string path, PathFor(ref, true));
    Node body = Node::Map();
    body.Set("kind", Node::Scalar("DeleteOptions"));
    body.Set("apiVersion", Node::Scalar("v1"));
    if (!options.propagation_policy.empty()) {
      body.Set("propagationPolicy", Node::Scalar(options.propagation_policy));
    }
    return JsonCall("DELETE", path, config::EmitJson(body, {.indent = 0}), "application/json",
                    StrCat("delete ", ref.kind, " ", ref.name))
        .status();
  }

  absl::Status Watch(const ObjectRef& collection, const WatchOptions& options,
                     const WatchHandler& handler) override {
    ObjectRef c = collection;
    c.name.clear();
    MESH_ASSIGN_OR_RETURN(std::string path, PathFor(c, false));
    std::string target = StrCat(path, Query({{"watch", "1"},
                                             {"resourceVersion", options.resource_version},
                                             {"labelSelector", options.label_selector},
                                             {"allowWatchBookmarks", options.allow_bookmarks ? "true" : ""},
                                             {"timeoutSeconds", options.timeout_seconds > 0 ? std::to_string(options.timeout_seconds) : ""}}));
    const std::string what = StrCat("watch ", c.kind);
    absl::Status stream_status = absl::OkStatus();
    auto on_line = [&](std::string_view line) -> bool {
      if (common::StripWhitespace(line).empty()) {
        return true;
      }
      auto ev = config::ParseYamlNode(line, what);
      if (!ev.ok()) {
        stream_status = ev.status();
        return false;
      }
      WatchEvent event{(*ev)["type"].Str(), (*ev)["object"]};
      if (event.type == "ERROR") {
        stream_status = StatusFromObject(event.object, 500, what);
        return false;
      }
      return handler(event);
    };
    MESH_ASSIGN_OR_RETURN(HttpResponse resp, Do("GET", target, "", "", on_line,
                                                std::chrono::seconds(options.timeout_seconds > 0 ? options.timeout_seconds + 30 : 0),
                                                options.cancel.get()));
    if (resp.code != 200) {
      return StatusFromResponse(resp.code, resp.body, what);
    }
    return stream_status;
  }

 private:
  absl::StatusOr<std::string> PathFor(const ObjectRef& ref, bool need_name) {
    if (need_name && ref.name.empty()) {
      return absl::InvalidArgumentError(StrCat(ref.kind, ": name is required"));
    }
    MESH_ASSIGN_OR_RETURN(ResourceInfo info, Resolve(ref.api_version, ref.kind));
    std::string ns = ref.ns;
    if (info.namespaced && ns.empty() && need_name) {
      ns = config_.namespace_name;
    }
    return ResourcePath(info, ns, ref.name);
  }

  absl::StatusOr<std::vector<ResourceInfo>> GroupVersion(const std::string& gv, bool refresh) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = discovery_.find(gv);
      if (it != discovery_.end() && !refresh) {
        return it->second;
      }
    }
    std::string group, version = gv;
    auto slash = gv.find('/');
    if (slash != std::string::npos) {
      group = gv.substr(0, slash);
      version = gv.substr(slash + 1);
    }
    MESH_ASSIGN_OR_RETURN(Node list, GetJson(group.empty() ? StrCat("/api/", version) : StrCat("/apis/", gv)));
    std::vector<ResourceInfo> resources;
    for (const Node& r : list["resources"].items()) {
      if (r["name"].Str().find('/') != std::string::npos) {
        continue;  // subresources (status, scale ...)
      }
      resources.push_back(ResourceInfo{group, version, r["kind"].Str(), r["name"].Str(),
                                       r["namespaced"].Bool().value_or(false)});
    }
    std::lock_guard<std::mutex> lock(mu_);
    discovery_[gv] = resources;
    return resources;
  }

  absl::StatusOr<Node> GetJson(const std::string& target) {
    return JsonCall("GET", target, "", "", StrCat("GET ", target));
  }

  absl::StatusOr<Node> JsonCall(const std::string& method, const std::string& target, const std::string& body,
                                const std::string& content_type, const std::string& what) {
    MESH_ASSIGN_OR_RETURN(HttpResponse resp, Do(method, target, body, content_type, nullptr));
    if (resp.code < 200 || resp.code >= 300) {
      return StatusFromResponse(resp.code, resp.body, what);
    }
    return config::ParseYamlNode(resp.body, what);
  }

  absl::StatusOr<HttpResponse> Do(const std::string& method, const std::string& target, const std::string& body,
                                  const std::string& content_type, const LineHandler& on_line,
                                  std::chrono::milliseconds stream_timeout = {}, WatchCancel* cancel = nullptr) {
    for (int attempt = 0;; ++attempt) {
      MESH_ASSIGN_OR_RETURN(ExecCredential cred, tokens_.Credential());
      MESH_ASSIGN_OR_RETURN(std::shared_ptr<ssl::context> ctx, ContextFor(cred));
      MESH_ASSIGN_OR_RETURN(HttpResponse resp, DoOnce(method, target, body, content_type, cred.token, on_line,
                                                      stream_timeout, cancel, ctx.get()));
      // An exec credential may be revoked before its expiry: run the plugin again once.
      if (resp.code == 401 && config_.exec && attempt == 0) {
        tokens_.Invalidate();
        continue;
      }
      return resp;
    }
  }

  // Runs one asynchronous operation to completion on the request's own io_context, so
  // that beast::tcp_stream's deadline applies to blocking-style code.
  template <class Start>
  static beast::error_code RunOp(net::io_context& ioc, Start start) {
    beast::error_code result = net::error::would_block;
    start([&result](beast::error_code ec, auto&&...) { result = ec; });
    ioc.restart();
    ioc.run();
    return result;
  }

  template <class Stream>
  HttpResponse Exchange(net::io_context& ioc, Stream& stream, beast::tcp_stream& deadline,
                        http::request<http::string_body>& req, const LineHandler& on_line,
                        std::chrono::milliseconds stream_timeout) {
    auto check = [](beast::error_code ec) {
      if (ec) {
        throw boost::system::system_error(ec);
      }
    };
    check(RunOp(ioc, [&](auto h) { http::async_write(stream, req, h); }));
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(boost::none);
    check(RunOp(ioc, [&](auto h) { http::async_read_header(stream, buffer, parser, h); }));
    HttpResponse resp;
    resp.code = parser.get().result_int();
    if (!on_line || resp.code != 200) {
      check(RunOp(ioc, [&](auto h) { http::async_read(stream, buffer, parser, h); }));
      resp.body = std::move(parser.get().body());
      return resp;
    }
    // Watch: newline-delimited JSON events, usually one per chunk but not necessarily.
    if (stream_timeout.count() > 0) {
      deadline.expires_after(stream_timeout);
    } else {
      deadline.expires_never();
    }
    while (!parser.is_done()) {
      beast::error_code ec = RunOp(ioc, [&](auto h) { http::async_read_some(stream, buffer, parser, h); });
      if (ec == http::error::end_of_stream || ec == net::error::eof) {
        break;
      }
      check(ec);
      std::string& data = parser.get().body();
      size_t start = 0;
      for (size_t nl; (nl = data.find('\n', start)) != std::string::npos; start = nl + 1) {
        if (!on_line(std::string_view(data).substr(start, nl - start))) {
          return resp;
        }
      }
      data.erase(0, start);
    }
    if (!parser.get().body().empty()) {
      on_line(parser.get().body());
    }
    return resp;
  }

  absl::StatusOr<HttpResponse> DoOnce(const std::string& method, const std::string& target, const std::string& body,
                                      const std::string& content_type, const std::string& token,
                                      const LineHandler& on_line, std::chrono::milliseconds stream_timeout,
                                      WatchCancel* cancel, ssl::context* ssl_ctx) {
    http::request<http::string_body> req{http::string_to_verb(method), ep_.base_path + target, 11};
    req.set(http::field::host, ep_.host.find(':') != std::string::npos ? StrCat("[", ep_.host, "]:", ep_.port)
                                                                        : StrCat(ep_.host, ":", ep_.port));
    req.set(http::field::user_agent, "meshctl");
    req.set(http::field::accept, "application/json");
    if (!token.empty()) {
      req.set(http::field::authorization, StrCat("Bearer ", token));
    }
    if (!content_type.empty()) {
      req.set(http::field::content_type, content_type);
    }
    req.body() = body;
    req.prepare_payload();
    const std::string what = StrCat(method, " ", config_.server, target);
    try {
      net::io_context ioc;
      tcp::resolver resolver(ioc);
      auto endpoints = resolver.resolve(ep_.host, ep_.port);
      if (!ep_.tls) {
        beast::tcp_stream stream(ioc);
        CloserGuard guard(cancel, ioc, stream);
        if (!guard.active()) {
          return absl::CancelledError(StrCat(what, ": cancelled"));
        }
        SetDeadline(stream);
        beast::error_code ec = RunOp(ioc, [&](auto h) { stream.async_connect(endpoints, h); });
        if (ec) {
          throw boost::system::system_error(ec);
        }
        HttpResponse resp = Exchange(ioc, stream, stream, req, on_line, stream_timeout);
        stream.socket().shutdown(tcp::socket::shutdown_both, ec);
        return resp;
      }
      beast::ssl_stream<beast::tcp_stream> stream(ioc, *ssl_ctx);
      const std::string& verify_name = config_.tls_server_name.empty() ? ep_.host : config_.tls_server_name;
      if (!IsIpAddress(verify_name)) {
        SSL_set_tlsext_host_name(stream.native_handle(), verify_name.c_str());
      }
      if (!config_.insecure_skip_tls_verify) {
        stream.set_verify_callback(ssl::host_name_verification(verify_name));
      }
      beast::tcp_stream& tcp_layer = beast::get_lowest_layer(stream);
      CloserGuard guard(cancel, ioc, tcp_layer);
      if (!guard.active()) {
        return absl::CancelledError(StrCat(what, ": cancelled"));
      }
      SetDeadline(tcp_layer);
      beast::error_code ec = RunOp(ioc, [&](auto h) { tcp_layer.async_connect(endpoints, h); });
      if (!ec) {
        ec = RunOp(ioc, [&](auto h) { stream.async_handshake(ssl::stream_base::client, h); });
      }
      if (ec) {
        throw boost::system::system_error(ec);
      }
      HttpResponse resp = Exchange(ioc, stream, tcp_layer, req, on_line, stream_timeout);
      tcp_layer.socket().shutdown(tcp::socket::shutdown_both, ec);
      return resp;
    } catch (const boost::system::system_error& e) {
      if (cancel != nullptr && cancel->cancelled()) {
        return absl::CancelledError(StrCat(what, ": cancelled"));
      }
      if (e.code() == beast::error::timeout) {
        return absl::DeadlineExceededError(StrCat(what, ": timed out"));
      }
      return absl::UnavailableError(StrCat(what, ": ", e.what()));
    }
  }

  // While a request runs, WatchCancel::Cancel() closes its socket on its own io_context.
  class CloserGuard {
   public:
    CloserGuard(WatchCancel* cancel, net::io_context& ioc, beast::tcp_stream& stream) : cancel_(cancel) {
      if (cancel_ != nullptr) {
        active_ = cancel_->SetCloser([&ioc, &stream] { net::post(ioc, [&stream] { stream.cancel(); }); });
      }
    }
    ~CloserGuard() {
      if (cancel_ != nullptr) {
        cancel_->SetCloser(nullptr);
      }
    }
    bool active() const { return active_; }

   private:
    WatchCancel* cancel_;
    bool active_ = true;
  };

  void SetDeadline(beast::tcp_stream& stream) {
    if (config_.request_timeout.count() > 0) {
      stream.expires_after(config_.request_timeout);
    } else {
      stream.expires_never();
    }
  }

  const RestConfig config_;
  const Endpoint ep_;
  TokenSource tokens_;
  std::shared_ptr<ssl::context> base_ctx_;
  std::shared_ptr<ssl::context> exec_ctx_;  // guarded by mu_
  std::string exec_ctx_cert_;
  std::mutex mu_;
  std::map<std::string, std::vector<ResourceInfo>> discovery_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<KubeClient>> NewKubeClient(const RestConfig& config,
                                                          std::shared_ptr<const common::TimeSource> clock) {
  MESH_ASSIGN_OR_RETURN(Endpoint ep, ParseServer(config.server));
  auto client = std::make_unique<BeastKubeClient>(config, std::move(ep), std::move(clock));
  MESH_RETURN_IF_ERROR(client->Init());
  return std::unique_ptr<KubeClient>(std::move(client));
}

}  // namespace mesh::kube
