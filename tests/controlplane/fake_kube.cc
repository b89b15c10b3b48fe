#include "tests/controlplane/fake_kube.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "mesh/common/strings.h"
#include "mesh/config/emit.h"
#include "mesh/config/yaml_loader.h"

namespace mesh::testing {

using common::StrCat;
using config::Node;

namespace {

std::string StatusJson(int code, const std::string& reason, const std::string& message) {
  Node s = Node::Map();
  s.Set("kind", Node::Scalar("Status", true));
  s.Set("apiVersion", Node::Scalar("v1", true));
  s.Set("status", Node::Scalar("Failure", true));
  s.Set("message", Node::Scalar(message, true));
  s.Set("reason", Node::Scalar(reason, true));
  s.Set("code", Node::Scalar(std::to_string(code)));
  return config::EmitJson(s, {.indent = 0});
}

bool WriteAll(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0) {
      return false;
    }
    off += static_cast<size_t>(n);
  }
  return true;
}

std::string Chunk(const std::string& data) {
  char len[32];
  std::snprintf(len, sizeof(len), "%zx\r\n", data.size());
  return StrCat(len, data, "\r\n");
}

std::string UrlDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::string ApiVersionOf(const FakeResourceType& t) { return t.group.empty() ? t.version : StrCat(t.group, "/", t.version); }
std::string TypeKey(const std::string& group, const std::string& kind) { return StrCat(group, "/", kind); }

}  // namespace

std::vector<FakeResourceType> DefaultFakeTypes() {
  return {
      {"", "v1", "Namespace", "namespaces", false},
      {"", "v1", "Service", "services", true},
      {"", "v1", "Pod", "pods", true},
      {"", "v1", "Secret", "secrets", true},
      {"", "v1", "ConfigMap", "configmaps", true},
      {"discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", true},
      {"networking.istio.io", "v1", "VirtualService", "virtualservices", true},
      {"networking.istio.io", "v1", "Gateway", "gateways", true},
      {"networking.istio.io", "v1", "DestinationRule", "destinationrules", true},
      {"security.istio.io", "v1", "PeerAuthentication", "peerauthentications", true},
      {"authentication.k8s.io", "v1", "TokenReview", "tokenreviews", false},
  };
}

struct FakeKube::Target {
  const FakeResourceType* type = nullptr;
  std::string ns;
  std::string name;
};

FakeKube::FakeKube(std::vector<FakeResourceType> types) : types_(std::move(types)) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  ::listen(listen_fd_, 64);
  socklen_t len = sizeof(addr);
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  accept_thread_ = std::thread([this] { AcceptLoop(); });
}

FakeKube::~FakeKube() { Stop(); }

void FakeKube::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) {
      return;
    }
    stopping_ = true;
    for (int fd : open_fds_) {
      ::shutdown(fd, SHUT_RDWR);
    }
    cv_.notify_all();
  }
  ::shutdown(listen_fd_, SHUT_RDWR);
  ::close(listen_fd_);
  accept_thread_.join();
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(mu_);
    threads.swap(connections_);
  }
  for (auto& t : threads) {
    t.join();
  }
}

std::string FakeKube::server() const { return StrCat("http://127.0.0.1:", port_); }

void FakeKube::AcceptLoop() {
  while (true) {
    int fd = ::accept(listen_fd_, nullptr, nullptr);
    std::lock_guard<std::mutex> lock(mu_);
    if (fd < 0 || stopping_) {
      if (fd >= 0) {
        ::close(fd);
      }
      return;
    }
    open_fds_.push_back(fd);
    connections_.emplace_back([this, fd] { Serve(fd); });
  }
}

