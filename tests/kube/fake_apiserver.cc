#include "tests/kube/fake_apiserver.h"

#include <algorithm>
#include <atomic>
#include <ctime>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "mesh/common/strings.h"
#include "mesh/config/emit.h"
#include "mesh/config/yaml_loader.h"

namespace mesh::kube::fake {

namespace net = boost::asio;
namespace ssl = net::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using common::StrCat;
using config::Node;

std::string StatusJson(int code, const std::string& reason, const std::string& message) {
  return StrCat(R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":)",
                config::JsonQuote(message), R"(,"reason":")", reason, R"(","code":)", code, "}");
}

// ---------------------------------------------------------------------------------------
// Transport

struct FakeApiServer::Impl {
  Impl(FakeHandler h, const std::string& tls_dir)
      : handler(std::move(h)), acceptor(ioc, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)),
        ssl_ctx(ssl::context::tls_server), tls(!tls_dir.empty()) {
    if (tls) {
      ssl_ctx.use_certificate_chain_file(tls_dir + "/server.pem");
      ssl_ctx.use_private_key_file(tls_dir + "/server.key", ssl::context::pem);
      ssl_ctx.load_verify_file(tls_dir + "/ca.pem");
      ssl_ctx.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
    }
    port = acceptor.local_endpoint().port();
    thread = std::thread([this] { Run(); });
  }

  void Run() {
    while (true) {
      tcp::socket socket(ioc);
      boost::system::error_code ec;
      acceptor.accept(socket, ec);
      if (stopping || ec) {
        return;
      }
      try {
        if (tls) {
          ssl::stream<tcp::socket> stream(std::move(socket), ssl_ctx);
          stream.handshake(ssl::stream_base::server, ec);
          if (ec) {
            ++handshake_failures;
            continue;
          }
          Serve(stream);
        } else {
          Serve(socket);
        }
      } catch (const std::exception&) {
        // Client went away mid-response: next connection.
      }
    }
  }

  template <class Stream>
  void Serve(Stream& stream) {
    beast::flat_buffer buffer;
    http::request_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    http::read(stream, buffer, parser);
    auto& req = parser.get();
    SeenRequest seen{std::string(req.method_string()), std::string(req.target()),
                     std::string(req[http::field::content_type]), req.body(),
                     std::string(req[http::field::authorization])};
    {
      std::lock_guard<std::mutex> lock(mu);
      seen_requests.push_back(seen);
    }
    FakeResponse out = handler(seen);
    if (out.chunks.empty()) {
      http::response<http::string_body> res{static_cast<http::status>(out.code), 11};
      res.set(http::field::content_type, "application/json");
      res.body() = out.body;
      res.keep_alive(false);
      res.prepare_payload();
      http::write(stream, res);
      return;
    }
    http::response<http::empty_body> res{static_cast<http::status>(out.code), 11};
    res.set(http::field::content_type, "application/json");
    res.chunked(true);
    http::response_serializer<http::empty_body> sr{res};
    http::write_header(stream, sr);
    for (const auto& chunk : out.chunks) {
      net::write(stream, http::make_chunk(net::buffer(chunk)));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(out.hold_ms));
    net::write(stream, http::make_chunk_last());
  }

  FakeHandler handler;
  net::io_context ioc;
  tcp::acceptor acceptor;
  int port = 0;
  ssl::context ssl_ctx;
  bool tls;
  std::thread thread;
  std::atomic<bool> stopping{false};
  std::atomic<int> handshake_failures{0};
  std::mutex mu;
  std::vector<SeenRequest> seen_requests;
};

FakeApiServer::FakeApiServer(FakeHandler handler, const std::string& tls_dir)
    : impl_(new Impl(std::move(handler), tls_dir)) {}

FakeApiServer::~FakeApiServer() {
  Stop();
  delete impl_;
}

void FakeApiServer::Stop() {
  if (impl_->stopping.exchange(true)) {
    return;
  }
  // Wake the blocking accept with one connection.
  boost::system::error_code ec;
  net::io_context ioc;
  tcp::socket s(ioc);
  s.connect(impl_->acceptor.local_endpoint(), ec);
  impl_->thread.join();
  impl_->acceptor.close(ec);  // a stopped server refuses connections, as a dead one would
}

int FakeApiServer::port() const { return impl_->port; }

std::vector<SeenRequest> FakeApiServer::requests() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->seen_requests;
}

int FakeApiServer::handshake_failures() const { return impl_->handshake_failures; }

// ---------------------------------------------------------------------------------------
// Cluster

