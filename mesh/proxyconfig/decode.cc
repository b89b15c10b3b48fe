#include "mesh/proxyconfig/decode.h"

#include <fstream>
#include <functional>
#include <set>
#include <sstream>

#include "absl/status/status.h"
#include "mesh/common/status_macros.h"
#include "mesh/common/strings.h"
#include "mesh/config/yaml_loader.h"

namespace mesh::proxyconfig {
namespace {

using config::Node;
using common::StrCat;

// Priority levels are few in practice (Istio uses one per failover step); the cap keeps a
// typo from allocating billions of levels.
constexpr uint32_t kMaxPriority = 127;

std::string ToSnake(std::string_view key) {
  std::string out;
  for (char c : key) {
    if (c >= 'A' && c <= 'Z') {
      out.push_back('_');
      out.push_back(static_cast<char>(c - 'A' + 'a'));
    } else {
      out.push_back(c);
    }
  }
  return out;
}

absl::Status FieldError(const Node& node, const std::string& path, std::string_view message) {
  std::string where;
  const config::Mark& m = node.key_mark().line > 0 ? node.key_mark() : node.mark();
  if (m.line > 0) {
    where = StrCat(m.line, ":", m.column, ": ");
  }
  return absl::InvalidArgumentError(StrCat(where, path.empty() ? "(root)" : path, ": ", message));
}

// A map being decoded: hands out fields by their snake_case name and, at the end,
// reports the first field nobody asked for.
class Obj {
 public:
  Obj(const Node& node, std::string path) : node_(node), path_(std::move(path)) {
    used_.resize(node.entries().size(), false);
  }
  static absl::StatusOr<Obj> Open(const Node& node, const std::string& path) {
    if (!node.IsMap()) {
      return FieldError(node, path, "expected an object");
    }
    return Obj(node, path);
  }
  const Node* Get(std::string_view snake) {
    const auto& entries = node_.entries();
    for (size_t i = 0; i < entries.size(); ++i) {
      if (entries[i].first == snake || ToSnake(entries[i].first) == snake) {
        used_[i] = true;
        if (entries[i].second.LooksNull()) {
          return nullptr;
        }
        return &entries[i].second;
      }
    }
    return nullptr;
  }
  std::string Path(std::string_view field) const {
    return path_.empty() ? std::string(field) : StrCat(path_, ".", field);
  }
  const std::string& path() const { return path_; }
  const Node& node() const { return node_; }
  absl::Status Done() const {
    const auto& entries = node_.entries();
    for (size_t i = 0; i < entries.size(); ++i) {
      if (!used_[i]) {
        return FieldError(entries[i].second, Path(ToSnake(entries[i].first)),
                          "unsupported field (meshctl proxy implements a subset of Envoy v3; "
                          "see docs/PROXY.md)");
      }
    }
    return absl::OkStatus();
  }

