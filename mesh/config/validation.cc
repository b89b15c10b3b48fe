#include "mesh/config/validation.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <set>
#include <unordered_map>

#include "fmt/format.h"
#include "mesh/common/strings.h"
#include "mesh/config/schema.h"
#include "mesh/config/yaml_loader.h"
#include "re2/re2.h"

namespace mesh::config {
namespace {

// ------------------------------------------------------------------ small helpers

int LineOf(const Node& n) { return n.key_mark().line > 0 ? n.key_mark().line : n.mark().line; }

const std::vector<Node>& Items(const Node& n) {
  static const std::vector<Node> kEmpty;
  return n.IsSequence() ? n.items() : kEmpty;
}
const std::vector<Node::MapEntry>& Entries(const Node& n) {
  static const std::vector<Node::MapEntry> kEmpty;
  return n.IsMap() ? n.entries() : kEmpty;
}
std::string S(const Node& n) { return n.IsScalar() ? n.Str() : std::string(); }
int64_t I(const Node& n) { return n.IsScalar() ? n.Int().value_or(0) : 0; }
double D(const Node& n) { return n.IsScalar() ? n.Double().value_or(0) : 0; }
bool B(const Node& n) { return n.IsScalar() && n.Bool().value_or(false); }
// Lists and maps count as "set" when they have at least one element (protobuf JSON does
// not distinguish an empty list from an absent one).
bool Has(const Node& n) {
  if (n.IsSequence() || n.IsMap()) {
    return n.size() > 0;
  }
  return n.IsScalar() && !n.Str().empty();  // "" is a string field's zero value
}

// The field when it is written (even as `key:` with no value), else its parent: where a
// message about a missing or empty field should point.
const Node& Field(const Node& parent, std::string_view key) {
  const Node* n = parent.Find(key);
  return n != nullptr ? *n : parent;
}

bool HasPrefix(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
bool HasSuffix(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && s.substr(s.size() - p.size()) == p;
}
bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
}
bool IEquals(std::string_view a, std::string_view b) { return common::ToLower(a) == common::ToLower(b); }

// Istio's DNS-1123 labels also accept upper case (pkg/config/labels), unlike Kubernetes'.
bool IsLabelChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-'; }

// Istio's wildcard label: "*", or an optional "*" / "*-" prefix before a DNS-1123 label.
bool IsWildcardDns1123Label(std::string_view s) {
  if (s == "*") {
    return true;
  }
  if (s.size() > 63) {
    return false;
  }
  if (HasPrefix(s, "*-")) {
    s.remove_prefix(2);
  } else if (HasPrefix(s, "*")) {
    s.remove_prefix(1);
  }
  return IsDns1123Label(s);
}

std::string CheckDns1123Labels(std::string_view domain) {
  std::vector<std::string> parts = common::Split(domain, '.');
  if (AllDigits(parts.back())) {
    return fmt::format("domain name \"{}\" invalid (top level domain \"{}\" cannot be all-numeric)", domain, parts.back());
  }
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i + 1 == parts.size() && parts[i].empty()) {
      return "";  // "istio.io." is unambiguous
    }
    if (!IsDns1123Label(parts[i])) {
      return fmt::format("domain name \"{}\" invalid (label \"{}\" invalid)", domain, parts[i]);
    }
  }
  return "";
}

std::string CheckDnsPreconditions(std::string_view name) {
  if (name.size() > 255) {
    return fmt::format("domain name \"{}\" too long (max 255)", name);
  }
  if (name.empty()) {
    return "empty domain name not allowed";
  }
  return "";
}

bool IsIpAddress(std::string_view s) {
  std::string str(s);
  unsigned char buf[16];
  return inet_pton(AF_INET, str.c_str(), buf) == 1 || inet_pton(AF_INET6, str.c_str(), buf) == 1;
}

std::string CheckIpAddress(std::string_view s) {
  return IsIpAddress(s) ? "" : fmt::format("{} is not a valid IP", s);
}

std::string CheckIpSubnet(std::string_view s) {
  size_t slash = s.find('/');
  if (slash == std::string_view::npos) {
    return CheckIpAddress(s);
  }
  std::string_view ip = s.substr(0, slash);
  std::string_view bits = s.substr(slash + 1);
  bool v6 = ip.find(':') != std::string_view::npos;
  if (!IsIpAddress(ip) || !AllDigits(bits) || bits.size() > 3 || std::stoi(std::string(bits)) > (v6 ? 128 : 32)) {
    return fmt::format("\"{}\" is not a valid CIDR block", s);
  }
  return "";
}

std::string CheckPort(int64_t port) {
  if (port < 1 || port > 65535) {
    return fmt::format("port number {} must be in the range 1..65535", port);
  }
  return "";
}

// Istio's protocol names (case-insensitive).
enum class Protocol { kUnsupported, kTCP, kUDP, kGRPC, kGRPCWeb, kHTTP, kHTTPProxy, kHTTP2, kHTTPS, kTLS, kMongo, kRedis, kMySQL };
Protocol ParseProtocol(std::string_view p) {
  static const std::map<std::string, Protocol> kByName = {
      {"tcp", Protocol::kTCP},         {"udp", Protocol::kUDP},     {"grpc", Protocol::kGRPC},
      {"grpc-web", Protocol::kGRPCWeb}, {"http", Protocol::kHTTP},   {"http_proxy", Protocol::kHTTPProxy},
      {"http2", Protocol::kHTTP2},     {"https", Protocol::kHTTPS}, {"tls", Protocol::kTLS},
      {"mongo", Protocol::kMongo},     {"redis", Protocol::kRedis}, {"mysql", Protocol::kMySQL},
  };
  auto it = kByName.find(common::ToLower(p));
  return it == kByName.end() ? Protocol::kUnsupported : it->second;
}
bool IsHttp(Protocol p) {
  return p == Protocol::kHTTP || p == Protocol::kHTTP2 || p == Protocol::kHTTPProxy || p == Protocol::kGRPC ||
         p == Protocol::kGRPCWeb;
}
bool IsTls(Protocol p) { return p == Protocol::kHTTPS || p == Protocol::kTLS; }
bool IsTcp(Protocol p) { return !IsHttp(p) && p != Protocol::kUDP && p != Protocol::kUnsupported; }

// Host name matching as Istio's host.Name (a leading '*' is a wildcard).
bool HostMatches(std::string_view a, std::string_view b) {
  bool aw = HasPrefix(a, "*");
  bool bw = HasPrefix(b, "*");
  if (aw && bw) {
    return a.size() < b.size() ? HasSuffix(b.substr(1), a.substr(1)) : HasSuffix(a.substr(1), b.substr(1));
  }
  if (aw) {
    return HasSuffix(b, a.substr(1));
  }
  if (bw) {
    return HasSuffix(a, b.substr(1));
  }
  return a == b;
}
bool HostSubsetOf(std::string_view a, std::string_view b) {
  if (HasPrefix(a, "*")) {
    return HasPrefix(b, "*") && HasSuffix(a.substr(1), b.substr(1));
  }
  if (HasPrefix(b, "*")) {
    return HasSuffix(a, b.substr(1));
  }
  return a == b;
}

// Kubernetes label keys ([prefix/]name) and values.
bool IsQualifiedName(std::string_view s) {
  size_t slash = s.find('/');
  std::string_view name = s;
  if (slash != std::string_view::npos) {
    std::string_view prefix = s.substr(0, slash);
    name = s.substr(slash + 1);
    if (prefix.empty() || prefix.size() > 253 || !CheckDns1123Labels(prefix).empty()) {
      return false;
    }
  }
  if (name.empty() || name.size() > 63) {
    return false;
  }
  auto alnum = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
  if (!alnum(name.front()) || !alnum(name.back())) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [&](char c) { return alnum(c) || c == '-' || c == '_' || c == '.'; });
}
bool IsLabelValue(std::string_view v) {
  if (v.empty()) {
    return true;
  }
  return v.size() <= 63 && IsQualifiedName(v) && v.find('/') == std::string_view::npos;
}

