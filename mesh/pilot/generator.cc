#include "mesh/pilot/generator.h"

#include <algorithm>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>

#include "mesh/common/duration.h"
#include "mesh/common/strings.h"
#include "mesh/config/emit.h"
#include "mesh/proxyconfig/decode.h"
#include "mesh/proxyconfig/encode.h"
#include "mesh/xds/protocol.h"
#include "mesh/pilot/authz.h"  // ApplyAuthorization (translation of AuthorizationPolicy)

namespace mesh::pilot {
namespace {

using config::Node;
using config::Resource;
namespace pc = proxyconfig;

// Istio gives every cluster it generates thresholds so high they never trip unless a
// DestinationRule's connectionPool sets one (Envoy's own defaults, 1024 concurrent
// requests and 3 retries, would turn a busy service's traffic into 503 UO).
pc::CircuitBreakers IstioDefaultCircuitBreakers() {
  constexpr uint32_t kUnlimited = std::numeric_limits<uint32_t>::max();
  pc::CircuitBreakers cb;
  cb.max_connections = kUnlimited;
  cb.max_pending_requests = kUnlimited;
  cb.max_requests = kUnlimited;
  cb.max_retries = kUnlimited;
  return cb;
}

std::string Base64Decode(std::string_view in) {
  static const std::string kChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  uint32_t buf = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=' || c == '\n' || c == '\r' || c == ' ') {
      continue;
    }
    size_t v = kChars.find(c);
    if (v == std::string::npos) {
      return "";
    }
    buf = (buf << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buf >> bits) & 0xff);
    }
  }
  return out;
}

pc::Duration DurationOr(const Node& n, pc::Duration fallback) {
  if (!n.IsScalar()) {
    return fallback;
  }
  // Istio takes Go durations ("1m", "500ms", "1.5s").
  auto d = common::ParseGoDuration(n.Str());
  return d.ok() ? *d : fallback;
}

pc::StringMatcher ToMatcher(const Node& m) {
  pc::StringMatcher s;
  if (m["exact"].IsScalar()) {
    s.kind = pc::StringMatcher::Kind::kExact;
    s.value = m["exact"].Str();
  } else if (m["prefix"].IsScalar()) {
    s.kind = pc::StringMatcher::Kind::kPrefix;
    s.value = m["prefix"].Str();
  } else if (m["regex"].IsScalar()) {
    s.kind = pc::StringMatcher::Kind::kRegex;
    s.value = m["regex"].Str();
    try {
      s.regex = std::make_shared<const std::regex>(s.value, std::regex::ECMAScript);
    } catch (const std::regex_error&) {
      // Validation reports bad regexes; an uncompilable one matches nothing.
      s.regex = std::make_shared<const std::regex>("$^");
    }
  }
  return s;
}

// ---- locality load balancing (Istio's localityLbSetting) -----------------------------

pc::Locality ParseLocality(std::string_view text) {
  std::vector<std::string> parts = common::Split(text, '/');
  pc::Locality l;
  l.region = parts.size() > 0 ? parts[0] : "";
  l.zone = parts.size() > 1 ? parts[1] : "";
  l.sub_zone = parts.size() > 2 ? parts[2] : "";
  return l;
}

// Istio's LocalityMatch: a rule "region/zone/subzone" where "*" or a missing part matches
// anything (the region must be given).
bool LocalityMatches(const pc::Locality& l, std::string_view rule) {
  pc::Locality r = ParseLocality(rule);
  return (r.region == "*" || r.region == l.region) && (r.zone == "*" || r.zone.empty() || r.zone == l.zone) &&
         (r.sub_zone == "*" || r.sub_zone.empty() || r.sub_zone == l.sub_zone);
}

// Istio's proximity priority: 0 same subzone, 1 same zone, 2 same region, 3 elsewhere.
uint32_t ProximityPriority(const pc::Locality& proxy, const pc::Locality& ep) {
  if (proxy.region != ep.region) {
    return 3;
  }
  if (proxy.zone != ep.zone) {
    return 2;
  }
  return proxy.sub_zone == ep.sub_zone ? 0 : 1;
}

// The endpoints of one locality (and, with failoverPriority, one label-match level).
struct EndpointGroup {
  std::string locality_text;
  pc::Locality locality;
  std::vector<const Endpoint*> endpoints;
  uint32_t priority = 0;
  std::optional<uint32_t> weight;  // set by distribute
};

// Priorities 0..N without gaps, keeping their order.
void CompactPriorities(std::vector<EndpointGroup>& groups) {
  std::set<uint32_t> used;
  for (const auto& g : groups) {
    used.insert(g.priority);
  }
  std::map<uint32_t, uint32_t> rank;
  for (uint32_t p : used) {
    rank.emplace(p, static_cast<uint32_t>(rank.size()));
  }
  for (auto& g : groups) {
    g.priority = rank[g.priority];
  }
}

// distribute: for the first rule whose `from` matches the proxy, the localities matching a
// `to` key (not already taken by an earlier key) share that key's weight in proportion to
// their endpoint counts (rounded up); localities no key matches are left out.
void ApplyDistribute(std::vector<EndpointGroup>& groups, const pc::Locality& proxy, const Node& distribute) {
  for (const Node& rule : distribute.items()) {
    if (!LocalityMatches(proxy, rule["from"].Str())) {
      continue;
    }
    std::vector<bool> matched(groups.size(), false);
    for (const auto& [to, weight_node] : rule["to"].entries()) {
      uint64_t weight = static_cast<uint64_t>(std::max<int64_t>(0, weight_node.Int().value_or(0)));
      std::vector<size_t> members;
      uint64_t total = 0;
      for (size_t i = 0; i < groups.size(); ++i) {
        if (!matched[i] && LocalityMatches(groups[i].locality, to)) {
          matched[i] = true;
          members.push_back(i);
          total += groups[i].endpoints.size();
        }
      }
      for (size_t i : members) {
        uint64_t share = (groups[i].endpoints.size() * weight + total - 1) / total;
        if (share > 0) {  // a zero share keeps the locality's own weight, as in Istio
          groups[i].weight = static_cast<uint32_t>(share);
        }
      }
    }
    for (size_t i = 0; i < groups.size(); ++i) {
      if (!matched[i]) {
        groups[i].endpoints.clear();
      }
    }
    return;
  }
}

// failover: priorities by proximity to the proxy; a region named in a failover rule's
// `from` (the proxy's) sends its cross-region traffic to the rule's `to` region first,
// other regions after that. Existing priorities (failoverPriority) stay the major key.
void ApplyLocalityFailover(std::vector<EndpointGroup>& groups, const pc::Locality& proxy, const Node& failover) {
  for (auto& g : groups) {
    uint32_t p = ProximityPriority(proxy, g.locality);
    if (p == 3) {
      for (const Node& rule : failover.items()) {
        if (rule["from"].Str() == proxy.region) {
          if (g.locality.region != rule["to"].Str()) {
            p = 4;
          }
          break;
        }
      }
    }
    g.priority = g.priority * 5 + p;
  }
  CompactPriorities(groups);
}

// failoverPriority: an endpoint whose values of the listed labels match the proxy's (or the
// "label=value" given) from the first label on gets a higher priority the more leading
// labels match: all match -> 0, the first differs -> N.
void ApplyFailoverPriority(std::vector<EndpointGroup>& groups, const config::StringMap& proxy_labels,
                           const std::vector<std::string>& failover_priority) {
  if (proxy_labels.empty()) {
    return;
  }
  std::vector<std::pair<std::string, std::string>> wanted;  // label, value for the proxy
  for (const std::string& entry : failover_priority) {
    size_t eq = entry.find('=');
    if (eq != std::string::npos) {
      wanted.emplace_back(entry.substr(0, eq), entry.substr(eq + 1));
    } else {
      auto it = proxy_labels.find(entry);
      wanted.emplace_back(entry, it == proxy_labels.end() ? "" : it->second);
    }
  }
  const uint32_t lowest = static_cast<uint32_t>(wanted.size());
  std::vector<EndpointGroup> split;
  for (const auto& g : groups) {
    std::map<uint32_t, EndpointGroup> by_priority;
    for (const Endpoint* e : g.endpoints) {
      uint32_t priority = 0;
      for (uint32_t j = 0; j < wanted.size(); ++j) {
        auto it = e->instance->labels.find(wanted[j].first);
        std::string value = it == e->instance->labels.end() ? "" : it->second;
        if (value != wanted[j].second) {
          priority = lowest - j;
          break;
        }
      }
      EndpointGroup& part = by_priority[priority];
      if (part.endpoints.empty()) {
        part.locality_text = g.locality_text;
        part.locality = g.locality;
        part.priority = priority;
      }
      part.endpoints.push_back(e);
    }
    for (auto& [priority, part] : by_priority) {
      split.push_back(std::move(part));
    }
  }
  groups = std::move(split);
  CompactPriorities(groups);
}