namespace {

std::string UrlDecode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out.push_back(static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16)));
      i += 2;
    } else if (s[i] == '+') {
      out.push_back(' ');
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::string Now3339() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

FakeResponse Error(int code, const std::string& reason, const std::string& message) {
  return {code, StatusJson(code, reason, message)};
}

std::string Json(const Node& n) { return config::EmitJson(n, {.indent = 0}); }

Node Str(const std::string& s) { return Node::Scalar(s, true); }
Node Num(int64_t v) { return Node::Scalar(std::to_string(v)); }

std::string GroupOf(const std::string& api_version) {
  size_t slash = api_version.find('/');
  return slash == std::string::npos ? "" : api_version.substr(0, slash);
}
std::string VersionOf(const std::string& api_version) {
  size_t slash = api_version.find('/');
  return slash == std::string::npos ? api_version : api_version.substr(slash + 1);
}

bool MatchesSelector(const Node& labels, const std::string& selector) {
  for (const std::string& raw : common::Split(selector, ',', true)) {
    std::string term(common::StripWhitespace(raw));
    if (term.empty()) {
      continue;
    }
    size_t ne = term.find("!=");
    size_t eq = term.find('=');
    if (ne != std::string::npos) {
      std::string k = term.substr(0, ne), v = term.substr(ne + 2);
      if (labels[k].Defined() && labels[k].Str() == v) {
        return false;
      }
    } else if (eq != std::string::npos) {
      std::string k = term.substr(0, eq);
      std::string v = term.substr(term[eq + 1] == '=' ? eq + 2 : eq + 1);
      if (!labels[k].Defined() || labels[k].Str() != v) {
        return false;
      }
    } else if (term[0] == '!') {
      if (labels[term.substr(1)].Defined()) {
        return false;
      }
    } else if (!labels[term].Defined()) {
      return false;
    }
  }
  return true;
}

// RFC 7386.
Node MergePatch(const Node& target, const Node& patch) {
  if (!patch.IsMap()) {
    return patch;
  }
  Node out = target.IsMap() ? target : Node::Map();
  for (const auto& [k, v] : patch.entries()) {
    if (v.IsNull() || (v.IsScalar() && !v.quoted() && v.Str() == "null")) {
      out.Erase(k);
    } else {
      out.Set(k, MergePatch(out[k], v));
    }
  }
  return out;
}

// The object without what the server maintains, for no-op detection.
Node Content(Node n) {
  if (Node* meta = n.FindMutable("metadata")) {
    for (const char* f : {"resourceVersion", "uid", "creationTimestamp", "generation", "managedFields"}) {
      meta->Erase(f);
    }
  }
  n.Erase("status");
  return n;
}

// First field of `want` that `got` holds differently ("" if none).
std::string Differs(const Node& want, const Node& got, const std::string& path) {
  if (want.IsMap()) {
    for (const auto& [k, v] : want.entries()) {
      std::string d = Differs(v, got[k], path + "." + k);
      if (!d.empty()) {
        return d;
      }
    }
    return "";
  }
  if (want.IsSequence()) {
    return Json(want) == Json(got) ? "" : path;
  }
  return got.IsScalar() && got.Str() == want.Str() ? "" : path;
}

}  // namespace

FakeCluster::FakeCluster(FakeClusterOptions options) : options_(options) {
  builtin_ = {
      {"", "v1", "namespaces", "namespace", "Namespace", false, {"ns"}},
      {"", "v1", "configmaps", "configmap", "ConfigMap", true, {"cm"}},
      {"", "v1", "secrets", "secret", "Secret", true, {}},
      {"", "v1", "services", "service", "Service", true, {"svc"}},
      {"", "v1", "serviceaccounts", "serviceaccount", "ServiceAccount", true, {"sa"}},
      {"", "v1", "pods", "pod", "Pod", true, {"po"}},
      {"apps", "v1", "deployments", "deployment", "Deployment", true, {"deploy"}},
      {"coordination.k8s.io", "v1", "leases", "lease", "Lease", true, {}},
      {"discovery.k8s.io", "v1", "endpointslices", "endpointslice", "EndpointSlice", true, {}},
      {"apps", "v1", "daemonsets", "daemonset", "DaemonSet", true, {"ds"}},
      {"autoscaling", "v2", "horizontalpodautoscalers", "horizontalpodautoscaler", "HorizontalPodAutoscaler", true,
       {"hpa"}},
      {"policy", "v1", "poddisruptionbudgets", "poddisruptionbudget", "PodDisruptionBudget", true, {"pdb"}},
      {"rbac.authorization.k8s.io", "v1", "roles", "role", "Role", true, {}},
      {"rbac.authorization.k8s.io", "v1", "rolebindings", "rolebinding", "RoleBinding", true, {}},
      {"rbac.authorization.k8s.io", "v1", "clusterroles", "clusterrole", "ClusterRole", false, {}},
      {"rbac.authorization.k8s.io", "v1", "clusterrolebindings", "clusterrolebinding", "ClusterRoleBinding", false, {}},
      {"admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations", "mutatingwebhookconfiguration",
       "MutatingWebhookConfiguration", false, {}},
      {"admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations", "validatingwebhookconfiguration",
       "ValidatingWebhookConfiguration", false, {}},
      {"apiextensions.k8s.io", "v1", "customresourcedefinitions", "customresourcedefinition",
       "CustomResourceDefinition", false, {"crd", "crds"}},
  };
  // Like a real cluster: these namespaces exist from the start.
  for (const char* ns : {"default", "kube-system", "kube-public"}) {
    Node obj = Node::Map();
    obj.Set("apiVersion", Str("v1"));
    obj.Set("kind", Str("Namespace"));
    Node meta = Node::Map();
    meta.Set("name", Str(ns));
    obj.Set("metadata", std::move(meta));
    Put(obj, "kube-apiserver");
  }
  creation_log_.clear();
}