void FakeKube::Serve(int fd) {
  std::string data;
  char buf[8192];
  size_t header_end = std::string::npos;
  while ((header_end = data.find("\r\n\r\n")) == std::string::npos) {
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) {
      break;
    }
    data.append(buf, static_cast<size_t>(n));
  }
  if (header_end != std::string::npos) {
    std::string head = data.substr(0, header_end);
    std::string body = data.substr(header_end + 4);
    size_t content_length = 0;
    for (const std::string& line : common::Split(head, '\n')) {
      std::string lower = common::ToLower(line);
      if (lower.rfind("content-length:", 0) == 0) {
        content_length = std::stoul(std::string(common::StripWhitespace(line.substr(15))));
      }
    }
    while (body.size() < content_length) {
      ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) {
        break;
      }
      body.append(buf, static_cast<size_t>(n));
    }
    std::string request_line = head.substr(0, head.find("\r\n"));
    std::vector<std::string> parts = common::Split(request_line, ' ');
    if (parts.size() >= 2) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        requests_.push_back(parts[1]);
      }
      int code = 200;
      bool is_watch = false;
      std::string reply = Handle(parts[0], parts[1], body, code, is_watch);
      if (!is_watch) {
        WriteAll(fd, StrCat("HTTP/1.1 ", code, " X\r\nContent-Type: application/json\r\nContent-Length: ",
                            reply.size(), "\r\nConnection: close\r\n\r\n", reply));
      } else {
        std::map<std::string, std::string> query;
        std::string_view target = parts[1];
        size_t q = target.find('?');
        if (q != std::string_view::npos) {
          for (const std::string& kv : common::Split(target.substr(q + 1), '&')) {
            size_t eq = kv.find('=');
            query[kv.substr(0, eq)] = eq == std::string::npos ? "" : UrlDecode(kv.substr(eq + 1));
          }
        }
        std::string path(target.substr(0, q));
        // Re-resolve the collection for the stream.
        Target t;
        std::vector<std::string> segs = common::Split(path, '/');
        segs.erase(std::remove(segs.begin(), segs.end(), ""), segs.end());
        size_t base = segs[0] == "api" ? 2 : 3;
        std::string gv = segs[0] == "api" ? segs[1] : StrCat(segs[1], "/", segs[2]);
        if (segs.size() >= base + 3 && segs[base] == "namespaces") {
          t.ns = segs[base + 1];
          t.type = FindType(gv, segs[base + 2]);
        } else {
          t.type = FindType(gv, segs[base]);
        }
        StreamWatch(fd, t, query);
      }
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  open_fds_.erase(std::remove(open_fds_.begin(), open_fds_.end(), fd), open_fds_.end());
  ::shutdown(fd, SHUT_RDWR);
  ::close(fd);
}

const FakeResourceType* FakeKube::FindType(const std::string& gv, const std::string& plural) const {
  for (const FakeResourceType& t : types_) {
    if (ApiVersionOf(t) == gv && t.plural == plural) {
      return &t;
    }
  }
  return nullptr;
}