 private:
  const Node& node_;
  std::string path_;
  std::vector<bool> used_;
};

absl::Status ReadString(Obj& o, std::string_view field, std::string& out) {
  const Node* n = o.Get(field);
  if (n == nullptr) {
    return absl::OkStatus();
  }
  if (!n->IsScalar()) {
    return FieldError(*n, o.Path(field), "expected a string");
  }
  out = n->Str();
  return absl::OkStatus();
}

absl::Status ReadUint(Obj& o, std::string_view field, uint32_t& out) {
  const Node* n = o.Get(field);
  if (n == nullptr) {
    return absl::OkStatus();
  }
  // UInt32Value wrappers may be written as {"value": N}.
  if (n->IsMap()) {
    const Node& v = (*n)["value"];
    if (n->size() == 1 && v.Int()) {
      n = &v;
    }
  }
  auto v = n->Int();
  if (!v || *v < 0 || *v > 0xffffffffLL) {
    return FieldError(*n, o.Path(field), "expected a non-negative integer");
  }
  out = static_cast<uint32_t>(*v);
  return absl::OkStatus();
}

absl::Status ReadBool(Obj& o, std::string_view field, bool& out) {
  const Node* n = o.Get(field);
  if (n == nullptr) {
    return absl::OkStatus();
  }
  if (n->IsMap() && n->size() == 1 && (*n)["value"].Bool()) {
    n = &(*n)["value"];
  }
  auto v = n->Bool();
  if (!v) {
    return FieldError(*n, o.Path(field), "expected true or false");
  }
  out = *v;
  return absl::OkStatus();
}

absl::Status ReadDuration(Obj& o, std::string_view field, Duration& out) {
  const Node* n = o.Get(field);
  if (n == nullptr) {
    return absl::OkStatus();
  }
  if (!n->IsScalar()) {
    return FieldError(*n, o.Path(field), "expected a duration such as \"1.5s\"");
  }
  auto d = ParseDuration(n->Str());
  if (!d.ok()) {
    return FieldError(*n, o.Path(field), std::string(d.status().message()));
  }
  out = *d;
  return absl::OkStatus();
}

template <typename Fn>
absl::Status ReadList(Obj& o, std::string_view field, Fn fn) {
  const Node* n = o.Get(field);
  if (n == nullptr) {
    return absl::OkStatus();
  }
  if (!n->IsSequence()) {
    return FieldError(*n, o.Path(field), "expected a list");
  }
  for (size_t i = 0; i < n->items().size(); ++i) {
    MESH_RETURN_IF_ERROR(fn(n->items()[i], StrCat(o.Path(field), "[", i, "]")));
  }
  return absl::OkStatus();
}

absl::Status ReadStringList(Obj& o, std::string_view field, std::vector<std::string>& out) {
  return ReadList(o, field, [&](const Node& n, const std::string& path) -> absl::Status {
    if (!n.IsScalar()) {
      return FieldError(n, path, "expected a string");
    }
    out.push_back(n.Str());
    return absl::OkStatus();
  });
}

// Reads an enum given as its name; `names` maps names to values.
template <typename E>
absl::Status ReadEnum(Obj& o, std::string_view field,
                      const std::vector<std::pair<std::string, E>>& names, E& out) {
  const Node* n = o.Get(field);
  if (n == nullptr) {
    return absl::OkStatus();
  }
  for (const auto& [name, value] : names) {
    if (n->Str() == name) {
      out = value;
      return absl::OkStatus();
    }
  }
  std::vector<std::string> all;
  for (const auto& [name, value] : names) {
    all.push_back(name);
  }
  return FieldError(*n, o.Path(field),
                    StrCat("unsupported value \"", n->Str(), "\" (supported: ", common::Join(all, ", "), ")"));
}

// Checks the "@type" of an Any against the expected type URL.
absl::Status CheckType(Obj& o, std::string_view expected) {
  const Node* t = o.Get("@type");
  if (t == nullptr) {
    return absl::OkStatus();
  }
  if (t->Str() != expected) {
    return FieldError(*t, o.Path("@type"),
                      StrCat("unsupported type \"", t->Str(), "\" (expected \"", expected, "\")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const std::regex>> CompileRegex(const Node& n, const std::string& path,
                                                              const std::string& text, bool icase) {
  try {
    auto flags = std::regex::ECMAScript | std::regex::optimize;
    if (icase) {
      flags |= std::regex::icase;
    }
    return std::make_shared<const std::regex>(text, flags);
  } catch (const std::regex_error& e) {
    return FieldError(n, path, StrCat("invalid regex \"", text, "\": ", e.what()));
  }
}

// RegexMatcher: {"regex": "..."} (google_re2 accepted and ignored).
absl::StatusOr<std::string> DecodeRegexMatcher(const Node& node, const std::string& path) {
  MESH_ASSIGN_OR_RETURN(Obj o, Obj::Open(node, path));
  std::string regex;
  MESH_RETURN_IF_ERROR(ReadString(o, "regex", regex));
  o.Get("google_re2");
  MESH_RETURN_IF_ERROR(o.Done());
  if (regex.empty()) {
    return FieldError(node, o.Path("regex"), "required");
  }
  return regex;
}

absl::StatusOr<StringMatcher> DecodeStringMatcher(const Node& node, const std::string& path) {
  MESH_ASSIGN_OR_RETURN(Obj o, Obj::Open(node, path));
  StringMatcher m;
  MESH_RETURN_IF_ERROR(ReadBool(o, "ignore_case", m.ignore_case));
  int kinds = 0;
  static const std::pair<const char*, StringMatcher::Kind> kPlain[] = {
      {"exact", StringMatcher::Kind::kExact},
      {"prefix", StringMatcher::Kind::kPrefix},
      {"suffix", StringMatcher::Kind::kSuffix},
      {"contains", StringMatcher::Kind::kContains}};
  for (const auto& [name, kind] : kPlain) {
    if (const Node* n = o.Get(name)) {
      m.kind = kind;
      m.value = n->Str();
      ++kinds;
    }
  }
  if (const Node* n = o.Get("safe_regex")) {
    MESH_ASSIGN_OR_RETURN(m.value, DecodeRegexMatcher(*n, o.Path("safe_regex")));
    MESH_ASSIGN_OR_RETURN(m.regex, CompileRegex(*n, o.Path("safe_regex"), m.value, m.ignore_case));
    m.kind = StringMatcher::Kind::kRegex;
    ++kinds;
  }
  MESH_RETURN_IF_ERROR(o.Done());
  if (kinds != 1) {
    return FieldError(node, path, "exactly one of exact, prefix, suffix, contains, safe_regex is required");
  }
  if (m.ignore_case && m.kind != StringMatcher::Kind::kRegex) {
    m.value = common::ToLower(m.value);
  }
  return m;
}

absl::StatusOr<HeaderMatcher> DecodeHeaderMatcher(const Node& node, const std::string& path) {
  MESH_ASSIGN_OR_RETURN(Obj o, Obj::Open(node, path));
  HeaderMatcher h;
  MESH_RETURN_IF_ERROR(ReadString(o, "name", h.name));
  h.name = common::ToLower(h.name);
  MESH_RETURN_IF_ERROR(ReadBool(o, "invert_match", h.invert_match));
  MESH_RETURN_IF_ERROR(ReadBool(o, "present_match", h.present_match));
  if (const Node* n = o.Get("string_match")) {
    MESH_ASSIGN_OR_RETURN(h.string_match, DecodeStringMatcher(*n, o.Path("string_match")));
  }
  // Deprecated single-purpose forms, still common in hand-written configs.
  static const std::pair<const char*, StringMatcher::Kind> kLegacy[] = {
      {"exact_match", StringMatcher::Kind::kExact},
      {"prefix_match", StringMatcher::Kind::kPrefix},
      {"suffix_match", StringMatcher::Kind::kSuffix},
      {"contains_match", StringMatcher::Kind::kContains}};
  for (const auto& [name, kind] : kLegacy) {
    if (const Node* n = o.Get(name)) {
      h.string_match = StringMatcher{kind, n->Str()};
    }
  }
  if (const Node* n = o.Get("safe_regex_match")) {
    StringMatcher m;
    m.kind = StringMatcher::Kind::kRegex;
    MESH_ASSIGN_OR_RETURN(m.value, DecodeRegexMatcher(*n, o.Path("safe_regex_match")));
    MESH_ASSIGN_OR_RETURN(m.regex, CompileRegex(*n, o.Path("safe_regex_match"), m.value, false));
    h.string_match = m;
  }
  MESH_RETURN_IF_ERROR(o.Done());
  if (h.name.empty()) {
    return FieldError(node, o.Path("name"), "required");
  }
  if (!h.string_match && !h.present_match) {
    h.present_match = true;  // Envoy: a matcher with only a name checks presence
  }
  return h;
}

absl::StatusOr<QueryParameterMatcher> DecodeQueryMatcher(const Node& node, const std::string& path) {
  MESH_ASSIGN_OR_RETURN(Obj o, Obj::Open(node, path));
  QueryParameterMatcher q;
  MESH_RETURN_IF_ERROR(ReadString(o, "name", q.name));
  MESH_RETURN_IF_ERROR(ReadBool(o, "present_match", q.present_match));
  if (const Node* n = o.Get("string_match")) {
    MESH_ASSIGN_OR_RETURN(q.string_match, DecodeStringMatcher(*n, o.Path("string_match")));
  }
  MESH_RETURN_IF_ERROR(o.Done());
  if (q.name.empty()) {
    return FieldError(node, o.Path("name"), "required");
  }
  if (!q.string_match) {
    q.present_match = true;
  }
  return q;
}

absl::StatusOr<RouteMatch> DecodeRouteMatch(const Node& node, const std::string& path) {
  MESH_ASSIGN_OR_RETURN(Obj o, Obj::Open(node, path));
  RouteMatch m;
  int kinds = 0;
  if (const Node* n = o.Get("prefix")) {
    m.path_kind = RouteMatch::PathKind::kPrefix;
    m.path = n->Str();
    ++kinds;
  }
  if (const Node* n = o.Get("path")) {
    m.path_kind = RouteMatch::PathKind::kPath;
    m.path = n->Str();
    ++kinds;
  }
  MESH_RETURN_IF_ERROR(ReadBool(o, "case_sensitive", m.case_sensitive));
  if (const Node* n = o.Get("safe_regex")) {
    m.path_kind = RouteMatch::PathKind::kSafeRegex;
    MESH_ASSIGN_OR_RETURN(m.path, DecodeRegexMatcher(*n, o.Path("safe_regex")));
    MESH_ASSIGN_OR_RETURN(m.regex, CompileRegex(*n, o.Path("safe_regex"), m.path, !m.case_sensitive));
    ++kinds;
  }
  MESH_RETURN_IF_ERROR(ReadList(o, "headers", [&](const Node& n, const std::string& p) -> absl::Status {
    MESH_ASSIGN_OR_RETURN(auto h, DecodeHeaderMatcher(n, p));
    m.headers.push_back(std::move(h));
    return absl::OkStatus();
  }));
  MESH_RETURN_IF_ERROR(ReadList(o, "query_parameters", [&](const Node& n, const std::string& p) -> absl::Status {
    MESH_ASSIGN_OR_RETURN(auto q, DecodeQueryMatcher(n, p));
    m.query_parameters.push_back(std::move(q));
    return absl::OkStatus();
  }));
  MESH_RETURN_IF_ERROR(o.Done());
  if (kinds != 1) {
    return FieldError(node, path, "exactly one of prefix, path, safe_regex is required");
  }
  return m;
}

absl::Status DecodeHeaderOptions(Obj& o, std::string_view field, std::vector<HeaderValueOption>& out) {
  return ReadList(o, field, [&](const Node& node, const std::string& path) -> absl::Status {
    MESH_ASSIGN_OR_RETURN(Obj h, Obj::Open(node, path));
    HeaderValueOption opt;
    const Node* header = h.Get("header");
    if (header == nullptr) {
      return FieldError(node, h.Path("header"), "required");
    }
    MESH_ASSIGN_OR_RETURN(Obj kv, Obj::Open(*header, h.Path("header")));
    MESH_RETURN_IF_ERROR(ReadString(kv, "key", opt.key));
    MESH_RETURN_IF_ERROR(ReadString(kv, "value", opt.value));
    MESH_RETURN_IF_ERROR(kv.Done());
    if (opt.key.empty()) {
      return FieldError(*header, kv.Path("key"), "required");
    }
    opt.key = common::ToLower(opt.key);
    bool append = true;
    if (h.node().Find("append") != nullptr) {
      MESH_RETURN_IF_ERROR(ReadBool(h, "append", append));
      opt.action = append ? HeaderValueOption::Action::kAppendIfExistsOrAdd
                          : HeaderValueOption::Action::kOverwriteIfExistsOrAdd;
    }
    MESH_RETURN_IF_ERROR(ReadEnum<HeaderValueOption::Action>(
        h, "append_action",
        {{"APPEND_IF_EXISTS_OR_ADD", HeaderValueOption::Action::kAppendIfExistsOrAdd},
         {"ADD_IF_ABSENT", HeaderValueOption::Action::kAddIfAbsent},
         {"OVERWRITE_IF_EXISTS_OR_ADD", HeaderValueOption::Action::kOverwriteIfExistsOrAdd}},
        opt.action));
    MESH_RETURN_IF_ERROR(h.Done());
    out.push_back(std::move(opt));
    return absl::OkStatus();
  });
}

absl::Status DecodeHeaderMutations(Obj& o, HeaderMutations& m) {
  MESH_RETURN_IF_ERROR(DecodeHeaderOptions(o, "request_headers_to_add", m.request_headers_to_add));
  MESH_RETURN_IF_ERROR(DecodeHeaderOptions(o, "response_headers_to_add", m.response_headers_to_add));
  MESH_RETURN_IF_ERROR(ReadStringList(o, "request_headers_to_remove", m.request_headers_to_remove));
  MESH_RETURN_IF_ERROR(ReadStringList(o, "response_headers_to_remove", m.response_headers_to_remove));
  for (auto& s : m.request_headers_to_remove) {
    s = common::ToLower(s);
  }
  for (auto& s : m.response_headers_to_remove) {
    s = common::ToLower(s);
  }
  return absl::OkStatus();
}

absl::StatusOr<RetryPolicy> DecodeRetryPolicy(const Node& node, const std::string& path) {
  MESH_ASSIGN_OR_RETURN(Obj o, Obj::Open(node, path));
  RetryPolicy r;
  std::string retry_on;
  MESH_RETURN_IF_ERROR(ReadString(o, "retry_on", retry_on));
  static const std::set<std::string> kKnown = {"5xx", "gateway-error", "connect-failure", "reset",
                                               "retriable-4xx", "refused-stream",
                                               "retriable-status-codes",
                                               // gRPC status codes (HTTP/2 requests): grpc-status in
                                               // response headers or a trailers-only response.
                                               "cancelled", "deadline-exceeded", "internal",
                                               "resource-exhausted", "unavailable"};
  for (auto& c : common::Split(retry_on, ',', true)) {
    std::string cond(common::StripWhitespace(c));
    if (!kKnown.count(cond)) {
      return FieldError(node, o.Path("retry_on"), StrCat("unsupported retry condition \"", cond, "\""));
    }
    r.retry_on.push_back(cond);
  }
  MESH_RETURN_IF_ERROR(ReadUint(o, "num_retries", r.num_retries));
  MESH_RETURN_IF_ERROR(ReadDuration(o, "per_try_timeout", r.per_try_timeout));
  if (const Node* b = o.Get("retry_back_off")) {
    MESH_ASSIGN_OR_RETURN(Obj bo, Obj::Open(*b, o.Path("retry_back_off")));
    MESH_RETURN_IF_ERROR(ReadDuration(bo, "base_interval", r.base_interval));
    r.max_interval = r.base_interval * 10;
    MESH_RETURN_IF_ERROR(ReadDuration(bo, "max_interval", r.max_interval));
    MESH_RETURN_IF_ERROR(bo.Done());
  }
  MESH_RETURN_IF_ERROR(o.Done());
  return r;
}

// envoy.extensions.filters.http.buffer.v3.Buffer: max_request_bytes (required, > 0).
absl::StatusOr<uint32_t> DecodeBuffer(const Node& node, const std::string& path, bool check_type) {
  MESH_ASSIGN_OR_RETURN(Obj o, Obj::Open(node, path));
  if (check_type) {
    MESH_RETURN_IF_ERROR(CheckType(o, kBufferType));
  }
  uint32_t max_bytes = 0;
  const bool present = o.Get("max_request_bytes") != nullptr;
  MESH_RETURN_IF_ERROR(ReadUint(o, "max_request_bytes", max_bytes));
  MESH_RETURN_IF_ERROR(o.Done());
  if (!present || max_bytes == 0) {
    return FieldError(node, o.Path("max_request_bytes"), "required: a byte count greater than 0");
  }
  return max_bytes;
}

// BufferPerRoute: exactly one of disabled: true or buffer: {max_request_bytes}.
absl::StatusOr<BufferPerRoute> DecodeBufferPerRoute(const Node& node, const std::string& path) {
  MESH_ASSIGN_OR_RETURN(Obj o, Obj::Open(node, path));
  MESH_RETURN_IF_ERROR(CheckType(o, kBufferPerRouteType));
  BufferPerRoute b;
  MESH_RETURN_IF_ERROR(ReadBool(o, "disabled", b.disabled));
  const Node* buffer = o.Get("buffer");
  if (buffer != nullptr) {
    MESH_ASSIGN_OR_RETURN(b.max_request_bytes, DecodeBuffer(*buffer, o.Path("buffer"), false));
  }
  MESH_RETURN_IF_ERROR(o.Done());
  if (b.disabled == (buffer != nullptr)) {
    return FieldError(node, path, "exactly one of disabled: true or buffer is required");
  }
  return b;
}

absl::StatusOr<FaultPolicy> DecodeFault(const Node& node, const std::string& path) {
  MESH_ASSIGN_OR_RETURN(Obj o, Obj::Open(node, path));
  MESH_RETURN_IF_ERROR(CheckType(o, kFaultType));
  FaultPolicy f;
  auto percent = [](const Node& n, const std::string& p, double& out) -> absl::Status {
    MESH_ASSIGN_OR_RETURN(Obj po, Obj::Open(n, p));
    uint32_t numerator = 0;
    MESH_RETURN_IF_ERROR(ReadUint(po, "numerator", numerator));
    std::string denominator = "HUNDRED";
    MESH_RETURN_IF_ERROR(ReadString(po, "denominator", denominator));
    MESH_RETURN_IF_ERROR(po.Done());
    double scale = denominator == "HUNDRED" ? 1 : denominator == "TEN_THOUSAND" ? 0.01
                 : denominator == "MILLION" ? 0.0001 : -1;
    if (scale < 0) {
      return FieldError(n, po.Path("denominator"), "expected HUNDRED, TEN_THOUSAND or MILLION");
    }
    out = numerator * scale;
    return absl::OkStatus();
  };
  if (const Node* d = o.Get("delay")) {
    MESH_ASSIGN_OR_RETURN(Obj dO, Obj::Open(*d, o.Path("delay")));
    Duration fixed{0};
    MESH_RETURN_IF_ERROR(ReadDuration(dO, "fixed_delay", fixed));
    f.delay = fixed;
    f.delay_percent = 100;
    if (const Node* p = dO.Get("percentage")) {
      MESH_RETURN_IF_ERROR(percent(*p, dO.Path("percentage"), f.delay_percent));
    }
    MESH_RETURN_IF_ERROR(dO.Done());
  }
  if (const Node* a = o.Get("abort")) {
    MESH_ASSIGN_OR_RETURN(Obj aO, Obj::Open(*a, o.Path("abort")));
    uint32_t status = 0;
    MESH_RETURN_IF_ERROR(ReadUint(aO, "http_status", status));
    if (status < 200 || status > 599) {
      return FieldError(*a, aO.Path("http_status"), "expected an HTTP status 200-599");
    }
    f.abort_status = status;
    f.abort_percent = 100;
    if (const Node* p = aO.Get("percentage")) {
      MESH_RETURN_IF_ERROR(percent(*p, aO.Path("percentage"), f.abort_percent));
    }
    MESH_RETURN_IF_ERROR(aO.Done());
  }
  MESH_RETURN_IF_ERROR(o.Done());
  return f;
}

absl::StatusOr<CorsPolicy> DecodeCors(const Node& node, const std::string& path) {
  MESH_ASSIGN_OR_RETURN(Obj o, Obj::Open(node, path));
  CorsPolicy c;
  MESH_RETURN_IF_ERROR(ReadList(o, "allow_origin_string_match", [&](const Node& n, const std::string& p) -> absl::Status {
    MESH_ASSIGN_OR_RETURN(auto m, DecodeStringMatcher(n, p));
    c.allow_origin_string_match.push_back(std::move(m));
    return absl::OkStatus();
  }));
  MESH_RETURN_IF_ERROR(ReadString(o, "allow_methods", c.allow_methods));
  MESH_RETURN_IF_ERROR(ReadString(o, "allow_headers", c.allow_headers));
  MESH_RETURN_IF_ERROR(ReadString(o, "expose_headers", c.expose_headers));
  MESH_RETURN_IF_ERROR(ReadString(o, "max_age", c.max_age));
  MESH_RETURN_IF_ERROR(ReadBool(o, "allow_credentials", c.allow_credentials));
  MESH_RETURN_IF_ERROR(o.Done());
  return c;
}

absl::StatusOr<RouteAction> DecodeRouteAction(const Node& node, const std::string& path) {
  MESH_ASSIGN_OR_RETURN(Obj o, Obj::Open(node, path));
  RouteAction a;
  MESH_RETURN_IF_ERROR(ReadString(o, "cluster", a.cluster));
  if (const Node* w = o.Get("weighted_clusters")) {
    MESH_ASSIGN_OR_RETURN(Obj wo, Obj::Open(*w, o.Path("weighted_clusters")));
    MESH_RETURN_IF_ERROR(ReadList(wo, "clusters", [&](const Node& n, const std::string& p) -> absl::Status {
      MESH_ASSIGN_OR_RETURN(Obj co, Obj::Open(n, p));
      WeightedCluster wc;
      MESH_RETURN_IF_ERROR(ReadString(co, "name", wc.name));
      MESH_RETURN_IF_ERROR(ReadUint(co, "weight", wc.weight));
      MESH_RETURN_IF_ERROR(co.Done());
      if (wc.name.empty()) {
        return FieldError(n, co.Path("name"), "required");
      }
      a.weighted_clusters.push_back(std::move(wc));
      return absl::OkStatus();
    }));
    uint32_t total_weight = 0;
    MESH_RETURN_IF_ERROR(ReadUint(wo, "total_weight", total_weight));
    MESH_RETURN_IF_ERROR(wo.Done());
    if (a.weighted_clusters.empty()) {
      return FieldError(*w, wo.Path("clusters"), "at least one cluster is required");
    }
  }
  if (a.cluster.empty() == a.weighted_clusters.empty()) {
    return FieldError(node, path, "exactly one of cluster, weighted_clusters is required");
  }
  if (const Node* n = o.Get("prefix_rewrite")) {
    a.prefix_rewrite = n->Str();
  }
  if (const Node* n = o.Get("host_rewrite_literal")) {
    a.host_rewrite_literal = n->Str();
  }
  MESH_RETURN_IF_ERROR(ReadDuration(o, "timeout", a.timeout));
  if (const Node* n = o.Get("retry_policy")) {
    MESH_ASSIGN_OR_RETURN(a.retry_policy, DecodeRetryPolicy(*n, o.Path("retry_policy")));
  }
  MESH_RETURN_IF_ERROR(ReadList(o, "request_mirror_policies", [&](const Node& n, const std::string& p) -> absl::Status {
    MESH_ASSIGN_OR_RETURN(Obj mo, Obj::Open(n, p));
    std::string cluster;
    MESH_RETURN_IF_ERROR(ReadString(mo, "cluster", cluster));
    MESH_RETURN_IF_ERROR(mo.Done());
    a.request_mirror_clusters.push_back(cluster);
    return absl::OkStatus();
  }));
  MESH_RETURN_IF_ERROR(ReadList(o, "hash_policy", [&](const Node& n, const std::string& p) -> absl::Status {
    MESH_ASSIGN_OR_RETURN(Obj ho, Obj::Open(n, p));
    HashPolicy h;
    if (const Node* hd = ho.Get("header")) {
      MESH_ASSIGN_OR_RETURN(Obj x, Obj::Open(*hd, ho.Path("header")));
      MESH_RETURN_IF_ERROR(ReadString(x, "header_name", h.name));
      MESH_RETURN_IF_ERROR(x.Done());
      h.kind = HashPolicy::Kind::kHeader;
      h.name = common::ToLower(h.name);
    } else if (const Node* ck = ho.Get("cookie")) {
      MESH_ASSIGN_OR_RETURN(Obj x, Obj::Open(*ck, ho.Path("cookie")));
      MESH_RETURN_IF_ERROR(ReadString(x, "name", h.name));
      x.Get("ttl");
      x.Get("path");
      MESH_RETURN_IF_ERROR(x.Done());
      h.kind = HashPolicy::Kind::kCookie;
    } else if (const Node* cp = ho.Get("connection_properties")) {
      MESH_ASSIGN_OR_RETURN(Obj x, Obj::Open(*cp, ho.Path("connection_properties")));
      bool source_ip = false;
      MESH_RETURN_IF_ERROR(ReadBool(x, "source_ip", source_ip));
      MESH_RETURN_IF_ERROR(x.Done());
      h.kind = HashPolicy::Kind::kSourceIp;
    }
    MESH_RETURN_IF_ERROR(ho.Done());
    a.hash_policy.push_back(std::move(h));
    return absl::OkStatus();
  }));
  if (const Node* n = o.Get("cors")) {
    MESH_ASSIGN_OR_RETURN(a.cors, DecodeCors(*n, o.Path("cors")));
  }
  MESH_RETURN_IF_ERROR(o.Done());
  return a;
}

absl::StatusOr<RedirectAction> DecodeRedirect(const Node& node, const std::string& path) {
  MESH_ASSIGN_OR_RETURN(Obj o, Obj::Open(node, path));
  RedirectAction r;
  bool https = false;
  MESH_RETURN_IF_ERROR(ReadBool(o, "https_redirect", https));
  MESH_RETURN_IF_ERROR(ReadString(o, "scheme_redirect", r.scheme_redirect));
  if (https) {
    r.scheme_redirect = "https";
  }
  MESH_RETURN_IF_ERROR(ReadString(o, "host_redirect", r.host_redirect));
  MESH_RETURN_IF_ERROR(ReadUint(o, "port_redirect", r.port_redirect));
  MESH_RETURN_IF_ERROR(ReadString(o, "path_redirect", r.path_redirect));
  MESH_RETURN_IF_ERROR(ReadString(o, "prefix_rewrite", r.prefix_rewrite));
  MESH_RETURN_IF_ERROR(ReadBool(o, "strip_query", r.strip_query));
  MESH_RETURN_IF_ERROR(ReadEnum<uint32_t>(o, "response_code",
                                          {{"MOVED_PERMANENTLY", 301},
                                           {"FOUND", 302},
                                           {"SEE_OTHER", 303},
                                           {"TEMPORARY_REDIRECT", 307},
                                           {"PERMANENT_REDIRECT", 308}},
                                          r.response_code));
  MESH_RETURN_IF_ERROR(o.Done());
  return r;
}

absl::StatusOr<DataSource> DecodeDataSource(const Node& node, const std::string& path) {
  MESH_ASSIGN_OR_RETURN(Obj o, Obj::Open(node, path));
  DataSource d;
  MESH_RETURN_IF_ERROR(ReadString(o, "filename", d.filename));
  MESH_RETURN_IF_ERROR(ReadString(o, "inline_string", d.inline_string));
  MESH_RETURN_IF_ERROR(o.Done());
  if (d.empty()) {
    return FieldError(node, path, "one of filename, inline_string is required");
  }
  return d;
}

absl::StatusOr<TlsCertificate> DecodeTlsCertificate(const Node& node, const std::string& path) {
  MESH_ASSIGN_OR_RETURN(Obj o, Obj::Open(node, path));
  TlsCertificate c;
  const Node* chain = o.Get("certificate_chain");
  const Node* key = o.Get("private_key");
  if (chain == nullptr || key == nullptr) {
    return FieldError(node, path, "certificate_chain and private_key are required");
  }
  MESH_ASSIGN_OR_RETURN(c.certificate_chain, DecodeDataSource(*chain, o.Path("certificate_chain")));
  MESH_ASSIGN_OR_RETURN(c.private_key, DecodeDataSource(*key, o.Path("private_key")));
  MESH_RETURN_IF_ERROR(o.Done());
  return c;
}

absl::StatusOr<CertificateValidationContext> DecodeValidationContext(const Node& node, const std::string& path) {
  MESH_ASSIGN_OR_RETURN(Obj o, Obj::Open(node, path));
  CertificateValidationContext v;
  if (const Node* ca = o.Get("trusted_ca")) {
    MESH_ASSIGN_OR_RETURN(v.trusted_ca, DecodeDataSource(*ca, o.Path("trusted_ca")));
  }
  MESH_RETURN_IF_ERROR(ReadList(o, "match_typed_subject_alt_names", [&](const Node& n, const std::string& p) -> absl::Status {
    MESH_ASSIGN_OR_RETURN(Obj so, Obj::Open(n, p));
    SanMatcher s;
    MESH_RETURN_IF_ERROR(ReadEnum<SanMatcher::Type>(so, "san_type",
                                                    {{"DNS", SanMatcher::Type::kDns},
                                                     {"URI", SanMatcher::Type::kUri},
                                                     {"EMAIL", SanMatcher::Type::kEmail},
                                                     {"IP_ADDRESS", SanMatcher::Type::kIpAddress}},
                                                    s.type));
    const Node* m = so.Get("matcher");
    if (m == nullptr) {
      return FieldError(n, so.Path("matcher"), "required");
    }
    MESH_ASSIGN_OR_RETURN(s.matcher, DecodeStringMatcher(*m, so.Path("matcher")));
    MESH_RETURN_IF_ERROR(so.Done());
    v.match_typed_subject_alt_names.push_back(std::move(s));
    return absl::OkStatus();
  }));
  // Deprecated untyped form: matches DNS and URI SANs.
  MESH_RETURN_IF_ERROR(ReadList(o, "match_subject_alt_names", [&](const Node& n, const std::string& p) -> absl::Status {
    MESH_ASSIGN_OR_RETURN(auto m, DecodeStringMatcher(n, p));
    v.match_typed_subject_alt_names.push_back({SanMatcher::Type::kUri, m});
    v.match_typed_subject_alt_names.push_back({SanMatcher::Type::kDns, m});
    return absl::OkStatus();
  }));
  MESH_RETURN_IF_ERROR(o.Done());
  return v;
}

absl::Status DecodeSdsConfigName(const Node& node, const std::string& path, std::string& name) {
  MESH_ASSIGN_OR_RETURN(Obj o, Obj::Open(node, path));
  MESH_RETURN_IF_ERROR(ReadString(o, "name", name));
  o.Get("sds_config");  // where secrets come from is the runtime's business
  MESH_RETURN_IF_ERROR(o.Done());
  if (name.empty()) {
    return FieldError(node, o.Path("name"), "required");
  }
  return absl::OkStatus();
}

absl::StatusOr<CommonTlsContext> DecodeCommonTls(const Node& node, const std::string& path) {
  MESH_ASSIGN_OR_RETURN(Obj o, Obj::Open(node, path));
  CommonTlsContext c;
  MESH_RETURN_IF_ERROR(ReadList(o, "tls_certificates", [&](const Node& n, const std::string& p) -> absl::Status {
    MESH_ASSIGN_OR_RETURN(auto cert, DecodeTlsCertificate(n, p));
    c.tls_certificates.push_back(std::move(cert));
    return absl::OkStatus();
  }));
  MESH_RETURN_IF_ERROR(ReadList(o, "tls_certificate_sds_secret_configs", [&](const Node& n, const std::string& p) -> absl::Status {
    std::string name;
    MESH_RETURN_IF_ERROR(DecodeSdsConfigName(n, p, name));
    c.tls_certificate_sds_secret_configs.push_back(name);
    return absl::OkStatus();
  }));
  if (const Node* v = o.Get("validation_context")) {
    MESH_ASSIGN_OR_RETURN(c.validation_context, DecodeValidationContext(*v, o.Path("validation_context")));
  }
  if (const Node* v = o.Get("validation_context_sds_secret_config")) {
    MESH_RETURN_IF_ERROR(DecodeSdsConfigName(*v, o.Path("validation_context_sds_secret_config"),
                                             c.validation_context_sds_secret_config));
  }
  if (const Node* v = o.Get("combined_validation_context")) {
    MESH_ASSIGN_OR_RETURN(Obj co, Obj::Open(*v, o.Path("combined_validation_context")));
    if (const Node* d = co.Get("default_validation_context")) {
      MESH_ASSIGN_OR_RETURN(c.validation_context, DecodeValidationContext(*d, co.Path("default_validation_context")));
    }
    if (const Node* s = co.Get("validation_context_sds_secret_config")) {
      MESH_RETURN_IF_ERROR(DecodeSdsConfigName(*s, co.Path("validation_context_sds_secret_config"),
                                               c.validation_context_sds_secret_config));
    }
    MESH_RETURN_IF_ERROR(co.Done());
  }
  if (const Node* p = o.Get("tls_params")) {
    MESH_ASSIGN_OR_RETURN(Obj po, Obj::Open(*p, o.Path("tls_params")));
    const std::vector<std::pair<std::string, std::string>> versions = {
        {"TLS_AUTO", "TLSv1_2"}, {"TLSv1_2", "TLSv1_2"}, {"TLSv1_3", "TLSv1_3"}};
    MESH_RETURN_IF_ERROR(ReadEnum<std::string>(po, "tls_minimum_protocol_version", versions,
                                               c.tls_minimum_protocol_version));
    MESH_RETURN_IF_ERROR(ReadEnum<std::string>(po, "tls_maximum_protocol_version", versions,
                                               c.tls_maximum_protocol_version));
    MESH_RETURN_IF_ERROR(ReadStringList(po, "cipher_suites", c.cipher_suites));
    MESH_RETURN_IF_ERROR(po.Done());
  }
  MESH_RETURN_IF_ERROR(ReadStringList(o, "alpn_protocols", c.alpn_protocols));
  MESH_RETURN_IF_ERROR(o.Done());
  return c;
}

// transport_socket: {name: envoy.transport_sockets.tls, typed_config: {...}}
absl::StatusOr<const Node*> TransportSocketConfig(const Node& node, const std::string& path) {
  MESH_ASSIGN_OR_RETURN(Obj o, Obj::Open(node, path));
  std::string name;
  MESH_RETURN_IF_ERROR(ReadString(o, "name", name));
  const Node* tc = o.Get("typed_config");
  MESH_RETURN_IF_ERROR(o.Done());
  if (name != "envoy.transport_sockets.tls" && name != "tls") {
    if (name == "envoy.transport_sockets.raw_buffer" || name == "raw_buffer") {
      return nullptr;
    }
    return FieldError(node, o.Path("name"), StrCat("unsupported transport socket \"", name, "\""));
  }
  if (tc == nullptr) {
    return FieldError(node, o.Path("typed_config"), "required");
  }
  return tc;
}

absl::StatusOr<std::optional<DownstreamTlsContext>> DecodeDownstreamTls(const Node& node, const std::string& path) {
  MESH_ASSIGN_OR_RETURN(const Node* tc, TransportSocketConfig(node, path));
  if (tc == nullptr) {
    return std::optional<DownstreamTlsContext>();
  }
  std::string p = path + ".typed_config";
  MESH_ASSIGN_OR_RETURN(Obj o, Obj::Open(*tc, p));
  MESH_RETURN_IF_ERROR(CheckType(o, kDownstreamTlsType));
  DownstreamTlsContext d;
  if (const Node* c = o.Get("common_tls_context")) {
    MESH_ASSIGN_OR_RETURN(d.common_tls_context, DecodeCommonTls(*c, o.Path("common_tls_context")));
  }
  MESH_RETURN_IF_ERROR(ReadBool(o, "require_client_certificate", d.require_client_certificate));
  MESH_RETURN_IF_ERROR(o.Done());
  if (d.common_tls_context.tls_certificates.empty() &&
      d.common_tls_context.tls_certificate_sds_secret_configs.empty()) {
    return FieldError(*tc, o.Path("common_tls_context.tls_certificates"), "a server certificate is required");
  }
  return std::optional<DownstreamTlsContext>(std::move(d));
}

absl::StatusOr<std::optional<UpstreamTlsContext>> DecodeUpstreamTls(const Node& node, const std::string& path) {
  MESH_ASSIGN_OR_RETURN(const Node* tc, TransportSocketConfig(node, path));
  if (tc == nullptr) {
    return std::optional<UpstreamTlsContext>();
  }
  MESH_ASSIGN_OR_RETURN(Obj o, Obj::Open(*tc, path + ".typed_config"));
  MESH_RETURN_IF_ERROR(CheckType(o, kUpstreamTlsType));
  UpstreamTlsContext u;
  if (const Node* c = o.Get("common_tls_context")) {
    MESH_ASSIGN_OR_RETURN(u.common_tls_context, DecodeCommonTls(*c, o.Path("common_tls_context")));
  }
  MESH_RETURN_IF_ERROR(ReadString(o, "sni", u.sni));
  MESH_RETURN_IF_ERROR(o.Done());
  return std::optional<UpstreamTlsContext>(std::move(u));
}

absl::StatusOr<AccessLog> DecodeAccessLog(const Node& node, const std::string& path) {
  MESH_ASSIGN_OR_RETURN(Obj o, Obj::Open(node, path));
  std::string name;
  MESH_RETURN_IF_ERROR(ReadString(o, "name", name));
  const Node* tc = o.Get("typed_config");
  MESH_RETURN_IF_ERROR(o.Done());
  if (tc == nullptr) {
    return FieldError(node, o.Path("typed_config"), "required");
  }
  MESH_ASSIGN_OR_RETURN(Obj t, Obj::Open(*tc, o.Path("typed_config")));
  AccessLog log;
  const Node* type = t.Get("@type");
  std::string type_url = type ? type->Str() : "";
  if (type_url == kFileAccessLogType) {
    MESH_RETURN_IF_ERROR(ReadString(t, "path", log.path));
    if (log.path == "/dev/stdout") {
      log.path.clear();
    }
  } else if (type_url != kStdoutAccessLogType) {
    return FieldError(*tc, t.Path("@type"), StrCat("unsupported access logger \"", type_url, "\""));
  }
  if (const Node* lf = t.Get("log_format")) {
    MESH_ASSIGN_OR_RETURN(Obj fo, Obj::Open(*lf, t.Path("log_format")));
    if (const Node* text = fo.Get("text_format_source")) {
      MESH_ASSIGN_OR_RETURN(DataSource ds, DecodeDataSource(*text, fo.Path("text_format_source")));
      log.text_format = ds.inline_string;
    }
    if (const Node* json = fo.Get("json_format")) {
      if (!json->IsMap()) {
        return FieldError(*json, fo.Path("json_format"), "expected an object");
      }
      for (const auto& [k, v] : json->entries()) {
        log.json_format.emplace_back(k, v.Str());
      }
    }
    MESH_RETURN_IF_ERROR(fo.Done());
  }
  MESH_RETURN_IF_ERROR(t.Done());
  return log;
}

// ---- RBAC (envoy.filters.http.rbac / envoy.filters.network.rbac) ---------------------

absl::StatusOr<CidrRange> DecodeCidr(const Node& node, const std::string& path) {
  MESH_ASSIGN_OR_RETURN(Obj o, Obj::Open(node, path));
  CidrRange c;
  MESH_RETURN_IF_ERROR(ReadString(o, "address_prefix", c.address_prefix));
  MESH_RETURN_IF_ERROR(ReadUint(o, "prefix_len", c.prefix_len));
  MESH_RETURN_IF_ERROR(o.Done());
  auto range = MakeCidrRange(c.address_prefix, c.prefix_len);
  if (!range) {
    return FieldError(node, path,
                      StrCat("\"", c.address_prefix, "/", c.prefix_len, "\" is not a valid IPv4 or IPv6 range"));
  }
  return *range;
}

// Reads the one field of a oneof-shaped object; errors unless exactly one is set.
absl::Status ExactlyOne(const Node& node, const std::string& path, int set, std::string_view names) {
  if (set != 1) {
    return FieldError(node, path, StrCat("exactly one of ", names, " is required"));
  }
  return absl::OkStatus();
}

// Envoy's rbac.v3 Permission and Principal have one shape: two rule sets (and/or) holding
// a list of their own kind, a negation, `any: true`, and leaf matchers. RbacShape names
// each side's fields; DecodeRbacRule decodes the shared part once.
template <class Rule>
struct RbacShape;

template <>
struct RbacShape<RbacPermission> {
  using Kind = RbacPermission::Kind;
  static constexpr std::string_view kAnd = "and_rules", kOr = "or_rules", kNot = "not_rule", kList = "rules";
  static constexpr Kind kAndKind = Kind::kAndRules, kOrKind = Kind::kOrRules, kNotKind = Kind::kNotRule;
  static constexpr std::string_view kOneOf =
      "and_rules, or_rules, not_rule, any, header, url_path, destination_port, destination_ip";
  static std::vector<RbacPermission>& Children(RbacPermission& p) { return p.rules; }

  static absl::Status DecodeLeaves(Obj& o, const Node& node, RbacPermission& p, int& set) {
    if (const Node* n = o.Get("header")) {
      ++set;
      p.kind = Kind::kHeader;
      MESH_ASSIGN_OR_RETURN(p.header, DecodeHeaderMatcher(*n, o.Path("header")));
    }
    if (const Node* n = o.Get("url_path")) {
      ++set;
      p.kind = Kind::kUrlPath;
      MESH_ASSIGN_OR_RETURN(Obj po, Obj::Open(*n, o.Path("url_path")));
      const Node* m = po.Get("path");
      if (m == nullptr) {
        return FieldError(*n, po.Path("path"), "required");
      }
      MESH_ASSIGN_OR_RETURN(p.path, DecodeStringMatcher(*m, po.Path("path")));
      MESH_RETURN_IF_ERROR(po.Done());
    }
    if (o.node().Find("destination_port") != nullptr || o.node().Find("destinationPort") != nullptr) {
      ++set;
      p.kind = Kind::kDestinationPort;
      MESH_RETURN_IF_ERROR(ReadUint(o, "destination_port", p.port));
      if (p.port == 0 || p.port > 65535) {
        return FieldError(node, o.Path("destination_port"), "must be 1..65535");
      }
    }
    if (const Node* n = o.Get("destination_ip")) {
      ++set;
      p.kind = Kind::kDestinationIp;
      MESH_ASSIGN_OR_RETURN(p.cidr, DecodeCidr(*n, o.Path("destination_ip")));
    }
    return absl::OkStatus();
  }
};

template <>
struct RbacShape<RbacPrincipal> {
  using Kind = RbacPrincipal::Kind;
  static constexpr std::string_view kAnd = "and_ids", kOr = "or_ids", kNot = "not_id", kList = "ids";
  static constexpr Kind kAndKind = Kind::kAndIds, kOrKind = Kind::kOrIds, kNotKind = Kind::kNotId;
  static constexpr std::string_view kOneOf =
      "and_ids, or_ids, not_id, any, authenticated, source_ip, direct_remote_ip, remote_ip, header";
  static std::vector<RbacPrincipal>& Children(RbacPrincipal& p) { return p.ids; }

  static absl::Status DecodeLeaves(Obj& o, const Node& /*node*/, RbacPrincipal& p, int& set) {
    if (const Node* n = o.Get("authenticated")) {
      ++set;
      p.kind = Kind::kAuthenticated;
      MESH_ASSIGN_OR_RETURN(Obj ao, Obj::Open(*n, o.Path("authenticated")));
      if (const Node* m = ao.Get("principal_name")) {
        MESH_ASSIGN_OR_RETURN(p.principal_name, DecodeStringMatcher(*m, ao.Path("principal_name")));
      }
      MESH_RETURN_IF_ERROR(ao.Done());
    }
    for (const char* field : {"source_ip", "direct_remote_ip"}) {
      if (const Node* n = o.Get(field)) {
        ++set;
        p.kind = Kind::kDirectRemoteIp;
        MESH_ASSIGN_OR_RETURN(p.cidr, DecodeCidr(*n, o.Path(field)));
      }
    }
    if (const Node* n = o.Get("remote_ip")) {
      ++set;
      p.kind = Kind::kRemoteIp;
      MESH_ASSIGN_OR_RETURN(p.cidr, DecodeCidr(*n, o.Path("remote_ip")));
    }
    if (const Node* n = o.Get("header")) {
      ++set;
      p.kind = Kind::kHeader;
      MESH_ASSIGN_OR_RETURN(p.header, DecodeHeaderMatcher(*n, o.Path("header")));
    }
    return absl::OkStatus();
  }
};

template <class Rule>
absl::StatusOr<Rule> DecodeRbacRule(const Node& node, const std::string& path) {
  using Shape = RbacShape<Rule>;
  MESH_ASSIGN_OR_RETURN(Obj o, Obj::Open(node, path));
  Rule rule;
  int set = 0;
  auto rule_set = [&](std::string_view field, typename Shape::Kind kind) -> absl::Status {
    const Node* n = o.Get(field);
    if (n == nullptr) {
      return absl::OkStatus();
    }
    ++set;
    rule.kind = kind;
    MESH_ASSIGN_OR_RETURN(Obj so, Obj::Open(*n, o.Path(field)));
    MESH_RETURN_IF_ERROR(ReadList(so, Shape::kList, [&](const Node& r, const std::string& rp) -> absl::Status {
      MESH_ASSIGN_OR_RETURN(auto sub, DecodeRbacRule<Rule>(r, rp));
      Shape::Children(rule).push_back(std::move(sub));
      return absl::OkStatus();
    }));
    return so.Done();
  };
  MESH_RETURN_IF_ERROR(rule_set(Shape::kAnd, Shape::kAndKind));
  MESH_RETURN_IF_ERROR(rule_set(Shape::kOr, Shape::kOrKind));
  if (const Node* n = o.Get(Shape::kNot)) {
    ++set;
    rule.kind = Shape::kNotKind;
    MESH_ASSIGN_OR_RETURN(auto sub, DecodeRbacRule<Rule>(*n, o.Path(Shape::kNot)));
    Shape::Children(rule).push_back(std::move(sub));
  }
  if (const Node* n = o.Get("any")) {
    ++set;
    rule.kind = Shape::Kind::kAny;
    if (n->Bool() != std::optional<bool>(true)) {
      return FieldError(*n, o.Path("any"), "must be true");
    }
  }
  MESH_RETURN_IF_ERROR(Shape::DecodeLeaves(o, node, rule, set));
  MESH_RETURN_IF_ERROR(o.Done());
  MESH_RETURN_IF_ERROR(ExactlyOne(node, path, set, Shape::kOneOf));
  return rule;
}

// The HTTP and the network filter share this shape; `type_url` tells them apart.
absl::StatusOr<RbacConfig> DecodeRbac(const Node& node, const std::string& path, std::string_view type_url) {
  MESH_ASSIGN_OR_RETURN(Obj o, Obj::Open(node, path));
  MESH_RETURN_IF_ERROR(CheckType(o, type_url));
  RbacConfig c;
  if (type_url == kNetworkRbacType) {
    MESH_RETURN_IF_ERROR(ReadString(o, "stat_prefix", c.stat_prefix));
  }
  if (const Node* r = o.Get("rules")) {
    MESH_ASSIGN_OR_RETURN(Obj ro, Obj::Open(*r, o.Path("rules")));
    RbacRules rules;
    MESH_RETURN_IF_ERROR(ReadEnum<RbacRules::Action>(
        ro, "action", {{"ALLOW", RbacRules::Action::kAllow}, {"DENY", RbacRules::Action::kDeny}}, rules.action));
    if (const Node* ps = ro.Get("policies")) {
      if (!ps->IsMap()) {
        return FieldError(*ps, ro.Path("policies"), "expected an object (policy name -> policy)");
      }
      for (const auto& [name, pn] : ps->entries()) {
        std::string pp = StrCat(ro.Path("policies"), ".", name);
        MESH_ASSIGN_OR_RETURN(Obj po, Obj::Open(pn, pp));
        RbacPolicy policy;
        MESH_RETURN_IF_ERROR(ReadList(po, "permissions", [&](const Node& n, const std::string& p) -> absl::Status {
          MESH_ASSIGN_OR_RETURN(auto perm, DecodeRbacRule<RbacPermission>(n, p));
          policy.permissions.push_back(std::move(perm));
          return absl::OkStatus();
        }));
        MESH_RETURN_IF_ERROR(ReadList(po, "principals", [&](const Node& n, const std::string& p) -> absl::Status {
          MESH_ASSIGN_OR_RETURN(auto principal, DecodeRbacRule<RbacPrincipal>(n, p));
          policy.principals.push_back(std::move(principal));
          return absl::OkStatus();
        }));
        MESH_RETURN_IF_ERROR(po.Done());
        if (policy.permissions.empty() || policy.principals.empty()) {
          return FieldError(pn, pp, "permissions and principals must each list at least one entry");
        }
        rules.policies[name] = std::move(policy);
      }
    }
    MESH_RETURN_IF_ERROR(ro.Done());
    c.rules = std::move(rules);
  }
  MESH_RETURN_IF_ERROR(o.Done());
  return c;
}

absl::StatusOr<VirtualHost> DecodeVirtualHost(const Node& node, const std::string& path);

absl::StatusOr<Http2ProtocolOptions> DecodeHttp2Options(const Node& node, const std::string& path) {
  MESH_ASSIGN_OR_RETURN(Obj o, Obj::Open(node, path));
  Http2ProtocolOptions h;
  MESH_RETURN_IF_ERROR(ReadUint(o, "max_concurrent_streams", h.max_concurrent_streams));
  MESH_RETURN_IF_ERROR(ReadUint(o, "initial_stream_window_size", h.initial_stream_window_size));
  MESH_RETURN_IF_ERROR(ReadUint(o, "initial_connection_window_size", h.initial_connection_window_size));
  for (const char* ignored : {"hpack_table_size", "allow_connect", "override_stream_error_on_invalid_http_message"}) {
    o.Get(ignored);  // accepted; nghttp2 defaults apply
  }
  MESH_RETURN_IF_ERROR(o.Done());
  // RFC 9113 bounds (Envoy enforces the same ranges).
  if (h.max_concurrent_streams < 1 || h.max_concurrent_streams > 2147483647u) {
    return FieldError(node, o.Path("max_concurrent_streams"), "must be in [1, 2147483647]");
  }
  if (h.initial_stream_window_size < 65535 || h.initial_stream_window_size > 2147483647u) {
    return FieldError(node, o.Path("initial_stream_window_size"), "must be in [65535, 2147483647]");
  }
  if (h.initial_connection_window_size < 65535 || h.initial_connection_window_size > 2147483647u) {
    return FieldError(node, o.Path("initial_connection_window_size"), "must be in [65535, 2147483647]");
  }
  return h;
}

// typed_extension_protocol_options: only HttpProtocolOptions, and within it the
// protocol choice (explicit HTTP/1 or HTTP/2; use_downstream_protocol_config picks by
// the downstream protocol, which meshctl treats as HTTP/1 upstream).
absl::Status DecodeProtocolOptions(const Node& node, const std::string& path, Cluster& c) {
  MESH_ASSIGN_OR_RETURN(Obj o, Obj::Open(node, path));
  for (const auto& [key, value] : node.entries()) {
    std::string p = o.Path(key);
    if (key != "envoy.extensions.upstreams.http.v3.HttpProtocolOptions") {
      return FieldError(value, p, "unsupported extension (only envoy.extensions.upstreams.http.v3.HttpProtocolOptions)");
    }
    o.Get(key);
    MESH_ASSIGN_OR_RETURN(Obj po, Obj::Open(value, p));
    MESH_RETURN_IF_ERROR(CheckType(po, kHttpProtocolOptionsType));
    if (const Node* ex = po.Get("explicit_http_config")) {
      MESH_ASSIGN_OR_RETURN(Obj eo, Obj::Open(*ex, po.Path("explicit_http_config")));
      if (const Node* h2 = eo.Get("http2_protocol_options")) {
        MESH_ASSIGN_OR_RETURN(c.http2, DecodeHttp2Options(*h2, eo.Path("http2_protocol_options")));
      }
      eo.Get("http_protocol_options");
      MESH_RETURN_IF_ERROR(eo.Done());
    }
    po.Get("use_downstream_protocol_config");
    po.Get("common_http_protocol_options");
    po.Get("upstream_http_protocol_options");
    MESH_RETURN_IF_ERROR(po.Done());
  }
  return o.Done();
}

absl::StatusOr<HttpConnectionManager> DecodeHcm(const Node& node, const std::string& path) {
  MESH_ASSIGN_OR_RETURN(Obj o, Obj::Open(node, path));
  MESH_RETURN_IF_ERROR(CheckType(o, kHcmType));
  HttpConnectionManager h;
  MESH_RETURN_IF_ERROR(ReadString(o, "stat_prefix", h.stat_prefix));
  MESH_RETURN_IF_ERROR(ReadEnum<std::string>(o, "codec_type", {{"AUTO", "AUTO"}, {"HTTP1", "HTTP1"}, {"HTTP2", "HTTP2"}},
                                             h.codec_type));
  if (const Node* h2 = o.Get("http2_protocol_options")) {
    MESH_ASSIGN_OR_RETURN(h.http2, DecodeHttp2Options(*h2, o.Path("http2_protocol_options")));
  }
  if (const Node* rc = o.Get("route_config")) {
    MESH_ASSIGN_OR_RETURN(h.route_config, DecodeRouteConfiguration(*rc, o.Path("route_config")));
  }
  if (const Node* rds = o.Get("rds")) {
    MESH_ASSIGN_OR_RETURN(Obj ro, Obj::Open(*rds, o.Path("rds")));
    MESH_RETURN_IF_ERROR(ReadString(ro, "route_config_name", h.rds_route_config_name));
    ro.Get("config_source");
    MESH_RETURN_IF_ERROR(ro.Done());
  }
  if (h.route_config.has_value() == !h.rds_route_config_name.empty()) {
    return FieldError(node, path, "exactly one of route_config, rds is required");
  }
  MESH_RETURN_IF_ERROR(ReadDuration(o, "stream_idle_timeout", h.stream_idle_timeout));
  MESH_RETURN_IF_ERROR(ReadDuration(o, "request_timeout", h.request_timeout));
  MESH_RETURN_IF_ERROR(ReadDuration(o, "request_headers_timeout", h.request_headers_timeout));
  if (const Node* cp = o.Get("common_http_protocol_options")) {
    MESH_ASSIGN_OR_RETURN(Obj co, Obj::Open(*cp, o.Path("common_http_protocol_options")));
    MESH_RETURN_IF_ERROR(ReadDuration(co, "idle_timeout", h.idle_timeout));
    MESH_RETURN_IF_ERROR(ReadUint(co, "max_headers_count", h.max_headers_count));
    MESH_RETURN_IF_ERROR(co.Done());
  }
  MESH_RETURN_IF_ERROR(ReadUint(o, "max_request_headers_kb", h.max_request_headers_kb));
  MESH_RETURN_IF_ERROR(ReadBool(o, "use_remote_address", h.use_remote_address));
  MESH_RETURN_IF_ERROR(ReadUint(o, "xff_num_trusted_hops", h.xff_num_trusted_hops));
  MESH_RETURN_IF_ERROR(ReadBool(o, "generate_request_id", h.generate_request_id));
  MESH_RETURN_IF_ERROR(ReadString(o, "server_name", h.server_name));
  MESH_RETURN_IF_ERROR(ReadList(o, "access_log", [&](const Node& n, const std::string& p) -> absl::Status {
    MESH_ASSIGN_OR_RETURN(auto log, DecodeAccessLog(n, p));
    h.access_log.push_back(std::move(log));
    return absl::OkStatus();
  }));
  MESH_RETURN_IF_ERROR(ReadList(o, "http_filters", [&](const Node& n, const std::string& p) -> absl::Status {
    MESH_ASSIGN_OR_RETURN(Obj fo, Obj::Open(n, p));
    std::string name;
    MESH_RETURN_IF_ERROR(ReadString(fo, "name", name));
    const Node* tc = fo.Get("typed_config");
    if (name == "envoy.filters.http.router") {
      if (tc != nullptr) {
        MESH_ASSIGN_OR_RETURN(Obj to, Obj::Open(*tc, fo.Path("typed_config")));
        MESH_RETURN_IF_ERROR(CheckType(to, kRouterType));
        MESH_RETURN_IF_ERROR(to.Done());
      }
    } else if (name == "envoy.filters.http.fault") {
      if (tc != nullptr) {
        MESH_ASSIGN_OR_RETURN(h.fault, DecodeFault(*tc, fo.Path("typed_config")));
      }
    } else if (name == "envoy.filters.http.cors") {
      // CORS policies live on routes and virtual hosts.
    } else if (name == kBufferFilter) {
      if (h.max_request_bytes) {
        return FieldError(n, fo.Path("name"), "at most one envoy.filters.http.buffer filter");
      }
      if (tc == nullptr) {
        return FieldError(n, fo.Path("typed_config"), "required (a Buffer with max_request_bytes)");
      }
      MESH_ASSIGN_OR_RETURN(h.max_request_bytes, DecodeBuffer(*tc, fo.Path("typed_config"), true));
    } else if (name == kHttpRbacFilter) {
      if (tc == nullptr) {
        return FieldError(n, fo.Path("typed_config"), "required");
      }
      MESH_ASSIGN_OR_RETURN(auto rbac, DecodeRbac(*tc, fo.Path("typed_config"), kHttpRbacType));
      h.rbac.push_back(std::move(rbac));
    } else {
      return FieldError(n, fo.Path("name"), StrCat("unsupported HTTP filter \"", name, "\""));
    }
    MESH_RETURN_IF_ERROR(fo.Done());
    h.http_filters.push_back(name);
    return absl::OkStatus();
  }));
  MESH_RETURN_IF_ERROR(o.Done());
  if (!h.http_filters.empty() && h.http_filters.back() != "envoy.filters.http.router") {
    return FieldError(node, o.Path("http_filters"), "the last filter must be envoy.filters.http.router");
  }
  if (h.http_filters.empty()) {
    h.http_filters.push_back("envoy.filters.http.router");
  }
  return h;
}

absl::StatusOr<TcpProxy> DecodeTcpProxy(const Node& node, const std::string& path) {
  MESH_ASSIGN_OR_RETURN(Obj o, Obj::Open(node, path));
  MESH_RETURN_IF_ERROR(CheckType(o, kTcpProxyType));
  TcpProxy t;
  MESH_RETURN_IF_ERROR(ReadString(o, "stat_prefix", t.stat_prefix));
  MESH_RETURN_IF_ERROR(ReadString(o, "cluster", t.cluster));
  MESH_RETURN_IF_ERROR(ReadDuration(o, "idle_timeout", t.idle_timeout));
  MESH_RETURN_IF_ERROR(ReadList(o, "access_log", [&](const Node& n, const std::string& p) -> absl::Status {
    MESH_ASSIGN_OR_RETURN(auto log, DecodeAccessLog(n, p));
    t.access_log.push_back(std::move(log));
    return absl::OkStatus();
  }));
  MESH_RETURN_IF_ERROR(o.Done());
  if (t.cluster.empty()) {
    return FieldError(node, o.Path("cluster"), "required");
  }
  return t;
}

absl::StatusOr<FilterChain> DecodeFilterChain(const Node& node, const std::string& path) {
  MESH_ASSIGN_OR_RETURN(Obj o, Obj::Open(node, path));
  FilterChain fc;
  MESH_RETURN_IF_ERROR(ReadString(o, "name", fc.name));
  if (const Node* m = o.Get("filter_chain_match")) {
    MESH_ASSIGN_OR_RETURN(Obj mo, Obj::Open(*m, o.Path("filter_chain_match")));
    MESH_RETURN_IF_ERROR(ReadStringList(mo, "server_names", fc.filter_chain_match.server_names));
    MESH_RETURN_IF_ERROR(ReadString(mo, "transport_protocol", fc.filter_chain_match.transport_protocol));
    MESH_RETURN_IF_ERROR(mo.Done());
  }
  int filters = 0;
  MESH_RETURN_IF_ERROR(ReadList(o, "filters", [&](const Node& n, const std::string& p) -> absl::Status {
    MESH_ASSIGN_OR_RETURN(Obj fo, Obj::Open(n, p));
    std::string name;
    MESH_RETURN_IF_ERROR(ReadString(fo, "name", name));
    const Node* tc = fo.Get("typed_config");
    MESH_RETURN_IF_ERROR(fo.Done());
    if (tc == nullptr) {
      return FieldError(n, fo.Path("typed_config"), "required");
    }
    if (filters > 0) {
      return FieldError(n, p, "no filter may follow http_connection_manager or tcp_proxy");
    }
    if (name == "envoy.filters.network.http_connection_manager") {
      MESH_ASSIGN_OR_RETURN(fc.filter, DecodeHcm(*tc, fo.Path("typed_config")));
    } else if (name == "envoy.filters.network.tcp_proxy") {
      MESH_ASSIGN_OR_RETURN(fc.filter, DecodeTcpProxy(*tc, fo.Path("typed_config")));
    } else if (name == kNetworkRbacFilter) {
      MESH_ASSIGN_OR_RETURN(auto rbac, DecodeRbac(*tc, fo.Path("typed_config"), kNetworkRbacType));
      fc.network_rbac.push_back(std::move(rbac));
      return absl::OkStatus();
    } else {
      return FieldError(n, fo.Path("name"), StrCat("unsupported network filter \"", name, "\""));
    }
    ++filters;
    return absl::OkStatus();
  }));
  if (filters != 1) {
    return FieldError(node, o.Path("filters"),
                      "exactly one terminal filter (http_connection_manager or tcp_proxy) is supported, "
                      "optionally after envoy.filters.network.rbac filters");
  }
  if (const Node* ts = o.Get("transport_socket")) {
    MESH_ASSIGN_OR_RETURN(fc.tls, DecodeDownstreamTls(*ts, o.Path("transport_socket")));
  }
  MESH_RETURN_IF_ERROR(o.Done());
  return fc;
}

absl::Status DecodeSocketAddress(const Node& node, const std::string& path, SocketAddress& out) {
  MESH_ASSIGN_OR_RETURN(Obj o, Obj::Open(node, path));
  const Node* sa = o.Get("socket_address");
  MESH_RETURN_IF_ERROR(o.Done());
  if (sa == nullptr) {
    return FieldError(node, o.Path("socket_address"), "required");
  }
  MESH_ASSIGN_OR_RETURN(Obj s, Obj::Open(*sa, o.Path("socket_address")));
  MESH_RETURN_IF_ERROR(ReadString(s, "address", out.address));
  MESH_RETURN_IF_ERROR(ReadUint(s, "port_value", out.port_value));
  std::string protocol = "TCP";
  MESH_RETURN_IF_ERROR(ReadEnum<std::string>(s, "protocol", {{"TCP", "TCP"}}, protocol));
  MESH_RETURN_IF_ERROR(s.Done());
  if (out.port_value > 65535) {
    return FieldError(*sa, s.Path("port_value"), "must be <= 65535");
  }
  return absl::OkStatus();
}

absl::StatusOr<Route> DecodeRoute(const Node& node, const std::string& path) {
  MESH_ASSIGN_OR_RETURN(Obj o, Obj::Open(node, path));
  Route r;
  MESH_RETURN_IF_ERROR(ReadString(o, "name", r.name));
  const Node* match = o.Get("match");
  if (match == nullptr) {
    return FieldError(node, o.Path("match"), "required");
  }
  MESH_ASSIGN_OR_RETURN(r.match, DecodeRouteMatch(*match, o.Path("match")));
  int actions = 0;
  if (const Node* a = o.Get("route")) {
    MESH_ASSIGN_OR_RETURN(r.action, DecodeRouteAction(*a, o.Path("route")));
    ++actions;
  }
  if (const Node* a = o.Get("redirect")) {
    MESH_ASSIGN_OR_RETURN(r.action, DecodeRedirect(*a, o.Path("redirect")));
    ++actions;
  }
  if (const Node* a = o.Get("direct_response")) {
    MESH_ASSIGN_OR_RETURN(Obj d, Obj::Open(*a, o.Path("direct_response")));
    DirectResponseAction dr;
    MESH_RETURN_IF_ERROR(ReadUint(d, "status", dr.status));
    if (const Node* b = d.Get("body")) {
      MESH_ASSIGN_OR_RETURN(DataSource ds, DecodeDataSource(*b, d.Path("body")));
      dr.body = ds.inline_string;
    }
    MESH_RETURN_IF_ERROR(d.Done());
    if (dr.status < 200 || dr.status > 599) {
      return FieldError(*a, d.Path("status"), "expected an HTTP status 200-599");
    }
    r.action = dr;
    ++actions;
  }
  if (actions != 1) {
    return FieldError(node, path, "exactly one of route, redirect, direct_response is required");
  }
  MESH_RETURN_IF_ERROR(DecodeHeaderMutations(o, r.headers));
  if (const Node* pf = o.Get("typed_per_filter_config")) {
    MESH_ASSIGN_OR_RETURN(Obj po, Obj::Open(*pf, o.Path("typed_per_filter_config")));
    if (const Node* f = po.Get("envoy.filters.http.fault")) {
      MESH_ASSIGN_OR_RETURN(r.fault, DecodeFault(*f, po.Path("envoy.filters.http.fault")));
    }
    if (const Node* f = po.Get(kBufferFilter)) {
      MESH_ASSIGN_OR_RETURN(r.buffer, DecodeBufferPerRoute(*f, po.Path(kBufferFilter)));
    }
    MESH_RETURN_IF_ERROR(po.Done());
  }
  o.Get("decorator");  // tracing names: accepted, no tracing yet
  MESH_RETURN_IF_ERROR(o.Done());
  return r;
}

absl::StatusOr<VirtualHost> DecodeVirtualHost(const Node& node, const std::string& path) {
  MESH_ASSIGN_OR_RETURN(Obj o, Obj::Open(node, path));
  VirtualHost v;
  MESH_RETURN_IF_ERROR(ReadString(o, "name", v.name));
  MESH_RETURN_IF_ERROR(ReadStringList(o, "domains", v.domains));
  for (auto& d : v.domains) {
    d = common::ToLower(d);
  }
  MESH_RETURN_IF_ERROR(ReadList(o, "routes", [&](const Node& n, const std::string& p) -> absl::Status {
    MESH_ASSIGN_OR_RETURN(auto r, DecodeRoute(n, p));
    v.routes.push_back(std::move(r));
    return absl::OkStatus();
  }));
  MESH_RETURN_IF_ERROR(DecodeHeaderMutations(o, v.headers));
  if (const Node* n = o.Get("retry_policy")) {
    MESH_ASSIGN_OR_RETURN(v.retry_policy, DecodeRetryPolicy(*n, o.Path("retry_policy")));
  }
  if (const Node* n = o.Get("cors")) {
    MESH_ASSIGN_OR_RETURN(v.cors, DecodeCors(*n, o.Path("cors")));
  }
  MESH_RETURN_IF_ERROR(o.Done());
  if (v.domains.empty()) {
    return FieldError(node, o.Path("domains"), "at least one domain is required");
  }
  return v;
}

absl::StatusOr<LbEndpoint> DecodeLbEndpoint(const Node& node, const std::string& path) {
  MESH_ASSIGN_OR_RETURN(Obj o, Obj::Open(node, path));
  LbEndpoint e;
  const Node* ep = o.Get("endpoint");
  if (ep == nullptr) {
    return FieldError(node, o.Path("endpoint"), "required");
  }
  MESH_ASSIGN_OR_RETURN(Obj eo, Obj::Open(*ep, o.Path("endpoint")));
  const Node* addr = eo.Get("address");
  if (addr == nullptr) {
    return FieldError(*ep, eo.Path("address"), "required");
  }
  MESH_RETURN_IF_ERROR(DecodeSocketAddress(*addr, eo.Path("address"), e.address));
  eo.Get("hostname");
  MESH_RETURN_IF_ERROR(eo.Done());
  MESH_RETURN_IF_ERROR(ReadUint(o, "load_balancing_weight", e.load_balancing_weight));
  std::string health = "UNKNOWN";
  MESH_RETURN_IF_ERROR(ReadEnum<std::string>(o, "health_status",
                                             {{"UNKNOWN", "UNKNOWN"}, {"HEALTHY", "HEALTHY"},
                                              {"UNHEALTHY", "UNHEALTHY"}, {"DRAINING", "DRAINING"},
                                              {"TIMEOUT", "TIMEOUT"}, {"DEGRADED", "DEGRADED"}},
                                             health));
  e.healthy = health != "UNHEALTHY" && health != "DRAINING" && health != "TIMEOUT";
  o.Get("metadata");
  MESH_RETURN_IF_ERROR(o.Done());
  if (e.load_balancing_weight == 0) {
    return FieldError(node, o.Path("load_balancing_weight"), "must be >= 1");
  }
  return e;
}

absl::StatusOr<HealthCheck> DecodeHealthCheck(const Node& node, const std::string& path) {
  MESH_ASSIGN_OR_RETURN(Obj o, Obj::Open(node, path));
  HealthCheck h;
  MESH_RETURN_IF_ERROR(ReadDuration(o, "timeout", h.timeout));
  MESH_RETURN_IF_ERROR(ReadDuration(o, "interval", h.interval));
  MESH_RETURN_IF_ERROR(ReadUint(o, "unhealthy_threshold", h.unhealthy_threshold));
  MESH_RETURN_IF_ERROR(ReadUint(o, "healthy_threshold", h.healthy_threshold));
  const Node* http = o.Get("http_health_check");
  if (http == nullptr) {
    return FieldError(node, o.Path("http_health_check"), "required (only HTTP health checks are supported)");
  }
  MESH_ASSIGN_OR_RETURN(Obj ho, Obj::Open(*http, o.Path("http_health_check")));
  MESH_RETURN_IF_ERROR(ReadString(ho, "path", h.path));
  MESH_RETURN_IF_ERROR(ho.Done());
  MESH_RETURN_IF_ERROR(o.Done());
  return h;
}

absl::Status DecodeResourcesInto(Obj& o, Resources& r) {
  MESH_RETURN_IF_ERROR(ReadList(o, "listeners", [&](const Node& n, const std::string& p) -> absl::Status {
    MESH_ASSIGN_OR_RETURN(auto l, DecodeListener(n, p));
    r.listeners.push_back(std::move(l));
    return absl::OkStatus();
  }));
  MESH_RETURN_IF_ERROR(ReadList(o, "clusters", [&](const Node& n, const std::string& p) -> absl::Status {
    MESH_ASSIGN_OR_RETURN(auto c, DecodeCluster(n, p));
    r.clusters.push_back(std::move(c));
    return absl::OkStatus();
  }));
  MESH_RETURN_IF_ERROR(ReadList(o, "secrets", [&](const Node& n, const std::string& p) -> absl::Status {
    MESH_ASSIGN_OR_RETURN(auto s, DecodeSecret(n, p));
    r.secrets.push_back(std::move(s));
    return absl::OkStatus();
  }));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Duration> ParseDuration(const std::string& text) {
  std::string_view s = text;
  if (!common::ConsumeSuffix(s, "s") || s.empty()) {
    return absl::InvalidArgumentError(StrCat("invalid duration \"", text, "\" (expected e.g. \"1.5s\")"));
  }
  char* end = nullptr;
  std::string num(s);
  double seconds = std::strtod(num.c_str(), &end);
  if (end != num.c_str() + num.size() || !(seconds >= 0)) {  // also NaN
    return absl::InvalidArgumentError(StrCat("invalid duration \"", text, "\" (expected e.g. \"1.5s\")"));
  }
  // proto3's Duration range (10000 years); larger values (and "inf") do not fit in
  // milliseconds as int64 either.
  constexpr double kMaxSeconds = 315576000000.0;
  if (seconds > kMaxSeconds) {
    return absl::InvalidArgumentError(
        StrCat("invalid duration \"", text, "\": more than ", static_cast<int64_t>(kMaxSeconds), "s"));
  }
  return Duration(static_cast<int64_t>(seconds * 1000 + 0.5));
}

std::string FormatDuration(Duration d) {
  int64_t ms = d.count();
  if (ms % 1000 == 0) {
    return StrCat(ms / 1000, "s");
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.3fs", ms / 1000.0);
  return buf;
}

absl::StatusOr<Listener> DecodeListener(const Node& node, const std::string& path) {
  MESH_ASSIGN_OR_RETURN(Obj o, Obj::Open(node, path));
  MESH_RETURN_IF_ERROR(CheckType(o, kListenerType));
  Listener l;
  MESH_RETURN_IF_ERROR(ReadString(o, "name", l.name));
  const Node* addr = o.Get("address");
  if (addr == nullptr) {
    return FieldError(node, o.Path("address"), "required");
  }
  MESH_RETURN_IF_ERROR(DecodeSocketAddress(*addr, o.Path("address"), l.address));
  MESH_RETURN_IF_ERROR(ReadList(o, "filter_chains", [&](const Node& n, const std::string& p) -> absl::Status {
    MESH_ASSIGN_OR_RETURN(auto fc, DecodeFilterChain(n, p));
    l.filter_chains.push_back(std::move(fc));
    return absl::OkStatus();
  }));
  MESH_RETURN_IF_ERROR(ReadList(o, "listener_filters", [&](const Node& n, const std::string& p) -> absl::Status {
    MESH_ASSIGN_OR_RETURN(Obj fo, Obj::Open(n, p));
    std::string name;
    MESH_RETURN_IF_ERROR(ReadString(fo, "name", name));
    fo.Get("typed_config");
    MESH_RETURN_IF_ERROR(fo.Done());
    if (name != "envoy.filters.listener.tls_inspector" && name != "envoy.filters.listener.http_inspector") {
      return FieldError(n, fo.Path("name"), StrCat("unsupported listener filter \"", name, "\""));
    }
    l.listener_filters.push_back(name);
    return absl::OkStatus();
  }));
  MESH_RETURN_IF_ERROR(ReadEnum<Listener::Direction>(o, "traffic_direction",
                                                     {{"UNSPECIFIED", Listener::Direction::kUnspecified},
                                                      {"INBOUND", Listener::Direction::kInbound},
                                                      {"OUTBOUND", Listener::Direction::kOutbound}},
                                                     l.traffic_direction));
  MESH_RETURN_IF_ERROR(o.Done());
  if (l.name.empty()) {
    return FieldError(node, o.Path("name"), "required");
  }
  if (l.filter_chains.empty()) {
    return FieldError(node, o.Path("filter_chains"), "at least one filter chain is required");
  }
  return l;
}

absl::StatusOr<RouteConfiguration> DecodeRouteConfiguration(const Node& node, const std::string& path) {
  MESH_ASSIGN_OR_RETURN(Obj o, Obj::Open(node, path));
  MESH_RETURN_IF_ERROR(CheckType(o, kRouteConfigurationType));
  RouteConfiguration rc;
  MESH_RETURN_IF_ERROR(ReadString(o, "name", rc.name));
  MESH_RETURN_IF_ERROR(ReadList(o, "virtual_hosts", [&](const Node& n, const std::string& p) -> absl::Status {
    MESH_ASSIGN_OR_RETURN(auto v, DecodeVirtualHost(n, p));
    rc.virtual_hosts.push_back(std::move(v));
    return absl::OkStatus();
  }));
  MESH_RETURN_IF_ERROR(DecodeHeaderMutations(o, rc.headers));
  bool validate = false;
  MESH_RETURN_IF_ERROR(ReadBool(o, "validate_clusters", validate));
  MESH_RETURN_IF_ERROR(o.Done());
  return rc;
}

absl::StatusOr<Cluster> DecodeCluster(const Node& node, const std::string& path) {
  MESH_ASSIGN_OR_RETURN(Obj o, Obj::Open(node, path));
  MESH_RETURN_IF_ERROR(CheckType(o, kClusterType));
  Cluster c;
  MESH_RETURN_IF_ERROR(ReadString(o, "name", c.name));
  MESH_RETURN_IF_ERROR(ReadEnum<Cluster::DiscoveryType>(o, "type",
                                                        {{"STATIC", Cluster::DiscoveryType::kStatic},
                                                         {"STRICT_DNS", Cluster::DiscoveryType::kStrictDns},
                                                         {"LOGICAL_DNS", Cluster::DiscoveryType::kLogicalDns},
                                                         {"EDS", Cluster::DiscoveryType::kEds}},
                                                        c.type));
  MESH_RETURN_IF_ERROR(ReadDuration(o, "connect_timeout", c.connect_timeout));
  MESH_RETURN_IF_ERROR(ReadEnum<Cluster::LbPolicy>(o, "lb_policy",
                                                   {{"ROUND_ROBIN", Cluster::LbPolicy::kRoundRobin},
                                                    {"LEAST_REQUEST", Cluster::LbPolicy::kLeastRequest},
                                                    {"RANDOM", Cluster::LbPolicy::kRandom},
                                                    {"RING_HASH", Cluster::LbPolicy::kRingHash},
                                                    {"MAGLEV", Cluster::LbPolicy::kMaglev}},
                                                   c.lb_policy));
  if (const Node* la = o.Get("load_assignment")) {
    MESH_ASSIGN_OR_RETURN(c.load_assignment, DecodeClusterLoadAssignment(*la, o.Path("load_assignment")));
  }
  if (const Node* eds = o.Get("eds_cluster_config")) {
    MESH_ASSIGN_OR_RETURN(Obj eo, Obj::Open(*eds, o.Path("eds_cluster_config")));
    MESH_RETURN_IF_ERROR(ReadString(eo, "service_name", c.eds_service_name));
    eo.Get("eds_config");
    MESH_RETURN_IF_ERROR(eo.Done());
  }
  if (const Node* cb = o.Get("circuit_breakers")) {
    MESH_ASSIGN_OR_RETURN(Obj co, Obj::Open(*cb, o.Path("circuit_breakers")));
    CircuitBreakers breakers;
    MESH_RETURN_IF_ERROR(ReadList(co, "thresholds", [&](const Node& n, const std::string& p) -> absl::Status {
      MESH_ASSIGN_OR_RETURN(Obj t, Obj::Open(n, p));
      std::string priority = "DEFAULT";
      MESH_RETURN_IF_ERROR(ReadEnum<std::string>(t, "priority", {{"DEFAULT", "DEFAULT"}, {"HIGH", "HIGH"}}, priority));
      CircuitBreakers b;
      MESH_RETURN_IF_ERROR(ReadUint(t, "max_connections", b.max_connections));
      MESH_RETURN_IF_ERROR(ReadUint(t, "max_pending_requests", b.max_pending_requests));
      MESH_RETURN_IF_ERROR(ReadUint(t, "max_requests", b.max_requests));
      MESH_RETURN_IF_ERROR(ReadUint(t, "max_retries", b.max_retries));
      if (const Node* rb = t.Get("retry_budget")) {
        MESH_ASSIGN_OR_RETURN(Obj ro, Obj::Open(*rb, t.Path("retry_budget")));
        RetryBudget budget;
        if (const Node* bp = ro.Get("budget_percent")) {
          // envoy.type.v3.Percent: {value: 20.0}
          const Node* v = bp->IsMap() && bp->size() == 1 ? &(*bp)["value"] : bp;
          auto d = v->Double();
          if (!d || !(*d >= 0 && *d <= 100)) {  // NaN too
            return FieldError(*bp, ro.Path("budget_percent"), "expected {value: P} with 0 <= P <= 100");
          }
          budget.budget_percent = *d;
        }
        MESH_RETURN_IF_ERROR(ReadUint(ro, "min_retry_concurrency", budget.min_retry_concurrency));
        MESH_RETURN_IF_ERROR(ro.Done());
        b.retry_budget = budget;
      }
      t.Get("track_remaining");
      MESH_RETURN_IF_ERROR(t.Done());
      if (priority == "DEFAULT") {
        breakers = b;
      }
      return absl::OkStatus();
    }));
    MESH_RETURN_IF_ERROR(co.Done());
    c.circuit_breakers = breakers;
  }
  if (const Node* od = o.Get("outlier_detection")) {
    MESH_ASSIGN_OR_RETURN(Obj oo, Obj::Open(*od, o.Path("outlier_detection")));
    OutlierDetection d;
    MESH_RETURN_IF_ERROR(ReadUint(oo, "consecutive_5xx", d.consecutive_5xx));
    MESH_RETURN_IF_ERROR(ReadUint(oo, "consecutive_gateway_failure", d.consecutive_gateway_failure));
    MESH_RETURN_IF_ERROR(ReadDuration(oo, "interval", d.interval));
    MESH_RETURN_IF_ERROR(ReadDuration(oo, "base_ejection_time", d.base_ejection_time));
    MESH_RETURN_IF_ERROR(ReadUint(oo, "max_ejection_percent", d.max_ejection_percent));
    MESH_RETURN_IF_ERROR(ReadDuration(oo, "max_ejection_time", d.max_ejection_time));
    if (d.max_ejection_percent > 100) {
      return FieldError(*od, oo.Path("max_ejection_percent"), "expected at most 100");
    }
    MESH_RETURN_IF_ERROR(ReadUint(oo, "success_rate_minimum_hosts", d.success_rate_minimum_hosts));
    MESH_RETURN_IF_ERROR(ReadUint(oo, "success_rate_request_volume", d.success_rate_request_volume));
    MESH_RETURN_IF_ERROR(ReadUint(oo, "success_rate_stdev_factor", d.success_rate_stdev_factor));
    MESH_RETURN_IF_ERROR(ReadUint(oo, "enforcing_success_rate", d.enforcing_success_rate));
    MESH_RETURN_IF_ERROR(ReadUint(oo, "failure_percentage_threshold", d.failure_percentage_threshold));
    MESH_RETURN_IF_ERROR(ReadUint(oo, "failure_percentage_minimum_hosts", d.failure_percentage_minimum_hosts));
    MESH_RETURN_IF_ERROR(ReadUint(oo, "failure_percentage_request_volume", d.failure_percentage_request_volume));
    MESH_RETURN_IF_ERROR(ReadUint(oo, "enforcing_failure_percentage", d.enforcing_failure_percentage));
    for (const char* percent : {"enforcing_success_rate", "failure_percentage_threshold", "enforcing_failure_percentage"}) {
      uint32_t v = 0;
      MESH_RETURN_IF_ERROR(ReadUint(oo, percent, v));
      if (v > 100) {
        return FieldError(*od, oo.Path(percent), "expected a percentage, at most 100");
      }
    }
    uint32_t ignored = 0;
    MESH_RETURN_IF_ERROR(ReadUint(oo, "enforcing_consecutive_5xx", ignored));
    MESH_RETURN_IF_ERROR(ReadUint(oo, "enforcing_consecutive_gateway_failure", ignored));
    MESH_RETURN_IF_ERROR(oo.Done());
    c.outlier_detection = d;
  }
  if (const Node* ts = o.Get("transport_socket")) {
    MESH_ASSIGN_OR_RETURN(c.tls, DecodeUpstreamTls(*ts, o.Path("transport_socket")));
  }
  if (const Node* h2 = o.Get("http2_protocol_options")) {  // deprecated in Envoy, still common
    MESH_ASSIGN_OR_RETURN(c.http2, DecodeHttp2Options(*h2, o.Path("http2_protocol_options")));
  }
  if (const Node* tp = o.Get("typed_extension_protocol_options")) {
    MESH_RETURN_IF_ERROR(DecodeProtocolOptions(*tp, o.Path("typed_extension_protocol_options"), c));
  }
  MESH_RETURN_IF_ERROR(ReadList(o, "health_checks", [&](const Node& n, const std::string& p) -> absl::Status {
    MESH_ASSIGN_OR_RETURN(auto h, DecodeHealthCheck(n, p));
    c.health_checks.push_back(std::move(h));
    return absl::OkStatus();
  }));
  if (const Node* ml = o.Get("maglev_lb_config")) {
    MESH_ASSIGN_OR_RETURN(Obj mo, Obj::Open(*ml, o.Path("maglev_lb_config")));
    if (const Node* ts = mo.Get("table_size")) {
      const Node* v = ts->IsMap() && ts->size() == 1 ? &(*ts)["value"] : ts;
      auto size = v->Int();
      bool prime = size && *size >= 2 && *size <= 5000011;
      for (int64_t d = 2; prime && d * d <= *size; ++d) {
        prime = *size % d != 0;
      }
      if (!prime) {
        return FieldError(*ts, mo.Path("table_size"), "expected a prime number up to 5000011");
      }
      c.maglev_table_size = static_cast<uint64_t>(*size);
    }
    MESH_RETURN_IF_ERROR(mo.Done());
  }
  if (const Node* cl = o.Get("common_lb_config")) {
    MESH_ASSIGN_OR_RETURN(Obj co, Obj::Open(*cl, o.Path("common_lb_config")));
    if (const Node* lw = co.Get("locality_weighted_lb_config")) {
      MESH_ASSIGN_OR_RETURN(Obj lo, Obj::Open(*lw, co.Path("locality_weighted_lb_config")));
      MESH_RETURN_IF_ERROR(lo.Done());
      c.locality_weighted_lb = true;
    }
    if (const Node* hp = co.Get("healthy_panic_threshold")) {
      // envoy.type.v3.Percent: {value: 50.0}
      const Node* v = hp->IsMap() && hp->size() == 1 ? &(*hp)["value"] : hp;
      auto d = v->Double();
      if (!d || !(*d >= 0 && *d <= 100)) {  // NaN too
        return FieldError(*hp, co.Path("healthy_panic_threshold"), "expected {value: P} with 0 <= P <= 100");
      }
      c.healthy_panic_threshold = *d;
    }
    co.Get("update_merge_window");  // no effect here
    MESH_RETURN_IF_ERROR(co.Done());
  }
  for (const char* ignored : {"ring_hash_lb_config", "least_request_lb_config", "dns_lookup_family", "metadata"}) {
    o.Get(ignored);  // tuning knobs that do not change behaviour here
  }
  MESH_RETURN_IF_ERROR(o.Done());
  if (c.name.empty()) {
    return FieldError(node, o.Path("name"), "required");
  }
  if (c.type != Cluster::DiscoveryType::kEds && !c.load_assignment) {
    return FieldError(node, o.Path("load_assignment"), "required unless type is EDS");
  }
  return c;
}

absl::StatusOr<ClusterLoadAssignment> DecodeClusterLoadAssignment(const Node& node, const std::string& path) {
  MESH_ASSIGN_OR_RETURN(Obj o, Obj::Open(node, path));
  MESH_RETURN_IF_ERROR(CheckType(o, kClusterLoadAssignmentType));
  ClusterLoadAssignment cla;
  MESH_RETURN_IF_ERROR(ReadString(o, "cluster_name", cla.cluster_name));
  MESH_RETURN_IF_ERROR(ReadList(o, "endpoints", [&](const Node& n, const std::string& p) -> absl::Status {
    MESH_ASSIGN_OR_RETURN(Obj lo, Obj::Open(n, p));
    LocalityLbEndpoints le;
    if (const Node* loc = lo.Get("locality")) {
      MESH_ASSIGN_OR_RETURN(Obj x, Obj::Open(*loc, lo.Path("locality")));
      MESH_RETURN_IF_ERROR(ReadString(x, "region", le.locality.region));
      MESH_RETURN_IF_ERROR(ReadString(x, "zone", le.locality.zone));
      MESH_RETURN_IF_ERROR(ReadString(x, "sub_zone", le.locality.sub_zone));
      MESH_RETURN_IF_ERROR(x.Done());
    }
    MESH_RETURN_IF_ERROR(ReadList(lo, "lb_endpoints", [&](const Node& en, const std::string& ep) -> absl::Status {
      MESH_ASSIGN_OR_RETURN(auto e, DecodeLbEndpoint(en, ep));
      le.lb_endpoints.push_back(std::move(e));
      return absl::OkStatus();
    }));
    MESH_RETURN_IF_ERROR(ReadUint(lo, "load_balancing_weight", le.load_balancing_weight));
    MESH_RETURN_IF_ERROR(ReadUint(lo, "priority", le.priority));
    if (le.priority > kMaxPriority) {
      return FieldError(n, lo.Path("priority"), StrCat("expected at most ", kMaxPriority));
    }
    MESH_RETURN_IF_ERROR(lo.Done());
    cla.endpoints.push_back(std::move(le));
    return absl::OkStatus();
  }));
  MESH_RETURN_IF_ERROR(o.Done());
  return cla;
}

absl::StatusOr<Secret> DecodeSecret(const Node& node, const std::string& path) {
  MESH_ASSIGN_OR_RETURN(Obj o, Obj::Open(node, path));
  MESH_RETURN_IF_ERROR(CheckType(o, kSecretType));
  Secret s;
  MESH_RETURN_IF_ERROR(ReadString(o, "name", s.name));
  if (const Node* c = o.Get("tls_certificate")) {
    MESH_ASSIGN_OR_RETURN(s.tls_certificate, DecodeTlsCertificate(*c, o.Path("tls_certificate")));
  }
  if (const Node* v = o.Get("validation_context")) {
    MESH_ASSIGN_OR_RETURN(s.validation_context, DecodeValidationContext(*v, o.Path("validation_context")));
  }
  MESH_RETURN_IF_ERROR(o.Done());
  if (s.name.empty()) {
    return FieldError(node, o.Path("name"), "required");
  }
  if (s.tls_certificate.has_value() == s.validation_context.has_value()) {
    return FieldError(node, path, "exactly one of tls_certificate, validation_context is required");
  }
  return s;
}

absl::StatusOr<Bootstrap> DecodeBootstrap(const Node& node) {
  MESH_ASSIGN_OR_RETURN(Obj o, Obj::Open(node, ""));
  Bootstrap b;
  if (const Node* n = o.Get("node")) {
    MESH_ASSIGN_OR_RETURN(Obj no, Obj::Open(*n, "node"));
    MESH_RETURN_IF_ERROR(ReadString(no, "id", b.node.id));
    MESH_RETURN_IF_ERROR(ReadString(no, "cluster", b.node.cluster));
    if (const Node* md = no.Get("metadata")) {
      if (!md->IsMap()) {
        return FieldError(*md, "node.metadata", "expected an object");
      }
      for (const auto& [k, v] : md->entries()) {
        if (v.IsScalar()) {
          b.node.metadata.emplace_back(k, v.Str());
        }
      }
    }
    no.Get("locality");
    MESH_RETURN_IF_ERROR(no.Done());
  }
  if (const Node* a = o.Get("admin")) {
    MESH_ASSIGN_OR_RETURN(Obj ao, Obj::Open(*a, "admin"));
    Admin admin;
    if (const Node* addr = ao.Get("address")) {
      MESH_RETURN_IF_ERROR(DecodeSocketAddress(*addr, "admin.address", admin.address));
    }
    MESH_RETURN_IF_ERROR(ReadString(ao, "access_log_path", admin.access_log_path));
    MESH_RETURN_IF_ERROR(ao.Done());
    b.admin = admin;
  }
  if (const Node* sr = o.Get("static_resources")) {
    MESH_ASSIGN_OR_RETURN(Obj so, Obj::Open(*sr, "static_resources"));
    MESH_RETURN_IF_ERROR(DecodeResourcesInto(so, b.static_resources));
    MESH_RETURN_IF_ERROR(so.Done());
  }
  MESH_RETURN_IF_ERROR(o.Done());
  MESH_RETURN_IF_ERROR(ValidateResources(b.static_resources));
  return b;
}

absl::Status ValidateResources(const Resources& r) {
  std::set<std::string> clusters;
  for (const auto& c : r.clusters) {
    if (!clusters.insert(c.name).second) {
      return absl::InvalidArgumentError(StrCat("duplicate cluster \"", c.name, "\""));
    }
  }
  auto check_cluster = [&](const std::string& name, const std::string& where) -> absl::Status {
    if (!clusters.count(name)) {
      return absl::InvalidArgumentError(StrCat(where, ": unknown cluster \"", name, "\""));
    }
    return absl::OkStatus();
  };
  auto check_routes = [&](const RouteConfiguration& rc, const std::string& where) -> absl::Status {
    for (const auto& vh : rc.virtual_hosts) {
      for (const auto& route : vh.routes) {
        if (const auto* a = std::get_if<RouteAction>(&route.action)) {
          std::string at = StrCat(where, " virtual host \"", vh.name, "\"");
          if (!a->cluster.empty()) {
            MESH_RETURN_IF_ERROR(check_cluster(a->cluster, at));
          }
          for (const auto& w : a->weighted_clusters) {
            MESH_RETURN_IF_ERROR(check_cluster(w.name, at));
          }
          for (const auto& m : a->request_mirror_clusters) {
            MESH_RETURN_IF_ERROR(check_cluster(m, at));
          }
        }
      }
    }
    return absl::OkStatus();
  };
  auto check_secret = [&](const std::string& name, const std::string& where) -> absl::Status {
    if (r.FindSecret(name) == nullptr) {
      return absl::InvalidArgumentError(StrCat(where, ": unknown secret \"", name, "\""));
    }
    return absl::OkStatus();
  };
  auto check_tls = [&](const CommonTlsContext& t, const std::string& where) -> absl::Status {
    for (const auto& s : t.tls_certificate_sds_secret_configs) {
      MESH_RETURN_IF_ERROR(check_secret(s, where));
    }
    if (!t.validation_context_sds_secret_config.empty()) {
      MESH_RETURN_IF_ERROR(check_secret(t.validation_context_sds_secret_config, where));
    }
    return absl::OkStatus();
  };
  std::set<std::string> listeners;
  for (const auto& l : r.listeners) {
    if (!listeners.insert(l.name).second) {
      return absl::InvalidArgumentError(StrCat("duplicate listener \"", l.name, "\""));
    }
    std::string where = StrCat("listener \"", l.name, "\"");
    for (const auto& fc : l.filter_chains) {
      if (fc.tls) {
        MESH_RETURN_IF_ERROR(check_tls(fc.tls->common_tls_context, where));
      }
      if (const auto* hcm = std::get_if<HttpConnectionManager>(&fc.filter)) {
        if (hcm->route_config) {
          MESH_RETURN_IF_ERROR(check_routes(*hcm->route_config, where));
        } else if (r.FindRouteConfig(hcm->rds_route_config_name) == nullptr) {
          return absl::InvalidArgumentError(
              StrCat(where, ": unknown route configuration \"", hcm->rds_route_config_name, "\""));
        }
      } else {
        MESH_RETURN_IF_ERROR(check_cluster(std::get<TcpProxy>(fc.filter).cluster, where));
      }
    }
  }
  for (const auto& rc : r.route_configs) {
    MESH_RETURN_IF_ERROR(check_routes(rc, StrCat("route configuration \"", rc.name, "\"")));
  }
  for (const auto& c : r.clusters) {
    if (c.tls) {
      MESH_RETURN_IF_ERROR(check_tls(c.tls->common_tls_context, StrCat("cluster \"", c.name, "\"")));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Bootstrap> LoadBootstrapText(const std::string& text, const std::string& file) {
  MESH_ASSIGN_OR_RETURN(Node root, config::ParseYamlNode(text, file));
  auto b = DecodeBootstrap(root);
  if (!b.ok()) {
    return absl::InvalidArgumentError(StrCat(file, ":", std::string(b.status().message())));
  }
  return b;
}

absl::StatusOr<Bootstrap> LoadBootstrapFile(const std::string& file) {
  std::ifstream in(file);
  if (!in) {
    return absl::NotFoundError(StrCat("cannot read ", file));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return LoadBootstrapText(ss.str(), file);
}

}  // namespace mesh::proxyconfig
