#include "mesh/proxyconfig/encode.h"

#include <cstdio>

#include "mesh/common/strings.h"
#include "mesh/proxyconfig/decode.h"

namespace mesh::proxyconfig {
namespace {

using config::Node;

Node S(const std::string& v) { return Node::Scalar(v, true); }
Node N(int64_t v) { return Node::Scalar(std::to_string(v)); }
Node B(bool v) { return Node::Scalar(v ? "true" : "false"); }
Node D(Duration d) { return S(FormatDuration(d)); }

Node Address(const SocketAddress& a) {
  Node sa = Node::Map();
  sa.Set("address", S(a.address));
  sa.Set("port_value", N(a.port_value));
  Node n = Node::Map();
  n.Set("socket_address", std::move(sa));
  return n;
}

Node StringMatch(const StringMatcher& m) {
  Node n = Node::Map();
  switch (m.kind) {
    case StringMatcher::Kind::kExact:
      n.Set("exact", S(m.value));
      break;
    case StringMatcher::Kind::kPrefix:
      n.Set("prefix", S(m.value));
      break;
    case StringMatcher::Kind::kSuffix:
      n.Set("suffix", S(m.value));
      break;
    case StringMatcher::Kind::kContains:
      n.Set("contains", S(m.value));
      break;
    case StringMatcher::Kind::kRegex: {
      Node r = Node::Map();
      r.Set("regex", S(m.value));
      n.Set("safe_regex", std::move(r));
      break;
    }
  }
  if (m.ignore_case) {
    n.Set("ignore_case", B(true));
  }
  return n;
}

Node Any(const char* type) {
  Node n = Node::Map();
  n.Set("@type", S(type));
  return n;
}

void HeaderOptions(Node& out, const char* field, const std::vector<HeaderValueOption>& opts) {
  if (opts.empty()) {
    return;
  }
  Node list = Node::Sequence();
  for (const auto& o : opts) {
    Node h = Node::Map();
    Node kv = Node::Map();
    kv.Set("key", S(o.key));
    kv.Set("value", S(o.value));
    h.Set("header", std::move(kv));
    const char* action = o.action == HeaderValueOption::Action::kAddIfAbsent ? "ADD_IF_ABSENT"
                         : o.action == HeaderValueOption::Action::kOverwriteIfExistsOrAdd
                             ? "OVERWRITE_IF_EXISTS_OR_ADD"
                             : "APPEND_IF_EXISTS_OR_ADD";
    h.Set("append_action", S(action));
    list.Append(std::move(h));
  }
  out.Set(field, std::move(list));
}

void StringList(Node& out, const char* field, const std::vector<std::string>& items) {
  if (items.empty()) {
    return;
  }
  Node list = Node::Sequence();
  for (const auto& s : items) {
    list.Append(S(s));
  }
  out.Set(field, std::move(list));
}

void Mutations(Node& out, const HeaderMutations& m) {
  HeaderOptions(out, "request_headers_to_add", m.request_headers_to_add);
  StringList(out, "request_headers_to_remove", m.request_headers_to_remove);
  HeaderOptions(out, "response_headers_to_add", m.response_headers_to_add);
  StringList(out, "response_headers_to_remove", m.response_headers_to_remove);
}

Node Retry(const RetryPolicy& r) {
  Node n = Node::Map();
  n.Set("retry_on", S(common::Join(r.retry_on, ",")));
  n.Set("num_retries", N(r.num_retries));
  if (r.per_try_timeout.count() > 0) {
    n.Set("per_try_timeout", D(r.per_try_timeout));
  }
  Node bo = Node::Map();
  bo.Set("base_interval", D(r.base_interval));
  bo.Set("max_interval", D(r.max_interval));
  n.Set("retry_back_off", std::move(bo));
  return n;
}

Node Percent(double p) {
  Node n = Node::Map();
  n.Set("numerator", N(static_cast<int64_t>(p * 10000 + 0.5)));
  n.Set("denominator", S("MILLION"));
  return n;
}

Node Fault(const FaultPolicy& f) {
  Node n = Any(kFaultType);
  if (f.delay) {
    Node d = Node::Map();
    d.Set("fixed_delay", D(*f.delay));
    d.Set("percentage", Percent(f.delay_percent));
    n.Set("delay", std::move(d));
  }
  if (f.abort_status) {
    Node a = Node::Map();
    a.Set("http_status", N(*f.abort_status));
    a.Set("percentage", Percent(f.abort_percent));
    n.Set("abort", std::move(a));
  }
  return n;
}

Node Cors(const CorsPolicy& c) {
  Node n = Node::Map();
  if (!c.allow_origin_string_match.empty()) {
    Node list = Node::Sequence();
    for (const auto& m : c.allow_origin_string_match) {
      list.Append(StringMatch(m));
    }
    n.Set("allow_origin_string_match", std::move(list));
  }
  auto opt = [&](const char* k, const std::string& v) {
    if (!v.empty()) {
      n.Set(k, S(v));
    }
  };
  opt("allow_methods", c.allow_methods);
  opt("allow_headers", c.allow_headers);
  opt("expose_headers", c.expose_headers);
  opt("max_age", c.max_age);
  if (c.allow_credentials) {
    n.Set("allow_credentials", B(true));
  }
  return n;
}

Node HeaderMatch(const HeaderMatcher& h) {
  Node hn = Node::Map();
  hn.Set("name", S(h.name));
  if (h.string_match) {
    hn.Set("string_match", StringMatch(*h.string_match));
  } else {
    hn.Set("present_match", B(true));
  }
  if (h.invert_match) {
    hn.Set("invert_match", B(true));
  }
  return hn;
}

Node Cidr(const CidrRange& c) {
  Node n = Node::Map();
  n.Set("address_prefix", S(c.address_prefix));
  n.Set("prefix_len", N(c.prefix_len));
  return n;
}

Node Permission(const RbacPermission& p) {
  Node n = Node::Map();
  auto set_of = [&](const char* field) {
    Node rules = Node::Sequence();
    for (const auto& r : p.rules) {
      rules.Append(Permission(r));
    }
    Node wrapper = Node::Map();
    wrapper.Set("rules", std::move(rules));
    n.Set(field, std::move(wrapper));
  };
  switch (p.kind) {
    case RbacPermission::Kind::kAny:
      n.Set("any", B(true));
      break;
    case RbacPermission::Kind::kAndRules:
      set_of("and_rules");
      break;
    case RbacPermission::Kind::kOrRules:
      set_of("or_rules");
      break;
    case RbacPermission::Kind::kNotRule:
      n.Set("not_rule", p.rules.empty() ? Node::Map() : Permission(p.rules.front()));
      break;
    case RbacPermission::Kind::kHeader:
      n.Set("header", HeaderMatch(*p.header));
      break;
    case RbacPermission::Kind::kUrlPath: {
      Node up = Node::Map();
      up.Set("path", StringMatch(*p.path));
      n.Set("url_path", std::move(up));
      break;
    }
    case RbacPermission::Kind::kDestinationPort:
      n.Set("destination_port", N(p.port));
      break;
    case RbacPermission::Kind::kDestinationIp:
      n.Set("destination_ip", Cidr(p.cidr));
      break;
  }
  return n;
}

Node Principal(const RbacPrincipal& p) {
  Node n = Node::Map();
  auto set_of = [&](const char* field) {
    Node ids = Node::Sequence();
    for (const auto& r : p.ids) {
      ids.Append(Principal(r));
    }
    Node wrapper = Node::Map();
    wrapper.Set("ids", std::move(ids));
    n.Set(field, std::move(wrapper));
  };
  switch (p.kind) {
    case RbacPrincipal::Kind::kAny:
      n.Set("any", B(true));
      break;
    case RbacPrincipal::Kind::kAndIds:
      set_of("and_ids");
      break;
    case RbacPrincipal::Kind::kOrIds:
      set_of("or_ids");
      break;
    case RbacPrincipal::Kind::kNotId:
      n.Set("not_id", p.ids.empty() ? Node::Map() : Principal(p.ids.front()));
      break;
    case RbacPrincipal::Kind::kAuthenticated: {
      Node a = Node::Map();
      if (p.principal_name) {
        a.Set("principal_name", StringMatch(*p.principal_name));
      }
      n.Set("authenticated", std::move(a));
      break;
    }
    case RbacPrincipal::Kind::kDirectRemoteIp:
      n.Set("direct_remote_ip", Cidr(p.cidr));
      break;
    case RbacPrincipal::Kind::kRemoteIp:
      n.Set("remote_ip", Cidr(p.cidr));
      break;
    case RbacPrincipal::Kind::kHeader:
      n.Set("header", HeaderMatch(*p.header));
      break;
  }
  return n;
}

Node Rbac(const RbacConfig& c, const char* type_url) {
  Node n = Any(type_url);
  if (c.rules) {
    Node rules = Node::Map();
    rules.Set("action", S(c.rules->action == RbacRules::Action::kAllow ? "ALLOW" : "DENY"));
    Node policies = Node::Map();
    for (const auto& [name, policy] : c.rules->policies) {
      Node pn = Node::Map();
      Node perms = Node::Sequence();
      for (const auto& p : policy.permissions) {
        perms.Append(Permission(p));
      }
      Node principals = Node::Sequence();
      for (const auto& p : policy.principals) {
        principals.Append(Principal(p));
      }
      pn.Set("permissions", std::move(perms));
      pn.Set("principals", std::move(principals));
      policies.Set(name, std::move(pn));
    }
    rules.Set("policies", std::move(policies));
    n.Set("rules", std::move(rules));
  }
  if (!c.stat_prefix.empty() || std::string_view(type_url) == kNetworkRbacType) {
    n.Set("stat_prefix", S(c.stat_prefix));
  }
  return n;
}

Node Match(const RouteMatch& m) {
  Node n = Node::Map();
  switch (m.path_kind) {
    case RouteMatch::PathKind::kPrefix:
      n.Set("prefix", S(m.path));
      break;
    case RouteMatch::PathKind::kPath:
      n.Set("path", S(m.path));
      break;
    case RouteMatch::PathKind::kSafeRegex: {
      Node r = Node::Map();
      r.Set("regex", S(m.path));
      n.Set("safe_regex", std::move(r));
      break;
    }
  }
  if (!m.case_sensitive) {
    n.Set("case_sensitive", B(false));
  }
  if (!m.headers.empty()) {
    Node list = Node::Sequence();
    for (const auto& h : m.headers) {
      list.Append(HeaderMatch(h));
    }
    n.Set("headers", std::move(list));
  }
  if (!m.query_parameters.empty()) {
    Node list = Node::Sequence();
    for (const auto& q : m.query_parameters) {
      Node qn = Node::Map();
      qn.Set("name", S(q.name));
      if (q.string_match) {
        qn.Set("string_match", StringMatch(*q.string_match));
      } else {
        qn.Set("present_match", B(true));
      }
      list.Append(std::move(qn));
    }
    n.Set("query_parameters", std::move(list));
  }
  return n;
}

Node RouteNode(const Route& r) {
  Node n = Node::Map();
  if (!r.name.empty()) {
    n.Set("name", S(r.name));
  }
  n.Set("match", Match(r.match));
  if (const auto* a = std::get_if<RouteAction>(&r.action)) {
    Node an = Node::Map();
    if (!a->cluster.empty()) {
      an.Set("cluster", S(a->cluster));
    } else {
      Node list = Node::Sequence();
      for (const auto& w : a->weighted_clusters) {
        Node wn = Node::Map();
        wn.Set("name", S(w.name));
        wn.Set("weight", N(w.weight));
        list.Append(std::move(wn));
      }
      Node wc = Node::Map();
      wc.Set("clusters", std::move(list));
      an.Set("weighted_clusters", std::move(wc));
    }
    if (a->prefix_rewrite) {
      an.Set("prefix_rewrite", S(*a->prefix_rewrite));
    }
    if (a->host_rewrite_literal) {
      an.Set("host_rewrite_literal", S(*a->host_rewrite_literal));
    }
    an.Set("timeout", D(a->timeout));
    if (a->retry_policy) {
      an.Set("retry_policy", Retry(*a->retry_policy));
    }
    if (!a->request_mirror_clusters.empty()) {
      Node list = Node::Sequence();
      for (const auto& c : a->request_mirror_clusters) {
        Node m = Node::Map();
        m.Set("cluster", S(c));
        list.Append(std::move(m));
      }
      an.Set("request_mirror_policies", std::move(list));
    }
    if (!a->hash_policy.empty()) {
      Node list = Node::Sequence();
      for (const auto& h : a->hash_policy) {
        Node hn = Node::Map();
        Node inner = Node::Map();
        if (h.kind == HashPolicy::Kind::kHeader) {
          inner.Set("header_name", S(h.name));
          hn.Set("header", std::move(inner));
        } else if (h.kind == HashPolicy::Kind::kCookie) {
          inner.Set("name", S(h.name));
          hn.Set("cookie", std::move(inner));
        } else {
          inner.Set("source_ip", B(true));
          hn.Set("connection_properties", std::move(inner));
        }
        list.Append(std::move(hn));
      }
      an.Set("hash_policy", std::move(list));
    }
    if (a->cors) {
      an.Set("cors", Cors(*a->cors));
    }
    n.Set("route", std::move(an));
  } else if (const auto* rd = std::get_if<RedirectAction>(&r.action)) {
    Node rn = Node::Map();
    if (!rd->scheme_redirect.empty()) {
      rn.Set("scheme_redirect", S(rd->scheme_redirect));
    }
    if (!rd->host_redirect.empty()) {
      rn.Set("host_redirect", S(rd->host_redirect));
    }
    if (rd->port_redirect != 0) {
      rn.Set("port_redirect", N(rd->port_redirect));
    }
    if (!rd->path_redirect.empty()) {
      rn.Set("path_redirect", S(rd->path_redirect));
    }
    if (!rd->prefix_rewrite.empty()) {
      rn.Set("prefix_rewrite", S(rd->prefix_rewrite));
    }
    const char* code = rd->response_code == 302   ? "FOUND"
                       : rd->response_code == 303 ? "SEE_OTHER"
                       : rd->response_code == 307 ? "TEMPORARY_REDIRECT"
                       : rd->response_code == 308 ? "PERMANENT_REDIRECT"
                                                  : "MOVED_PERMANENTLY";
    rn.Set("response_code", S(code));
    if (rd->strip_query) {
      rn.Set("strip_query", B(true));
    }
    n.Set("redirect", std::move(rn));
  } else {
    const auto& dr = std::get<DirectResponseAction>(r.action);
    Node dn = Node::Map();
    dn.Set("status", N(dr.status));
    if (!dr.body.empty()) {
      Node body = Node::Map();
      body.Set("inline_string", S(dr.body));
      dn.Set("body", std::move(body));
    }
    n.Set("direct_response", std::move(dn));
  }
  Mutations(n, r.headers);
  if (r.fault || r.buffer) {
    Node pf = Node::Map();
    if (r.fault) {
      pf.Set("envoy.filters.http.fault", Fault(*r.fault));
    }
    if (r.buffer) {
      Node b = Any(kBufferPerRouteType);
      if (r.buffer->disabled) {
        b.Set("disabled", B(true));
      } else {
        Node inner = Node::Map();
        inner.Set("max_request_bytes", N(r.buffer->max_request_bytes));
        b.Set("buffer", std::move(inner));
      }
      pf.Set(kBufferFilter, std::move(b));
    }
    n.Set("typed_per_filter_config", std::move(pf));
  }
  return n;
}

Node DataSourceNode(const DataSource& d, bool redact = true) {
  Node n = Node::Map();
  if (!d.filename.empty()) {
    n.Set("filename", S(d.filename));
  } else if (redact) {
    // Never echo inline key material into dumps.
    n.Set("inline_string", S("[redacted]"));
  } else {
    n.Set("inline_string", S(d.inline_string));
  }
  return n;
}

Node ValidationNode(const CertificateValidationContext& v, bool redact = true) {
  Node n = Node::Map();
  if (!v.trusted_ca.empty()) {
    n.Set("trusted_ca", DataSourceNode(v.trusted_ca, redact));
  }
  if (!v.match_typed_subject_alt_names.empty()) {
    Node list = Node::Sequence();
    for (const auto& s : v.match_typed_subject_alt_names) {
      Node sn = Node::Map();
      const char* type = s.type == SanMatcher::Type::kDns     ? "DNS"
                         : s.type == SanMatcher::Type::kEmail ? "EMAIL"
                         : s.type == SanMatcher::Type::kIpAddress ? "IP_ADDRESS"
                                                                  : "URI";
      sn.Set("san_type", S(type));
      sn.Set("matcher", StringMatch(s.matcher));
      list.Append(std::move(sn));
    }
    n.Set("match_typed_subject_alt_names", std::move(list));
  }
  return n;
}

Node CertNode(const TlsCertificate& c, bool redact = true) {
  Node n = Node::Map();
  n.Set("certificate_chain", DataSourceNode(c.certificate_chain, redact));
  n.Set("private_key", DataSourceNode(c.private_key, redact));
  return n;
}

Node SdsName(const std::string& name) {
  Node n = Node::Map();
  n.Set("name", S(name));
  return n;
}

Node CommonTls(const CommonTlsContext& c) {
  Node n = Node::Map();
  if (!c.tls_certificates.empty()) {
    Node list = Node::Sequence();
    for (const auto& cert : c.tls_certificates) {
      list.Append(CertNode(cert));
    }
    n.Set("tls_certificates", std::move(list));
  }
  if (!c.tls_certificate_sds_secret_configs.empty()) {
    Node list = Node::Sequence();
    for (const auto& s : c.tls_certificate_sds_secret_configs) {
      list.Append(SdsName(s));
    }
    n.Set("tls_certificate_sds_secret_configs", std::move(list));
  }
  if (c.validation_context) {
    n.Set("validation_context", ValidationNode(*c.validation_context));
  }
  if (!c.validation_context_sds_secret_config.empty()) {
    n.Set("validation_context_sds_secret_config", SdsName(c.validation_context_sds_secret_config));
  }
  Node params = Node::Map();
  params.Set("tls_minimum_protocol_version", S(c.tls_minimum_protocol_version));
  if (!c.tls_maximum_protocol_version.empty()) {
    params.Set("tls_maximum_protocol_version", S(c.tls_maximum_protocol_version));
  }
  StringList(params, "cipher_suites", c.cipher_suites);
  n.Set("tls_params", std::move(params));
  StringList(n, "alpn_protocols", c.alpn_protocols);
  return n;
}

Node TransportSocket(Node typed_config) {
  Node n = Node::Map();
  n.Set("name", S("envoy.transport_sockets.tls"));
  n.Set("typed_config", std::move(typed_config));
  return n;
}

Node AccessLogs(const std::vector<AccessLog>& logs) {
  Node list = Node::Sequence();
  for (const auto& l : logs) {
    Node n = Node::Map();
    Node tc = Any(l.path.empty() ? kStdoutAccessLogType : kFileAccessLogType);
    n.Set("name", S(l.path.empty() ? "envoy.access_loggers.stdout" : "envoy.access_loggers.file"));
    if (!l.path.empty()) {
      tc.Set("path", S(l.path));
    }
    Node fmt = Node::Map();
    if (!l.json_format.empty()) {
      Node j = Node::Map();
      for (const auto& [k, v] : l.json_format) {
        j.Set(k, S(v));
      }
      fmt.Set("json_format", std::move(j));
    } else if (!l.text_format.empty()) {
      Node t = Node::Map();
      t.Set("inline_string", S(l.text_format));
      fmt.Set("text_format_source", std::move(t));
    }
    if (fmt.size() > 0) {
      tc.Set("log_format", std::move(fmt));
    }
    n.Set("typed_config", std::move(tc));
    list.Append(std::move(n));
  }
  return list;
}

Node Http2Options(const Http2ProtocolOptions& o) {
  Node n = Node::Map();
  n.Set("max_concurrent_streams", N(o.max_concurrent_streams));
  n.Set("initial_stream_window_size", N(o.initial_stream_window_size));
  n.Set("initial_connection_window_size", N(o.initial_connection_window_size));
  return n;
}

Node Hcm(const HttpConnectionManager& h) {
  Node n = Any(kHcmType);
  n.Set("stat_prefix", S(h.stat_prefix));
  if (h.route_config) {
    n.Set("route_config", EncodeRouteConfiguration(*h.route_config));
  } else {
    Node rds = Node::Map();
    rds.Set("route_config_name", S(h.rds_route_config_name));
    n.Set("rds", std::move(rds));
  }
  if (h.codec_type != "AUTO") {
    n.Set("codec_type", S(h.codec_type));
  }
  if (h.http2.max_concurrent_streams != Http2ProtocolOptions().max_concurrent_streams ||
      h.http2.initial_stream_window_size != Http2ProtocolOptions().initial_stream_window_size ||
      h.http2.initial_connection_window_size != Http2ProtocolOptions().initial_connection_window_size) {
    n.Set("http2_protocol_options", Http2Options(h.http2));
  }
  n.Set("stream_idle_timeout", D(h.stream_idle_timeout));
  if (h.request_timeout.count() > 0) {
    n.Set("request_timeout", D(h.request_timeout));
  }
  if (h.request_headers_timeout.count() > 0) {
    n.Set("request_headers_timeout", D(h.request_headers_timeout));
  }
  Node cp = Node::Map();
  cp.Set("idle_timeout", D(h.idle_timeout));
  cp.Set("max_headers_count", N(h.max_headers_count));
  n.Set("common_http_protocol_options", std::move(cp));
  n.Set("max_request_headers_kb", N(h.max_request_headers_kb));
  n.Set("use_remote_address", B(h.use_remote_address));
  if (h.xff_num_trusted_hops > 0) {
    n.Set("xff_num_trusted_hops", N(h.xff_num_trusted_hops));
  }
  n.Set("generate_request_id", B(h.generate_request_id));
  n.Set("server_name", S(h.server_name));
  if (!h.access_log.empty()) {
    n.Set("access_log", AccessLogs(h.access_log));
  }
  Node filters = Node::Sequence();
  size_t rbac_index = 0;
  for (const auto& f : h.http_filters) {
    Node fn = Node::Map();
    fn.Set("name", S(f));
    if (f == kHttpRbacFilter && rbac_index < h.rbac.size()) {
      fn.Set("typed_config", Rbac(h.rbac[rbac_index++], kHttpRbacType));
    } else if (f == "envoy.filters.http.router") {
      fn.Set("typed_config", Any(kRouterType));
    } else if (f == "envoy.filters.http.fault" && h.fault) {
      fn.Set("typed_config", Fault(*h.fault));
    } else if (f == kBufferFilter && h.max_request_bytes) {
      Node b = Any(kBufferType);
      b.Set("max_request_bytes", N(*h.max_request_bytes));
      fn.Set("typed_config", std::move(b));
    }
    filters.Append(std::move(fn));
  }
  n.Set("http_filters", std::move(filters));
  return n;
}

std::string LbPolicyName(Cluster::LbPolicy p) {
  switch (p) {
    case Cluster::LbPolicy::kRoundRobin:
      return "ROUND_ROBIN";
    case Cluster::LbPolicy::kLeastRequest:
      return "LEAST_REQUEST";
    case Cluster::LbPolicy::kRandom:
      return "RANDOM";
    case Cluster::LbPolicy::kRingHash:
      return "RING_HASH";
    case Cluster::LbPolicy::kMaglev:
      return "MAGLEV";
  }
  return "ROUND_ROBIN";
}

}  // namespace



config::Node EncodeVirtualHost(const VirtualHost& vh) {
  Node v = Node::Map();
  v.Set("name", S(vh.name));
  Node domains = Node::Sequence();
  for (const auto& d : vh.domains) {
    domains.Append(S(d));
  }
  v.Set("domains", std::move(domains));
  Node routes = Node::Sequence();
  for (const auto& r : vh.routes) {
    routes.Append(RouteNode(r));
  }
  v.Set("routes", std::move(routes));
  Mutations(v, vh.headers);
  if (vh.retry_policy) {
    v.Set("retry_policy", Retry(*vh.retry_policy));
  }
  if (vh.cors) {
    v.Set("cors", Cors(*vh.cors));
  }
  return v;
}

config::Node EncodeRouteConfiguration(const RouteConfiguration& rc) {
  Node n = Any(kRouteConfigurationType);
  n.Set("name", S(rc.name));
  Node vhs = Node::Sequence();
  for (const auto& vh : rc.virtual_hosts) {
    vhs.Append(EncodeVirtualHost(vh));
  }
  n.Set("virtual_hosts", std::move(vhs));
  Mutations(n, rc.headers);
  return n;
}

config::Node EncodeListener(const Listener& l) {
  Node n = Any(kListenerType);
  n.Set("name", S(l.name));
  n.Set("address", Address(l.address));
  Node chains = Node::Sequence();
  for (const auto& fc : l.filter_chains) {
    Node c = Node::Map();
    if (!fc.name.empty()) {
      c.Set("name", S(fc.name));
    }
    if (!fc.filter_chain_match.server_names.empty() || !fc.filter_chain_match.transport_protocol.empty()) {
      Node m = Node::Map();
      StringList(m, "server_names", fc.filter_chain_match.server_names);
      if (!fc.filter_chain_match.transport_protocol.empty()) {
        m.Set("transport_protocol", S(fc.filter_chain_match.transport_protocol));
      }
      c.Set("filter_chain_match", std::move(m));
    }
    Node filter = Node::Map();
    if (const auto* h = std::get_if<HttpConnectionManager>(&fc.filter)) {
      filter.Set("name", S("envoy.filters.network.http_connection_manager"));
      filter.Set("typed_config", Hcm(*h));
    } else {
      const auto& t = std::get<TcpProxy>(fc.filter);
      filter.Set("name", S("envoy.filters.network.tcp_proxy"));
      Node tc = Any(kTcpProxyType);
      tc.Set("stat_prefix", S(t.stat_prefix));
      tc.Set("cluster", S(t.cluster));
      tc.Set("idle_timeout", D(t.idle_timeout));
      if (!t.access_log.empty()) {
        tc.Set("access_log", AccessLogs(t.access_log));
      }
      filter.Set("typed_config", std::move(tc));
    }
    Node filters = Node::Sequence();
    for (const auto& rbac : fc.network_rbac) {
      Node rn = Node::Map();
      rn.Set("name", S(kNetworkRbacFilter));
      rn.Set("typed_config", Rbac(rbac, kNetworkRbacType));
      filters.Append(std::move(rn));
    }
    filters.Append(std::move(filter));
    c.Set("filters", std::move(filters));
    if (fc.tls) {
      Node tc = Any(kDownstreamTlsType);
      tc.Set("common_tls_context", CommonTls(fc.tls->common_tls_context));
      tc.Set("require_client_certificate", B(fc.tls->require_client_certificate));
      c.Set("transport_socket", TransportSocket(std::move(tc)));
    }
    chains.Append(std::move(c));
  }
  n.Set("filter_chains", std::move(chains));
  if (!l.listener_filters.empty()) {
    Node list = Node::Sequence();
    for (const auto& f : l.listener_filters) {
      list.Append(SdsName(f));
    }
    n.Set("listener_filters", std::move(list));
  }
  if (l.traffic_direction != Listener::Direction::kUnspecified) {
    n.Set("traffic_direction", S(l.traffic_direction == Listener::Direction::kInbound ? "INBOUND" : "OUTBOUND"));
  }
  return n;
}

config::Node EncodeClusterLoadAssignment(const ClusterLoadAssignment& cla) {
  Node n = Any(kClusterLoadAssignmentType);
  n.Set("cluster_name", S(cla.cluster_name));
  Node list = Node::Sequence();
  for (const auto& le : cla.endpoints) {
    Node l = Node::Map();
    if (!le.locality.region.empty() || !le.locality.zone.empty() || !le.locality.sub_zone.empty()) {
      Node loc = Node::Map();
      loc.Set("region", S(le.locality.region));
      loc.Set("zone", S(le.locality.zone));
      loc.Set("sub_zone", S(le.locality.sub_zone));
      l.Set("locality", std::move(loc));
    }
    Node eps = Node::Sequence();
    for (const auto& e : le.lb_endpoints) {
      Node en = Node::Map();
      Node ep = Node::Map();
      ep.Set("address", Address(e.address));
      en.Set("endpoint", std::move(ep));
      if (!e.healthy) {
        en.Set("health_status", S("UNHEALTHY"));
      }
      en.Set("load_balancing_weight", N(e.load_balancing_weight));
      eps.Append(std::move(en));
    }
    l.Set("lb_endpoints", std::move(eps));
    if (le.load_balancing_weight > 0) {
      l.Set("load_balancing_weight", N(le.load_balancing_weight));
    }
    if (le.priority > 0) {
      l.Set("priority", N(le.priority));
    }
    list.Append(std::move(l));
  }
  n.Set("endpoints", std::move(list));
  return n;
}

config::Node EncodeCluster(const Cluster& c) {
  Node n = Any(kClusterType);
  n.Set("name", S(c.name));
  const char* type = c.type == Cluster::DiscoveryType::kEds         ? "EDS"
                     : c.type == Cluster::DiscoveryType::kStrictDns  ? "STRICT_DNS"
                     : c.type == Cluster::DiscoveryType::kLogicalDns ? "LOGICAL_DNS"
                                                                     : "STATIC";
  n.Set("type", S(type));
  n.Set("connect_timeout", D(c.connect_timeout));
  n.Set("lb_policy", S(LbPolicyName(c.lb_policy)));
  if (c.locality_weighted_lb || c.healthy_panic_threshold != 50) {
    Node cl = Node::Map();
    if (c.locality_weighted_lb) {
      cl.Set("locality_weighted_lb_config", Node::Map());
    }
    if (c.healthy_panic_threshold != 50) {
      Node percent = Node::Map();
      char value[32];
      std::snprintf(value, sizeof(value), "%g", c.healthy_panic_threshold);
      percent.Set("value", Node::Scalar(value));
      cl.Set("healthy_panic_threshold", std::move(percent));
    }
    n.Set("common_lb_config", std::move(cl));
  }
  if (c.lb_policy == Cluster::LbPolicy::kMaglev && c.maglev_table_size != 65537) {
    Node ml = Node::Map();
    ml.Set("table_size", N(static_cast<int64_t>(c.maglev_table_size)));
    n.Set("maglev_lb_config", std::move(ml));
  }
  if (c.load_assignment) {
    n.Set("load_assignment", EncodeClusterLoadAssignment(*c.load_assignment));
  }
  if (c.type == Cluster::DiscoveryType::kEds) {
    Node eds = Node::Map();
    Node src = Node::Map();
    src.Set("ads", Node::Map());
    eds.Set("eds_config", std::move(src));
    if (!c.eds_service_name.empty()) {
      eds.Set("service_name", S(c.eds_service_name));
    }
    n.Set("eds_cluster_config", std::move(eds));
  }
  if (c.circuit_breakers) {
    Node t = Node::Map();
    t.Set("max_connections", N(c.circuit_breakers->max_connections));
    t.Set("max_pending_requests", N(c.circuit_breakers->max_pending_requests));
    t.Set("max_requests", N(c.circuit_breakers->max_requests));
    t.Set("max_retries", N(c.circuit_breakers->max_retries));
    if (const auto& rb = c.circuit_breakers->retry_budget) {
      Node budget = Node::Map();
      Node percent = Node::Map();
      char value[32];
      std::snprintf(value, sizeof(value), "%g", rb->budget_percent);
      percent.Set("value", Node::Scalar(value));
      budget.Set("budget_percent", std::move(percent));
      budget.Set("min_retry_concurrency", N(rb->min_retry_concurrency));
      t.Set("retry_budget", std::move(budget));
    }
    Node list = Node::Sequence();
    list.Append(std::move(t));
    Node cb = Node::Map();
    cb.Set("thresholds", std::move(list));
    n.Set("circuit_breakers", std::move(cb));
  }
  if (c.http2) {
    Node explicit_config = Node::Map();
    explicit_config.Set("http2_protocol_options", Http2Options(*c.http2));
    Node po = Any(kHttpProtocolOptionsType);
    po.Set("explicit_http_config", std::move(explicit_config));
    Node typed = Node::Map();
    typed.Set("envoy.extensions.upstreams.http.v3.HttpProtocolOptions", std::move(po));
    n.Set("typed_extension_protocol_options", std::move(typed));
  }
  if (c.outlier_detection) {
    const auto& d = *c.outlier_detection;
    Node od = Node::Map();
    od.Set("consecutive_5xx", N(d.consecutive_5xx));
    if (d.consecutive_gateway_failure > 0) {
      od.Set("consecutive_gateway_failure", N(d.consecutive_gateway_failure));
    }
    od.Set("interval", D(d.interval));
    od.Set("base_ejection_time", D(d.base_ejection_time));
    od.Set("max_ejection_percent", N(d.max_ejection_percent));
    if (d.max_ejection_time != Duration(300000)) {
      od.Set("max_ejection_time", D(d.max_ejection_time));
    }
    // Success-rate and failure-percentage knobs only when they differ from Envoy's defaults.
    const OutlierDetection defaults;
    const std::pair<const char*, uint32_t OutlierDetection::*> knobs[] = {
        {"success_rate_minimum_hosts", &OutlierDetection::success_rate_minimum_hosts},
        {"success_rate_request_volume", &OutlierDetection::success_rate_request_volume},
        {"success_rate_stdev_factor", &OutlierDetection::success_rate_stdev_factor},
        {"enforcing_success_rate", &OutlierDetection::enforcing_success_rate},
        {"failure_percentage_threshold", &OutlierDetection::failure_percentage_threshold},
        {"failure_percentage_minimum_hosts", &OutlierDetection::failure_percentage_minimum_hosts},
        {"failure_percentage_request_volume", &OutlierDetection::failure_percentage_request_volume},
        {"enforcing_failure_percentage", &OutlierDetection::enforcing_failure_percentage},
    };
    for (const auto& [name, field] : knobs) {
      if (d.*field != defaults.*field) {
        od.Set(name, N(d.*field));
      }
    }
    n.Set("outlier_detection", std::move(od));
  }
  if (c.tls) {
    Node tc = Any(kUpstreamTlsType);
    tc.Set("common_tls_context", CommonTls(c.tls->common_tls_context));
    if (!c.tls->sni.empty()) {
      tc.Set("sni", S(c.tls->sni));
    }
    n.Set("transport_socket", TransportSocket(std::move(tc)));
  }
  if (!c.health_checks.empty()) {
    Node list = Node::Sequence();
    for (const auto& h : c.health_checks) {
      Node hn = Node::Map();
      hn.Set("timeout", D(h.timeout));
      hn.Set("interval", D(h.interval));
      hn.Set("unhealthy_threshold", N(h.unhealthy_threshold));
      hn.Set("healthy_threshold", N(h.healthy_threshold));
      Node http = Node::Map();
      http.Set("path", S(h.path));
      hn.Set("http_health_check", std::move(http));
      list.Append(std::move(hn));
    }
    n.Set("health_checks", std::move(list));
  }
  return n;
}

config::Node EncodeSecret(const Secret& s, bool redact_inline) {
  Node n = Any(kSecretType);
  n.Set("name", S(s.name));
  if (s.tls_certificate) {
    n.Set("tls_certificate", CertNode(*s.tls_certificate, redact_inline));
  }
  if (s.validation_context) {
    n.Set("validation_context", ValidationNode(*s.validation_context, redact_inline));
  }
  return n;
}

config::Node EncodeBootstrap(const Bootstrap& b) {
  Node n = Node::Map();
  Node node = Node::Map();
  node.Set("id", S(b.node.id));
  node.Set("cluster", S(b.node.cluster));
  if (!b.node.metadata.empty()) {
    Node md = Node::Map();
    for (const auto& [k, v] : b.node.metadata) {
      md.Set(k, S(v));
    }
    node.Set("metadata", std::move(md));
  }
  n.Set("node", std::move(node));
  if (b.admin) {
    Node admin = Node::Map();
    admin.Set("address", Address(b.admin->address));
    n.Set("admin", std::move(admin));
  }
  Node sr = Node::Map();
  Node listeners = Node::Sequence();
  for (const auto& l : b.static_resources.listeners) {
    listeners.Append(EncodeListener(l));
  }
  sr.Set("listeners", std::move(listeners));
  Node clusters = Node::Sequence();
  for (const auto& c : b.static_resources.clusters) {
    clusters.Append(EncodeCluster(c));
  }
  sr.Set("clusters", std::move(clusters));
  if (!b.static_resources.secrets.empty()) {
    Node secrets = Node::Sequence();
    for (const auto& s : b.static_resources.secrets) {
      secrets.Append(EncodeSecret(s));
    }
    sr.Set("secrets", std::move(secrets));
  }
  n.Set("static_resources", std::move(sr));
  return n;
}

config::Node EncodeConfigDump(const Bootstrap& bootstrap, const Resources& r) {
  auto dump = [](const char* type, const char* field, Node items) {
    Node d = Any(type);
    d.Set(field, std::move(items));
    return d;
  };
  Node configs = Node::Sequence();
  Node bs = Any("type.googleapis.com/envoy.admin.v3.BootstrapConfigDump");
  bs.Set("bootstrap", EncodeBootstrap(bootstrap));
  configs.Append(std::move(bs));

  Node clusters = Node::Sequence();
  for (const auto& c : r.clusters) {
    Node e = Node::Map();
    e.Set("version_info", S(r.version_info));
    e.Set("cluster", EncodeCluster(c));
    clusters.Append(std::move(e));
  }
  configs.Append(dump("type.googleapis.com/envoy.admin.v3.ClustersConfigDump", "dynamic_active_clusters",
                      std::move(clusters)));

  Node listeners = Node::Sequence();
  for (const auto& l : r.listeners) {
    Node e = Node::Map();
    e.Set("name", S(l.name));
    Node active = Node::Map();
    active.Set("version_info", S(r.version_info));
    active.Set("listener", EncodeListener(l));
    e.Set("active_state", std::move(active));
    listeners.Append(std::move(e));
  }
  configs.Append(dump("type.googleapis.com/envoy.admin.v3.ListenersConfigDump", "dynamic_listeners",
                      std::move(listeners)));

  Node routes = Node::Sequence();
  for (const auto& rc : r.route_configs) {
    Node e = Node::Map();
    e.Set("version_info", S(r.version_info));
    e.Set("route_config", EncodeRouteConfiguration(rc));
    routes.Append(std::move(e));
  }
  configs.Append(dump("type.googleapis.com/envoy.admin.v3.RoutesConfigDump", "dynamic_route_configs",
                      std::move(routes)));

  Node secrets = Node::Sequence();
  for (const auto& s : r.secrets) {
    Node e = Node::Map();
    e.Set("name", S(s.name));
    e.Set("version_info", S(r.version_info));
    e.Set("secret", EncodeSecret(s));
    secrets.Append(std::move(e));
  }
  configs.Append(dump("type.googleapis.com/envoy.admin.v3.SecretsConfigDump", "dynamic_active_secrets",
                      std::move(secrets)));

  Node eps = Node::Sequence();
  for (const auto& e : r.endpoints) {
    Node x = Node::Map();
    x.Set("version_info", S(r.version_info));
    x.Set("endpoint_config", EncodeClusterLoadAssignment(e));
    eps.Append(std::move(x));
  }
  configs.Append(dump("type.googleapis.com/envoy.admin.v3.EndpointsConfigDump", "dynamic_endpoint_configs",
                      std::move(eps)));

  Node root = Node::Map();
  root.Set("configs", std::move(configs));
  return root;
}

}  // namespace mesh::proxyconfig