struct Translation {
  const PushContext& push;
  const ProxyRole& proxy;
  pc::Resources out;
  std::set<std::string> clusters_needed;  // outbound cluster names referenced by routes

  // Resolves a VirtualService destination to its cluster name.
  std::string ClusterFor(const Node& destination, const std::string& vs_ns) {
    std::string host = QualifyHost(destination["host"].Str(), vs_ns, push.mesh().domain_suffix);
    uint32_t port = static_cast<uint32_t>(destination.At({"port", "number"}).Int().value_or(0));
    const Service* svc = push.FindService(host);
    if (port == 0 && svc != nullptr && !svc->ports.empty()) {
      port = svc->ports.front().port;
    }
    std::string name = OutboundClusterName(port, destination["subset"].Str(), host);
    clusters_needed.insert(name);
    return name;
  }

  std::vector<pc::Route> HttpRoutes(const Resource& vs) {
    std::vector<pc::Route> routes;
    int rule_index = 0;
    for (const Node& rule : vs.spec()["http"].items()) {
      std::vector<Node> matches = rule["match"].items();
      if (matches.empty()) {
        matches.push_back(Node::Map());
      }
      for (const Node& m : matches) {
        pc::Route r;
        r.name = rule["name"].Str().empty() ? common::StrCat(vs.ns(), "/", vs.name(), ".", rule_index) : rule["name"].Str();
        const Node& uri = m["uri"];
        if (uri["exact"].IsScalar()) {
          r.match.path_kind = pc::RouteMatch::PathKind::kPath;
          r.match.path = uri["exact"].Str();
        } else if (uri["regex"].IsScalar()) {
          r.match.path_kind = pc::RouteMatch::PathKind::kSafeRegex;
          r.match.path = uri["regex"].Str();
          r.match.regex = ToMatcher(uri).regex;
        } else {
          r.match.path_kind = pc::RouteMatch::PathKind::kPrefix;
          r.match.path = uri["prefix"].IsScalar() ? uri["prefix"].Str() : "/";
        }
        r.match.case_sensitive = !m["ignoreUriCase"].Bool().value_or(false);
        for (const auto& [name, matcher] : m["headers"].entries()) {
          pc::HeaderMatcher h;
          h.name = common::ToLower(name);
          if (matcher.IsMap() && matcher.entries().empty()) {
            h.present_match = true;
          } else {
            h.string_match = ToMatcher(matcher);
          }
          r.match.headers.push_back(std::move(h));
        }
        for (const auto& [name, matcher] : m["withoutHeaders"].entries()) {
          pc::HeaderMatcher h;
          h.name = common::ToLower(name);
          h.invert_match = true;
          if (matcher.IsMap() && matcher.entries().empty()) {
            h.present_match = true;
          } else {
            h.string_match = ToMatcher(matcher);
          }
          r.match.headers.push_back(std::move(h));
        }
        if (m["method"].IsMap()) {
          r.match.headers.push_back(pc::HeaderMatcher{":method", ToMatcher(m["method"])});
        }
        if (m["authority"].IsMap()) {
          r.match.headers.push_back(pc::HeaderMatcher{":authority", ToMatcher(m["authority"])});
        }
        for (const auto& [name, matcher] : m["queryParams"].entries()) {
          pc::QueryParameterMatcher q;
          q.name = name;
          if (matcher.IsMap() && matcher.entries().empty()) {
            q.present_match = true;
          } else {
            q.string_match = ToMatcher(matcher);
          }
          r.match.query_parameters.push_back(std::move(q));
        }

        if (rule["redirect"].IsMap()) {
          const Node& rd = rule["redirect"];
          pc::RedirectAction a;
          a.path_redirect = rd["uri"].Str();
          a.host_redirect = rd["authority"].Str();
          a.scheme_redirect = rd["scheme"].Str();
          a.port_redirect = static_cast<uint32_t>(rd["port"].Int().value_or(0));
          a.response_code = static_cast<uint32_t>(rd["redirectCode"].Int().value_or(301));
          r.action = a;
        } else if (rule["directResponse"].IsMap()) {
          pc::DirectResponseAction a;
          a.status = static_cast<uint32_t>(rule["directResponse"]["status"].Int().value_or(200));
          a.body = rule["directResponse"].At({"body", "string"}).Str();
          r.action = a;
        } else {
          pc::RouteAction a;
          const Node& dests = rule["route"];
          if (dests.items().size() == 1) {
            a.cluster = ClusterFor(dests.items()[0]["destination"], vs.ns());
          } else {
            for (const Node& d : dests.items()) {
              a.weighted_clusters.push_back(
                  {ClusterFor(d["destination"], vs.ns()), static_cast<uint32_t>(d["weight"].Int().value_or(0))});
            }
          }
          if (rule.At({"rewrite", "uri"}).IsScalar()) {
            a.prefix_rewrite = rule.At({"rewrite", "uri"}).Str();
          }
          if (rule.At({"rewrite", "authority"}).IsScalar()) {
            a.host_rewrite_literal = rule.At({"rewrite", "authority"}).Str();
          }
          a.timeout = DurationOr(rule["timeout"], pc::Duration(0));  // Istio: no route timeout by default
          const Node& retries = rule["retries"];
          pc::RetryPolicy retry;
          retry.num_retries = 2;  // Istio's default
          retry.retry_on = {"connect-failure", "refused-stream", "retriable-status-codes"};
          if (retries.IsMap()) {
            retry.num_retries = static_cast<uint32_t>(retries["attempts"].Int().value_or(2));
            retry.per_try_timeout = DurationOr(retries["perTryTimeout"], pc::Duration(0));
            if (retries["retryOn"].IsScalar()) {
              retry.retry_on.clear();
              static const std::set<std::string> kSupported = {"5xx", "gateway-error", "connect-failure", "reset",
                                                               "retriable-4xx", "refused-stream"};
              for (const std::string& c : common::Split(retries["retryOn"].Str(), ',', true)) {
                std::string cond(common::StripWhitespace(c));
                if (kSupported.count(cond)) {
                  retry.retry_on.push_back(cond);
                }
              }
            }
          }
          if (retry.num_retries > 0 && !retry.retry_on.empty()) {
            a.retry_policy = retry;
          }
          if (rule.At({"mirror", "host"}).IsScalar()) {
            a.request_mirror_clusters.push_back(ClusterFor(rule["mirror"], vs.ns()));
          }
          r.action = a;
        }
        const Node& fault = rule["fault"];
        if (fault.IsMap()) {
          pc::FaultPolicy f;
          if (fault["delay"].IsMap()) {
            f.delay = DurationOr(fault["delay"]["fixedDelay"], pc::Duration(0));
            f.delay_percent = fault["delay"].At({"percentage", "value"}).Double().value_or(100);
          }
          if (fault["abort"].IsMap()) {
            f.abort_status = static_cast<uint32_t>(fault["abort"]["httpStatus"].Int().value_or(503));
            f.abort_percent = fault["abort"].At({"percentage", "value"}).Double().value_or(100);
          }
          r.fault = f;
        }
        const Node& headers = rule["headers"];
        for (const auto& [k, v] : headers.At({"request", "set"}).StringMap()) {
          r.headers.request_headers_to_add.push_back({k, v, pc::HeaderValueOption::Action::kOverwriteIfExistsOrAdd});
        }
        for (const auto& [k, v] : headers.At({"request", "add"}).StringMap()) {
          r.headers.request_headers_to_add.push_back({k, v, pc::HeaderValueOption::Action::kAppendIfExistsOrAdd});
        }
        r.headers.request_headers_to_remove = headers.At({"request", "remove"}).StringList();
        for (const auto& [k, v] : headers.At({"response", "set"}).StringMap()) {
          r.headers.response_headers_to_add.push_back({k, v, pc::HeaderValueOption::Action::kOverwriteIfExistsOrAdd});
        }
        for (const auto& [k, v] : headers.At({"response", "add"}).StringMap()) {
          r.headers.response_headers_to_add.push_back({k, v, pc::HeaderValueOption::Action::kAppendIfExistsOrAdd});
        }
        r.headers.response_headers_to_remove = headers.At({"response", "remove"}).StringList();
        routes.push_back(std::move(r));
      }
      ++rule_index;
    }
    return routes;
  }