std::string FakeKube::Handle(const std::string& method, const std::string& full_target, const std::string& body,
                             int& code, bool& is_watch) {
  std::string_view target = full_target;
  std::string path(target.substr(0, target.find('?')));
  std::string query(target.find('?') == std::string_view::npos ? "" : target.substr(target.find('?') + 1));
  auto param = [&](const std::string& key) -> std::string {
    for (const std::string& kv : common::Split(query, '&')) {
      size_t eq = kv.find('=');
      if (kv.substr(0, eq) == key) {
        return eq == std::string::npos ? "" : UrlDecode(kv.substr(eq + 1));
      }
    }
    return "";
  };
  std::vector<std::string> segs = common::Split(path, '/');
  segs.erase(std::remove(segs.begin(), segs.end(), ""), segs.end());
  if (path == "/api") {
    return R"({"kind":"APIVersions","versions":["v1"]})";
  }
  if (path == "/apis") {
    Node groups = Node::Sequence();
    std::map<std::string, std::vector<std::string>> by_group;
    for (const FakeResourceType& t : types_) {
      if (!t.group.empty()) {
        auto& v = by_group[t.group];
        if (std::find(v.begin(), v.end(), t.version) == v.end()) {
          v.push_back(t.version);
        }
      }
    }
    std::string out = R"({"kind":"APIGroupList","groups":[)";
    bool first = true;
    for (const auto& [g, versions] : by_group) {
      out += StrCat(first ? "" : ",", R"({"name":")", g, R"(","versions":[)");
      for (size_t i = 0; i < versions.size(); ++i) {
        out += StrCat(i ? "," : "", R"({"groupVersion":")", g, "/", versions[i], R"(","version":")", versions[i], "\"}");
      }
      out += "]}";
      first = false;
    }
    return out + "]}";
  }
  if (segs.empty() || (segs[0] != "api" && segs[0] != "apis") || (segs[0] == "apis" && segs.size() < 3) ||
      segs.size() < 2) {
    code = 404;
    return StatusJson(404, "NotFound", "the server could not find the requested resource");
  }
  const size_t base = segs[0] == "api" ? 2 : 3;
  const std::string gv = segs[0] == "api" ? segs[1] : StrCat(segs[1], "/", segs[2]);
  if (segs.size() == base) {
    std::string out = StrCat(R"({"kind":"APIResourceList","groupVersion":")", gv, R"(","resources":[)");
    bool any = false;
    for (const FakeResourceType& t : types_) {
      if (ApiVersionOf(t) == gv) {
        out += StrCat(any ? "," : "", R"({"name":")", t.plural, R"(","namespaced":)", t.namespaced ? "true" : "false",
                      R"(,"kind":")", t.kind, R"(","verbs":["list","watch","get","create"]})");
        any = true;
      }
    }
    if (!any) {
      code = 404;
      return StatusJson(404, "NotFound", StrCat("the server could not find the requested resource (", gv, ")"));
    }
    return out + "]}";
  }
  Target t;
  if (segs.size() >= base + 3 && segs[base] == "namespaces") {
    t.ns = segs[base + 1];
    t.type = FindType(gv, segs[base + 2]);
    t.name = segs.size() > base + 3 ? segs[base + 3] : "";
  } else {
    t.type = FindType(gv, segs[base]);
    t.name = segs.size() > base + 1 ? segs[base + 1] : "";
  }
  if (t.type == nullptr) {
    code = 404;
    return StatusJson(404, "NotFound", "the server could not find the requested resource");
  }
  if (method == "POST" && t.type->kind == "TokenReview") {
    auto review = config::ParseYamlNode(body, "review");
    std::string token = review.ok() ? review->At({"spec", "token"}).Str() : "";
    std::vector<std::string> wanted = review.ok() ? review->At({"spec", "audiences"}).StringList() : std::vector<std::string>{};
    std::lock_guard<std::mutex> lock(mu_);
    auto it = tokens_.find(token);
    std::vector<std::string> granted;
    if (it != tokens_.end()) {
      for (const std::string& a : wanted) {
        if (std::find(it->second.second.begin(), it->second.second.end(), a) != it->second.second.end()) {
          granted.push_back(a);
        }
      }
    }
    if (it == tokens_.end() || granted.empty()) {
      return R"({"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","status":{"authenticated":false,"error":"invalid bearer token"}})";
    }
    std::string auds;
    for (const std::string& a : granted) {
      auds += StrCat(auds.empty() ? "" : ",", "\"", a, "\"");
    }
    return StrCat(R"({"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","status":{"authenticated":true,"user":{"username":")",
                  it->second.first, R"(","groups":["system:serviceaccounts"]},"audiences":[)", auds, "]}}");
  }
  if (method != "GET") {
    code = 405;
    return StatusJson(405, "MethodNotAllowed", "not supported by the fake");
  }
  if (param("watch") == "1" || param("watch") == "true") {
    std::lock_guard<std::mutex> lock(mu_);
    if (watch_unavailable_) {
      code = 503;
      return StatusJson(503, "ServiceUnavailable", "the server is currently unable to handle the request");
    }
    is_watch = true;
    return "";
  }
  const std::string key = TypeKey(t.type->group, t.type->kind);
  std::lock_guard<std::mutex> lock(mu_);
  const auto& objects = objects_[key];
  if (!t.name.empty()) {
    auto it = objects.find(StrCat(t.ns, "/", t.name));
    if (it == objects.end()) {
      code = 404;
      return StatusJson(404, "NotFound", StrCat(t.type->plural, " \\\"", t.name, "\\\" not found"));
    }
    return config::EmitJson(it->second, {.indent = 0});
  }
  // List: all namespaces or one, paged by an offset continue token.
  std::vector<const Node*> items;
  for (const auto& [nsname, obj] : objects) {
    if (t.ns.empty() || obj.At({"metadata", "namespace"}).Str() == t.ns) {
      items.push_back(&obj);
    }
  }
  size_t offset = param("continue").empty() ? 0 : std::stoul(param("continue"));
  size_t limit = param("limit").empty() ? items.size() : std::stoul(param("limit"));
  Node list = Node::Map();
  list.Set("kind", Node::Scalar(t.type->kind + "List", true));
  list.Set("apiVersion", Node::Scalar(ApiVersionOf(*t.type), true));
  Node meta = Node::Map();
  meta.Set("resourceVersion", Node::Scalar(std::to_string(rv_), true));
  size_t end = std::min(items.size(), offset + limit);
  if (end < items.size()) {
    meta.Set("continue", Node::Scalar(std::to_string(end), true));
  }
  list.Set("metadata", meta);
  Node out_items = Node::Sequence();
  for (size_t i = offset; i < end; ++i) {
    Node item = *items[i];
    item.Erase("apiVersion");  // as for built-in lists: items carry no type
    item.Erase("kind");
    out_items.Append(std::move(item));
  }
  list.Set("items", std::move(out_items));
  return config::EmitJson(list, {.indent = 0});
}