std::string FakeCluster::NextRv() { return std::to_string(++rv_); }

void FakeCluster::EstablishCrdsLocked() {
  auto now = std::chrono::steady_clock::now();
  for (auto& [key, s] : objects_) {
    if (std::get<0>(key) != "apiextensions.k8s.io" || s.object["status"]["conditions"].Defined() ||
        now - s.created < options_.crd_established_delay) {
      continue;
    }
    Node status = Node::Map();
    Node conditions = Node::Sequence();
    for (const char* type : {"NamesAccepted", "Established"}) {
      Node c = Node::Map();
      c.Set("type", Str(type));
      c.Set("status", Str("True"));
      c.Set("reason", Str(std::string(type) == "Established" ? "InitialNamesAccepted" : "NoConflicts"));
      c.Set("lastTransitionTime", Str(Now3339()));
      conditions.Append(std::move(c));
    }
    status.Set("conditions", std::move(conditions));
    status.Set("acceptedNames", s.object["spec"]["names"]);
    s.object.Set("status", std::move(status));
    s.object.FindMutable("metadata")->Set("resourceVersion", Str(NextRv()));
    events_.push_back({rv_, "MODIFIED", key, s.object});
  }
}

std::vector<FakeCluster::Resource> FakeCluster::ResourcesLocked(const std::string& group,
                                                                const std::string& version) {
  std::vector<Resource> out;
  for (const Resource& r : builtin_) {
    if (r.group == group && r.version == version) {
      out.push_back(r);
    }
  }
  for (const auto& [key, s] : objects_) {
    if (std::get<0>(key) != "apiextensions.k8s.io") {
      continue;
    }
    const Node& crd = s.object;
    bool established = false;
    for (const Node& c : crd["status"]["conditions"].items()) {
      established = established || (c["type"].Str() == "Established" && c["status"].Str() == "True");
    }
    if (!established || crd["spec"]["group"].Str() != group) {
      continue;
    }
    for (const Node& v : crd["spec"]["versions"].items()) {
      if (v["name"].Str() == version && v["served"].Str() != "false") {
        const Node& names = crd["spec"]["names"];
        std::string singular = names["singular"].Str().empty() ? common::ToLower(names["kind"].Str())
                                                               : names["singular"].Str();
        out.push_back({group, version, names["plural"].Str(), singular, names["kind"].Str(),
                       crd["spec"]["scope"].Str() != "Cluster", names["shortNames"].StringList()});
      }
    }
  }
  return out;
}

std::optional<FakeCluster::Resource> FakeCluster::FindResourceLocked(const std::string& group,
                                                                     const std::string& version,
                                                                     const std::string& plural) {
  for (const Resource& r : ResourcesLocked(group, version)) {
    if (r.plural == plural) {
      return r;
    }
  }
  return std::nullopt;
}

std::optional<FakeCluster::Resource> FakeCluster::ResourceForKindLocked(const std::string& group,
                                                                        const std::string& kind) {
  for (const Resource& r : builtin_) {
    if (r.group == group && r.kind == kind) {
      return r;
    }
  }
  for (const auto& [key, s] : objects_) {
    const Node& names = s.object["spec"]["names"];
    if (std::get<0>(key) == "apiextensions.k8s.io" && s.object["spec"]["group"].Str() == group &&
        names["kind"].Str() == kind) {
      return Resource{group, "", names["plural"].Str(), "", kind, s.object["spec"]["scope"].Str() != "Cluster", {}};
    }
  }
  return std::nullopt;
}