  pc::HttpConnectionManager Hcm(const std::string& stat_prefix, const std::string& rds) {
    pc::HttpConnectionManager h;
    h.stat_prefix = stat_prefix;
    h.rds_route_config_name = rds;
    h.use_remote_address = proxy.type == ProxyRole::Type::kRouter;
    return h;
  }

  // ---- gateways -------------------------------------------------------------------

  void Router() {
    struct PortGroup {
      std::vector<pc::FilterChain> chains;
    };
    std::map<uint32_t, PortGroup> ports;  // by local listen port
    for (const Resource* gw : push.GatewaysFor(proxy.workload.labels)) {
      std::string gw_name = common::StrCat(gw->ns(), "/", gw->name());
      std::vector<const Resource*> bound = push.VirtualServicesForGateway(gw_name);
      for (const Node& server : gw->spec()["servers"].items()) {
        uint32_t number = static_cast<uint32_t>(server.At({"port", "number"}).Int().value_or(0));
        std::string protocol = common::ToLower(server.At({"port", "protocol"}).Str());
        std::string port_name = server.At({"port", "name"}).Str();
        auto mapped = proxy.gateway_ports.find(number);
        uint32_t listen = mapped != proxy.gateway_ports.end() ? mapped->second : number;
        std::vector<std::string> hosts;
        for (const std::string& h : server["hosts"].StringList()) {
          size_t slash = h.find('/');
          hosts.push_back(slash == std::string::npos ? h : h.substr(slash + 1));
        }
        const Node& tls = server["tls"];
        std::string mode = tls["mode"].Str();
        pc::FilterChain chain;
        if (mode == "PASSTHROUGH" || mode == "AUTO_PASSTHROUGH") {
          // TLS routes by SNI to TCP clusters.
          for (const Resource* vs : bound) {
            for (const Node& rule : vs->spec()["tls"].items()) {
              pc::FilterChain pass;
              for (const Node& m : rule["match"].items()) {
                for (const std::string& sni : m["sniHosts"].StringList()) {
                  pass.filter_chain_match.server_names.push_back(sni);
                }
              }
              pass.filter_chain_match.transport_protocol = "tls";
              pass.name = common::StrCat("passthrough.", number, ".", vs->name());
              pc::TcpProxy tcp;
              tcp.stat_prefix = pass.name;
              const Node& dests = rule["route"];
              if (!dests.items().empty()) {
                tcp.cluster = ClusterFor(dests.items()[0]["destination"], vs->ns());
              }
              pass.filter = tcp;
              ports[listen].chains.push_back(std::move(pass));
            }
          }
          continue;
        }
        bool terminate = mode == "SIMPLE" || mode == "MUTUAL" || mode == "OPTIONAL_MUTUAL" || mode == "ISTIO_MUTUAL";
        std::string rds = terminate ? common::StrCat("https.", number, ".", port_name, ".", gw->name(), ".", gw->ns())
                                    : common::StrCat("http.", number);
        if (protocol == "tcp" || (protocol == "tls" && !terminate)) {
          for (const Resource* vs : bound) {
            for (const Node& rule : vs->spec()["tcp"].items()) {
              pc::TcpProxy tcp;
              tcp.stat_prefix = common::StrCat("tcp.", number);
              const Node& dests = rule["route"];
              if (!dests.items().empty()) {
                tcp.cluster = ClusterFor(dests.items()[0]["destination"], vs->ns());
              }
              chain.filter = tcp;
              chain.name = tcp.stat_prefix;
              ports[listen].chains.push_back(chain);
              break;
            }
          }
          continue;
        }
        chain.name = rds;
        chain.filter = Hcm(rds, rds);
        if (terminate) {
          pc::DownstreamTlsContext ctx;
          std::string credential = tls["credentialName"].Str();
          if (!credential.empty()) {
            ctx.common_tls_context.tls_certificate_sds_secret_configs.push_back("kubernetes://" + credential);
            AddGatewaySecret(credential, gw->ns(), mode != "SIMPLE");
            if (mode != "SIMPLE") {
              ctx.common_tls_context.validation_context_sds_secret_config = "kubernetes://" + credential + "-cacert";
            }
          } else {
            pc::TlsCertificate cert;
            cert.certificate_chain.filename = tls["serverCertificate"].Str();
            cert.private_key.filename = tls["privateKey"].Str();
            ctx.common_tls_context.tls_certificates.push_back(cert);
            if (tls["caCertificates"].IsScalar()) {
              pc::CertificateValidationContext v;
              v.trusted_ca.filename = tls["caCertificates"].Str();
              ctx.common_tls_context.validation_context = v;
            }
          }
          ctx.require_client_certificate = mode == "MUTUAL";
          ctx.common_tls_context.alpn_protocols = {"http/1.1"};
          chain.tls = ctx;
          chain.filter_chain_match.transport_protocol = "tls";
          for (const std::string& h : hosts) {
            if (h != "*") {
              chain.filter_chain_match.server_names.push_back(h);
            }
          }
        }
        ports[listen].chains.push_back(chain);
        // The routes: VirtualServices bound to this gateway with a host this server serves.
        pc::RouteConfiguration* rc = RouteConfig(rds);
        bool https_redirect = tls["httpsRedirect"].Bool().value_or(false);
        for (const Resource* vs : bound) {
          std::vector<std::string> domains;
          for (const std::string& vh : vs->spec()["hosts"].StringList()) {
            for (const std::string& sh : hosts) {
              if (HostIntersects(vh, sh)) {
                domains.push_back(vh);
                break;
              }
            }
          }
          if (domains.empty()) {
            continue;
          }
          pc::VirtualHost vhost;
          vhost.name = common::StrCat(domains.front(), ":", number);
          for (const std::string& d : domains) {
            vhost.domains.push_back(d);
            if (d != "*") {
              vhost.domains.push_back(common::StrCat(d, ":*"));
            }
          }
          if (https_redirect) {
            pc::Route r;
            r.name = "https-redirect";
            pc::RedirectAction a;
            a.scheme_redirect = "https";
            r.action = a;
            vhost.routes.push_back(std::move(r));
          } else {
            vhost.routes = HttpRoutes(*vs);
          }
          MergeVirtualHost(*rc, std::move(vhost));
        }
      }
    }
    for (auto& [port, group] : ports) {
      pc::Listener l;
      l.name = common::StrCat("0.0.0.0_", port);
      l.address = {proxy.bind_address, port};
      l.traffic_direction = pc::Listener::Direction::kOutbound;
      l.filter_chains = std::move(group.chains);
      bool any_tls = std::any_of(l.filter_chains.begin(), l.filter_chains.end(),
                                 [](const pc::FilterChain& c) { return !c.filter_chain_match.transport_protocol.empty(); });
      if (any_tls) {
        l.listener_filters.push_back("envoy.filters.listener.tls_inspector");
      }
      out.listeners.push_back(std::move(l));
    }
  }