// Istio reads both the JSON (camelCase) and the proto (snake_case) spelling of a field.
std::string CamelToSnake(std::string_view camel) {
  std::string out;
  for (char c : camel) {
    if (std::isupper(static_cast<unsigned char>(c))) {
      out += '_';
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else {
      out += c;
    }
  }
  return out;
}
const Node& Get(const Node& n, std::string_view camel) {
  const Node* found = n.Find(camel);
  if (found == nullptr) {
    found = n.Find(CamelToSnake(camel));
  }
  return found != nullptr ? *found : Node::NullNode();
}

// A copy of `value` whose struct field names are the schema's camelCase names, so the
// rules below need to look fields up under one spelling only. Map keys (labels, header
// names, ports) are left alone.
Node NormalizeFieldNames(const Node& value, const TypeSchema& type) {
  Node out = value;
  switch (type.type) {
    case FieldType::kStruct:
      if (out.IsMap()) {
        for (auto& [key, child] : out.mutable_entries()) {
          const FieldSchema* f = type.FindField(key);
          if (f != nullptr) {
            key = f->name;
            child = NormalizeFieldNames(child, *f->type);
          }
        }
      }
      break;
    case FieldType::kList:
      if (out.IsSequence()) {
        for (Node& item : out.mutable_items()) {
          item = NormalizeFieldNames(item, *type.element);
        }
      }
      break;
    case FieldType::kMap:
      if (out.IsMap()) {
        for (auto& [key, child] : out.mutable_entries()) {
          child = NormalizeFieldNames(child, *type.element);
        }
      }
      break;
    default:
      break;
  }
  return out;
}

// ------------------------------------------------------------------ the validator

class Validator {
 public:
  explicit Validator(ValidationResult& out) : out_(out) {}

  void Error(const Node& at, std::string message) { Add(IssueSeverity::kError, LineOf(at), std::move(message)); }
  void Warn(const Node& at, std::string message) { Add(IssueSeverity::kWarning, LineOf(at), std::move(message)); }
  // Appends `message` when it is not empty (the Check* helpers return "" for valid).
  void ErrorIf(const Node& at, const std::string& message) {
    if (!message.empty()) {
      Error(at, message);
    }
  }
  void Finding(RuleFinding finding, const Node& at, std::string message, std::vector<std::string> params) {
    ValidationIssue issue;
    issue.severity = IssueSeverity::kWarning;
    issue.line = LineOf(at);
    issue.message = std::move(message);
    issue.finding = finding;
    issue.params = std::move(params);
    out_.issues.push_back(std::move(issue));
  }
  std::string prefix;  // prepended to error messages (AuthorizationPolicy's "invalid policy n.ns: ")

  // ---------------------------------------------------------------- shared rules
  void Duration(const Node& n) {
    if (!n.Defined()) {
      return;
    }
    int64_t nanos = 0;
    if (!ParseGoDuration(S(n), nanos)) {
      return;  // reported as a type error
    }
    if (nanos < 1000000) {
      Error(n, "duration must be greater than 1ms");
    } else if (nanos % 1000000 != 0) {
      Error(n, "only durations to ms precision are supported");
    }
  }

  void Labels(const Node& labels) {
    for (const auto& [k, v] : Entries(labels)) {
      if (!IsQualifiedName(k)) {
        Error(v, fmt::format("invalid tag key: \"{}\"", k));
      }
      if (!IsLabelValue(S(v))) {
        Error(v, fmt::format("invalid tag value: \"{}\"", S(v)));
      }
    }
  }

  void WorkloadSelector(const Node& selector, std::string_view labels_key) {
    if (!selector.Defined()) {
      return;
    }
    const Node& labels = selector[labels_key];
    for (const auto& [k, v] : Entries(labels)) {
      if (k.empty()) {
        Error(v, fmt::format("empty key is not supported in selector: \"{}={}\"", k, S(v)));
      }
      if (k.find('*') != std::string::npos || S(v).find('*') != std::string::npos) {
        Error(v, fmt::format("wildcard is not supported in selector: \"{}={}\"", k, S(v)));
      }
    }
  }

  void TargetRef(const Node& ref) {
    if (!ref.Defined()) {
      return;
    }
    if (S(ref["name"]).empty()) {
      Error(ref, "targetRef name must be set");
    }
    if (!S(ref["namespace"]).empty()) {
      Error(ref, "targetRef namespace must not be set; cross namespace referencing is not supported");
    }
    std::string group = S(ref["group"]);
    std::string kind = S(ref["kind"]);
    bool allowed = (group.empty() && kind == "Service") || (group == "networking.istio.io" && kind == "ServiceEntry") ||
                   (group == "gateway.networking.k8s.io" && (kind == "Gateway" || kind == "GatewayClass"));
    if (!allowed) {
      Error(ref, fmt::format("targetRef must be to one of [Service ServiceEntry Gateway GatewayClass] but was {}/{}",
                             group, kind));
    }
  }

  // Policies (AuthorizationPolicy, RequestAuthentication, Telemetry, WasmPlugin) select
  // workloads with exactly one of selector, targetRef, targetRefs.
  void PolicySelection(const Node& spec, bool has_target_ref = true) {
    int set = (spec["selector"].Defined() ? 1 : 0) + (has_target_ref && spec["targetRef"].Defined() ? 1 : 0) +
              (Has(spec["targetRefs"]) ? 1 : 0);
    if (set > 1) {
      Error(spec, "only one of targetRefs or workloadSelector can be set");
    }
    const Node& selector = spec["selector"];
    WorkloadSelector(selector, "matchLabels");
    if (selector.Defined() && !Has(selector["matchLabels"])) {
      Warn(selector, "workload selector specified without labels");
    }
    if (has_target_ref) {
      TargetRef(spec["targetRef"]);
    }
    for (const Node& r : Items(spec["targetRefs"])) {
      TargetRef(r);
    }
  }

  void ExportTo(const Node& export_to, const std::string& ns, bool service_entry, bool dr_with_selector) {
    std::set<std::string> seen;
    for (const Node& e : Items(export_to)) {
      std::string v = S(e);
      std::string key = v == "." ? ns : v;
      if (seen.count(key) > 0) {
        if (key != v) {
          Error(e, fmt::format("duplicate entries in exportTo: . and current namespace {}", ns));
        } else {
          Error(e, fmt::format("duplicate entries in exportTo for entry {}", v));
        }
        continue;
      }
      if (service_entry && v == "~") {
        seen.insert(key);
      } else if (v == "~") {
        Error(e, "exportTo ~ (none) is not allowed for Istio configuration objects");
      } else if (v != "." && v != "*" && !IsDns1123Label(key)) {
        Error(e, "only .,*, or a valid DNS 1123 label is allowed as exportTo entry");
      } else {
        seen.insert(key);
      }
    }
    size_t n = Items(export_to).size();
    if (dr_with_selector && !seen.empty()) {
      if (seen.count(ns) > 0) {
        if (seen.size() > 1) {
          Error(export_to, "destination rule with workload selector cannot have multiple entries in exportTo");
        }
      } else {
        Error(export_to, "destination rule with workload selector cannot have exportTo beyond current namespace");
      }
    }
    if (seen.count("*") > 0 && n > 1) {
      Error(export_to, "cannot have both public (*) and non-public exportTo values for a resource");
    }
    if (seen.count("~") > 0 && n > 1) {
      Error(export_to, "cannot export service entry to no one (~) and someone");
    }
  }

  void Percentage(const Node& pct) {
    if (!pct.Defined()) {
      return;
    }
    double v = D(pct["value"]);
    if (v < 0.0 || v > 100.0 || (v > 0.0 && v < 0.0001)) {
      Error(pct, fmt::format("percentage {} is neither 0.0, nor in range [0.0001, 100.0]", v));
    }
  }

  void Regex(const Node& at, const std::string& re, std::string_view where) {
    if (re.empty()) {
      Error(at, fmt::format("\"{}\": regex string match should not be empty", where));
      return;
    }
    if (re.size() > 1024) {
      Error(at, fmt::format("\"{}\": regex is too large, max length allowed is 1024", where));
      return;
    }
    RE2::Options options;
    options.set_log_errors(false);
    RE2 compiled(re, options);
    if (!compiled.ok()) {
      Error(at, fmt::format("\"{}\": error parsing regexp: {}; Istio uses RE2 style regex-based match "
                            "(https://github.com/google/re2/wiki/Syntax)",
                            where, compiled.error()));
    }
  }

  void StringMatch(const Node& sm, std::string_view where) {
    if (!sm.Defined()) {
      return;
    }
    if (sm["prefix"].Defined() && S(sm["prefix"]).empty()) {
      Error(sm, fmt::format("\"{}\": prefix string match should not be empty", where));
    }
    if (sm["regex"].Defined()) {
      Regex(sm["regex"], S(sm["regex"]), where);
    }
  }

  // ---------------------------------------------------------------- Gateway
  void Gateway(const Resource& r) {
    const Node& spec = r.spec();
    if (!IsDns1123Label(r.name())) {
      Error(r.metadata()["name"], fmt::format("invalid gateway name: \"{}\"", r.name()));
    }
    const Node& servers = spec["servers"];
    if (!Has(servers)) {
      Error(spec, "gateway must have at least one server");
    }
    for (const Node& s : Items(servers)) {
      Server(s);
    }
    std::set<std::string> port_names;
    for (const Node& s : Items(servers)) {
      if (!s.IsMap()) {
        Error(s, "server may not be nil");
        continue;
      }
      const Node& port = s["port"];
      if (port.Defined()) {
        std::string name = S(port["name"]);
        if (!port_names.insert(name).second) {
          Error(port, fmt::format("port names in servers must be unique: duplicate name {}", name));
        }
        if (!IsHttp(ParseProtocol(S(port["protocol"]))) && B(s["tls"]["httpsRedirect"])) {
          Warn(s["tls"], "tls.httpsRedirect should only be used with http servers");
        }
      }
    }
  }

  void Server(const Node& server) {
    if (!server.IsMap()) {
      Error(server, "cannot have nil server");
      return;
    }
    const Node& hosts = server["hosts"];
    if (!Has(hosts)) {
      Error(Field(server, "hosts"), "server config must contain at least one host");
    }
    for (const Node& h : Items(hosts)) {
      ErrorIf(h, CheckNamespaceSlashHost(S(h), /*gateway=*/true));
    }
    const Node& port = server["port"];
    std::string bind = S(server["bind"]);
    bool port_ok = true;
    if (!port.Defined()) {
      Error(server, "port is required");
      port_ok = false;
    } else {
      std::string protocol = S(port["protocol"]);
      if (ParseProtocol(protocol) == Protocol::kUnsupported) {
        Error(port, fmt::format("invalid protocol \"{}\", supported protocols are HTTP, HTTP2, GRPC, GRPC-WEB, "
                                "MONGO, REDIS, MYSQL, TCP",
                                protocol));
        port_ok = false;
      }
      int64_t number = I(port["number"]);
      if (number > 0 || !HasPrefix(bind, "unix://")) {
        std::string e = CheckPort(number);
        if (!e.empty()) {
          Error(port["number"].Defined() ? port["number"] : port, e);
          port_ok = false;
        }
      }
      if (I(port["targetPort"]) > 0) {
        Error(port["targetPort"], "targetPort has no impact on Gateways");
        port_ok = false;
      }
      if (S(port["name"]).empty()) {
        Error(port, fmt::format("port name must be set: number:{} protocol:\"{}\"", number, protocol));
        port_ok = false;
      }
    }
    if (HasPrefix(bind, "unix://")) {
      ErrorIf(server["bind"], CheckUnixAddress(bind.substr(7)));
      if (port.Defined() && I(port["number"]) != 0) {
        Error(server["bind"], "port number must be 0 for unix domain socket");
      }
    } else if (!bind.empty()) {
      ErrorIf(server["bind"], CheckIpAddress(bind));
    }
    const Node& tls = server["tls"];
    ServerTls(tls);
    if (port_ok) {
      Protocol p = ParseProtocol(S(port["protocol"]));
      if (IsTls(p) && !tls.Defined()) {
        Error(server, "server must have TLS settings for HTTPS/TLS protocols");
      } else if (!IsTls(p) && tls.Defined()) {
        if (IsHttp(p)) {
          std::string mode = S(tls["mode"]);
          bool passthrough = mode.empty() || mode == "PASSTHROUGH" || mode == "AUTO_PASSTHROUGH";
          if (!passthrough || Has(tls["caCertificates"]) || Has(tls["privateKey"]) || Has(tls["serverCertificate"])) {
            Error(tls, "server cannot have TLS settings for plain text HTTP ports");
          }
        } else {
          Error(tls, "server cannot have TLS settings for non HTTPS/TLS ports");
        }
      }
    }
  }

  static std::string CheckUnixAddress(std::string_view addr) {
    if (addr.empty()) {
      return "unix address must not be empty";
    }
    if (HasPrefix(addr, "@")) {
      return "";
    }
    if (!HasPrefix(addr, "/") || HasSuffix(addr, "/")) {
      return fmt::format("{} is not an absolute path to a file", addr);
    }
    return "";
  }

  static std::string CheckNamespaceSlashHost(std::string_view host, bool gateway) {
    size_t slash = host.find('/');
    if (slash == std::string_view::npos) {
      if (gateway) {
        return CheckWildcardDomain(host);
      }
      return "host must be of form namespace/dnsName";
    }
    std::string_view ns = host.substr(0, slash);
    std::string_view name = host.substr(slash + 1);
    if (ns.empty() || name.empty()) {
      return "config namespace and dnsName in host entry cannot be empty";
    }
    if (ns != "*" && ns != "." && !(ns == "~" && !gateway) && !IsDns1123Label(ns)) {
      return fmt::format("invalid namespace value \"{}\" in {}", ns, gateway ? "gateway" : "sidecar");
    }
    return CheckWildcardDomain(name);
  }

  void ServerTls(const Node& tls) {
    if (!tls.Defined()) {
      return;
    }
    std::string mode = S(tls["mode"]);
    if (mode.empty()) {
      mode = "PASSTHROUGH";  // the enum's zero value
    }
    std::string min_version = S(tls["minProtocolVersion"]);
    if ((min_version == "TLSV1_0" || min_version == "TLSV1_1") && !Has(tls["cipherSuites"])) {
      Warn(tls, "TLS version below TLSV1_2 require setting compatible ciphers as by default they no longer include "
                "compatible ciphers.");
    }
    std::set<std::string> seen_ciphers, duplicates;
    for (const Node& c : Items(tls["cipherSuites"])) {
      if (!seen_ciphers.insert(S(c)).second) {
        duplicates.insert(S(c));
      }
    }
    if (!duplicates.empty()) {
      Warn(tls["cipherSuites"], fmt::format("ignoring duplicate cipher suites: {}",
                                            common::GoList(std::vector<std::string>(duplicates.begin(), duplicates.end()))));
    }
    bool has_cert = Has(tls["serverCertificate"]);
    bool has_key = Has(tls["privateKey"]);
    bool has_ca = Has(tls["caCertificates"]);
    bool has_cred = Has(tls["credentialName"]);
    bool has_creds = Has(tls["credentialNames"]);
    bool has_tls_certs = Has(tls["tlsCertificates"]);
    if (mode == "ISTIO_MUTUAL") {
      if (has_cert) {
        Error(tls, "ISTIO_MUTUAL TLS cannot have associated server certificate");
      }
      if (has_key) {
        Error(tls, "ISTIO_MUTUAL TLS cannot have associated private key");
      }
      if (has_ca) {
        Error(tls, "ISTIO_MUTUAL TLS cannot have associated CA bundle");
      }
      if (has_tls_certs) {
        Error(tls, "ISTIO_MUTUAL TLS cannot have associated tlsCertificates");
      }
      if (has_cred) {
        Error(tls, "ISTIO_MUTUAL TLS cannot have associated credentialName");
      }
      if (has_creds) {
        Error(tls, "ISTIO_MUTUAL TLS cannot have associated credentialNames");
      }
      return;
    }
    if ((mode == "PASSTHROUGH" || mode == "AUTO_PASSTHROUGH") &&
        (Has(tls["caCrl"]) || has_cert || has_key || has_ca || has_tls_certs || has_cred || has_creds)) {
      Warn(tls, fmt::format("{} mode does not use certificates, they will be ignored", mode));
    }
    int sources = (has_cert && has_key ? 1 : 0) + (has_cred ? 1 : 0) + (has_creds ? 1 : 0) + (has_tls_certs ? 1 : 0);
    if (sources > 1) {
      Error(tls, "only one of credential_name, credential_names, server_certificate/private_key, tls_certificates "
                 "should be specified");
    }
    bool terminating = mode == "SIMPLE" || mode == "MUTUAL" || mode == "OPTIONAL_MUTUAL";
    if (terminating && (has_cred || has_creds)) {
      return;  // credentials come from a secret
    }
    if (terminating) {
      std::string what = mode == "SIMPLE" ? "SIMPLE TLS" : "MUTUAL TLS";
      if (mode != "SIMPLE" && !has_ca) {
        Error(tls, fmt::format("{} requires a client CA bundle", what));
      }
      if (Items(tls["tlsCertificates"]).size() > 2) {
        Warn(tls, fmt::format("{} can support up to 2 server certificates", what));
      }
      std::vector<std::pair<bool, bool>> certs;
      if (has_tls_certs) {
        for (const Node& c : Items(tls["tlsCertificates"])) {
          certs.emplace_back(Has(c["serverCertificate"]), Has(c["privateKey"]));
        }
      } else {
        certs.emplace_back(has_cert, has_key);
      }
      for (const auto& [cert, key] : certs) {
        if (!cert) {
          Error(tls, fmt::format("{} requires a server certificate", what));
        }
        if (!key) {
          Error(tls, fmt::format("{} requires a private key", what));
        }
      }
    }
    if (Has(tls["caCrl"])) {
      if (has_cred) {
        Error(tls["caCrl"], "CRL is not supported with credentialName. CRL has to be specified in the credential");
      }
      if (mode == "SIMPLE") {
        Error(tls["caCrl"], "CRL is not supported with SIMPLE TLS");
      }
    }
  }

  // ---------------------------------------------------------------- VirtualService
  void VirtualService(const Resource& r) {
    const Node& spec = r.spec();
    const Node& hosts = spec["hosts"];
    const Node& gateways = spec["gateways"];
    bool delegate = !Has(hosts);
    if (delegate) {
      if (Has(gateways)) {
        Error(gateways, "delegate virtual service must have no gateways specified");
      }
      if (Has(spec["tls"])) {
        Error(spec["tls"], "delegate virtual service must have no tls route specified");
      }
      if (Has(spec["tcp"])) {
        Error(spec["tcp"], "delegate virtual service must have no tcp route specified");
      }
    }
    bool applies_to_mesh = true;
    bool applies_to_gateway = false;
    if (Has(gateways)) {
      GatewayNames(gateways);
      applies_to_gateway = true;
      for (const Node& g : Items(gateways)) {
        if (S(g) == "mesh") {
          applies_to_gateway = false;
        }
      }
      applies_to_mesh = !applies_to_gateway;
    }
    if (!applies_to_gateway) {
      for (const Node& http : Items(spec["http"])) {
        for (const Node& m : Items(http["match"])) {
          for (const char* key : {"headers", "withoutHeaders"}) {
            for (const auto& [name, value] : Entries(m[key])) {
              if (IsJwtClaimRoute(name)) {
                Error(value, fmt::format("JWT claim based routing (key: {}) is only supported for gateway, found no "
                                         "gateways: {}",
                                         name, common::GoList(gateways.StringList())));
              }
            }
          }
        }
      }
    }
    bool all_hosts_valid = true;
    for (const Node& h : Items(hosts)) {
      std::string host = S(h);
      std::string e = CheckWildcardDomain(host);
      if (!e.empty()) {
        if (!IsIpAddress(host)) {
          Error(h, e);
          all_hosts_valid = false;
        }
      } else if (applies_to_mesh && host == "*") {
        Error(h, "wildcard host * is not allowed for virtual services bound to the mesh gateway");
        all_hosts_valid = false;
      }
    }
    if (all_hosts_valid) {
      const auto& items = Items(hosts);
      for (size_t i = 0; i < items.size(); ++i) {
        for (size_t j = i + 1; j < items.size(); ++j) {
          if (HostMatches(S(items[i]), S(items[j]))) {
            Error(items[j], fmt::format("duplicate hosts in virtual service: {} & {}", S(items[i]), S(items[j])));
          }
        }
      }
    }
    if (!Has(spec["http"]) && !Has(spec["tcp"]) && !Has(spec["tls"])) {
      Error(spec, "http, tcp or tls must be provided in virtual service");
    }
    for (const Node& http : Items(spec["http"])) {
      if (!http.IsMap()) {
        Error(http, "http route may not be null");
        continue;
      }
      HttpRoute(http, delegate);
    }
    for (const Node& tls : Items(spec["tls"])) {
      TlsRoute(tls, hosts);
    }
    for (const Node& tcp : Items(spec["tcp"])) {
      TcpRoute(tcp);
    }
    ExportTo(spec["exportTo"], r.ns(), false, false);
    UnreachableRules(spec["http"], /*http=*/true);
    UnreachableRules(spec["tcp"], false);
    UnreachableRules(spec["tls"], false);
  }

  static bool IsJwtClaimRoute(std::string_view name) { return HasPrefix(name, "@request.auth.claims"); }

  void GatewayNames(const Node& gateways) {
    for (const Node& g : Items(gateways)) {
      std::string name = S(g);
      size_t slash = name.find('/');
      if (slash == std::string::npos) {
        if (name.find('.') != std::string::npos) {
          std::vector<std::string> parts = common::Split(name, '.');
          Warn(g, fmt::format("using legacy gatewayName format \"{}\"; prefer the <namespace>/<name> format: \"{}/{}\"",
                              name, parts.size() > 1 ? parts[1] : "", parts[0]));
        }
        ErrorIf(g, CheckFqdn(name));
        continue;
      }
      std::string ns = name.substr(0, slash);
      std::string gw = name.substr(slash + 1);
      if (ns.empty() || gw.empty()) {
        Error(g, "config namespace and gateway name cannot be empty");
      }
      if (!IsDns1123Label(ns)) {
        Error(g, fmt::format("invalid value for namespace: \"{}\"", ns));
      }
      if (!IsDns1123Label(gw)) {
        Error(g, fmt::format("invalid value for gateway name: \"{}\"", gw));
      }
    }
  }

  void HttpRoute(const Node& http, bool delegate) {
    bool root = !delegate && http["delegate"].Defined();
    std::string name = S(http["name"]);
    bool has_route = Has(http["route"]);
    bool has_redirect = http["redirect"].Defined();
    bool has_direct = http["directResponse"].Defined();
    if (root) {
      if (has_redirect) {
        Error(http["redirect"], fmt::format("root HTTP route {} must not specify redirect", name));
      }
      if (has_route) {
        Error(http["route"], fmt::format("root HTTP route {} must not specify route", name));
      }
    } else {
      if (delegate && http["delegate"].Defined()) {
        Error(http["delegate"], "delegate HTTP route cannot contain delegate");
      }
      if (has_redirect) {
        if (has_route) {
          Error(http["redirect"], "HTTP route cannot contain both route and redirect");
        }
        if (http["fault"].Defined()) {
          Error(http["fault"], "HTTP route cannot contain both fault and redirect");
        }
        if (http["rewrite"].Defined()) {
          Error(http["rewrite"], "HTTP route rule cannot contain both rewrite and redirect");
        }
        if (has_direct) {
          Error(http["directResponse"], "HTTP route cannot contain both redirect and direct response");
        }
      } else if (has_direct) {
        if (has_route) {
          Error(http["directResponse"], "HTTP route cannot contain both route and direct response");
        }
      } else if (!has_route) {
        Error(http, "HTTP route or redirect is required");
      }
    }
    MatchRequests(http, !root && !delegate);
    HeaderOperations(http["headers"]);
    Cors(http["corsPolicy"]);
    Fault(http["fault"]);
    if (http["mirrorPercent"].Defined()) {
      int64_t v = I(http["mirrorPercent"]);
      if (v > 100) {
        Error(http["mirrorPercent"], fmt::format("mirror_percent must have a max value of 100 (it has {})", v));
      }
      Warn(http["mirrorPercent"], "using deprecated setting \"mirrorPercent\", use \"mirrorPercentage\" instead");
    }
    if (http["mirrorPercentage"].Defined()) {
      double v = D(http["mirrorPercentage"]["value"]);
      if (v > 100) {
        Error(http["mirrorPercentage"], fmt::format("mirror_percentage must have a max value of 100 (it has {:f})", v));
      }
      if (v < 0) {
        Error(http["mirrorPercentage"], fmt::format("mirror_percentage must have a min value of 0 (it has {:f})", v));
      }
    }
    Destination(http["mirror"]);
    for (const Node& m : Items(http["mirrors"])) {
      if (!m["destination"].Defined()) {
        Error(m, "destination is required for mirrors");
        continue;
      }
      Destination(m["destination"]);
      double v = D(m["percentage"]["value"]);
      if (v > 100) {
        Error(m["percentage"], fmt::format("mirror percentage must have a max value of 100 (it has {:f})", v));
      }
      if (v < 0) {
        Error(m["percentage"], fmt::format("mirror percentage must have a min value of 0 (it has {:f})", v));
      }
    }
    Redirect(http["redirect"]);
    DirectResponse(http["directResponse"]);
    Retries(http["retries"]);
    Rewrite(http["rewrite"], http["headers"]);
    RouteDestinations(http["route"], /*http=*/true);
    Duration(http["timeout"]);
  }

  void MatchRequests(const Node& http, bool independent) {
    for (const Node& m : Items(http["match"])) {
      if (!m.IsMap()) {
        continue;
      }
      if (independent) {
        for (const auto& [name, value] : Entries(m["headers"])) {
          if (!value.Defined()) {
            Error(value, fmt::format("header match {} cannot be null", name));
          }
          ErrorIf(value, CheckHeaderNameOrJwtClaim(name));
          StringMatch(value, "headers");
        }
        StringMatch(m["uri"], "uri");
        StringMatch(m["scheme"], "scheme");
        StringMatch(m["method"], "method");
        StringMatch(m["authority"], "authority");
        for (const auto& [name, value] : Entries(m["queryParams"])) {
          StringMatch(value, "queryParams");
        }
        for (const auto& [name, value] : Entries(m["withoutHeaders"])) {
          ErrorIf(value, CheckHeaderNameOrJwtClaim(name));
          StringMatch(value, "withoutHeaders");
        }
      } else {
        for (const char* key : {"uri", "scheme", "method", "authority"}) {
          if (m[key]["regex"].Defined()) {
            Error(m[key], fmt::format("{} match does not support regex match for delegating",
                                      std::string_view(key) == "uri" ? "url" : key));
          }
        }
        for (const char* key : {"headers", "queryParams", "withoutHeaders"}) {
          std::string_view what = std::string_view(key) == "headers"       ? "header match"
                                  : std::string_view(key) == "queryParams" ? "query param match"
                                                                           : "withoutHeaders match";
          for (const auto& [name, value] : Entries(m[key])) {
            if (!value.Defined()) {
              Error(value, fmt::format("{} {} cannot be null", what, name));
            }
            if (value["regex"].Defined()) {
              Error(value, fmt::format("{} {} does not support regex match for delegating", what, name));
            }
          }
        }
      }
      if (I(m["port"]) != 0) {
        ErrorIf(m["port"], CheckPort(I(m["port"])));
      }
      Labels(m["sourceLabels"]);
      GatewayNames(m["gateways"]);
      std::string source_ns = S(m["sourceNamespace"]);
      if (!source_ns.empty() && !IsDns1123Label(source_ns)) {
        Error(m["sourceNamespace"], fmt::format("sourceNamespace match {} is invalid", source_ns));
      }
    }
  }

  static std::string CheckHeaderNameOrJwtClaim(std::string_view name) {
    if (name.empty()) {
      return "header name cannot be empty";
    }
    if (IsJwtClaimRoute(name)) {
      return "";
    }
    if (name == ":method" || name == ":scheme" || name == ":authority" || name == ":path" || name == ":status") {
      return "";
    }
    static const std::string_view kTchars = "!#$%&'*+-.^_`|~";
    for (char c : name) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && kTchars.find(c) == std::string_view::npos) {
        return fmt::format("header name {} is not a valid header name", name);
      }
    }
    return "";
  }

  static bool IsInternalHeader(std::string_view h) { return HasPrefix(h, ":") || IEquals(h, "host"); }
  static bool IsAuthorityHeader(std::string_view h) { return IEquals(h, ":authority") || IEquals(h, "host"); }

  void HeaderValue(const Node& at, const std::string& value) {
    for (char c : value) {
      unsigned char u = static_cast<unsigned char>(c);
      if ((u <= 0x08) || (u >= 0x0A && u <= 0x1F) || u == 0x7F) {
        Error(at, fmt::format("header value configuration {} is invalid", value));
        return;
      }
    }
    // Envoy's %VARIABLE% syntax: '%' must open and close a variable or be doubled.
    size_t i = 0;
    while (i < value.size()) {
      if (value[i] != '%') {
        ++i;
        continue;
      }
      if (i + 1 < value.size() && value[i + 1] == '%') {
        i += 2;
        continue;
      }
      size_t close = value.find('%', i + 1);
      if (close == std::string::npos) {
        Error(at, fmt::format("header value configuration: invalid header value \"{}\": unterminated variable",
                              value));
        return;
      }
      i = close + 1;
    }
  }

  void HeaderOperations(const Node& headers) {
    if (!headers.Defined()) {
      return;
    }
    for (const char* dir : {"request", "response"}) {
      bool request = std::string_view(dir) == "request";
      const Node& ops = headers[dir];
      for (const char* op : {"add", "set"}) {
        for (const auto& [name, value] : Entries(ops[op])) {
          if (name.empty()) {
            Error(value, "header name cannot be empty");
          } else if (request) {
            if (IsInternalHeader(name) && !IsAuthorityHeader(name)) {
              Error(value, fmt::format("invalid header \"{}\": header cannot have \":\" prefix", name));
            }
          } else {
            ErrorIf(value, CheckHeaderOperationName(name));
          }
          HeaderValue(value, S(value));
        }
      }
      for (const Node& name : Items(ops["remove"])) {
        ErrorIf(name, CheckHeaderOperationName(S(name)));
      }
    }
  }

  static std::string CheckHeaderOperationName(std::string_view name) {
    if (name.empty()) {
      return "header name cannot be empty";
    }
    if (IEquals(name, "host")) {
      return fmt::format("invalid header \"{}\": cannot set Host header", name);
    }
    if (IsInternalHeader(name)) {
      return fmt::format("invalid header \"{}\": header cannot have \":\" prefix", name);
    }
    return "";
  }

  void Cors(const Node& cors) {
    if (!cors.Defined()) {
      return;
    }
    for (const Node& origin : Items(cors["allowOrigins"])) {
      std::string match;
      for (const char* k : {"exact", "prefix", "regex"}) {
        if (origin[k].Defined()) {
          match = S(origin[k]);
        }
      }
      if (match.empty()) {
        Error(origin, fmt::format("'{}' is not a valid match type for CORS allow origins", match));
      } else if (origin["regex"].Defined()) {
        Regex(origin, match, "corsPolicy.allowOrigins");
      }
    }
    static const std::set<std::string> kMethods = {"GET",     "HEAD",    "POST",  "PUT", "PATCH",
                                                   "DELETE",  "CONNECT", "OPTIONS", "TRACE", "*"};
    for (const Node& m : Items(cors["allowMethods"])) {
      if (kMethods.count(S(m)) == 0) {
        Error(m, fmt::format("\"{}\" is not a supported HTTP method", S(m)));
      }
    }
    for (const char* key : {"allowHeaders", "exposeHeaders"}) {
      for (const Node& h : Items(cors[key])) {
        std::string name = S(h);
        if (name.empty()) {
          Error(h, "header name cannot be empty");
        } else if (name != "*" && !CheckHeaderNameOrJwtClaim(name).empty()) {
          Error(h, fmt::format("header name {} is not a valid header name", name));
        }
      }
    }
    if (cors["maxAge"].Defined()) {
      Duration(cors["maxAge"]);
      int64_t nanos = 0;
      if (ParseGoDuration(S(cors["maxAge"]), nanos) && nanos % 1000000000 != 0) {
        Error(cors["maxAge"], "max_age duration is accurate only to seconds precision");
      }
    }
  }

  void Fault(const Node& fault) {
    if (!fault.Defined()) {
      return;
    }
    const Node& abort = fault["abort"];
    const Node& delay = fault["delay"];
    if (!abort.Defined() && !delay.Defined()) {
      Error(fault, "HTTP fault injection must have an abort and/or a delay");
    }
    if (abort.Defined()) {
      Percentage(abort["percentage"]);
      if (abort["grpcStatus"].Defined()) {
        static const std::set<std::string> kGrpc = {
            "OK",           "CANCELLED",          "UNKNOWN",          "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
            "NOT_FOUND",    "ALREADY_EXISTS",     "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
            "ABORTED",      "OUT_OF_RANGE",       "UNIMPLEMENTED",    "INTERNAL",         "UNAVAILABLE",
            "DATA_LOSS",    "UNAUTHENTICATED"};
        if (kGrpc.count(S(abort["grpcStatus"])) == 0) {
          Error(abort["grpcStatus"],
                fmt::format("gRPC status \"{}\" is not supported. See "
                            "https://github.com/grpc/grpc/blob/master/doc/statuscodes.md for a list of supported "
                            "codes, for example 'NOT_FOUND'",
                            S(abort["grpcStatus"])));
        }
      } else if (abort["http2Error"].Defined()) {
        Error(abort["http2Error"], "HTTP/2 abort fault injection not supported yet");
      } else if (abort["httpStatus"].Defined()) {
        int64_t status = I(abort["httpStatus"]);
        if (status < 200 || status > 600) {
          Error(abort["httpStatus"], fmt::format("HTTP status {} is not in range 200-599", status));
        }
      } else {
        Warn(abort, "abort configured, but error type not set");
      }
    }
    if (delay.Defined()) {
      Percentage(delay["percentage"]);
      if (delay["fixedDelay"].Defined()) {
        Duration(delay["fixedDelay"]);
      } else if (delay["exponentialDelay"].Defined()) {
        Duration(delay["exponentialDelay"]);
        Error(delay["exponentialDelay"], "exponentialDelay not supported yet");
      }
    }
  }

  void Destination(const Node& d) {
    if (!d.Defined()) {
      return;
    }
    std::string host = S(d["host"]);
    if (host == "*") {
      Error(d["host"], fmt::format("invalid destination host {}", host));
    } else {
      ErrorIf(d["host"].Defined() ? d["host"] : d, CheckWildcardDomain(host));
    }
    if (d["subset"].Defined()) {
      ErrorIf(d["subset"], CheckSubsetName(S(d["subset"])));
    }
    if (d["port"].Defined()) {
      ErrorIf(d["port"], CheckPort(I(d["port"]["number"])));
    }
  }

  static std::string CheckSubsetName(std::string_view name) {
    if (name.empty()) {
      return "subset name cannot be empty";
    }
    if (!IsDns1123Label(name)) {
      return fmt::format("subset name is invalid: {}", name);
    }
    return "";
  }

  void Retries(const Node& retries) {
    if (!retries.Defined()) {
      return;
    }
    int64_t attempts = I(retries["attempts"]);
    if (attempts < 0) {
      Error(retries["attempts"], "attempts cannot be negative");
    }
    if (attempts == 0 && (retries["perTryTimeout"].Defined() || Has(retries["retryOn"]) ||
                          retries["retryRemoteLocalities"].Defined())) {
      Error(retries, "http retry policy configured when attempts are set to 0 (disabled)");
    }
    Duration(retries["perTryTimeout"]);
    static const std::set<std::string> kRetryOn = {
        "5xx",          "gateway-error",          "reset",       "reset-before-request", "connect-failure",
        "retriable-4xx", "refused-stream",        "retriable-status-codes", "retriable-headers",
        "envoy-ratelimited", "http3-post-connect-failure", "cancelled", "deadline-exceeded", "internal",
        "resource-exhausted", "unavailable"};
    std::string retry_on = S(retries["retryOn"]);
    if (!retry_on.empty()) {
      for (const std::string& policy : common::Split(retry_on, ',')) {
        bool status = AllDigits(policy) && policy.size() == 3 && policy[0] >= '1' && policy[0] <= '5';
        if (!status && kRetryOn.count(policy) == 0) {
          Error(retries["retryOn"], fmt::format("\"{}\" is not a valid retryOn policy", policy));
        }
      }
    }
    Duration(retries["backoff"]);
  }

  void Redirect(const Node& redirect) {
    if (!redirect.Defined()) {
      return;
    }
    if (!Has(redirect["uri"]) && !Has(redirect["authority"]) && !redirect["port"].Defined() &&
        !redirect["derivePort"].Defined() && !Has(redirect["scheme"])) {
      Error(redirect, "redirect must specify URI, authority, scheme, or port");
      return;
    }
    int64_t code = I(redirect["redirectCode"]);
    if (code != 0 && (code < 300 || code > 399)) {
      Error(redirect["redirectCode"], fmt::format("{} is not a valid redirect code, must be 3xx", code));
      return;
    }
    std::string scheme = S(redirect["scheme"]);
    if (!scheme.empty() && scheme != "http" && scheme != "https") {
      Error(redirect["scheme"], "invalid redirect scheme, must be \"http\" or \"https\"");
      return;
    }
    if (I(redirect["port"]) > 0) {
      ErrorIf(redirect["port"], CheckPort(I(redirect["port"])));
    }
  }

  void DirectResponse(const Node& dr) {
    if (!dr.Defined()) {
      return;
    }
    const Node& body = dr["body"];
    size_t size = std::max(S(body["string"]).size(), S(body["bytes"]).size());
    if (size > 1024 * 1024) {
      Error(body, "large direct_responses may impact control plane performance, must be less than 1MB");
    } else if (size > 100 * 1024) {
      Warn(body, "large direct_responses may impact control plane performance");
    }
    int64_t status = I(dr["status"]);
    if (status < 200 || status > 600) {
      Error(dr["status"].Defined() ? dr["status"] : dr, fmt::format("HTTP status {} is not in range 200-599", status));
    }
  }

  void Rewrite(const Node& rewrite, const Node& headers) {
    if (rewrite.Defined()) {
      const Node& regex = rewrite["uriRegexRewrite"];
      if (Has(rewrite["uri"]) && regex.Defined()) {
        Error(rewrite, "rewrite may only contain one of URI or UriRegexRewrite");
      } else if (!Has(rewrite["uri"]) && !regex.Defined() && !Has(rewrite["authority"])) {
        Error(rewrite, "rewrite must specify at least one of URI, UriRegexRewrite, or authority. Only one of URI or "
                       "UriRegexRewrite may be specified");
      } else if (regex.Defined()) {
        if (!Has(regex["match"]) || !Has(regex["rewrite"])) {
          Error(regex, "UriRegexRewrite has errors\nUriRegexRewrite requires both Rewrite and Match fields to be "
                       "specified");
        } else {
          Regex(regex["match"], S(regex["match"]), "HTTPRewrite.UriRegexRewrite.Match");
        }
      }
    }
    // The authority may be rewritten in one place only.
    std::string current = S(rewrite["authority"]);
    for (const char* op : {"set", "add"}) {
      for (const auto& [name, value] : Entries(headers["request"][op])) {
        if (!IsAuthorityHeader(name)) {
          continue;
        }
        if (!current.empty()) {
          Error(value, fmt::format("authority header cannot be set multiple times: have \"{}\", attempting to set "
                                   "\"{}\"",
                                   current, S(value)));
          return;
        }
        current = S(value);
      }
    }
  }

  void RouteDestinations(const Node& routes, bool http) {
    int64_t total = 0;
    for (const Node& rd : Items(routes)) {
      if (!rd.IsMap()) {
        Error(rd, "weight may not be nil");
        continue;
      }
      if (!rd["destination"].Defined()) {
        Error(rd, "destination is required");
      }
      if (http) {
        HeaderOperations(rd["headers"]);
      }
      Destination(rd["destination"]);
      int64_t weight = I(rd["weight"]);
      if (weight < 0) {
        Error(rd["weight"], fmt::format("weight {} < 0", weight));
      }
      total += weight;
    }
    if (Items(routes).size() > 1 && total == 0) {
      Error(routes, "total destination weight = 0");
    }
  }

  void TlsRoute(const Node& tls, const Node& vs_hosts) {
    if (!tls.IsMap()) {
      return;
    }
    if (!Has(tls["match"])) {
      Error(tls, "TLS route must have at least one match condition");
    }
    for (const Node& m : Items(tls["match"])) {
      if (!m.IsMap()) {
        Error(m, "TLS match may not be null");
        continue;
      }
      if (!Has(m["sniHosts"])) {
        Error(m, "TLS match must have at least one SNI host");
      }
      for (const Node& sni : Items(m["sniHosts"])) {
        SniHost(sni, vs_hosts);
      }
      L4MatchAttributes(m);
    }
    if (!Has(tls["route"])) {
      Error(tls, "TLS route is required");
    }
    RouteDestinations(tls["route"], false);
  }

  void SniHost(const Node& sni, const Node& vs_hosts) {
    std::string host = S(sni);
    std::string e = CheckWildcardDomain(host);
    if (!e.empty()) {
      if (IsIpAddress(host)) {
        Warn(sni, fmt::format("using an IP address (\"{}\") goes against SNI spec and most clients do not support this",
                              host));
        return;
      }
      Error(sni, e);
      return;
    }
    for (const Node& h : Items(vs_hosts)) {
      if (HostSubsetOf(host, S(h))) {
        return;
      }
    }
    Error(sni, fmt::format("SNI host \"{}\" is not a compatible subset of any of the virtual service hosts: [{}]", host,
                           common::Join(vs_hosts.StringList(), ", ")));
  }

  // The fields TLS and TCP matches share.
  void L4MatchAttributes(const Node& m) {
    for (const Node& subnet : Items(m["destinationSubnets"])) {
      ErrorIf(subnet, CheckIpSubnet(S(subnet)));
    }
    if (I(m["port"]) != 0) {
      ErrorIf(m["port"], CheckPort(I(m["port"])));
    }
    Labels(m["sourceLabels"]);
    GatewayNames(m["gateways"]);
  }

  void TcpRoute(const Node& tcp) {
    if (!tcp.IsMap()) {
      return;
    }
    for (const Node& m : Items(tcp["match"])) {
      if (!m.IsMap()) {
        Error(m, "tcp match may not be nil");
        continue;
      }
      L4MatchAttributes(m);
    }
    if (!Has(tcp["route"])) {
      Error(tcp, "TCP route is required");
    }
    RouteDestinations(tcp["route"], false);
  }

  // A canonical text of a match (map keys sorted, HTTP match names dropped) so equal
  // matches compare equal whatever their key order.
  static std::string Canonical(const Node& n, bool drop_name) {
    switch (n.type()) {
      case Node::Type::kNull: return "null";
      case Node::Type::kScalar: return common::GoQuote(n.Str());
      case Node::Type::kSequence: {
        std::string out = "[";
        for (const Node& item : n.items()) {
          out += Canonical(item, false) + ",";
        }
        return out + "]";
      }
      case Node::Type::kMap: {
        std::map<std::string, std::string> sorted;
        for (const auto& [k, v] : n.entries()) {
          if ((drop_name && k == "name") || !v.Defined()) {
            continue;
          }
          // Zero values are left out, as in the JSON Istio compares.
          if ((v.IsScalar() && (v.Str().empty() || v.Str() == "false" || v.Str() == "0")) ||
              (v.IsSequence() && v.size() == 0)) {
            continue;
          }
          sorted[k] = Canonical(v, false);
        }
        std::string out = "{";
        for (const auto& [k, v] : sorted) {
          out += common::GoQuote(k) + ":" + v + ",";
        }
        return out + "}";
      }
    }
    return "";
  }

  struct PrefixMatch {
    std::string route;
    std::string match;
    std::string prefix;
    int64_t port = 0;
    std::string method;
    std::string authority;
    std::map<std::string, std::string> headers, query_params, without_headers;
    const Node* node = nullptr;
  };

  static std::string ExactOrPrefix(const Node& sm) {
    if (Has(sm["exact"])) {
      return "exact:" + S(sm["exact"]);
    }
    if (Has(sm["prefix"])) {
      return "prefix:" + S(sm["prefix"]);
    }
    return "";
  }

  // Whether `a` (earlier) covers `b` (later): b's prefix extends a's and every other
  // condition of a is at least as broad.
  static bool Covers(const PrefixMatch& a, const PrefixMatch& b) {
    if (!HasPrefix(b.prefix, a.prefix) || a.port != b.port) {
      return false;
    }
    if (a.method != b.method && !HasPrefix(a.method, b.method)) {
      return false;
    }
    if (a.authority != b.authority && !HasPrefix(a.authority, b.authority)) {
      return false;
    }
    for (auto maps : {&PrefixMatch::headers, &PrefixMatch::query_params, &PrefixMatch::without_headers}) {
      const auto& am = a.*maps;
      const auto& bm = b.*maps;
      if (am.size() != bm.size()) {
        return false;
      }
      for (const auto& [k, v] : am) {
        auto it = bm.find(k);
        if (it == bm.end() || (v != it->second && !HasPrefix(v, it->second))) {
          return false;
        }
      }
    }
    return true;
  }

  void UnreachableRules(const Node& routes, bool http) {
    auto route_name = [&](const Node& route, size_t i) {
      if (http && Has(route["name"])) {
        return common::GoQuote(S(route["name"]));
      }
      return fmt::format("#{}", i);
    };
    auto match_name = [&](const Node& match, size_t i) {
      if (http && Has(match["name"])) {
        return common::GoQuote(S(match["name"]));
      }
      return fmt::format("#{}", i);
    };
    auto unreachable = [&](const Node& at, const std::string& rule, const std::string& reason) {
      Finding(RuleFinding::kUnreachableRule, at, fmt::format("virtualService rule {} not used ({})", rule, reason),
              {rule, reason});
    };
    auto ineffective = [&](const Node& at, const std::string& rule, const std::string& match, const std::string& dup) {
      Finding(RuleFinding::kIneffectiveMatch, at,
              fmt::format("virtualService rule {} match {} is not used (duplicate/overlapping match in rule {})", rule,
                          match, dup),
              {rule, match, dup});
    };

    std::unordered_map<std::string, size_t> seen;  // canonical match -> rule index
    int64_t empty_match_rule = -1;
    std::vector<PrefixMatch> prefix_matches;
    const auto& items = Items(routes);
    for (size_t rule = 0; rule < items.size(); ++rule) {
      const Node& route = items[rule];
      if (!route.IsMap()) {
        continue;
      }
      const auto& matches = Items(route["match"]);
      if (matches.empty()) {
        if (empty_match_rule >= 0) {
          unreachable(route, route_name(route, rule), "only the last rule can have no matches");
        }
        empty_match_rule = static_cast<int64_t>(rule);
        continue;
      }
      size_t duplicates = 0;
      for (size_t mi = 0; mi < matches.size(); ++mi) {
        const Node& match = matches[mi];
        if (empty_match_rule >= 0) {
          unreachable(match, route_name(route, rule), "route without matches defined before");
          continue;
        }
        std::string key = Canonical(match, http);
        auto it = seen.find(key);
        if (it != seen.end()) {
          ineffective(match, route_name(route, rule), match_name(match, mi), route_name(items[it->second], it->second));
          ++duplicates;
          continue;
        }
        seen.emplace(key, rule);
        if (http && Has(match["uri"]["prefix"])) {
          PrefixMatch pm;
          pm.route = route_name(route, rule);
          pm.match = match_name(match, mi);
          pm.prefix = S(match["uri"]["prefix"]);
          pm.port = I(match["port"]);
          pm.method = ExactOrPrefix(match["method"]);
          if (pm.method.empty()) {
            pm.method = "exact:GET";  // no method behaves like GET for this comparison
          }
          pm.authority = ExactOrPrefix(match["authority"]);
          for (const auto& [k, v] : Entries(match["headers"])) {
            pm.headers[k] = ExactOrPrefix(v);
          }
          for (const auto& [k, v] : Entries(match["queryParams"])) {
            pm.query_params[k] = ExactOrPrefix(v);
          }
          for (const auto& [k, v] : Entries(match["withoutHeaders"])) {
            pm.without_headers[k] = ExactOrPrefix(v);
          }
          pm.node = &match;
          prefix_matches.push_back(std::move(pm));
        }
      }
      if (duplicates == matches.size()) {
        unreachable(route, route_name(route, rule), "all matches used by prior rules");
      }
    }
    for (size_t i = 0; i < prefix_matches.size(); ++i) {
      for (size_t j = i + 1; j < prefix_matches.size(); ++j) {
        const PrefixMatch& a = prefix_matches[i];
        const PrefixMatch& b = prefix_matches[j];
        if (a.prefix == b.prefix) {
          continue;
        }
        if (Covers(a, b)) {
          ineffective(*b.node, b.route, b.match + " of prefix " + b.prefix,
                      a.match + " of prefix " + a.prefix + " on " + a.route);
        }
      }
    }
  }

  // ---------------------------------------------------------------- DestinationRule
  void DestinationRule(const Resource& r) {
    const Node& spec = r.spec();
    ErrorIf(spec["host"].Defined() ? spec["host"] : spec, CheckWildcardDomain(S(spec["host"])));
    TrafficPolicy(spec["trafficPolicy"]);
    std::set<std::string> names;
    for (const Node& subset : Items(spec["subsets"])) {
      if (!subset.IsMap()) {
        Error(subset, "subset may not be null");
        continue;
      }
      std::string name = S(subset["name"]);
      if (!names.insert(name).second) {
        Error(subset["name"], fmt::format("duplicate subset names: {}", name));
      }
      ErrorIf(subset["name"].Defined() ? subset["name"] : subset, CheckSubsetName(name));
      Labels(subset["labels"]);
      TrafficPolicy(subset["trafficPolicy"]);
    }
    const Node& selector = spec["workloadSelector"];
    ExportTo(spec["exportTo"], r.ns(), false, selector.Defined());
    WorkloadSelector(selector, "matchLabels");
    if (selector.Defined() && !Has(selector["matchLabels"])) {
      Warn(selector, "workload selector specified without labels");
    }
  }

  void TrafficPolicy(const Node& tp) {
    if (!tp.Defined()) {
      return;
    }
    if (!tp["outlierDetection"].Defined() && !tp["connectionPool"].Defined() && !tp["loadBalancer"].Defined() &&
        !tp["tls"].Defined() && !Has(tp["portLevelSettings"]) && !tp["tunnel"].Defined() &&
        !tp["proxyProtocol"].Defined() && !tp["retryBudget"].Defined()) {
      Error(tp, "traffic policy must have at least one field");
      return;
    }
    if (tp["tunnel"].Defined() && tp["proxyProtocol"].Defined()) {
      Error(tp, "tunnel and proxyProtocol must not be set together");
      return;
    }
    OutlierDetection(tp["outlierDetection"]);
    ConnectionPool(tp["connectionPool"]);
    LoadBalancer(tp["loadBalancer"], tp["outlierDetection"]);
    ClientTls(tp["tls"]);
    for (const Node& p : Items(tp["portLevelSettings"])) {
      if (!p["port"].Defined()) {
        Error(p, "portTrafficPolicy must have valid port");
      }
      if (!p["outlierDetection"].Defined() && !p["connectionPool"].Defined() && !p["loadBalancer"].Defined() &&
          !p["tls"].Defined()) {
        Error(p, "port traffic policy must have at least one field");
      } else {
        OutlierDetection(p["outlierDetection"]);
        ConnectionPool(p["connectionPool"]);
        LoadBalancer(p["loadBalancer"], p["outlierDetection"]);
        ClientTls(p["tls"]);
      }
    }
    const Node& tunnel = tp["tunnel"];
    if (tunnel.Defined()) {
      std::string protocol = S(tunnel["protocol"]);
      if (!protocol.empty() && protocol != "CONNECT" && protocol != "POST") {
        Error(tunnel["protocol"], "tunnel protocol must be \"CONNECT\" or \"POST\"");
      }
      std::string target = S(tunnel["targetHost"]);
      std::string fqdn = CheckFqdn(target);
      std::string ip = CheckIpAddress(target);
      if (!fqdn.empty() && !ip.empty()) {
        Error(tunnel, fmt::format("tunnel target host must be valid FQDN or IP address: {}; {}", fqdn, ip));
      }
      std::string port = CheckPort(I(tunnel["targetPort"]));
      if (!port.empty()) {
        Error(tunnel, "tunnel target port is invalid: " + port);
      }
    }
  }

  void OutlierDetection(const Node& od) {
    if (!od.Defined()) {
      return;
    }
    Duration(od["baseEjectionTime"]);
    if (I(od["consecutiveErrors"]) != 0) {
      Warn(od["consecutiveErrors"], "outlier detection consecutive errors is deprecated, use consecutiveGatewayErrors "
                                    "or consecutive5xxErrors instead");
    }
    if (!B(od["splitExternalLocalOriginErrors"]) && I(od["consecutiveLocalOriginFailures"]) > 0) {
      Error(od, "outlier detection consecutive local origin failures is specified, but split external local origin "
                "errors is set to false");
    }
    Duration(od["interval"]);
    for (const char* k : {"maxEjectionPercent", "minHealthPercent"}) {
      int64_t v = I(od[k]);
      if (v < 0 || v > 100) {
        Error(od[k], fmt::format("percentage {} is not in range 0..100", v));
      }
    }
  }

  void ConnectionPool(const Node& cp) {
    if (!cp.Defined()) {
      return;
    }
    const Node& http = cp["http"];
    const Node& tcp = cp["tcp"];
    if (!http.Defined() && !tcp.Defined()) {
      Error(cp, "connection pool must have at least one field");
      return;
    }
    if (http.Defined()) {
      static const std::vector<std::pair<const char*, const char*>> kNonNegative = {
          {"http1MaxPendingRequests", "http1 max pending requests must be non-negative"},
          {"http2MaxRequests", "http2 max requests must be non-negative"},
          {"maxRequestsPerConnection", "max requests per connection must be non-negative"},
          {"maxRetries", "max retries must be non-negative"},
          {"maxConcurrentStreams", "max concurrent streams must be non-negative"}};
      for (const auto& [field, message] : kNonNegative) {
        if (I(http[field]) < 0) {
          Error(http[field], message);
        }
      }
      Duration(http["idleTimeout"]);
      if (S(http["h2UpgradePolicy"]) == "UPGRADE" && B(http["useClientProtocol"])) {
        Error(http, "use client protocol must not be true when H2UpgradePolicy is UPGRADE");
      }
    }
    if (tcp.Defined()) {
      if (I(tcp["maxConnections"]) < 0) {
        Error(tcp["maxConnections"], "max connections must be non-negative");
      }
      Duration(tcp["connectTimeout"]);
      Duration(tcp["maxConnectionDuration"]);
      int64_t idle = 0;
      if (tcp["idleTimeout"].Defined() && !(ParseGoDuration(S(tcp["idleTimeout"]), idle) && idle / 1000000 == 0)) {
        Duration(tcp["idleTimeout"]);  // 0s disables the timeout
      }
      Duration(tcp["tcpKeepalive"]["time"]);
      Duration(tcp["tcpKeepalive"]["interval"]);
    }
  }

  static bool IsPrime(int64_t x) {
    if (x != 0 && x < 4) {
      return true;
    }
    if (x % 2 == 0) {
      return false;
    }
    for (int64_t f = 3; f * f <= x; f += 2) {
      if (x % f == 0) {
        return false;
      }
    }
    return true;
  }

  void LoadBalancer(const Node& lb, const Node& outlier) {
    if (!lb.Defined()) {
      return;
    }
    const Node& ch = lb["consistentHash"];
    if (ch.Defined()) {
      if (ch["httpCookie"].Defined() && S(ch["httpCookie"]["name"]).empty()) {
        Error(ch["httpCookie"], "name required for HttpCookie");
      }
      if (I(ch["minimumRingSize"]) != 0) {
        Warn(ch["minimumRingSize"], "consistent hash MinimumRingSize is deprecated, use ConsistentHashLB's RingHash "
                                    "configuration instead");
        if (ch["ringHash"].Defined() || ch["maglev"].Defined()) {
          Error(ch, "only one of MinimumRingSize or Maglev/Ringhash can be specified");
        }
      }
      const Node& maglev = ch["maglev"];
      if (maglev.Defined()) {
        int64_t size = I(maglev["tableSize"]);
        if (size == 0) {
          Error(maglev, "tableSize must be set for maglev");
        }
        if (size >= 5000011) {
          Error(maglev, "tableSize must be less than 5000011 for maglev");
        }
        if (!IsPrime(size)) {
          Error(maglev, "tableSize must be a prime number for maglev");
        }
      }
    }
    const Node& locality = lb["localityLbSetting"];
    if (locality.Defined()) {
      if (Has(locality["distribute"]) && Has(locality["failover"])) {
        Error(locality, "can not simultaneously specify 'distribute' and 'failover'");
      }
      if (Has(locality["failover"]) && Has(locality["failoverPriority"]) && !outlier.Defined()) {
        Error(locality, "outlier detection policy must be provided for failover");
      }
      for (const Node& d : Items(locality["distribute"])) {
        int64_t total = 0;
        for (const auto& [to, weight] : Entries(d["to"])) {
          total += I(weight);
        }
        if (total != 100) {
          Error(d, fmt::format("total weight {} != 100", total));
        }
      }
      for (const Node& f : Items(locality["failover"])) {
        if (S(f["from"]) == S(f["to"])) {
          Error(f, "locality lb failover settings must specify different regions");
        }
      }
    }
    const Node& warmup = lb["warmup"];
    if (warmup.Defined()) {
      if (!warmup["duration"].Defined()) {
        Error(warmup, "duration is required");
      } else {
        Duration(warmup["duration"]);
      }
      if (D(warmup["minimumPercent"]) > 100) {
        Error(warmup["minimumPercent"], "minimumPercent value should be less than or equal to 100");
      }
      if (warmup["aggression"].Defined() && D(warmup["aggression"]) < 1) {
        Error(warmup["aggression"], "aggression should be greater than or equal to 1");
      }
    }
  }

  void ClientTls(const Node& tls) {
    if (!tls.Defined()) {
      return;
    }
    std::string mode = S(tls["mode"]);
    if (B(tls["insecureSkipVerify"]) && mode == "SIMPLE") {
      if (Has(tls["caCertificates"])) {
        Error(tls, "cannot specify CaCertificates when InsecureSkipVerify is set true");
      }
      if (Has(tls["subjectAltNames"])) {
        Error(tls, "cannot specify SubjectAltNames when InsecureSkipVerify is set true");
      }
    }
    if ((mode == "SIMPLE" || mode == "MUTUAL") && Has(tls["credentialName"])) {
      if (Has(tls["clientCertificate"]) || Has(tls["caCertificates"]) || Has(tls["privateKey"]) || Has(tls["caCrl"])) {
        Error(tls, "cannot specify client certificates or CA certificate or CA CRL If credentialName is set");
      }
      return;
    }
    if (mode == "MUTUAL") {
      if (!Has(tls["clientCertificate"])) {
        Error(tls, "client certificate required for mutual tls");
      }
      if (!Has(tls["privateKey"])) {
        Error(tls, "private key required for mutual tls");
      }
    }
  }

  // ---------------------------------------------------------------- ServiceEntry
  void ServiceEntry(const Resource& r) {
    const Node& spec = r.spec();
    const Node& selector = spec["workloadSelector"];
    if (selector.Defined()) {
      size_t before = out_.issues.size();
      WorkloadSelector(selector, "labels");
      if (out_.issues.size() != before) {
        return;  // Istio stops at selector errors
      }
      if (!Has(selector["labels"])) {
        Warn(selector, "service entry: workload selector specified without labels, will be applied to all services "
                       "in namespace");
      }
      if (spec["endpoints"].Defined()) {
        Error(spec, "only one of WorkloadSelector or Endpoints is allowed in Service Entry");
      }
    }
    const Node& hosts = spec["hosts"];
    if (!Has(hosts)) {
      Error(Field(spec, "hosts"), "service entry must have at least one host");
    }
    for (const Node& h : Items(hosts)) {
      std::string host = S(h);
      if (host == "*") {
        Error(h, fmt::format("invalid host {}", host));
        continue;
      }
      ErrorIf(h, CheckWildcardDomain(host));
      if (HasPrefix(host, "*") && !HasPrefix(host, "*.") && host != "*") {
        Warn(h, fmt::format("partial wildcard \"{}\" not allowed", host));
      }
    }
    bool cidr = false;
    for (const Node& a : Items(spec["addresses"])) {
      cidr = cidr || S(a).find('/') != std::string::npos;
      ErrorIf(a, CheckIpSubnet(S(a)));
    }
    std::string resolution = S(spec["resolution"]);
    if (resolution.empty()) {
      resolution = "NONE";
    }
    if (cidr && resolution != "NONE" && resolution != "STATIC") {
      Error(spec["addresses"], "CIDR addresses are allowed only for NONE/STATIC resolution types");
    }
    std::set<std::string> port_names;
    std::set<int64_t> port_numbers;
    for (const Node& p : Items(spec["ports"])) {
      if (!p.IsMap()) {
        Error(p, "service entry port may not be null");
        continue;
      }
      std::string name = S(p["name"]);
      if (!port_names.insert(name).second) {
        Error(p, fmt::format("service entry port name \"{}\" already defined", name));
      }
      int64_t number = I(p["number"]);
      if (!port_numbers.insert(number).second) {
        Error(p, fmt::format("service entry port {} already defined", number));
      }
      if (I(p["targetPort"]) != 0) {
        ErrorIf(p["targetPort"], CheckPort(I(p["targetPort"])));
      }
      if (!IsDns1123Label(name)) {
        Error(p, fmt::format("invalid port name: {}", name));
      }
      std::string protocol = S(p["protocol"]);
      if (!protocol.empty() && ParseProtocol(protocol) == Protocol::kUnsupported) {
        Error(p["protocol"], fmt::format("unsupported protocol: {}", protocol));
      }
      ErrorIf(p["number"].Defined() ? p["number"] : p, CheckPort(number));
    }
    const auto& endpoints = Items(spec["endpoints"]);
    if (resolution == "NONE") {
      if (!endpoints.empty()) {
        Error(spec["endpoints"], "no endpoints should be provided for resolution type none");
      }
      if (selector.Defined()) {
        Warn(selector, "workloadSelector should not be set when resolution mode is NONE");
      }
    } else if (resolution == "STATIC") {
      for (const Node& e : endpoints) {
        WorkloadEntrySpec(e, &port_names, /*allow_fqdn=*/false);
      }
    } else if (resolution == "DNS" || resolution == "DNS_ROUND_ROBIN") {
      if (endpoints.empty()) {
        for (const Node& h : Items(hosts)) {
          if (!CheckFqdn(S(h)).empty()) {
            Error(h, fmt::format("hosts must be FQDN if no endpoints are provided for resolution mode {}", resolution));
          }
        }
      }
      if (resolution == "DNS_ROUND_ROBIN" && endpoints.size() > 1) {
        Error(spec["endpoints"],
              fmt::format("there must only be 0 or 1 endpoint for resolution mode {}", resolution));
      }
      for (const Node& e : endpoints) {
        std::string address = S(e["address"]);
        if (!IsIpAddress(address) && !CheckFqdn(address).empty()) {
          Error(e, fmt::format("endpoint address \"{}\" is not a valid FQDN or an IP address", address));
        }
        Labels(e["labels"]);
        for (const auto& [name, port] : Entries(e["ports"])) {
          if (port_names.count(name) == 0) {
            Error(port, fmt::format("endpoint port {} is not defined by the service entry", I(port)));
          }
          if (!IsDns1123Label(name)) {
            Error(port, fmt::format("invalid port name: {}", name));
          }
          ErrorIf(port, CheckPort(I(port)));
        }
      }
      if (Has(spec["addresses"]) && Items(hosts).size() > 1) {
        for (const Node& p : Items(spec["ports"])) {
          if (IsTcp(ParseProtocol(S(p["protocol"])))) {
            Warn(p, "service entry can not have more than one host specified simultaneously with address and tcp "
                    "port");
            break;
          }
        }
      }
    } else {
      Error(spec["resolution"], fmt::format("unsupported resolution type {}", resolution));
    }
    if (resolution != "NONE" && Items(hosts).size() > 1) {
      for (const Node& p : Items(spec["ports"])) {
        Protocol proto = ParseProtocol(S(p["protocol"]));
        if (!IsHttp(proto) && !IsTls(proto)) {
          Error(p, "multiple hosts provided with non-HTTP, non-TLS ports");
          break;
        }
      }
    }
    ExportTo(spec["exportTo"], r.ns(), true, false);
  }

  // ---------------------------------------------------------------- WorkloadEntry / Group
  void WorkloadEntrySpec(const Node& we, const std::set<std::string>* service_ports, bool allow_fqdn) {
    if (!we.IsMap()) {
      Error(we, "endpoint cannot be nil");
      return;
    }
    std::string address = S(we["address"]);
    if (address.empty()) {
      if (S(we["network"]).empty()) {
        Error(we, "address is required");
        return;
      }
      Warn(we, fmt::format("address is unset with network \"{}\"", S(we["network"])));
    }
    bool unix_endpoint = HasPrefix(address, "unix://");
    if (unix_endpoint) {
      ErrorIf(we["address"], CheckUnixAddress(address.substr(7)));
      if (Has(we["ports"])) {
        Error(we["ports"], fmt::format("unix endpoint {} must not include ports", address));
      }
    } else if (!address.empty() && !IsIpAddress(address)) {
      if (!allow_fqdn) {
        Error(we["address"], fmt::format("endpoint address \"{}\" is not a valid IP address", address));
      } else if (!CheckFqdn(address).empty()) {
        Error(we["address"], fmt::format("endpoint address \"{}\" is not a valid FQDN or an IP address", address));
      }
    }
    for (const auto& [name, port] : Entries(we["ports"])) {
      if (service_ports != nullptr && service_ports->count(name) == 0) {
        Error(port, fmt::format("endpoint port {} is not defined by the service entry", I(port)));
      }
      if (!IsDns1123Label(name)) {
        Error(port, fmt::format("invalid port name: {}", name));
      }
      ErrorIf(port, CheckPort(I(port)));
    }
    Labels(we["labels"]);
    if (unix_endpoint && service_ports != nullptr && service_ports->size() != 1) {
      Error(we, "exactly 1 service port required for unix endpoints");
    }
  }

  void WorkloadGroup(const Resource& r) {
    const Node& spec = r.spec();
    if (!spec["template"].Defined()) {
      Error(spec, "template is required");
      return;
    }
    size_t before = out_.issues.size();
    Labels(spec["metadata"]["labels"]);
    if (out_.issues.size() != before) {
      return;
    }
    const Node& probe = spec["probe"];
    if (!probe.Defined()) {
      return;
    }
    for (const char* k : {"periodSeconds", "initialDelaySeconds", "timeoutSeconds", "successThreshold",
                          "failureThreshold"}) {
      if (I(probe[k]) < 0) {
        Error(probe[k], fmt::format("{} must be non-negative", k));
      }
    }
    if (probe["httpGet"].Defined()) {
      const Node& h = probe["httpGet"];
      ErrorIf(h, CheckPort(I(h["port"])));
      std::string scheme = S(h["scheme"]);
      if (!scheme.empty() && scheme != "HTTPS" && scheme != "HTTP") {
        Error(h["scheme"], "httpGet.scheme must be one of \"HTTPS\", \"HTTP\"");
      }
      for (const Node& header : Items(h["httpHeaders"])) {
        std::string name = S(header["name"]);
        bool ok = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) || c == '-';
        });
        if (name.empty()) {
          Error(header, "header name cannot be empty");
        } else if (!ok) {
          Error(header, fmt::format("header name {} is not a valid header name", name));
        }
      }
    } else if (probe["tcpSocket"].Defined()) {
      ErrorIf(probe["tcpSocket"], CheckPort(I(probe["tcpSocket"]["port"])));
    } else if (probe["exec"].Defined()) {
      if (!Has(probe["exec"]["command"])) {
        Error(probe["exec"], "exec.command is required");
      }
    } else if (!probe["grpc"].Defined()) {
      Error(probe, "unknown health check method <nil>");
    }
  }

  // ---------------------------------------------------------------- Sidecar
  void Sidecar(const Resource& r) {
    const Node& spec = r.spec();
    const Node& selector = spec["workloadSelector"];
    if (selector.Defined()) {
      size_t before = out_.issues.size();
      WorkloadSelector(selector, "labels");
      if (out_.issues.size() != before) {
        return;
      }
      if (!Has(selector["labels"])) {
        Warn(selector, "sidecar: workload selector specified without labels, will be applied to all services in "
                       "namespace");
      }
    }
    if (!Has(spec["egress"]) && !Has(spec["ingress"]) && !spec["outboundTrafficPolicy"].Defined() &&
        !spec["inboundConnectionPool"].Defined()) {
      Error(spec, "sidecar: empty configuration provided");
      return;
    }
    std::set<int64_t> ports;
    for (const Node& in : Items(spec["ingress"])) {
      const Node& port = in["port"];
      if (!port.Defined()) {
        Error(in, "sidecar: port is required for ingress listeners");
        continue;
      }
      if (I(port["targetPort"]) > 0) {
        Error(port["targetPort"], "targetPort has no impact on Sidecars");
      }
      SidecarPort(port, /*egress=*/false, S(in["bind"]), "");
      if (!ports.insert(I(port["number"])).second) {
        Error(port, "sidecar: ports on IP bound listeners must be unique");
      }
      std::string endpoint = S(in["defaultEndpoint"]);
      if (HasPrefix(endpoint, "unix://")) {
        ErrorIf(in["defaultEndpoint"], CheckUnixAddress(endpoint.substr(7)));
      } else if (!endpoint.empty()) {
        size_t colon = endpoint.rfind(':');
        std::string host = colon == std::string::npos ? endpoint : endpoint.substr(0, colon);
        std::string port_text = colon == std::string::npos ? "" : endpoint.substr(colon + 1);
        if (HasPrefix(host, "[") && HasSuffix(host, "]")) {
          host = host.substr(1, host.size() - 2);
        }
        if (colon == std::string::npos) {
          Error(in["defaultEndpoint"], fmt::format("address {}: missing port in address", endpoint));
        }
        if (!host.empty() && host != "127.0.0.1" && host != "0.0.0.0" && host != "::1" && host != "::") {
          Error(in["defaultEndpoint"], "sidecar: defaultEndpoint must be of form 127.0.0.1:<port>,0.0.0.0:<port>,"
                                       "[::1]:port,[::]:port,unix://filepath or unset");
        }
        if (!AllDigits(port_text)) {
          Error(in["defaultEndpoint"], fmt::format("sidecar: defaultEndpoint port ({}) is not a number", port_text));
        } else {
          ErrorIf(in["defaultEndpoint"], CheckPort(std::stoll(port_text)));
        }
      }
      const Node& tls = in["tls"];
      if (tls.Defined()) {
        if (Has(tls["subjectAltNames"])) {
          Error(tls, "sidecar: subjectAltNames is not supported in ingress tls");
        }
        if (B(tls["httpsRedirect"])) {
          Error(tls, "sidecar: httpsRedirect is not supported");
        }
        if (Has(tls["credentialName"])) {
          Error(tls, "sidecar: credentialName is not currently supported");
        }
        if (Has(tls["credentialNames"])) {
          Error(tls, "sidecar: credentialNames is not currently supported");
        }
        if (Has(tls["tlsCertificates"])) {
          Error(tls, "sidecar: tls_certificates is not currently supported");
        }
        std::string mode = S(tls["mode"]);
        if (mode == "ISTIO_MUTUAL" || mode == "AUTO_PASSTHROUGH") {
          Error(tls, fmt::format("configuration is invalid: cannot set mode to {} in sidecar ingress tls", mode));
        }
        if (!IsTls(ParseProtocol(S(port["protocol"])))) {
          Error(tls, "server cannot have TLS settings for non HTTPS/TLS ports");
        }
        ServerTls(tls);
      }
      ConnectionPool(in["connectionPool"]);
      if (in["connectionPool"]["http"].Defined() && !IsHttp(ParseProtocol(S(port["protocol"])))) {
        Warn(in["connectionPool"],
             fmt::format("sidecar: HTTP connection pool settings are configured for port {} (\"{}\") but its "
                         "protocol is not HTTP ({}); only TCP settings will apply",
                         I(port["number"]), S(port["name"]), S(port["protocol"])));
      }
    }
    ConnectionPool(spec["inboundConnectionPool"]);

    ports.clear();
    std::set<std::string> uds;
    bool catch_all = false;
    const auto& egress = Items(spec["egress"]);
    for (size_t i = 0; i < egress.size(); ++i) {
      const Node& e = egress[i];
      if (!e.IsMap()) {
        Error(e, "egress listener may not be null");
        continue;
      }
      const Node& port = e["port"];
      if (!port.Defined()) {
        if (!catch_all) {
          if (i + 1 == egress.size()) {
            catch_all = true;
          } else {
            Error(e, "sidecar: the egress listener with empty port should be the last listener in the list");
          }
        } else {
          Error(e, "sidecar: egress can have only one listener with empty port");
          continue;
        }
      } else {
        if (I(port["targetPort"]) > 0) {
          Error(port["targetPort"], "targetPort has no impact on Sidecars");
        }
        std::string bind = S(e["bind"]);
        SidecarPort(port, /*egress=*/true, bind, S(e["captureMode"]));
        if (I(port["number"]) == 0) {
          if (!uds.insert(bind).second) {
            Error(e, "sidecar: unix domain socket values for listeners must be unique");
          }
        } else if (!ports.insert(I(port["number"])).second) {
          Error(port, "sidecar: ports on IP bound listeners must be unique");
        }
      }
      const Node& hosts = e["hosts"];
      if (!Has(hosts)) {
        Error(Field(e, "hosts"), "sidecar: egress listener must contain at least one host");
        continue;
      }
      std::map<std::string, std::set<std::string>> by_ns;
      for (const Node& h : Items(hosts)) {
        std::string host = S(h);
        size_t slash = host.find('/');
        if (slash != std::string::npos) {
          std::string ns = host.substr(0, slash);
          std::string svc = host.substr(slash + 1);
          if (ns == ".") {
            ns = r.ns();
          }
          auto& svcs = by_ns[ns];
          if (svc != "*") {
            if (svcs.count(svc) > 0 || svcs.count("*") > 0) {
              Warn(h, fmt::format("duplicated egress host: {}", host));
            }
          } else if (!svcs.empty()) {
            Warn(h, fmt::format("duplicated egress host: {}", host));
          }
          svcs.insert(svc);
        }
        ErrorIf(h, CheckNamespaceSlashHost(host, /*gateway=*/false));
      }
      if (by_ns.count("*") > 0 && by_ns["*"].count("*") > 0 && by_ns.size() != 1) {
        Warn(hosts, "`*/*` host select all resources, no other hosts can be added");
      }
    }
    const Node& otp = spec["outboundTrafficPolicy"];
    if (otp["egressProxy"].Defined()) {
      if (S(otp["mode"]) != "ALLOW_ANY") {
        Error(otp, "sidecar: egress_proxy must be set only with ALLOW_ANY outbound_traffic_policy mode");
      } else {
        ErrorIf(otp["egressProxy"], CheckFqdn(S(otp["egressProxy"]["host"])));
        if (!otp["egressProxy"]["port"].Defined()) {
          Error(otp["egressProxy"], "sidecar: egress_proxy port must be non-nil");
        } else {
          Destination(otp["egressProxy"]);
        }
      }
    }
  }

  void SidecarPort(const Node& port, bool egress, const std::string& bind, const std::string& capture_mode) {
    std::string name = S(port["name"]);
    if (!name.empty() && !IsDns1123Label(name)) {
      Error(port, fmt::format("invalid port name: {}", name));
    }
    std::string protocol = S(port["protocol"]);
    if (!protocol.empty() && ParseProtocol(protocol) == Protocol::kUnsupported) {
      Error(port, fmt::format("unsupported protocol: {}", protocol));
    }
    int64_t number = I(port["number"]);
    if (egress && number == 0) {
      if (!HasPrefix(bind, "unix://")) {
        Error(port, "sidecar: ports with 0 value must have a unix domain socket bind address");
      } else {
        ErrorIf(port, CheckUnixAddress(bind.substr(7)));
      }
      if (!capture_mode.empty() && capture_mode != "DEFAULT" && capture_mode != "NONE") {
        Error(port, "sidecar: captureMode must be DEFAULT/NONE for unix domain socket listeners");
      }
      return;
    }
    ErrorIf(port, CheckPort(number));
    if (!bind.empty()) {
      ErrorIf(port, CheckIpAddress(bind));
    }
  }

  // ---------------------------------------------------------------- EnvoyFilter
  void EnvoyFilter(const Resource& r) {
    const Node& spec = r.spec();
    Warn(spec, "EnvoyFilter exposes internal implementation details that may change at any time. Prefer other APIs "
               "if possible, and exercise extreme caution, especially around upgrades.");
    const Node& selector = spec["workloadSelector"];
    if (selector.Defined()) {
      size_t before = out_.issues.size();
      WorkloadSelector(selector, "labels");
      if (out_.issues.size() != before) {
        return;  // Istio stops at selector errors
      }
      if (!Has(selector["labels"])) {
        Warn(selector, "Envoy filter: workload selector specified without labels, will be applied to all services "
                       "in namespace");
      }
    }
    for (const Node& cp : Items(spec["configPatches"])) {
      if (!cp.IsMap()) {
        Error(cp, "Envoy filter: null config patch");
        continue;
      }
      std::string apply_to = S(cp["applyTo"]);
      if (apply_to.empty() || apply_to == "INVALID") {
        Error(cp, "Envoy filter: missing applyTo");
        continue;
      }
      const Node& patch = cp["patch"];
      if (!patch.Defined()) {
        Error(cp, "Envoy filter: missing patch");
        continue;
      }
      std::string op = S(patch["operation"]);
      if (op.empty() || op == "INVALID") {
        Error(patch, "Envoy filter: missing patch operation");
        continue;
      }
      if (op != "REMOVE" && !patch["value"].Defined()) {
        Error(patch, "Envoy filter: missing patch value for non-remove operation");
        continue;
      }
      const Node& match = cp["match"];
      const Node& proxy_version = match["proxy"]["proxyVersion"];
      if (Has(proxy_version)) {
        RE2::Options options;
        options.set_log_errors(false);
        RE2 re(S(proxy_version), options);
        if (!re.ok()) {
          Error(proxy_version, fmt::format("Envoy filter: invalid regex for proxy version, [error parsing regexp: {}]",
                                           re.error()));
          continue;
        }
      }
      if (match["waypoint"].Defined()) {
        continue;  // waypoint matches apply to every object class
      }
      bool has_object_match =
          match["listener"].Defined() || match["routeConfiguration"].Defined() || match["cluster"].Defined();
      if (apply_to == "LISTENER" || apply_to == "FILTER_CHAIN" || apply_to == "NETWORK_FILTER" ||
          apply_to == "HTTP_FILTER") {
        if (!has_object_match) {
          continue;
        }
        const Node& listener = match["listener"];
        if (!listener.Defined()) {
          Error(match, "Envoy filter: applyTo for listener class objects cannot have non listener match");
          continue;
        }
        const Node& filter = listener["filterChain"]["filter"];
        if (filter.Defined()) {
          if (apply_to == "LISTENER" || apply_to == "FILTER_CHAIN") {
            Warn(filter, fmt::format("Envoy filter: filter match has no effect when used with {}", apply_to));
          }
          std::string name = S(filter["name"]);
          if (name.empty()) {
            Error(filter, "Envoy filter: filter match has no name to match on");
            continue;
          }
          const Node& sub = filter["subFilter"];
          if (sub.Defined()) {
            if (apply_to != "HTTP_FILTER") {
              Error(sub, "Envoy filter: subfilter match can be used with applyTo HTTP_FILTER only");
              continue;
            }
            if (name != "envoy.filters.network.http_connection_manager" && name != "envoy.http_connection_manager") {
              Error(sub, "Envoy filter: subfilter match requires filter match with "
                         "envoy.filters.network.http_connection_manager");
              continue;
            }
            if (S(sub["name"]).empty()) {
              Error(sub, "Envoy filter: subfilter match has no name to match on");
              continue;
            }
          }
        }
      } else if (apply_to == "ROUTE_CONFIGURATION" || apply_to == "VIRTUAL_HOST" || apply_to == "HTTP_ROUTE") {
        if (has_object_match && !match["routeConfiguration"].Defined()) {
          Error(match, "Envoy filter: applyTo for http route class objects cannot have non route configuration match");
        }
      } else if (apply_to == "CLUSTER") {
        if (has_object_match && !match["cluster"].Defined()) {
          Error(match, "Envoy filter: applyTo for cluster class objects cannot have non cluster match");
        }
      }
      if (op != "REMOVE" && !patch["value"].IsMap()) {
        Error(patch["value"], "Envoy filter: patch value must be an object");
      }
    }
  }

  // ---------------------------------------------------------------- security
  void AuthorizationPolicy(const Resource& r) {
    const Node& spec = r.spec();
    prefix = fmt::format("invalid policy {}.{}: ", r.name(), r.ns());
    PolicySelection(spec);
    std::string action = S(spec["action"]);
    if (action.empty()) {
      action = "ALLOW";
    }
    const Node& rules = spec["rules"];
    bool rules_set = rules.Defined() && rules.IsSequence();
    if (action == "CUSTOM") {
      if (!rules_set) {
        Error(spec, "CUSTOM action without `rules` is meaningless as it will never be triggered, add an empty rule "
                    "`{}` if you want it be triggered for every request");
      } else if (S(spec["provider"]["name"]).empty()) {
        Error(spec, "`provider.name` must not be empty");
      }
      for (const Node& rule : Items(rules)) {
        for (const Node& from : Items(rule["from"])) {
          const Node& src = from["source"];
          for (const auto& [field, name] :
               std::vector<std::pair<const char*, const char*>>{{"namespaces", "From.Namespaces"},
                                                                {"notNamespaces", "From.NotNamespaces"},
                                                                {"serviceAccounts", "From.ServiceAccounts"},
                                                                {"notServiceAccounts", "From.NotServiceAccounts"},
                                                                {"principals", "From.Principals"},
                                                                {"notPrincipals", "From.NotPrincipals"},
                                                                {"requestPrincipals", "From.RequestPrincipals"},
                                                                {"notRequestPrincipals", "From.NotRequestPrincipals"}}) {
            if (Has(src[field])) {
              Error(src[field], fmt::format("{} is currently not supported with CUSTOM action", name));
            }
          }
        }
        for (const Node& when : Items(rule["when"])) {
          std::string key = S(when["key"]);
          if (key == "source.namespace" || key == "source.serviceAccount" || key == "source.principal" ||
              HasPrefix(key, "request.auth.")) {
            Error(when, fmt::format("{} is currently not supported with CUSTOM action", key));
          }
        }
      }
    }
    if (spec["provider"].Defined() && action != "CUSTOM") {
      Error(spec["provider"], fmt::format("`provider` must not be with non CUSTOM action, found {}", action));
    }
    if (action == "DENY" && !rules_set) {
      Error(spec, "DENY action without `rules` is meaningless as it will never be triggered, add an empty rule `{}` "
                  "if you want it be triggered for every request");
    }
    const auto& items = Items(rules);
    for (size_t i = 0; i < items.size(); ++i) {
      const Node& rule = items[i];
      if (!rule.IsMap()) {
        Error(rule, fmt::format("`rule` must not be nil, found at rule {}", i));
        continue;
      }
      if (rule["from"].IsSequence() && rule["from"].size() == 0) {
        Error(rule["from"], fmt::format("`from` must not be empty, found at rule {}", i));
      }
      bool tcp_in_from = false, tcp_in_to = false, from_exists = false, to_exists = false;
      for (const Node& from : Items(rule["from"])) {
        const Node& src = from["source"];
        if (!src.Defined()) {
          Error(from, fmt::format("`from.source` must not be nil, found at rule {}", i));
          continue;
        }
        from_exists = true;
        auto count = [&](std::initializer_list<const char*> keys) {
          size_t n = 0;
          for (const char* k : keys) {
            n += Items(src[k]).size();
          }
          return n;
        };
        if (count({"principals", "notPrincipals", "namespaces", "notNamespaces"}) > 0 &&
            count({"serviceAccounts", "notServiceAccounts"}) > 0) {
          Error(src, fmt::format("cannot set serviceAccounts with namespaces or principals, found at rule {}", i));
        }
        if (count({"principals", "requestPrincipals", "namespaces", "ipBlocks", "remoteIpBlocks", "notPrincipals",
                   "notRequestPrincipals", "notNamespaces", "notIpBlocks", "notRemoteIpBlocks", "serviceAccounts",
                   "notServiceAccounts"}) == 0) {
          Error(src, fmt::format("`from.source` must not be empty, found at rule {}", i));
        }
        for (const char* k : {"ipBlocks", "notIpBlocks", "remoteIpBlocks", "notRemoteIpBlocks"}) {
          for (const Node& ip : Items(src[k])) {
            std::string e = CheckIpSubnet(S(ip));
            if (!e.empty()) {
              Error(ip, fmt::format("invalid IP address or CIDR range: {}", S(ip)));
            }
          }
        }
        for (const auto& [k, name] : std::vector<std::pair<const char*, const char*>>{
                 {"principals", "Principals"},       {"requestPrincipals", "RequestPrincipals"},
                 {"namespaces", "Namespaces"},       {"serviceAccounts", "ServiceAccounts"},
                 {"ipBlocks", "IpBlocks"},           {"remoteIpBlocks", "RemoteIpBlocks"},
                 {"notPrincipals", "NotPrincipals"}, {"notRequestPrincipals", "NotRequestPrincipals"},
                 {"notNamespaces", "NotNamespaces"}, {"notServiceAccounts", "NotServiceAccounts"},
                 {"notIpBlocks", "NotIpBlocks"},     {"notRemoteIpBlocks", "NotRemoteIpBlocks"}}) {
          EmptyValues(src[k], name);
        }
        if (count({"notPrincipals", "principals", "ipBlocks", "notIpBlocks", "namespaces", "notNamespaces",
                   "remoteIpBlocks", "notRemoteIpBlocks", "serviceAccounts", "notServiceAccounts"}) > 0) {
          tcp_in_from = true;
        }
      }
      if (rule["to"].IsSequence() && rule["to"].size() == 0) {
        Error(rule["to"], fmt::format("`to` must not be empty, found at rule {}", i));
      }
      for (const Node& to : Items(rule["to"])) {
        const Node& op = to["operation"];
        if (!op.Defined()) {
          Error(to, fmt::format("`to.operation` must not be nil, found at rule {}", i));
          continue;
        }
        to_exists = true;
        size_t n = 0;
        for (const char* k : {"ports", "methods", "paths", "hosts", "notPorts", "notMethods", "notPaths", "notHosts"}) {
          n += Items(op[k]).size();
        }
        if (n == 0) {
          Error(op, fmt::format("`to.operation` must not be empty, found at rule {}", i));
        }
        for (const char* k : {"ports", "notPorts"}) {
          for (const Node& p : Items(op[k])) {
            std::string text = S(p);
            if (!AllDigits(text) || !CheckPort(std::stoll(text.substr(0, 9))).empty()) {
              Error(p, fmt::format("invalid port: {}", text));
            }
          }
        }
        for (const auto& [k, name] : std::vector<std::pair<const char*, const char*>>{
                 {"ports", "Ports"},         {"methods", "Methods"},       {"paths", "Paths"},
                 {"hosts", "Hosts"},         {"notPorts", "NotPorts"},     {"notMethods", "NotMethods"},
                 {"notPaths", "NotPaths"},   {"notHosts", "NotHosts"}}) {
          EmptyValues(op[k], name);
        }
        if (Has(op["ports"]) || Has(op["notPorts"])) {
          tcp_in_to = true;
        }
      }
      for (const Node& when : Items(rule["when"])) {
        std::string key = S(when["key"]);
        if (key.empty()) {
          Error(when, "`key` must not be empty");
        } else if (!Has(when["values"]) && !Has(when["notValues"])) {
          Error(when, fmt::format("at least one of `values` or `notValues` must be set for key {}", key));
        } else {
          WhenAttribute(when, key);
        }
      }
      if (((from_exists && !to_exists && !tcp_in_from) || (to_exists && !tcp_in_to)) && action == "DENY") {
        Warn(rule, "configured AuthorizationPolicy will deny all traffic to TCP ports under its scope due to the use "
                   "of only HTTP attributes in a DENY rule; it is recommended to explicitly specify the port");
      }
    }
  }

  void EmptyValues(const Node& list, std::string_view name) {
    for (const Node& v : Items(list)) {
      if (S(v).empty()) {
        Error(v, fmt::format("empty value not allowed, found in {}", name));
      }
    }
  }

  void WhenAttribute(const Node& when, const std::string& key) {
    static const std::vector<std::string> kExact = {
        "source.ip",         "remote.ip",          "source.namespace",   "source.principal", "source.serviceAccount",
        "request.auth.principal", "request.auth.audiences", "request.auth.presenter", "destination.ip",
        "destination.port",  "connection.sni",     "experimental.envoy.filters.network.mysql_proxy"};
    static const std::vector<std::string> kPrefixes = {"request.headers[", "request.auth.claims[",
                                                       "experimental.envoy.filters."};
    bool known = std::find(kExact.begin(), kExact.end(), key) != kExact.end();
    for (const std::string& p : kPrefixes) {
      known = known || (HasPrefix(key, p) && (p.back() != '[' || HasSuffix(key, "]")));
    }
    if (!known) {
      Error(when, fmt::format("invalid `value` for `key` {}: unknown attribute ({})", key, key));
      return;
    }
    for (const char* field : {"values", "notValues"}) {
      for (const Node& v : Items(when[field])) {
        std::string value = S(v);
        std::string e;
        if (key == "source.ip" || key == "remote.ip" || key == "destination.ip") {
          if (!CheckIpSubnet(value).empty()) {
            e = fmt::format("invalid IP address or CIDR range: {}", value);
          }
        } else if (key == "destination.port") {
          if (!AllDigits(value) || !CheckPort(std::stoll(value.substr(0, 9))).empty()) {
            e = fmt::format("invalid port: {}", value);
          }
        }
        if (!e.empty()) {
          Error(v, fmt::format("invalid `{}` for `key` {}: {}",
                               std::string_view(field) == "values" ? "value" : "notValue", key, e));
        }
      }
    }
  }

  void PeerAuthentication(const Resource& r) {
    const Node& spec = r.spec();
    const Node& selector = spec["selector"];
    bool empty_selector = !Has(selector["matchLabels"]);
    const Node& port_level = spec["portLevelMtls"];
    if (empty_selector && Has(port_level)) {
      Error(port_level, "mesh/namespace peer authentication cannot have port level mTLS");
    }
    if (port_level.IsMap() && port_level.size() == 0) {
      Error(port_level, "port level mTLS, if defined, must have at least one element");
    }
    for (const auto& [port, mtls] : Entries(port_level)) {
      if (!AllDigits(port) || port.size() > 6 || std::stoll(port) <= 0 || std::stoll(port) > 65535) {
        Error(mtls, "port must be in range 1..65535");
      }
    }
    WorkloadSelector(selector, "matchLabels");
    if (selector.Defined() && !Has(selector["matchLabels"])) {
      Warn(selector, "workload selector specified without labels");
    }
  }

  void RequestAuthentication(const Resource& r) {
    const Node& spec = r.spec();
    PolicySelection(spec);
    for (const Node& rule : Items(spec["jwtRules"])) {
      if (!rule.IsMap()) {
        continue;
      }
      for (const Node& a : Items(rule["audiences"])) {
        if (S(a).empty()) {
          Error(a, "audience must be non-empty string");
        }
      }
      if (S(rule["issuer"]).empty() && S(rule["jwksUri"]).empty()) {
        Error(rule, "issuer or jwksUri must be non-empty string");
      }
      std::string jwks_uri = S(rule["jwksUri"]);
      if (!jwks_uri.empty()) {
        size_t scheme_end = jwks_uri.find("://");
        std::string scheme = scheme_end == std::string::npos ? "" : jwks_uri.substr(0, scheme_end);
        if (scheme != "http" && scheme != "https") {
          Error(rule["jwksUri"], "URI scheme must be http or https");
        } else if (jwks_uri.size() == scheme_end + 3) {
          Error(rule["jwksUri"], fmt::format("jwks URI has empty host: {}", jwks_uri));
        }
      }
      std::string jwks = S(rule["jwks"]);
      if (!jwks.empty()) {
        auto parsed = ParseYamlNode(jwks, "jwks");
        if (!parsed.ok() || !parsed->IsMap()) {
          Error(rule["jwks"], "jwks parse error: failed to unmarshal JWK set");
        }
      }
      for (const Node& h : Items(rule["fromHeaders"])) {
        if (S(h["name"]).empty()) {
          Error(h, "location header name must be non-empty string");
        }
      }
      for (const Node& p : Items(rule["fromParams"])) {
        if (S(p).empty()) {
          Error(p, "location query must be non-empty string");
        }
      }
      for (const Node& c : Items(rule["fromCookies"])) {
        if (S(c).empty()) {
          Error(c, "cookie name must be non-empty string");
        }
      }
      for (const Node& ch : Items(rule["outputClaimToHeaders"])) {
        std::string header = S(ch["header"]);
        if (S(ch["claim"]).empty() || header.empty()) {
          Error(ch, "outputClaimToHeaders header and claim value must be non-empty string");
          continue;
        }
        bool ok = std::all_of(header.begin(), header.end(),
                              [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-'; });
        if (!ok) {
          Error(ch, fmt::format("header name {} is not a valid header name", header));
        }
      }
      Duration(rule["timeout"]);
    }
  }

  // ---------------------------------------------------------------- telemetry, extensions
  void Providers(const Node& providers) {
    for (const Node& p : Items(providers)) {
      if (S(p["name"]).empty()) {
        Error(p, "providers.name may not be empty");
        return;
      }
    }
  }

  void Telemetry(const Resource& r) {
    const Node& spec = r.spec();
    PolicySelection(spec);
    for (const Node& m : Items(spec["metrics"])) {
      Providers(m["providers"]);
      for (const Node& o : Items(m["overrides"])) {
        if (!o.IsMap()) {
          Error(o, "tagOverrides may not be null");
          continue;
        }
        for (const auto& [tag, to] : Entries(o["tagOverrides"])) {
          if (tag.empty()) {
            Warn(to, "tagOverrides.name may not be empty");
          }
          if (!to.Defined()) {
            Error(to, "tagOverrides may not be null");
            continue;
          }
          std::string op = S(to["operation"]);
          if (op.empty() || op == "UPSERT") {
            if (S(to["value"]).empty()) {
              Error(to, "tagOverrides.value must be set when operation is UPSERT");
            }
          } else if (op == "REMOVE" && !S(to["value"]).empty()) {
            Error(to, "tagOverrides.value may only be set when operation is UPSERT");
          }
        }
        if (o["match"]["customMetric"].Defined() && S(o["match"]["customMetric"]).empty()) {
          Error(o["match"], "customMetric may not be empty");
        }
      }
    }
    const auto& tracing = Items(spec["tracing"]);
    if (tracing.size() > 1) {
      Warn(spec["tracing"], "multiple tracing is not currently supported");
    }
    for (const Node& t : tracing) {
      if (Items(t["providers"]).size() > 1) {
        Warn(t["providers"], "multiple providers is not currently supported");
      }
      Providers(t["providers"]);
      double pct = D(t["randomSamplingPercentage"]);
      if (pct < 0 || pct > 100) {
        Error(t["randomSamplingPercentage"], "randomSamplingPercentage must be in range [0.0, 100.0]");
      }
      for (const auto& [name, tag] : Entries(t["customTags"])) {
        if (name.empty()) {
          Error(tag, "tag name may not be empty");
        }
        if (!tag.Defined()) {
          Error(tag, fmt::format("tag '{}' may not have a nil value", name));
          continue;
        }
        if (tag["literal"].Defined() && S(tag["literal"]["value"]).empty()) {
          Error(tag, "literal tag value may not be empty");
        } else if (tag["header"].Defined() && S(tag["header"]["name"]).empty()) {
          Error(tag, "header tag name may not be empty");
        } else if (tag["environment"].Defined() && S(tag["environment"]["name"]).empty()) {
          Error(tag, "environment tag name may not be empty");
        }
      }
    }
    for (const Node& l : Items(spec["accessLogging"])) {
      const Node& filter = l["filter"];
      if (filter.Defined() && S(filter["expression"]).empty()) {
        Error(filter, "filter expression must not be empty");
      }
      Providers(l["providers"]);
    }
  }

  void WasmLike(const Node& spec, const Node& code_spec, std::string_view url_field_path) {
    std::string url = S(code_spec["url"]);
    if (url.empty()) {
      Error(code_spec.Defined() ? code_spec : spec, "url field needs to be set");
    } else {
      size_t colon = url.find("://");
      std::string scheme = colon == std::string::npos ? "" : url.substr(0, colon);
      if (scheme != "" && scheme != "file" && scheme != "http" && scheme != "https" && scheme != "oci") {
        Error(code_spec["url"], fmt::format("url contains unsupported scheme: {}", scheme));
      }
      if (url.find(' ') != std::string::npos) {
        Error(code_spec["url"], fmt::format("failed to parse url: parse \"{}\": invalid character \" \" in host name",
                                            url));
      }
    }
    (void)url_field_path;
    std::string sha = S(code_spec["sha256"]);
    if (!sha.empty()) {
      if (sha.size() != 64) {
        Error(code_spec["sha256"], "sha256 field must be 64 characters long");
      } else if (!std::all_of(sha.begin(), sha.end(), [](char c) { return (c >= 'a' && c <= 'f') || std::isdigit(static_cast<unsigned char>(c)); })) {
        Error(code_spec["sha256"], "sha256 field must match [a-f0-9]{64} pattern");
      }
    }
    if (S(code_spec["imagePullSecret"]).size() > 253) {
      Error(code_spec["imagePullSecret"], "imagePullSecret field must be less than 253 characters long");
    }
    if (S(code_spec["pluginName"]).size() > 256) {
      Error(code_spec["pluginName"], "pluginName field must be less than 255 characters long");
    }
    std::set<std::string> env_names;
    for (const Node& env : Items(code_spec["vmConfig"]["env"])) {
      std::string name = S(env["name"]);
      if (name.empty()) {
        Error(env, "spec.vmConfig.env invalid");
        break;
      }
      if (name.size() > 256) {
        Error(env, "env.name field must be less than 255 characters long");
        break;
      }
      if (!env_names.insert(name).second) {
        Error(env, "duplicate env");
        break;
      }
      std::string from = S(env["valueFrom"]);
      if (!from.empty() && from != "INLINE" && Has(env["value"])) {
        Error(env, "value may only be set when valueFrom is INLINE");
        break;
      }
    }
    const auto& selectors = Items(spec["match"]);
    for (size_t i = 0; i < selectors.size(); ++i) {
      const auto& ports = Items(selectors[i]["ports"]);
      for (size_t j = 0; j < ports.size(); ++j) {
        int64_t n = I(ports[j]["number"]);
        if (n <= 0 || n > 65535) {
          Error(ports[j], fmt::format("spec.Match[{}].Ports[{}] is out of range: {}", i, j, n));
        }
      }
    }
  }

  void WasmPlugin(const Resource& r) {
    const Node& spec = r.spec();
    PolicySelection(spec);
    WasmLike(spec, spec, "url");
  }

  void TrafficExtension(const Resource& r) {
    const Node& spec = r.spec();
    PolicySelection(spec, /*has_target_ref=*/false);
    const Node& wasm = spec["wasm"];
    const Node& lua = spec["lua"];
    if (wasm.Defined() == lua.Defined()) {
      Error(spec, "exactly one of wasm or lua must be set");
    }
    if (wasm.Defined()) {
      WasmLike(spec, wasm, "wasm.url");
    }
    if (lua.Defined() && S(lua["inlineCode"]).empty()) {
      Error(lua, "lua.inlineCode must be set");
    }
  }

  void ProxyConfig(const Resource& r) {
    const Node& spec = r.spec();
    const Node& selector = spec["selector"];
    WorkloadSelector(selector, "matchLabels");
    if (selector.Defined() && !Has(selector["matchLabels"])) {
      Warn(selector, "workload selector specified without labels");
    }
    if (I(spec["concurrency"]) < 0) {
      Error(spec["concurrency"], "concurrency must be greater than or equal to 0");
    }
  }

 private:
  void Add(IssueSeverity severity, int line, std::string message) {
    ValidationIssue issue;
    issue.severity = severity;
    issue.line = line;
    // Istio prefixes errors only (multierror.Prefix); warnings keep their text.
    issue.message = severity == IssueSeverity::kError ? prefix + message : message;
    out_.issues.push_back(std::move(issue));
  }

  ValidationResult& out_;
};

// Field type errors and unknown fields from the schema table. Missing required fields
// are left to the semantic rules, which word them as Istio does.
void AddSchemaIssues(const Node& spec, const KindSchema& kind, const IstioValidationOptions& options,
                     ValidationResult& out) {
  if (kind.spec == nullptr || !spec.Defined()) {
    return;
  }
  std::vector<FieldIssue> issues;
  ValidateNode(spec, *kind.spec, "spec", ValidateOptions{}, issues);
  for (const FieldIssue& fi : issues) {
    if (!fi.is_warning && HasSuffix(fi.message, " is required")) {
      continue;
    }
    if (fi.is_warning && !options.report_unknown_fields) {
      continue;
    }
    ValidationIssue issue;
    issue.severity = fi.is_warning ? IssueSeverity::kWarning : IssueSeverity::kError;
    issue.line = fi.mark.line;
    issue.unknown_field = fi.is_warning;
    issue.message = fi.is_warning ? fi.message + " is not part of the " + kind.kind + " API and is ignored"
                                  : fi.message;
    out.issues.push_back(std::move(issue));
  }
}

}  // namespace