FakeResponse FakeCluster::Discovery(const std::string& path) {
  auto resource_list = [&](const std::string& group, const std::string& version) -> FakeResponse {
    std::vector<Resource> rs = ResourcesLocked(group, version);
    if (rs.empty()) {
      return Error(404, "NotFound", "the server could not find the requested resource");
    }
    Node list = Node::Map();
    list.Set("kind", Str("APIResourceList"));
    list.Set("apiVersion", Str("v1"));
    list.Set("groupVersion", Str(group.empty() ? version : group + "/" + version));
    Node resources = Node::Sequence();
    for (const Resource& r : rs) {
      Node e = Node::Map();
      e.Set("name", Str(r.plural));
      e.Set("singularName", Str(r.singular));
      e.Set("namespaced", Node::Scalar(r.namespaced ? "true" : "false"));
      e.Set("kind", Str(r.kind));
      Node verbs = Node::Sequence();
      for (const char* v : {"create", "delete", "get", "list", "patch", "update", "watch"}) {
        verbs.Append(Str(v));
      }
      e.Set("verbs", std::move(verbs));
      if (!r.short_names.empty()) {
        Node sn = Node::Sequence();
        for (const auto& s : r.short_names) {
          sn.Append(Str(s));
        }
        e.Set("shortNames", std::move(sn));
      }
      resources.Append(std::move(e));
      if (r.kind == "Deployment") {
        Node status = Node::Map();
        status.Set("name", Str("deployments/status"));
        status.Set("namespaced", Node::Scalar("true"));
        status.Set("kind", Str("Deployment"));
        resources.Append(std::move(status));
      }
    }
    list.Set("resources", std::move(resources));
    return {200, Json(list)};
  };
  if (path == "/api") {
    return {200, R"({"kind":"APIVersions","versions":["v1"]})"};
  }
  if (path == "/api/v1") {
    return resource_list("", "v1");
  }
  if (path == "/apis") {
    std::map<std::string, std::vector<std::string>> groups;
    for (const Resource& r : builtin_) {
      if (!r.group.empty()) {
        groups[r.group].push_back(r.version);
      }
    }
    for (const auto& [key, s] : objects_) {
      if (std::get<0>(key) == "apiextensions.k8s.io" && s.object["status"]["conditions"].Defined()) {
        for (const Node& v : s.object["spec"]["versions"].items()) {
          groups[s.object["spec"]["group"].Str()].push_back(v["name"].Str());
        }
      }
    }
    Node list = Node::Map();
    list.Set("kind", Str("APIGroupList"));
    list.Set("apiVersion", Str("v1"));
    Node gs = Node::Sequence();
    for (auto& [g, versions] : groups) {
      std::sort(versions.begin(), versions.end());
      versions.erase(std::unique(versions.begin(), versions.end()), versions.end());
      Node e = Node::Map();
      e.Set("name", Str(g));
      Node vs = Node::Sequence();
      for (const auto& v : versions) {
        Node ve = Node::Map();
        ve.Set("groupVersion", Str(g + "/" + v));
        ve.Set("version", Str(v));
        vs.Append(std::move(ve));
      }
      e.Set("preferredVersion", vs.items().front());
      e.Set("versions", std::move(vs));
      gs.Append(std::move(e));
    }
    list.Set("groups", std::move(gs));
    return {200, Json(list)};
  }
  std::vector<std::string> parts = common::Split(path.substr(1), '/');
  if (parts.size() == 3 && parts[0] == "apis") {
    return resource_list(parts[1], parts[2]);
  }
  return Error(404, "NotFound", "the server could not find the requested resource");
}

FakeResponse FakeCluster::Handle(const SeenRequest& r) {
  std::lock_guard<std::mutex> lock(mu_);
  EstablishCrdsLocked();
  std::string path = r.target;
  std::map<std::string, std::string> query;
  if (size_t q = path.find('?'); q != std::string::npos) {
    for (const std::string& kv : common::Split(path.substr(q + 1), '&', true)) {
      size_t eq = kv.find('=');
      query[UrlDecode(kv.substr(0, eq))] = eq == std::string::npos ? "" : UrlDecode(kv.substr(eq + 1));
    }
    path = path.substr(0, q);
  }
  std::vector<std::string> parts = common::Split(path.substr(1), '/');
  bool core = parts.size() >= 2 && parts[0] == "api";
  bool named_group = parts.size() >= 3 && parts[0] == "apis";
  if ((core && parts.size() == 2) || (named_group && parts.size() == 3) || path == "/api" || path == "/apis") {
    if (r.method != "GET") {
      return Error(405, "MethodNotAllowed", "the server does not allow this method on the requested resource");
    }
    return Discovery(path);
  }
  if (!core && !named_group) {
    return Error(404, "NotFound", "the server could not find the requested resource");
  }
  std::string group = core ? "" : parts[1];
  std::string version = core ? parts[1] : parts[2];
  std::vector<std::string> rest(parts.begin() + (core ? 2 : 3), parts.end());
  std::string ns;
  if (rest.size() >= 3 && rest[0] == "namespaces") {
    auto res = FindResourceLocked(group, version, rest[2]);
    if (res && res->namespaced) {
      ns = rest[1];
      rest.erase(rest.begin(), rest.begin() + 2);
    }
  }
  if (rest.empty() || rest.size() > 2) {
    return Error(404, "NotFound", "the server could not find the requested resource");
  }
  auto res = FindResourceLocked(group, version, rest[0]);
  if (!res) {
    return Error(404, "NotFound", "the server could not find the requested resource");
  }
  if (rest.size() == 1) {
    return Collection(r, *res, ns, query);
  }
  return Object(r, *res, ns, rest[1], query);
}