  static bool HostIntersects(std::string_view a, std::string_view b) {
    auto covers = [](std::string_view pattern, std::string_view host) {
      if (pattern == "*") {
        return true;
      }
      if (!pattern.empty() && pattern[0] == '*') {
        std::string_view suffix = pattern.substr(1);
        return host.size() >= suffix.size() && host.substr(host.size() - suffix.size()) == suffix;
      }
      return pattern == host;
    };
    return covers(a, b) || covers(b, a);
  }

  void AddGatewaySecret(const std::string& credential, const std::string& gateway_ns, bool with_ca) {
    // Istio looks the credential up in the gateway workload's namespace; meshctl also
    // accepts it next to the Gateway resource.
    const Resource* secret = push.FindSecret(proxy.workload.ns, credential);
    if (secret == nullptr) {
      secret = push.FindSecret(gateway_ns, credential);
    }
    if (secret == nullptr || out.FindSecret("kubernetes://" + credential) != nullptr) {
      return;
    }
    const Node& data = secret->root()["data"];
    const Node& string_data = secret->root()["stringData"];
    auto value = [&](const char* key) {
      if (string_data[key].IsScalar()) {
        return string_data[key].Str();
      }
      return Base64Decode(data[key].Str());
    };
    pc::Secret s;
    s.name = "kubernetes://" + credential;
    pc::TlsCertificate cert;
    cert.certificate_chain.inline_string = value("tls.crt");
    cert.private_key.inline_string = value("tls.key");
    if (cert.certificate_chain.inline_string.empty() || cert.private_key.inline_string.empty()) {
      return;  // analyze reports IST0161; the listener then fails to find its secret
    }
    s.tls_certificate = cert;
    out.secrets.push_back(std::move(s));
    std::string ca = value("ca.crt");
    if (ca.empty()) {
      ca = value("cacert");
    }
    if (with_ca && !ca.empty()) {
      pc::Secret v;
      v.name = "kubernetes://" + credential + "-cacert";
      pc::CertificateValidationContext ctx;
      ctx.trusted_ca.inline_string = ca;
      v.validation_context = ctx;
      out.secrets.push_back(std::move(v));
    }
  }

  pc::RouteConfiguration* RouteConfig(const std::string& name) {
    for (pc::RouteConfiguration& rc : out.route_configs) {
      if (rc.name == name) {
        return &rc;
      }
    }
    out.route_configs.push_back(pc::RouteConfiguration{name});
    return &out.route_configs.back();
  }

  static void MergeVirtualHost(pc::RouteConfiguration& rc, pc::VirtualHost vhost) {
    for (pc::VirtualHost& existing : rc.virtual_hosts) {
      if (existing.domains == vhost.domains) {
        for (pc::Route& r : vhost.routes) {
          existing.routes.push_back(std::move(r));
        }
        return;
      }
    }
    rc.virtual_hosts.push_back(std::move(vhost));
  }

  // ---- sidecars -------------------------------------------------------------------

  // Whether a Service port of this workload that targets the app port is HTTP/2 (port
  // name or appProtocol grpc*, http2*, h2c), as Istio decides the inbound protocol.
  bool AppPortSpeaksHttp2(const WorkloadInstance& w) const {
    for (const Service& s : push.services()) {
      if (s.ns != w.ns) {
        continue;
      }
      bool member = std::find(w.services.begin(), w.services.end(), s.name) != w.services.end();
      if (!member && !s.selector.empty()) {
        member = std::all_of(s.selector.begin(), s.selector.end(), [&](const auto& kv) {
          auto it = w.labels.find(kv.first);
          return it != w.labels.end() && it->second == kv.second;
        });
      }
      if (!member) {
        continue;
      }
      for (const ServicePort& p : s.ports) {
        uint32_t target = p.target_port != 0 ? p.target_port : p.port;
        if (target == proxy.app_port && (p.protocol == "GRPC" || p.protocol == "HTTP2")) {
          return true;
        }
      }
    }
    return false;
  }

  void SidecarInbound() {
    const WorkloadInstance& w = proxy.workload;
    if (w.default_endpoint_port == 0 || proxy.app_port == 0) {
      return;
    }
    std::string inbound_cluster = common::StrCat("inbound|", proxy.app_port, "||");
    pc::Cluster app;
    app.name = inbound_cluster;
    app.type = pc::Cluster::DiscoveryType::kStatic;
    app.circuit_breakers = IstioDefaultCircuitBreakers();
    pc::ClusterLoadAssignment cla;
    cla.cluster_name = inbound_cluster;
    pc::LocalityLbEndpoints lle;
    lle.lb_endpoints.push_back(pc::LbEndpoint{{"127.0.0.1", proxy.app_port}});
    cla.endpoints.push_back(lle);
    app.load_assignment = cla;
    if (AppPortSpeaksHttp2(w)) {
      app.http2 = pc::Http2ProtocolOptions();  // gRPC/h2c apps get HTTP/2 from the sidecar
    }
    out.clusters.push_back(app);

    pc::RouteConfiguration rc;
    rc.name = "inbound|" + std::to_string(proxy.app_port);
    pc::VirtualHost vh;
    vh.name = "inbound|http|" + std::to_string(proxy.app_port);
    vh.domains = {"*"};
    pc::Route route;
    route.name = "default";
    pc::RouteAction a;
    a.cluster = inbound_cluster;
    a.timeout = pc::Duration(0);
    route.action = a;
    vh.routes.push_back(route);
    rc.virtual_hosts.push_back(vh);
    out.route_configs.push_back(rc);

    std::string mode = push.MtlsModeFor(w, proxy.app_port);
    pc::Listener l;
    l.name = "virtualInbound";
    l.address = {proxy.bind_address, w.default_endpoint_port};
    l.traffic_direction = pc::Listener::Direction::kInbound;
    auto make_chain = [&](bool mtls) {
      pc::FilterChain c;
      c.name = mtls ? "inbound-mtls" : "inbound-plaintext";
      c.filter = Hcm(common::StrCat("inbound_0.0.0.0_", proxy.app_port), rc.name);
      if (mtls) {
        pc::DownstreamTlsContext ctx;
        ctx.common_tls_context.tls_certificate_sds_secret_configs = {kWorkloadCertSecret};
        ctx.common_tls_context.validation_context_sds_secret_config = kRootCertSecret;
        ctx.common_tls_context.alpn_protocols = {"istio-http/1.1", "istio", "http/1.1"};
        ctx.require_client_certificate = true;
        c.tls = ctx;
        c.filter_chain_match.transport_protocol = "tls";
      } else if (mode == "PERMISSIVE") {
        c.filter_chain_match.transport_protocol = "raw_buffer";
      }
      return c;
    };
    if (mode == "STRICT") {
      l.filter_chains.push_back(make_chain(true));
    } else if (mode == "DISABLE") {
      l.filter_chains.push_back(make_chain(false));
    } else {
      l.filter_chains.push_back(make_chain(true));
      l.filter_chains.push_back(make_chain(false));
      l.listener_filters.push_back("envoy.filters.listener.tls_inspector");
    }
    if (mode == "STRICT") {
      l.listener_filters.push_back("envoy.filters.listener.tls_inspector");
    }
    out.listeners.push_back(std::move(l));
  }

  // A Sidecar resource's egress hosts ("ns/host", "./*", "*/*") limit what a sidecar sees.
  bool AllowedBySidecarEgress(const Service& s) const {
    const Resource* sc = push.FindSidecarConfig(proxy.workload);
    if (sc == nullptr || !sc->spec()["egress"].IsSequence()) {
      return true;
    }
    for (const Node& egress : sc->spec()["egress"].items()) {
      for (const std::string& h : egress["hosts"].StringList()) {
        size_t slash = h.find('/');
        if (slash == std::string::npos) {
          continue;
        }
        std::string ns = h.substr(0, slash);
        std::string host = h.substr(slash + 1);
        if (ns == ".") {
          ns = sc->ns();
        }
        if ((ns == "*" || ns == s.ns) && HostIntersects(host, s.hostname)) {
          return true;
        }
      }
    }
    return false;
  }