bool IsDns1123Label(std::string_view s) {
  if (s.empty() || s.size() > 63) {
    return false;
  }
  if (!std::all_of(s.begin(), s.end(), IsLabelChar)) {
    return false;
  }
  return s.front() != '-' && s.back() != '-';
}

std::string CheckWildcardDomain(std::string_view domain) {
  std::string e = CheckDnsPreconditions(domain);
  if (!e.empty()) {
    return e;
  }
  size_t dot = domain.find('.');
  std::string_view first = domain.substr(0, dot);
  if (!IsWildcardDns1123Label(first)) {
    return fmt::format("domain name \"{}\" invalid (label \"{}\" invalid)", domain, first);
  }
  if (dot != std::string_view::npos) {
    return CheckDns1123Labels(domain.substr(dot + 1));
  }
  return "";
}

std::string CheckFqdn(std::string_view domain) {
  std::string e = CheckDnsPreconditions(domain);
  if (!e.empty()) {
    return e;
  }
  return CheckDns1123Labels(domain);
}

bool ParseGoDuration(std::string_view s, int64_t& nanos) {
  nanos = 0;
  if (s.empty()) {
    return false;
  }
  if (s == "0") {
    return true;
  }
  bool negative = false;
  if (s.front() == '-' || s.front() == '+') {
    negative = s.front() == '-';
    s.remove_prefix(1);
  }
  double total = 0;
  while (!s.empty()) {
    size_t i = 0;
    while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) {
      ++i;
    }
    if (i == 0) {
      return false;
    }
    double value = 0;
    try {
      value = std::stod(std::string(s.substr(0, i)));
    } catch (...) {
      return false;
    }
    s.remove_prefix(i);
    size_t u = 0;
    while (u < s.size() && !std::isdigit(static_cast<unsigned char>(s[u])) && s[u] != '.') {
      ++u;
    }
    std::string_view unit = s.substr(0, u);
    s.remove_prefix(u);
    static const std::map<std::string, double, std::less<>> kUnits = {
        {"ns", 1}, {"us", 1e3}, {"µs", 1e3}, {"ms", 1e6}, {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}};
    auto it = kUnits.find(unit);
    if (it == kUnits.end()) {
      return false;
    }
    total += value * it->second;
  }
  // Like Go's time.ParseDuration: more than int64 nanoseconds (~292 years) is invalid
  // (converting it would be undefined behaviour).
  if (!(total + 0.5 < 9.223372036854775807e18)) {
    return false;
  }
  nanos = static_cast<int64_t>(total + 0.5);
  if (negative) {
    nanos = -nanos;
  }
  return true;
}