FakeResponse FakeCluster::Collection(const SeenRequest& r, const Resource& res, const std::string& ns,
                                     const std::map<std::string, std::string>& query) {
  auto get = [&](const char* k) {
    auto it = query.find(k);
    return it == query.end() ? std::string() : it->second;
  };
  if (r.method == "POST") {
    auto body = config::ParseYamlNode(r.body, "request");
    if (!body.ok()) {
      return Error(400, "BadRequest", std::string(body.status().message()));
    }
    return Create(res, ns, *body, get("fieldManager").empty() ? "meshctl-create" : get("fieldManager"), false);
  }
  if (r.method != "GET") {
    return Error(405, "MethodNotAllowed", "the server does not allow this method on the requested resource");
  }
  std::string selector = get("labelSelector");
  auto matches = [&](const Key& key, const Node& obj) {
    return std::get<0>(key) == res.group && std::get<1>(key) == res.plural && (ns.empty() || std::get<2>(key) == ns) &&
           MatchesSelector(obj["metadata"]["labels"], selector);
  };
  if (get("watch") == "1" || get("watch") == "true") {
    int64_t from = get("resourceVersion").empty() ? rv_ : std::stoll(get("resourceVersion"));
    if (!events_.empty() && from < events_.front().rv - 1) {
      return Error(410, "Expired", StrCat("too old resource version: ", from, " (", events_.front().rv, ")"));
    }
    std::vector<std::string> chunks;
    for (const Event& e : events_) {
      if (e.rv > from && matches(e.key, e.object)) {
        chunks.push_back(StrCat(R"({"type":")", e.type, R"(","object":)", Json(e.object), "}\n"));
      }
    }
    if (get("allowWatchBookmarks") == "true") {
      chunks.push_back(StrCat(R"({"type":"BOOKMARK","object":{"kind":")", res.kind, R"(","apiVersion":")",
                              res.group.empty() ? res.version : res.group + "/" + res.version,
                              R"(","metadata":{"resourceVersion":")", rv_, R"("}}})", "\n"));
    }
    return {200, "", chunks};
  }
  std::vector<Node> items;
  for (const auto& [key, s] : objects_) {
    if (matches(key, s.object)) {
      items.push_back(s.object);
    }
  }
  size_t offset = 0;
  std::string cont = get("continue");
  if (!cont.empty()) {
    size_t colon = cont.find(':');
    if (colon == std::string::npos) {
      return Error(400, "BadRequest", "continue key is not valid");
    }
    if (cont.substr(0, colon) != std::to_string(rv_)) {
      return Error(410, "Expired",
                   "The provided continue parameter is too old to display a consistent list result. You can start a "
                   "new list without the continue parameter.");
    }
    offset = std::stoul(cont.substr(colon + 1));
  }
  size_t limit = get("limit").empty() ? 0 : std::stoul(get("limit"));
  Node list = Node::Map();
  list.Set("kind", Str(res.kind + "List"));
  list.Set("apiVersion", Str(res.group.empty() ? res.version : res.group + "/" + res.version));
  Node meta = Node::Map();
  meta.Set("resourceVersion", Str(std::to_string(rv_)));
  Node out = Node::Sequence();
  size_t end = limit == 0 ? items.size() : std::min(items.size(), offset + limit);
  for (size_t i = offset; i < end; ++i) {
    out.Append(items[i]);
  }
  if (end < items.size()) {
    meta.Set("continue", Str(StrCat(rv_, ":", end)));
  }
  list.Set("metadata", std::move(meta));
  list.Set("items", std::move(out));
  return {200, Json(list)};
}