  bool Visible(const Service& s) const {
    if (!AllowedBySidecarEgress(s)) {
      return false;
    }
    if (s.export_to.empty()) {
      return true;
    }
    for (const std::string& e : s.export_to) {
      if (e == "*" || e == proxy.workload.ns || (e == "." && s.ns == proxy.workload.ns)) {
        return true;
      }
    }
    return false;
  }

  // The virtual host of one service port on the outbound listener (the default route,
  // or the routes of the mesh VirtualServices for that host).
  pc::VirtualHost OutboundVirtualHost(const Service& s, const ServicePort& port,
                                      const std::vector<const Resource*>& mesh_vs) {
    pc::VirtualHost vh;
    vh.name = common::StrCat(s.hostname, ":", port.port);
    vh.domains = {common::StrCat(s.hostname, ":", port.port)};
    if (port.port == s.ports.front().port || port.port == 80) {
      vh.domains.push_back(s.hostname);
    }
    if (!s.mesh_external && s.hostname.find(".svc.") != std::string::npos) {
      std::string short_ns = common::StrCat(s.name, ".", s.ns);
      for (const std::string& alias : {short_ns, short_ns + ".svc"}) {
        vh.domains.push_back(common::StrCat(alias, ":", port.port));
        if (port.port == 80) {
          vh.domains.push_back(alias);
        }
      }
      if (s.ns == proxy.workload.ns) {
        vh.domains.push_back(common::StrCat(s.name, ":", port.port));
        if (port.port == 80) {
          vh.domains.push_back(s.name);
        }
      }
    }
    // A mesh VirtualService for this host replaces the default route.
    for (const Resource* vs : mesh_vs) {
      for (const std::string& h : vs->spec()["hosts"].StringList()) {
        if (QualifyHost(h, vs->ns(), push.mesh().domain_suffix) == s.hostname) {
          for (pc::Route& r : HttpRoutes(*vs)) {
            vh.routes.push_back(std::move(r));
          }
        }
      }
    }
    if (vh.routes.empty()) {
      pc::Route r;
      r.name = "default";
      pc::RouteAction a;
      a.cluster = OutboundClusterName(port.port, "", s.hostname);
      clusters_needed.insert(a.cluster);
      a.timeout = pc::Duration(0);
      pc::RetryPolicy retry;
      retry.num_retries = 2;
      retry.retry_on = {"connect-failure", "refused-stream", "retriable-status-codes"};
      a.retry_policy = retry;
      r.action = a;
      vh.routes.push_back(std::move(r));
    }
    return vh;
  }

  void SidecarOutbound() {
    if (proxy.outbound_port == 0) {
      return;
    }
    pc::RouteConfiguration* rc = RouteConfig("outbound");
    std::vector<const Resource*> mesh_vs = push.MeshVirtualServices(proxy.workload.ns);
    for (const Service& s : push.services()) {
      if (!Visible(s)) {
        continue;
      }
      for (const ServicePort& port : s.ports) {
        if (!IsHttpProtocol(port.protocol)) {
          continue;
        }
        pc::VirtualHost vh = OutboundVirtualHost(s, port, mesh_vs);
        rc->virtual_hosts.push_back(std::move(vh));
      }
    }
    out.listeners.push_back(OutboundListener());
  }

  pc::Listener OutboundListener() {
    pc::Listener l;
    l.name = "virtualOutbound";
    l.address = {"127.0.0.1", proxy.outbound_port};
    l.traffic_direction = pc::Listener::Direction::kOutbound;
    pc::FilterChain c;
    c.name = "virtualOutbound-http";
    c.filter = Hcm("outbound_http", "outbound");
    l.filter_chains.push_back(std::move(c));
    return l;
  }

  // ---- clusters -------------------------------------------------------------------

  static pc::Cluster::LbPolicy LbFor(const Node& lb) {
    std::string simple = lb["simple"].Str();
    if (simple == "LEAST_REQUEST" || simple == "LEAST_CONN") {
      return pc::Cluster::LbPolicy::kLeastRequest;
    }
    if (simple == "RANDOM") {
      return pc::Cluster::LbPolicy::kRandom;
    }
    if (lb["consistentHash"].IsMap()) {
      return lb["consistentHash"]["maglev"].IsMap() ? pc::Cluster::LbPolicy::kMaglev : pc::Cluster::LbPolicy::kRingHash;
    }
    return pc::Cluster::LbPolicy::kRoundRobin;
  }

  void ApplyTrafficPolicy(pc::Cluster& c, const Node& policy, const Service& svc, const std::string& subset,
                          const std::vector<Endpoint>& endpoints) {
    if (policy["loadBalancer"].IsMap()) {
      c.lb_policy = LbFor(policy["loadBalancer"]);
    }
    const Node& pool = policy["connectionPool"];
    if (pool.IsMap()) {
      pc::CircuitBreakers cb = IstioDefaultCircuitBreakers();
      if (auto v = pool.At({"tcp", "maxConnections"}).Int()) cb.max_connections = static_cast<uint32_t>(*v);
      if (auto v = pool.At({"http", "http1MaxPendingRequests"}).Int()) cb.max_pending_requests = static_cast<uint32_t>(*v);
      if (auto v = pool.At({"http", "http2MaxRequests"}).Int()) cb.max_requests = static_cast<uint32_t>(*v);
      if (auto v = pool.At({"http", "maxRetries"}).Int()) cb.max_retries = static_cast<uint32_t>(*v);
      c.circuit_breakers = cb;
      c.connect_timeout = DurationOr(pool.At({"tcp", "connectTimeout"}), c.connect_timeout);
    }
    const Node& od = policy["outlierDetection"];
    if (od.IsMap()) {
      pc::OutlierDetection o;
      if (auto v = od["consecutive5xxErrors"].Int()) o.consecutive_5xx = static_cast<uint32_t>(*v);
      if (auto v = od["consecutiveErrors"].Int()) o.consecutive_5xx = static_cast<uint32_t>(*v);
      if (auto v = od["consecutiveGatewayErrors"].Int()) o.consecutive_gateway_failure = static_cast<uint32_t>(*v);
      o.interval = DurationOr(od["interval"], o.interval);
      o.base_ejection_time = DurationOr(od["baseEjectionTime"], o.base_ejection_time);
      if (auto v = od["maxEjectionPercent"].Int()) o.max_ejection_percent = static_cast<uint32_t>(*v);
      c.outlier_detection = o;
      // Istio: with outlier detection the panic threshold is minHealthPercent (default 0:
      // no panic mode, so ejected hosts stay out even when few are left).
      c.healthy_panic_threshold = static_cast<double>(std::clamp<int64_t>(od["minHealthPercent"].Int().value_or(0), 0, 100));
    }
    (void)subset;
    // TLS to the upstream: the DestinationRule's mode, else auto mTLS when every
    // endpoint has a sidecar.
    const Node& tls = policy["tls"];
    std::string mode = tls["mode"].Str();
    bool all_meshed = !endpoints.empty() && std::all_of(endpoints.begin(), endpoints.end(),
                                                        [](const Endpoint& e) { return e.instance->has_sidecar; });
    if (mode.empty()) {
      mode = all_meshed && !svc.mesh_external ? "ISTIO_MUTUAL" : "DISABLE";
    }
    if (mode == "ISTIO_MUTUAL") {
      pc::UpstreamTlsContext ctx;
      ctx.common_tls_context.tls_certificate_sds_secret_configs = {kWorkloadCertSecret};
      ctx.common_tls_context.validation_context_sds_secret_config = kRootCertSecret;
      ctx.common_tls_context.alpn_protocols = {"istio-http/1.1", "istio"};
      pc::CertificateValidationContext v;
      std::set<std::string> identities;
      for (const Endpoint& e : endpoints) {
        identities.insert(SpiffeIdentity(push.mesh(), e.instance->ns, e.instance->service_account));
      }
      for (const std::string& id : identities) {
        pc::SanMatcher m;
        m.type = pc::SanMatcher::Type::kUri;
        m.matcher.value = id;
        v.match_typed_subject_alt_names.push_back(m);
      }
      ctx.common_tls_context.validation_context = v;
      ctx.sni = c.name;
      c.tls = ctx;
    } else if (mode == "SIMPLE" || mode == "MUTUAL") {
      pc::UpstreamTlsContext ctx;
      ctx.sni = tls["sni"].Str().empty() ? svc.hostname : tls["sni"].Str();
      if (tls["caCertificates"].IsScalar() || tls["subjectAltNames"].IsSequence()) {
        pc::CertificateValidationContext v;
        v.trusted_ca.filename = tls["caCertificates"].Str();
        for (const std::string& san : tls["subjectAltNames"].StringList()) {
          pc::SanMatcher m;
          m.type = pc::SanMatcher::Type::kDns;
          m.matcher.value = san;
          v.match_typed_subject_alt_names.push_back(m);
        }
        ctx.common_tls_context.validation_context = v;
      }
      if (mode == "MUTUAL") {
        pc::TlsCertificate cert;
        cert.certificate_chain.filename = tls["clientCertificate"].Str();
        cert.private_key.filename = tls["privateKey"].Str();
        ctx.common_tls_context.tls_certificates.push_back(cert);
      }
      c.tls = ctx;
    }
  }