bool ValidationResult::HasErrors() const { return ErrorCount() > 0; }

size_t ValidationResult::ErrorCount() const {
  return static_cast<size_t>(std::count_if(issues.begin(), issues.end(), [](const ValidationIssue& i) {
    return i.severity == IssueSeverity::kError;
  }));
}

size_t ValidationResult::WarningCount() const { return issues.size() - ErrorCount(); }

std::vector<std::string> ValidationResult::Describe() const {
  std::vector<std::string> out;
  for (const ValidationIssue& i : issues) {
    out.push_back(common::StrCat(i.severity == IssueSeverity::kError ? "error: " : "warning: ", i.message));
  }
  return out;
}

ValidationResult ValidateIstioResource(const Resource& resource, const IstioValidationOptions& options) {
  ValidationResult result;
  const KindSchema* kind = FindKind(resource.gvk().group, resource.kind());
  if (kind == nullptr || !kind->istio) {
    return result;
  }
  const Node& spec = resource.spec();
  if (spec.Defined() && !spec.IsMap()) {
    ValidationIssue issue;
    issue.message = "spec: expected an object, got " + std::string(spec.IsSequence() ? "list" : "scalar");
    issue.line = LineOf(spec);
    result.issues.push_back(std::move(issue));
    return result;
  }
  AddSchemaIssues(spec, *kind, options, result);
  size_t schema_issue_count = result.issues.size();
  Resource normalized = resource;
  if (kind->spec != nullptr && spec.IsMap()) {
    normalized.mutable_root().Set("spec", NormalizeFieldNames(spec, *kind->spec));
  }

  Validator v(result);
  // Metadata rules that apply to every kind.
  const std::string kDryRun = "istio.io/dry-run";
  if (resource.annotations().count(kDryRun) > 0 && resource.kind() != "AuthorizationPolicy") {
    v.Error(resource.metadata()["annotations"],
            fmt::format("{}/{} has unsupported annotation {}, please remove the annotation", resource.ns(),
                        resource.name(), kDryRun));
    return result;
  }
  if (resource.kind() == "AuthorizationPolicy" && resource.annotations().count(kDryRun) > 0) {
    std::string action = S(spec["action"]);
    std::string value = resource.annotations().at(kDryRun);
    if (action.empty() || action == "ALLOW" || action == "DENY") {
      if (value != "true" && value != "false" && value != "1" && value != "0" && value != "True" &&
          value != "False" && value != "TRUE" && value != "FALSE" && value != "t" && value != "f" && value != "T" &&
          value != "F") {
        v.Error(resource.metadata()["annotations"],
                fmt::format("{}/{} has annotation {} with invalid value ({}): strconv.ParseBool: parsing \"{}\": "
                            "invalid syntax",
                            resource.ns(), resource.name(), kDryRun, value, value));
        return result;
      }
    } else {
      v.Error(resource.metadata()["annotations"],
              fmt::format("the annotation {} currently only supports action ALLOW/DENY, found action {} in {}/{}",
                          kDryRun, action, resource.ns(), resource.name()));
      return result;
    }
  }

  const std::string& k = resource.kind();
  if (k == "Gateway") {
    v.Gateway(normalized);
  } else if (k == "VirtualService") {
    v.VirtualService(normalized);
  } else if (k == "DestinationRule") {
    v.DestinationRule(normalized);
  } else if (k == "ServiceEntry") {
    v.ServiceEntry(normalized);
  } else if (k == "Sidecar") {
    v.Sidecar(normalized);
  } else if (k == "WorkloadEntry") {
    v.WorkloadEntrySpec(normalized.spec(), nullptr, /*allow_fqdn=*/true);
  } else if (k == "WorkloadGroup") {
    v.WorkloadGroup(normalized);
  } else if (k == "EnvoyFilter") {
    v.EnvoyFilter(normalized);
  } else if (k == "ProxyConfig") {
    v.ProxyConfig(normalized);
  } else if (k == "AuthorizationPolicy") {
    v.AuthorizationPolicy(normalized);
  } else if (k == "PeerAuthentication") {
    v.PeerAuthentication(normalized);
  } else if (k == "RequestAuthentication") {
    v.RequestAuthentication(normalized);
  } else if (k == "Telemetry") {
    v.Telemetry(normalized);
  } else if (k == "WasmPlugin") {
    v.WasmPlugin(normalized);
  } else if (k == "TrafficExtension") {
    v.TrafficExtension(normalized);
  }
  // A field with the wrong type already has its error; semantic checks of the same field
  // would only repeat it less clearly.
  std::set<int> type_error_lines;
  for (size_t i = 0; i < schema_issue_count; ++i) {
    if (result.issues[i].severity == IssueSeverity::kError && result.issues[i].line > 0) {
      type_error_lines.insert(result.issues[i].line);
    }
  }
  std::vector<ValidationIssue> kept(result.issues.begin(), result.issues.begin() + schema_issue_count);
  for (size_t i = schema_issue_count; i < result.issues.size(); ++i) {
    if (result.issues[i].severity == IssueSeverity::kError && type_error_lines.count(result.issues[i].line) > 0) {
      continue;
    }
    kept.push_back(std::move(result.issues[i]));
  }
  result.issues = std::move(kept);
  // Issues about the spec as a whole point at the document, as istioctl's do.
  int spec_line = LineOf(spec);
  for (ValidationIssue& issue : result.issues) {
    if (spec_line > 0 && issue.line == spec_line) {
      issue.line = 0;
    }
  }
  return result;
}