void FakeCluster::StoreLocked(const Key& key, const Resource& res, Node object, const std::string& manager,
                              const std::string& event_type) {
  Node* meta = object.FindMutable("metadata");
  meta->Set("resourceVersion", Str(NextRv()));
  if (res.kind == "Deployment" && options_.deployments_ready) {
    int64_t replicas = object["spec"]["replicas"].Int().value_or(1);
    Node status = Node::Map();
    status.Set("observedGeneration", Num(object["metadata"]["generation"].Int().value_or(1)));
    for (const char* f : {"replicas", "updatedReplicas", "readyReplicas", "availableReplicas"}) {
      status.Set(f, Num(replicas));
    }
    object.Set("status", std::move(status));
  } else if (res.kind == "Deployment") {
    // A cluster with no nodes: the controller sees the Deployment, no pod ever runs.
    int64_t replicas = object["spec"]["replicas"].Int().value_or(1);
    Node status = Node::Map();
    status.Set("observedGeneration", Num(object["metadata"]["generation"].Int().value_or(1)));
    status.Set("replicas", Num(replicas));
    status.Set("updatedReplicas", Num(replicas));
    status.Set("unavailableReplicas", Num(replicas));
    Node conditions = Node::Sequence();
    Node c = Node::Map();
    c.Set("type", Str("Available"));
    c.Set("status", Str("False"));
    c.Set("reason", Str("MinimumReplicasUnavailable"));
    c.Set("message", Str("Deployment does not have minimum availability."));
    conditions.Append(std::move(c));
    status.Set("conditions", std::move(conditions));
    object.Set("status", std::move(status));
  }
  auto it = objects_.find(key);
  if (it == objects_.end()) {
    objects_[key] = Stored{object, manager, std::chrono::steady_clock::now()};
  } else {
    it->second.object = object;
    it->second.manager = manager;
  }
  events_.push_back({rv_, event_type, key, object});
}

FakeResponse FakeCluster::Create(const Resource& res, const std::string& ns, Node body, const std::string& manager,
                                 bool via_apply) {
  std::string name = body["metadata"]["name"].Str();
  if (name.empty()) {
    return Error(422, "Invalid", StrCat(res.kind, " \"\" is invalid: metadata.name: Required value: name is required"));
  }
  if (res.namespaced) {
    auto owner = objects_.find({"", "namespaces", "", ns});
    if (owner == objects_.end()) {
      return Error(404, "NotFound", StrCat("namespaces \"", ns, "\" not found"));
    }
    if (owner->second.object["status"]["phase"].Str() == "Terminating") {
      // The NamespaceLifecycle admission plugin.
      return Error(403, "Forbidden",
                   StrCat(res.plural, res.group.empty() ? "" : "." + res.group, " \"", name,
                          "\" is forbidden: unable to create new content in namespace ", ns,
                          " because it is being terminated"));
    }
  }
  std::string what = res.group.empty() ? res.plural : res.plural + "." + res.group;
  Key key{res.group, res.plural, res.namespaced ? ns : "", name};
  if (objects_.count(key)) {
    return Error(409, "AlreadyExists", StrCat(what, " \"", name, "\" already exists"));
  }
  if (res.kind == "CustomResourceDefinition") {
    const Node& spec = body["spec"];
    if (spec["group"].Str().empty() || spec["names"]["plural"].Str().empty() || spec["names"]["kind"].Str().empty() ||
        spec["versions"].size() == 0) {
      return Error(422, "Invalid", StrCat("CustomResourceDefinition.apiextensions.k8s.io \"", name,
                                          "\" is invalid: spec: Required value"));
    }
    if (name != spec["names"]["plural"].Str() + "." + spec["group"].Str()) {
      return Error(422, "Invalid", StrCat("CustomResourceDefinition.apiextensions.k8s.io \"", name,
                                          "\" is invalid: metadata.name: Invalid value: must be spec.names.plural+\".\"+spec.group"));
    }
  }
  Node* meta = body.FindMutable("metadata");
  if (res.namespaced) {
    meta->Set("namespace", Str(ns));
  } else {
    meta->Erase("namespace");
  }
  meta->Set("uid", Str(StrCat("00000000-0000-0000-0000-", std::to_string(1000000000000 + ++uid_).substr(1))));
  meta->Set("creationTimestamp", Str(Now3339()));
  meta->Set("generation", Num(1));
  Node mf = Node::Sequence();
  Node entry = Node::Map();
  entry.Set("manager", Str(manager));
  entry.Set("operation", Str(via_apply ? "Apply" : "Update"));
  entry.Set("apiVersion", Str(res.group.empty() ? res.version : res.group + "/" + res.version));
  mf.Append(std::move(entry));
  meta->Set("managedFields", std::move(mf));
  if (res.kind == "Namespace") {
    Node status = Node::Map();
    status.Set("phase", Str("Active"));
    body.Set("status", std::move(status));
  }
  creation_log_.push_back(res.namespaced ? StrCat(res.kind, " ", ns, "/", name) : StrCat(res.kind, " ", name));
  StoreLocked(key, res, body, manager, "ADDED");
  return {201, Json(objects_[key].object)};
}