void FakeKube::StreamWatch(int fd, const Target& t, const std::map<std::string, std::string>& query) {
  if (!WriteAll(fd, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")) {
    return;
  }
  auto get = [&](const char* k) {
    auto it = query.find(k);
    return it == query.end() ? std::string() : it->second;
  };
  if (t.type == nullptr) {
    WriteAll(fd, Chunk(StrCat(R"({"type":"ERROR","object":)", StatusJson(404, "NotFound", "unknown resource"), "}\n")));
    WriteAll(fd, "0\r\n\r\n");
    return;
  }
  const std::string key = TypeKey(t.type->group, t.type->kind);
  const bool bookmarks = get("allowWatchBookmarks") == "true";
  const int timeout = get("timeoutSeconds").empty() ? 60 : std::stoi(get("timeoutSeconds"));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout);
  std::unique_lock<std::mutex> lock(mu_);
  int64_t from = get("resourceVersion").empty() ? 0 : std::stoll(get("resourceVersion"));
  if (from != 0 && from < compacted_rv_) {
    lock.unlock();
    WriteAll(fd, Chunk(StrCat(R"({"type":"ERROR","object":)",
                              StatusJson(410, "Expired", StrCat("too old resource version: ", from, " (", compacted_rv_, ")")),
                              "}\n")));
    WriteAll(fd, "0\r\n\r\n");
    return;
  }
  size_t next = 0;
  if (from == 0) {
    // No version: the current state as ADDED events, then changes.
    std::vector<std::string> lines;
    for (const auto& [nsname, obj] : objects_[key]) {
      lines.push_back(StrCat(R"({"type":"ADDED","object":)", config::EmitJson(obj, {.indent = 0}), "}\n"));
    }
    next = events_.size();
    lock.unlock();
    for (const std::string& l : lines) {
      if (!WriteAll(fd, Chunk(l))) {
        return;
      }
    }
    lock.lock();
  } else {
    while (next < events_.size() && events_[next].rv <= from) {
      ++next;
    }
  }
  const uint64_t epoch = watch_epoch_;
  while (true) {
    std::vector<std::string> lines;
    for (; next < events_.size(); ++next) {
      const Event& e = events_[next];
      if (e.type == "BOOKMARK" ? !bookmarks : e.type_key != key) {
        continue;
      }
      if (e.type != "BOOKMARK" && !t.ns.empty() && e.object.At({"metadata", "namespace"}).Str() != t.ns) {
        continue;
      }
      Node object = e.object;
      if (e.type == "BOOKMARK") {
        object.Set("kind", Node::Scalar(t.type->kind, true));
        object.Set("apiVersion", Node::Scalar(ApiVersionOf(*t.type), true));
      }
      lines.push_back(StrCat(R"({"type":")", e.type, R"(","object":)", config::EmitJson(object, {.indent = 0}), "}\n"));
    }
    if (!lines.empty()) {
      lock.unlock();
      for (const std::string& l : lines) {
        if (!WriteAll(fd, Chunk(l))) {
          return;
        }
      }
      lock.lock();
      continue;
    }
    if (stopping_ || watch_epoch_ != epoch || std::chrono::steady_clock::now() >= deadline) {
      break;
    }
    cv_.wait_until(lock, deadline);
  }
  lock.unlock();
  WriteAll(fd, "0\r\n\r\n");
}