ValidationResult ValidateMeshConfig(const Node& mesh) {
  ValidationResult result;
  Validator v(result);
  if (!mesh.IsMap()) {
    return result;
  }
  static const std::vector<std::string> kDurations = {"connectTimeout", "protocolDetectionTimeout",
                                                      "dnsRefreshRate"};
  for (const std::string& field : kDurations) {
    const Node& n = Get(mesh, field);
    if (!n.Defined()) {
      continue;
    }
    int64_t nanos = 0;
    if (!ParseGoDuration(S(n), nanos)) {
      v.Error(n, fmt::format("{}: invalid duration \"{}\"", field, S(n)));
    } else if (field == "connectTimeout") {
      v.prefix = "invalid connect timeout: ";
      v.Duration(n);
      v.prefix.clear();
    } else if (field == "protocolDetectionTimeout" && nanos % 1000000 != 0) {
      v.Error(n, "invalid protocol detection timeout: only durations to ms precision are supported");
    } else if (nanos < 0) {
      v.Error(n, fmt::format("{}: duration must not be negative", field));
    }
  }
  std::string mode = S(Get(mesh, "ingressControllerMode"));
  if (!mode.empty() && mode != "UNSPECIFIED" && mode != "OFF" && mode != "DEFAULT" && mode != "STRICT") {
    v.Error(Get(mesh, "ingressControllerMode"), fmt::format("unknown ingressControllerMode \"{}\"", mode));
  }
  std::string encoding = S(Get(mesh, "accessLogEncoding"));
  if (!encoding.empty() && encoding != "TEXT" && encoding != "JSON") {
    v.Error(Get(mesh, "accessLogEncoding"), fmt::format("unknown accessLogEncoding \"{}\"", encoding));
  }
  std::string otp = S(Get(mesh, "outboundTrafficPolicy")["mode"]);
  if (!otp.empty() && otp != "REGISTRY_ONLY" && otp != "ALLOW_ANY") {
    v.Error(Get(mesh, "outboundTrafficPolicy"), fmt::format("unknown outboundTrafficPolicy mode \"{}\"", otp));
  }
  if (Get(mesh, "proxyListenPort").Defined()) {
    std::string e = CheckPort(I(Get(mesh, "proxyListenPort")));
    if (!e.empty()) {
      v.Error(Get(mesh, "proxyListenPort"), "invalid proxy listen port: " + e);
    }
  }
  const Node& defaults = Get(mesh, "defaultConfig");
  if (defaults.IsMap()) {
    for (const char* field : {"drainDuration", "terminationDrainDuration", "discoveryRefreshDelay"}) {
      if (Get(defaults, field).Defined()) {
        v.Duration(Get(defaults, field));
      }
    }
    std::string address = S(Get(defaults, "discoveryAddress"));
    if (!address.empty()) {
      size_t colon = address.rfind(':');
      if (colon == std::string::npos || !AllDigits(address.substr(colon + 1))) {
        v.Error(Get(defaults, "discoveryAddress"),
                fmt::format("invalid discovery address: unable to split \"{}\": missing port in address", address));
      } else {
        v.ErrorIf(Get(defaults, "discoveryAddress"), CheckPort(std::stoll(address.substr(colon + 1, 9))));
      }
    }
    if (Get(defaults, "concurrency").Defined() && I(Get(defaults, "concurrency")) < 0) {
      v.Error(Get(defaults, "concurrency"), "concurrency must be greater than or equal to 0");
    }
    if (Get(defaults, "proxyAdminPort").Defined()) {
      v.ErrorIf(Get(defaults, "proxyAdminPort"), CheckPort(I(Get(defaults, "proxyAdminPort"))));
    }
    if (Get(defaults, "statusPort").Defined()) {
      v.ErrorIf(Get(defaults, "statusPort"), CheckPort(I(Get(defaults, "statusPort"))));
    }
  }
  std::set<std::string> providers;
  for (const Node& p : Items(Get(mesh, "extensionProviders"))) {
    std::string name = S(Get(p, "name"));
    if (name.empty()) {
      v.Error(p, "empty extension provider name");
    } else if (!providers.insert(name).second) {
      v.Error(p, fmt::format("duplicate extension provider name {}", name));
    }
  }
  for (const Node& s : Items(Get(mesh, "serviceSettings"))) {
    for (const Node& h : Items(Get(s, "hosts"))) {
      v.ErrorIf(h, CheckWildcardDomain(S(h)));
    }
  }
  for (const Node& td : Items(Get(mesh, "trustDomainAliases"))) {
    if (S(td).empty()) {
      v.Error(td, "empty trust domain alias");
    }
  }
  return result;
}