void FakeCluster::DeleteLocked(const Key& key) {
  auto it = objects_.find(key);
  if (it == objects_.end()) {
    return;
  }
  Node obj = it->second.object;
  objects_.erase(it);
  NextRv();
  events_.push_back({rv_, "DELETED", key, obj});
  std::vector<Key> dependents;
  if (std::get<0>(key).empty() && std::get<1>(key) == "namespaces") {
    // What the namespace controller does, at once.
    for (const auto& [k, s] : objects_) {
      if (std::get<2>(k) == std::get<3>(key)) {
        dependents.push_back(k);
      }
    }
  } else if (std::get<0>(key) == "apiextensions.k8s.io") {
    for (const auto& [k, s] : objects_) {
      if (std::get<0>(k) == obj["spec"]["group"].Str() && std::get<1>(k) == obj["spec"]["names"]["plural"].Str()) {
        dependents.push_back(k);
      }
    }
  }
  for (const Key& k : dependents) {
    DeleteLocked(k);
  }
}

FakeResponse FakeCluster::Object(const SeenRequest& r, const Resource& res, const std::string& ns,
                                 const std::string& name, const std::map<std::string, std::string>& query) {
  auto get = [&](const char* k) {
    auto it = query.find(k);
    return it == query.end() ? std::string() : it->second;
  };
  if (res.namespaced && ns.empty()) {
    return Error(404, "NotFound", "the server could not find the requested resource");
  }
  std::string what = res.group.empty() ? res.plural : res.plural + "." + res.group;
  Key key{res.group, res.plural, ns, name};
  auto it = objects_.find(key);
  auto not_found = [&] { return Error(404, "NotFound", StrCat(what, " \"", name, "\" not found")); };
  if (r.method == "GET") {
    return it == objects_.end() ? not_found() : FakeResponse{200, Json(it->second.object)};
  }
  if (r.method == "DELETE") {
    if (it == objects_.end()) {
      return not_found();
    }
    auto opts = config::ParseYamlNode(r.body.empty() ? "{}" : r.body, "DeleteOptions");
    delete_propagation_.push_back(opts.ok() ? (*opts)["propagationPolicy"].Str() : "");
    if (res.kind == "Namespace" && res.group.empty() && !options_.namespace_controller) {
      // Only marked: the `kubernetes` finalizer waits for a namespace controller.
      Node terminating = it->second.object;
      if (!terminating["metadata"]["deletionTimestamp"].Defined()) {
        terminating.FindMutable("metadata")->Set("deletionTimestamp", Str(Now3339()));
        Node status = Node::Map();
        status.Set("phase", Str("Terminating"));
        terminating.Set("status", std::move(status));
        StoreLocked(key, res, terminating, it->second.manager, "MODIFIED");
      }
      return {200, Json(objects_[key].object)};
    }
    Node gone = it->second.object;
    DeleteLocked(key);
    return {200, Json(gone)};
  }
  if (r.method != "PATCH") {
    return Error(405, "MethodNotAllowed", "the server does not allow this method on the requested resource");
  }
  auto body = config::ParseYamlNode(r.body, "request");
  if (!body.ok()) {
    return Error(400, "BadRequest", StrCat("error decoding patch: ", body.status().message()));
  }
  if (r.content_type == "application/merge-patch+json") {
    if (it == objects_.end()) {
      return not_found();
    }
    // A resourceVersion in the patch is a precondition (optimistic concurrency).
    const std::string& want_rv = (*body)["metadata"]["resourceVersion"].Str();
    if (!want_rv.empty() && want_rv != it->second.object["metadata"]["resourceVersion"].Str()) {
      return Error(409, "Conflict",
                   StrCat("Operation cannot be fulfilled on ", res.plural, res.group.empty() ? "" : "." + res.group,
                          " \"", name, "\": the object has been modified; please apply your changes to the latest "
                          "version and try again"));
    }
    Node patched = MergePatch(it->second.object, *body);
    if (Json(Content(patched)) == Json(Content(it->second.object))) {
      return {200, Json(it->second.object)};
    }
    if (Json(Content(patched)["spec"]) != Json(Content(it->second.object)["spec"])) {
      patched.FindMutable("metadata")->Set("generation", Num(it->second.object["metadata"]["generation"].Int().value_or(1) + 1));
    }
    StoreLocked(key, res, patched, it->second.manager, "MODIFIED");
    return {200, Json(objects_[key].object)};
  }
  if (r.content_type != "application/apply-patch+yaml") {
    return Error(415, "UnsupportedMediaType", StrCat("the body of the request was in an unknown format: ", r.content_type));
  }
  std::string manager = get("fieldManager");
  if (manager.empty()) {
    return Error(422, "Invalid", "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch");
  }
  const Node& b = *body;
  std::string want_api = res.group.empty() ? res.version : res.group + "/" + res.version;
  if (b["apiVersion"].Str() != want_api || b["kind"].Str() != res.kind) {
    return Error(400, "BadRequest",
                 StrCat("the API version in the data (", b["apiVersion"].Str(), ") does not match the expected API version (",
                        want_api, ") or kind ", b["kind"].Str(), " is not ", res.kind));
  }
  if (b["metadata"]["name"].Str() != name) {
    return Error(400, "BadRequest", "the name of the object (" + b["metadata"]["name"].Str() +
                                        ") does not match the name on the URL (" + name + ")");
  }
  if (res.namespaced && b["metadata"]["namespace"].Defined() && b["metadata"]["namespace"].Str() != ns) {
    return Error(400, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request");
  }
  if (it == objects_.end()) {
    return Create(res, ns, b, manager, true);
  }
  const Node& existing = it->second.object;
  if (it->second.manager != manager && get("force") != "true") {
    Node want = Content(b);
    std::string field = Differs(want, existing, "");
    if (!field.empty()) {
      return Error(409, "Conflict",
                   StrCat("Apply failed with 1 conflict: conflict with \"", it->second.manager, "\": ", field));
    }
  }
  // This manager's fields replace its earlier ones; labels set by others are kept.
  Node merged = b;
  Node* meta = merged.FindMutable("metadata");
  for (const char* f : {"uid", "creationTimestamp", "generation", "resourceVersion", "managedFields"}) {
    if (existing["metadata"][f].Defined()) {
      meta->Set(f, existing["metadata"][f]);
    }
  }
  meta->Set("namespace", existing["metadata"]["namespace"]);
  if (!existing["metadata"]["namespace"].Defined()) {
    meta->Erase("namespace");
  }
  Node labels = existing["metadata"]["labels"].IsMap() ? existing["metadata"]["labels"] : Node::Map();
  for (const auto& [k, v] : b["metadata"]["labels"].entries()) {
    labels.Set(k, v);
  }
  if (labels.size() > 0) {
    meta->Set("labels", labels);
  }
  if (existing["status"].Defined()) {
    merged.Set("status", existing["status"]);
  }
  if (Json(Content(merged)) == Json(Content(existing))) {
    return {200, Json(existing)};  // no-op apply: no new resourceVersion
  }
  if (Json(merged["spec"]) != Json(existing["spec"])) {
    meta->Set("generation", Num(existing["metadata"]["generation"].Int().value_or(1) + 1));
  }
  StoreLocked(key, res, merged, manager, "MODIFIED");
  return {200, Json(objects_[key].object)};
}

std::optional<Node> FakeCluster::Find(const std::string& group, const std::string& kind, const std::string& ns,
                                      const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  EstablishCrdsLocked();
  auto res = ResourceForKindLocked(group, kind);
  if (!res) {
    return std::nullopt;
  }
  auto it = objects_.find({group, res->plural, res->namespaced ? ns : "", name});
  if (it == objects_.end()) {
    return std::nullopt;
  }
  return it->second.object;
}

std::vector<Node> FakeCluster::ObjectsOfKind(const std::string& group, const std::string& kind) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Node> out;
  for (const auto& [key, s] : objects_) {
    if (std::get<0>(key) == group && s.object["kind"].Str() == kind) {
      out.push_back(s.object);
    }
  }
  return out;
}

std::vector<Node> FakeCluster::AllObjects() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Node> out;
  for (const auto& [key, s] : objects_) {
    out.push_back(s.object);
  }
  return out;
}

std::vector<std::string> FakeCluster::CreationLog() {
  std::lock_guard<std::mutex> lock(mu_);
  return creation_log_;
}

std::vector<std::string> FakeCluster::DeletePropagation() {
  std::lock_guard<std::mutex> lock(mu_);
  return delete_propagation_;
}

void FakeCluster::Put(const Node& object, const std::string& manager) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string group = GroupOf(object["apiVersion"].Str());
  auto res = ResourceForKindLocked(group, object["kind"].Str());
  if (!res) {
    return;
  }
  res->version = VersionOf(object["apiVersion"].Str());
  Create(*res, object["metadata"]["namespace"].Str(), object, manager, false);
}

}  // namespace mesh::kube::fake