  void Clusters() {
    for (const std::string& name : clusters_needed) {
      pc::Cluster c;
      pc::ClusterLoadAssignment cla;
      if (OutboundCluster(name, c, cla)) {
        out.clusters.push_back(std::move(c));
        out.endpoints.push_back(std::move(cla));
      }
    }
  }

  // One outbound cluster and its endpoints; false for a malformed name.
  bool OutboundCluster(const std::string& name, pc::Cluster& c, pc::ClusterLoadAssignment& cla) {
    // outbound|port|subset|host
    std::vector<std::string> parts = common::Split(name, '|');
    if (parts.size() != 4) {
      return false;
    }
    uint32_t port = static_cast<uint32_t>(std::strtoul(parts[1].c_str(), nullptr, 10));
    const std::string& subset = parts[2];
    const Service* svc = push.FindService(parts[3]);
    c.name = name;
    c.type = pc::Cluster::DiscoveryType::kEds;
    c.eds_service_name = name;
    c.connect_timeout = pc::Duration(10000);
    c.circuit_breakers = IstioDefaultCircuitBreakers();
    cla.cluster_name = name;
    if (svc == nullptr || svc->FindPort(port) == nullptr) {
      // Unknown destination: an empty cluster (requests get 503 UH, as in Istio).
      return true;
    }
    const ServicePort& sp = *svc->FindPort(port);
    const Resource* dr = push.DestinationRuleFor(proxy.workload.ns, *svc);
    Node policy = dr ? dr->spec()["trafficPolicy"] : Node();
    config::StringMap subset_labels;
    if (dr != nullptr && !subset.empty()) {
      for (const Node& s : dr->spec()["subsets"].items()) {
        if (s["name"].Str() == subset) {
          for (const auto& [k, v] : s["labels"].StringMap()) {
            subset_labels[k] = v;
          }
          if (s["trafficPolicy"].IsMap()) {
            policy = s["trafficPolicy"];  // the subset's policy overrides the rule's
          }
        }
      }
    }
    // Port-level settings override the rule's.
    for (const Node& pls : policy["portLevelSettings"].items()) {
      if (pls.At({"port", "number"}).Int().value_or(0) == port) {
        Node merged = policy;
        for (const auto& [k, v] : pls.entries()) {
          if (k != "port") {
            merged.Set(k, v);
          }
        }
        policy = merged;
      }
    }
    std::vector<Endpoint> endpoints = push.EndpointsFor(*svc, sp, subset_labels);
    ApplyTrafficPolicy(c, policy, *svc, subset, endpoints);
    if (sp.protocol == "GRPC" || sp.protocol == "HTTP2") {
      c.http2 = pc::Http2ProtocolOptions();
      if (c.tls && c.tls->common_tls_context.alpn_protocols == std::vector<std::string>{"istio-http/1.1", "istio"}) {
        c.tls->common_tls_context.alpn_protocols = {"istio-h2", "istio", "h2"};  // Istio's ALPN for h2 mTLS
      }
    }
    // One group per locality, in the order they first appear.
    std::vector<EndpointGroup> groups;
    for (const Endpoint& e : endpoints) {
      const std::string& loc = e.instance->locality;
      auto it = std::find_if(groups.begin(), groups.end(), [&](const EndpointGroup& g) { return g.locality_text == loc; });
      if (it == groups.end()) {
        groups.push_back(EndpointGroup{loc, ParseLocality(loc), {}, 0, std::nullopt});
        it = groups.end() - 1;
      }
      it->endpoints.push_back(&e);
    }
    ApplyLocalityLbSetting(c, policy["loadBalancer"]["localityLbSetting"], groups);
    for (const EndpointGroup& g : groups) {
      if (g.endpoints.empty()) {
        continue;  // left out by distribute
      }
      pc::LocalityLbEndpoints lle;
      if (!g.locality_text.empty()) {
        lle.locality = g.locality;
      }
      lle.priority = g.priority;
      lle.load_balancing_weight = g.weight.value_or(0);
      for (const Endpoint* e : g.endpoints) {
        lle.lb_endpoints.push_back(pc::LbEndpoint{{e->address, e->port}});
      }
      cla.endpoints.push_back(std::move(lle));
    }
    return true;
  }

  // Istio's locality load balancing for this proxy: only when the proxy has a locality,
  // and not with `enabled: false`. `distribute` sets locality weights (and turns on
  // locality-weighted balancing); otherwise, with outlier detection (without it a lower
  // priority would never get traffic), endpoints get failover priorities: by
  // failoverPriority labels, then by proximity (`failover` rules for other regions). The
  // mesh default is enabled with no rules: proximity failover whenever outlier detection is on.
  void ApplyLocalityLbSetting(pc::Cluster& c, const Node& setting, std::vector<EndpointGroup>& groups) {
    if (proxy.workload.locality.empty() || groups.empty()) {
      return;
    }
    if (setting["enabled"].Bool() == std::optional<bool>(false)) {
      return;
    }
    const pc::Locality here = ParseLocality(proxy.workload.locality);
    if (!setting["distribute"].items().empty()) {
      // Istio's EDS weighs a locality by its endpoint count; distribute overrides that.
      for (auto& g : groups) {
        g.weight = static_cast<uint32_t>(g.endpoints.size());
      }
      ApplyDistribute(groups, here, setting["distribute"]);
      c.locality_weighted_lb = true;
      return;
    }
    if (!c.outlier_detection) {
      return;
    }
    std::vector<std::string> failover_priority = setting["failoverPriority"].StringList();
    if (!failover_priority.empty()) {
      ApplyFailoverPriority(groups, proxy.workload.labels, failover_priority);
      if (!setting["failover"].items().empty()) {
        ApplyLocalityFailover(groups, here, setting["failover"]);
      }
      return;
    }
    ApplyLocalityFailover(groups, here, setting["failover"]);
  }
};

}  // namespace

std::string OutboundClusterName(uint32_t port, std::string_view subset, std::string_view host) {
  return common::StrCat("outbound|", port, "|", subset, "|", host);
}

std::string SpiffeIdentity(const MeshSettings& mesh, std::string_view ns, std::string_view service_account) {
  return common::StrCat("spiffe://", mesh.trust_domain, "/ns/", ns, "/sa/", service_account);
}

pc::Resources GenerateResources(const ProxyRole& proxy, const PushContext& push) {
  Translation t{push, proxy, {}, {}};
  if (proxy.type == ProxyRole::Type::kRouter) {
    t.Router();
  } else {
    t.SidecarInbound();
    t.SidecarOutbound();
  }
  t.Clusters();
  ApplyAuthorization(proxy, push, t.out);  // authz.cc
  t.out.version_info = std::to_string(push.version());
  return std::move(t.out);
}