ValidationResult ValidateMeshNetworks(const Node& mesh_networks) {
  ValidationResult result;
  Validator v(result);
  const Node& networks = Get(mesh_networks, "networks");
  for (const auto& [name, network] : Entries(networks)) {
    v.prefix = fmt::format("invalid network {}: ", name);
    for (const Node& e : Items(Get(network, "endpoints"))) {
      bool cidr = Has(Get(e, "fromCidr"));
      bool registry = Has(Get(e, "fromRegistry"));
      if (cidr == registry) {
        v.Error(e, "exactly one of fromCidr or fromRegistry must be set");
      } else if (cidr) {
        v.ErrorIf(Get(e, "fromCidr"), CheckIpSubnet(S(Get(e, "fromCidr"))));
      }
    }
    for (const Node& g : Items(Get(network, "gateways"))) {
      bool address = Has(Get(g, "address"));
      bool registry = Has(Get(g, "registryServiceName"));
      if (address == registry) {
        v.Error(g, "exactly one of address or registryServiceName must be set");
      } else if (address) {
        std::string a = S(Get(g, "address"));
        if (!IsIpAddress(a) && !CheckFqdn(a).empty()) {
          v.Error(Get(g, "address"), fmt::format("invalid address {}: not an IP address or FQDN", a));
        }
      } else {
        v.ErrorIf(Get(g, "registryServiceName"), CheckFqdn(S(Get(g, "registryServiceName"))));
      }
      v.ErrorIf(Get(g, "port").Defined() ? Get(g, "port") : g, CheckPort(I(Get(g, "port"))));
    }
  }
  return result;
}

}  // namespace mesh::config