void FakeKube::Record(const std::string& type_key, const std::string& type, const Node& object) {
  events_.push_back(Event{rv_, type_key, type, object});
  cv_.notify_all();
}

std::string FakeKube::Apply(const std::string& yaml) {
  auto parsed = config::ParseYamlNode(yaml, "fake apply");
  if (!parsed.ok()) {
    return "";
  }
  Node obj = *parsed;
  std::string api_version = obj["apiVersion"].Str();
  size_t slash = api_version.find('/');
  std::string group = slash == std::string::npos ? "" : api_version.substr(0, slash);
  const std::string key = TypeKey(group, obj["kind"].Str());
  std::lock_guard<std::mutex> lock(mu_);
  ++rv_;
  Node* meta = obj.FindMutable("metadata");
  meta->Set("resourceVersion", Node::Scalar(std::to_string(rv_), true));
  const std::string nsname = StrCat(obj.At({"metadata", "namespace"}).Str(), "/", obj.At({"metadata", "name"}).Str());
  bool existed = objects_[key].count(nsname) > 0;
  objects_[key][nsname] = obj;
  Record(key, existed ? "MODIFIED" : "ADDED", obj);
  return std::to_string(rv_);
}

void FakeKube::Delete(const std::string& api_version, const std::string& kind, const std::string& ns,
                      const std::string& name) {
  size_t slash = api_version.find('/');
  std::string group = slash == std::string::npos ? "" : api_version.substr(0, slash);
  const std::string key = TypeKey(group, kind);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = objects_[key].find(StrCat(ns, "/", name));
  if (it == objects_[key].end()) {
    return;
  }
  ++rv_;
  Node obj = it->second;
  obj.FindMutable("metadata")->Set("resourceVersion", Node::Scalar(std::to_string(rv_), true));
  objects_[key].erase(it);
  Record(key, "DELETED", obj);
}

void FakeKube::Compact() {
  std::lock_guard<std::mutex> lock(mu_);
  compacted_rv_ = rv_;
  events_.clear();
}

void FakeKube::EndWatches() {
  std::lock_guard<std::mutex> lock(mu_);
  ++watch_epoch_;
  cv_.notify_all();
}

void FakeKube::SetWatchUnavailable(bool unavailable) {
  std::lock_guard<std::mutex> lock(mu_);
  watch_unavailable_ = unavailable;
}

void FakeKube::Bookmark() {
  std::lock_guard<std::mutex> lock(mu_);
  Node obj = Node::Map();
  Node meta = Node::Map();
  meta.Set("resourceVersion", Node::Scalar(std::to_string(rv_), true));
  obj.Set("metadata", meta);
  Record("", "BOOKMARK", obj);
}

void FakeKube::AddToken(const std::string& token, const std::string& username, std::vector<std::string> audiences) {
  std::lock_guard<std::mutex> lock(mu_);
  tokens_[token] = {username, std::move(audiences)};
}

std::string FakeKube::resource_version() const {
  std::lock_guard<std::mutex> lock(mu_);
  return std::to_string(rv_);
}

int FakeKube::CountRequests(const std::string& fragment) const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(std::count_if(requests_.begin(), requests_.end(), [&](const std::string& r) {
    return r.find(fragment) != std::string::npos;
  }));
}

}  // namespace mesh::testing