namespace {

std::string RoleKey(const ProxyRole& r) {
  std::string key = common::StrCat(static_cast<int>(r.type), "|", r.workload.name, "|", r.workload.ns, "|",
                                   r.workload.service_account, "|", r.workload.address, "|",
                                   r.workload.default_endpoint_port, "|", r.app_port, "|", r.outbound_port, "|",
                                   r.bind_address, "|", r.workload.has_sidecar ? 1 : 0, "|");
  for (const auto& [k, v] : r.workload.labels) {
    key += common::StrCat(k, "=", v, ",");
  }
  key += "|";
  for (const std::string& s : r.workload.services) {
    key += s + ",";
  }
  key += "|";
  for (const auto& [a, b] : r.gateway_ports) {
    key += common::StrCat(a, ":", b, ",");
  }
  for (const auto& [a, b] : r.workload.endpoint_ports) {
    key += common::StrCat(a, "=", b, ",");
  }
  return key;
}

}  // namespace

namespace {

const std::vector<std::string>& AllTypes() {
  static const std::vector<std::string> kTypes = {xds::type_url::kCluster, xds::type_url::kEndpoint,
                                                  xds::type_url::kListener, xds::type_url::kRoute,
                                                  xds::type_url::kSecret};
  return kTypes;
}

std::string ServiceFingerprint(const Service& s) {
  std::string fp = common::StrCat(s.hostname, "|", s.name, "|", s.ns, "|", s.mesh_external ? 1 : 0, "|", s.resolution, "|");
  for (const ServicePort& p : s.ports) {
    fp += common::StrCat(p.name, ":", p.port, ":", p.target_port, ":", p.protocol, ",");
  }
  fp += "|";
  for (const auto& [k, v] : s.selector) {
    fp += common::StrCat(k, "=", v, ",");
  }
  fp += "|";
  for (const std::string& e : s.export_to) {
    fp += e + ",";
  }
  return fp;
}

std::string EndpointsFingerprint(const std::vector<Endpoint>& endpoints) {
  std::string fp;
  for (const Endpoint& e : endpoints) {
    fp += common::StrCat(e.address, ":", e.port, ":", e.instance->ns, ":", e.instance->service_account, ":",
                         e.instance->has_sidecar ? 1 : 0, ":", e.instance->locality, ":");
    for (const auto& [k, v] : e.instance->labels) {
      fp += common::StrCat(k, "=", v, ",");
    }
    fp += ";";
  }
  return fp;
}

// The JSON of config resources (VirtualServices, DestinationRules), once per build.
class ConfigFingerprints {
 public:
  const std::string& Of(const Resource* r) {
    if (r == nullptr) {
      static const std::string kNone = "-";
      return kNone;
    }
    auto it = memo_.find(r);
    if (it == memo_.end()) {
      it = memo_.emplace(r, config::EmitJson(r->root(), {.indent = 0})).first;
    }
    return it->second;
  }

 private:
  std::map<const Resource*, std::string> memo_;
};

xds::ResourceChunkPtr EncodeChunk(const std::vector<Node>& nodes) {
  std::vector<xds::EncodedResourcePtr> items;
  items.reserve(nodes.size());
  for (const Node& n : nodes) {
    items.push_back(xds::EncodeResource(n));
  }
  return xds::MakeResourceChunk(std::move(items));
}

constexpr char kVirtualHostsPlaceholder[] = "@@virtual_hosts@@";

}  // namespace

// A scope's shared outbound configuration for one snapshot, plus the per-resource memo
// carried from one snapshot to the next.
struct GenerationCache::Scope {
  struct Memo {
    std::string fingerprint;
    xds::EncodedResourcePtr first;   // cluster / virtual host JSON
    xds::EncodedResourcePtr second;  // endpoints (clusters only)
    std::vector<std::string> clusters;  // clusters a virtual host refers to
    uint64_t used = 0;
  };
  uint64_t version = 0;
  std::map<std::string, xds::ResourceChunkPtr> chunks;  // by type URL
  std::unordered_map<std::string, Memo> virtual_hosts;
  std::unordered_map<std::string, Memo> clusters;
  uint64_t builds = 0;
};

GenerationCache::GenerationCache() = default;
GenerationCache::~GenerationCache() = default;

std::string GenerationCache::ScopeKey(const ProxyRole& proxy, const PushContext& push) {
  const Resource* sidecar = push.FindSidecarConfig(proxy.workload);
  // Endpoint priorities and weights depend on the proxy's locality and, with
  // failoverPriority, on the values of the labels it compares.
  std::string key = common::StrCat(proxy.workload.ns, "|", sidecar ? common::StrCat(sidecar->ns(), "/", sidecar->name()) : "-",
                                   "|", proxy.outbound_port, "|", push.mesh().trust_domain, "|", push.mesh().domain_suffix,
                                   "|", proxy.workload.locality);
  for (const std::string& label : push.failover_priority_labels()) {
    auto it = proxy.workload.labels.find(label);
    key += common::StrCat("|", label, "=", it == proxy.workload.labels.end() ? "" : it->second);
  }
  return key;
}

GenerationCache::Stats GenerationCache::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  Stats s = stats_;
  s.scopes = scopes_.size();
  return s;
}

// Called with mu_ held.
std::shared_ptr<const GenerationCache::Scope> GenerationCache::ScopeFor(const ProxyRole& proxy,
                                                                       const PushContext& push) {
  std::shared_ptr<Scope>& scope = scopes_[ScopeKey(proxy, push)];
  if (!scope) {
    scope = std::make_shared<Scope>();
  }
  if (scope->version == push.version()) {
    return scope;
  }
  ++stats_.scope_builds;
  uint64_t build = ++scope->builds;
  // Any proxy of the scope stands for all of them: the outbound side only depends on
  // what the scope key holds.
  Translation t{push, proxy, {}, {}};
  ConfigFingerprints config_fp;
  std::map<std::string, xds::ResourceChunkPtr> chunks;
  if (proxy.outbound_port != 0) {
    std::vector<const Resource*> mesh_vs = push.MeshVirtualServices(proxy.workload.ns);
    std::vector<std::string_view> vhost_json;
    for (const Service& s : push.services()) {
      if (!t.Visible(s)) {
        continue;
      }
      std::string service_fp;
      for (const ServicePort& port : s.ports) {
        if (!IsHttpProtocol(port.protocol)) {
          continue;
        }
        if (service_fp.empty()) {
          service_fp = ServiceFingerprint(s);
        }
        // Inputs: the service, the VirtualServices for its host and the services
        // their routes lead to (a destination without a port takes its first port).
        std::string fp = common::StrCat(port.port, "|", service_fp);
        for (const Resource* vs : mesh_vs) {
          for (const std::string& h : vs->spec()["hosts"].StringList()) {
            if (QualifyHost(h, vs->ns(), push.mesh().domain_suffix) != s.hostname) {
              continue;
            }
            fp += "|" + config_fp.Of(vs);
            for (const Node& rule : vs->spec()["http"].items()) {
              for (const Node& d : rule["route"].items()) {
                const Service* dest =
                    push.FindService(QualifyHost(d["destination"]["host"].Str(), vs->ns(), push.mesh().domain_suffix));
                fp += dest ? "|" + ServiceFingerprint(*dest) : "|?";
              }
              if (rule.At({"mirror", "host"}).IsScalar()) {
                const Service* dest =
                    push.FindService(QualifyHost(rule["mirror"]["host"].Str(), vs->ns(), push.mesh().domain_suffix));
                fp += dest ? "|" + ServiceFingerprint(*dest) : "|?";
              }
            }
          }
        }
        Scope::Memo& m = scope->virtual_hosts[common::StrCat(s.hostname, ":", port.port)];
        if (!m.first || m.fingerprint != fp) {
          std::set<std::string> before;
          before.swap(t.clusters_needed);
          pc::VirtualHost vh = t.OutboundVirtualHost(s, port, mesh_vs);
          m.clusters.assign(t.clusters_needed.begin(), t.clusters_needed.end());
          t.clusters_needed.swap(before);
          m.first = xds::EncodeResourceJson(vh.name, config::EmitJson(pc::EncodeVirtualHost(vh), {.indent = 0}));
          m.fingerprint = std::move(fp);
          ++stats_.shared_encoded;
        } else {
          ++stats_.shared_reused;
        }
        m.used = build;
        t.clusters_needed.insert(m.clusters.begin(), m.clusters.end());
        vhost_json.push_back(m.first->json);
      }
    }
    // The route configuration is assembled from the cached virtual hosts.
    Node rc = pc::EncodeRouteConfiguration(pc::RouteConfiguration{"outbound"});
    rc.Set("virtual_hosts", Node::Scalar(kVirtualHostsPlaceholder, true));
    std::string rc_json = config::EmitJson(rc, {.indent = 0});
    std::string quoted = common::StrCat("\"", kVirtualHostsPlaceholder, "\"");
    if (size_t at = rc_json.find(quoted); at != std::string::npos) {
      std::string joined = "[";
      for (size_t i = 0; i < vhost_json.size(); ++i) {
        if (i > 0) {
          joined += ',';
        }
        joined += vhost_json[i];
      }
      joined += ']';
      rc_json.replace(at, quoted.size(), joined);
    }
    chunks[xds::type_url::kRoute] = xds::MakeResourceChunk({xds::EncodeResourceJson("outbound", std::move(rc_json))});
    chunks[xds::type_url::kListener] = EncodeChunk({pc::EncodeListener(t.OutboundListener())});
  }
  std::vector<xds::EncodedResourcePtr> clusters;
  std::vector<xds::EncodedResourcePtr> endpoints;
  for (const std::string& name : t.clusters_needed) {
    // Inputs: the service, its DestinationRule as seen from this namespace, and the
    // workloads behind it (any of them may match a subset).
    std::string fp = name;
    std::vector<std::string> parts = common::Split(name, '|');
    const Service* svc = parts.size() == 4 ? push.FindService(parts[3]) : nullptr;
    if (svc != nullptr) {
      fp += "|" + ServiceFingerprint(*svc);
      fp += "|" + config_fp.Of(push.DestinationRuleFor(proxy.workload.ns, *svc));
      uint32_t port = static_cast<uint32_t>(std::strtoul(parts[1].c_str(), nullptr, 10));
      if (const ServicePort* sp = svc->FindPort(port)) {
        fp += "|" + EndpointsFingerprint(push.EndpointsFor(*svc, *sp));
      }
    }
    Scope::Memo& m = scope->clusters[name];
    if (!m.first || m.fingerprint != fp) {
      pc::Cluster c;
      pc::ClusterLoadAssignment cla;
      if (!t.OutboundCluster(name, c, cla)) {
        continue;
      }
      m.first = xds::EncodeResource(pc::EncodeCluster(c));
      m.second = xds::EncodeResource(pc::EncodeClusterLoadAssignment(cla));
      m.fingerprint = std::move(fp);
      stats_.shared_encoded += 2;
    } else {
      stats_.shared_reused += 2;
    }
    m.used = build;
    clusters.push_back(m.first);
    endpoints.push_back(m.second);
  }
  chunks[xds::type_url::kCluster] = xds::MakeResourceChunk(std::move(clusters));
  chunks[xds::type_url::kEndpoint] = xds::MakeResourceChunk(std::move(endpoints));
  // What this snapshot did not use is gone from the scope.
  for (auto* memo : {&scope->virtual_hosts, &scope->clusters}) {
    std::erase_if(*memo, [build](const auto& entry) { return entry.second.used != build; });
  }
  scope->chunks = std::move(chunks);
  scope->version = push.version();
  return scope;
}

xds::ResourceList GenerationCache::Get(const ProxyRole& proxy, const PushContext& push, const std::string& type_url) {
  std::lock_guard<std::mutex> lock(mu_);
  if (push.version() > latest_version_) {
    // Forget proxies' lists of older snapshots, and scopes that no proxy asked for
    // during the previous one.
    previous_version_ = latest_version_;
    latest_version_ = push.version();
    proxies_.erase(proxies_.begin(), proxies_.lower_bound({latest_version_, std::string()}));
    std::erase_if(scopes_, [this](const auto& entry) { return entry.second->version < previous_version_; });
  }
  auto key = std::make_pair(push.version(), RoleKey(proxy));
  auto it = proxies_.find(key);
  if (it == proxies_.end()) {
    ++stats_.proxy_builds;
    std::map<std::string, xds::ResourceList> lists;
    if (proxy.type == ProxyRole::Type::kRouter) {
      for (auto& [type, resources] : GenerateAllTypes(proxy, push)) {
        lists[type] = xds::MakeResourceList(std::move(resources));
      }
    } else {
      // Sidecars: the small per-proxy part first (as in GenerateResources), then the
      // scope's shared part.
      std::shared_ptr<const Scope> scope = ScopeFor(proxy, push);
      Translation t{push, proxy, {}, {}};
      t.SidecarInbound();
      // Authorization is per workload: it goes on the inbound listener, never on the
      // scope's shared outbound part.
      ApplyAuthorization(proxy, push, t.out);
      std::map<std::string, std::vector<Node>> own;
      for (const pc::Listener& l : t.out.listeners) {
        own[xds::type_url::kListener].push_back(pc::EncodeListener(l));
      }
      for (const pc::RouteConfiguration& rc : t.out.route_configs) {
        own[xds::type_url::kRoute].push_back(pc::EncodeRouteConfiguration(rc));
      }
      for (const pc::Cluster& c : t.out.clusters) {
        own[xds::type_url::kCluster].push_back(pc::EncodeCluster(c));
      }
      for (const pc::ClusterLoadAssignment& e : t.out.endpoints) {
        own[xds::type_url::kEndpoint].push_back(pc::EncodeClusterLoadAssignment(e));
      }
      for (const pc::Secret& sec : t.out.secrets) {
        own[xds::type_url::kSecret].push_back(pc::EncodeSecret(sec, /*redact_inline=*/false));
      }
      for (const std::string& type : AllTypes()) {
        std::vector<xds::ResourceChunkPtr> chunks;
        if (auto o = own.find(type); o != own.end()) {
          chunks.push_back(EncodeChunk(o->second));
        }
        if (auto c = scope->chunks.find(type); c != scope->chunks.end()) {
          chunks.push_back(c->second);
        }
        lists[type] = xds::MakeChunkedResourceList(std::move(chunks));
      }
    }
    it = proxies_.emplace(key, std::move(lists)).first;
  }
  auto list = it->second.find(type_url);
  return list != it->second.end() ? list->second : xds::MakeResourceList({});
}

std::map<std::string, std::vector<Node>> GenerateAllTypes(const ProxyRole& proxy, const PushContext& push) {
  pc::Resources r = GenerateResources(proxy, push);
  std::map<std::string, std::vector<Node>> out;
  auto& listeners = out[xds::type_url::kListener];
  for (const pc::Listener& l : r.listeners) {
    listeners.push_back(pc::EncodeListener(l));
  }
  auto& routes = out[xds::type_url::kRoute];
  for (const pc::RouteConfiguration& rc : r.route_configs) {
    routes.push_back(pc::EncodeRouteConfiguration(rc));
  }
  auto& clusters = out[xds::type_url::kCluster];
  for (const pc::Cluster& c : r.clusters) {
    clusters.push_back(pc::EncodeCluster(c));
  }
  auto& endpoints = out[xds::type_url::kEndpoint];
  for (const pc::ClusterLoadAssignment& e : r.endpoints) {
    endpoints.push_back(pc::EncodeClusterLoadAssignment(e));
  }
  auto& secrets = out[xds::type_url::kSecret];
  for (const pc::Secret& s : r.secrets) {
    secrets.push_back(pc::EncodeSecret(s, /*redact_inline=*/false));
  }
  return out;
}

std::vector<Node> GenerateType(const ProxyRole& proxy, const PushContext& push, const std::string& type_url) {
  return GenerateAllTypes(proxy, push)[type_url];
}

}  // namespace mesh::pilot
