// service.PortNameAnalyzer (Istio's port naming convention), webhook.Analyzer (overlapping
// or dangling injection webhooks) and externalcontrolplane.ExternalControlPlaneAnalyzer
// (webhook URLs of a remote cluster).

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "mesh/analyze/analyzers/workload/workload.h"
#include "mesh/analyze/util.h"
#include "mesh/common/strings.h"

namespace mesh::analyze::workload {
namespace {

// Whether Istio knows the port's protocol (its ConvertProtocol): UDP, else the
// appProtocol or the port name up to the first '-', else TCP for a few well-known ports.
bool KnownProtocol(const config::Node& port) {
  if (port["protocol"].Str() == "UDP") {
    return true;
  }
  std::string name = port["appProtocol"].Defined() ? port["appProtocol"].Str() : port["name"].Str();
  std::string lower = common::ToLower(name);
  if (lower.rfind("grpc-web", 0) == 0) {
    return true;
  }
  lower = lower.substr(0, lower.find('-'));
  static const std::set<std::string> kKnown = {"tcp",   "udp", "grpc",  "http",  "http_proxy", "http2",
                                               "https", "tls", "mongo", "redis", "mysql"};
  if (kKnown.count(lower)) {
    return true;
  }
  static const std::set<int64_t> kWellKnownTcpPorts = {25, 53, 3306, 27017};
  return kWellKnownTcpPorts.count(port["port"].Int().value_or(0)) > 0;
}

// Services that Istio's gateway controllers create, not users.
bool GatewayManaged(const config::Resource& service) {
  auto it = service.labels().find("gateway.istio.io/managed");
  return it != service.labels().end() &&
         (it->second == "istio.io-gateway-controller" || it->second == "istio.io-mesh-controller" ||
          it->second == "istio.io-eastwest-controller");
}

void AnalyzePortNames(Context& context) {
  for (const config::Resource* s : context.world().Of(kinds::kService)) {
    if (IsSystemNamespace(s->ns()) || IsIstioControlPlane(*s) || GatewayManaged(*s)) {
      continue;
    }
    bool external_name = s->spec()["type"].Str() == "ExternalName";
    for (const config::Node& port : s->spec()["ports"].items()) {
      // An ExternalName service forwards plain "tcp" ports poorly too.
      if (KnownProtocol(port) && !(external_name && port["name"].Str() == "tcp")) {
        continue;
      }
      if (external_name) {
        context.Report(MessageTypeNamed("ExternalNameServiceTypeInvalidPortName"), s, {}, util::LineOf(port));
      } else {
        std::string target = port["targetPort"].Str();
        context.Report(MessageTypeNamed("PortNameIsNotUnderNamingConvention"), s,
                       {port["name"].Str(), std::to_string(port["port"].Int().value_or(0)), target.empty() ? "0" : target},
                       util::LineOf(port));
      }
    }
  }
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

void AddRevisions(const config::Node& selector, std::set<std::string>& revisions) {
  if (const config::Node& v = selector.At({"matchLabels", "istio.io/rev"}); v.Defined()) {
    revisions.insert(v.Str());
  }
  for (const config::Node& e : selector["matchExpressions"].items()) {
    if (e["key"].Str() == "istio.io/rev") {
      for (const std::string& v : e["values"].StringList()) {
        revisions.insert(v);
      }
    }
  }
}

void AnalyzeWebhooks(Context& context) {
  const World& world = context.world();
  struct Hook {
    std::string id;  // "<configuration>/<webhook>"
    const config::Resource* owner;
    const config::Node* node;
  };
  std::vector<Hook> hooks;
  std::set<std::string> revisions;
  for (const config::Resource* mwc : world.Of(kinds::kMutatingWebhook)) {
    std::set<std::string> revs;
    if (auto it = mwc->labels().find("istio.io/rev"); it != mwc->labels().end()) {
      revs.insert(it->second);
    }
    bool istio = false;
    for (const config::Node& w : mwc->root()["webhooks"].items()) {
      AddRevisions(w["namespaceSelector"], revs);
      AddRevisions(w["objectSelector"], revs);
      istio = istio || EndsWith(w["name"].Str(), "istio.io");
    }
    if (revs.empty() && !istio) {
      continue;
    }
    revisions.insert(revs.begin(), revs.end());
    for (const config::Node& w : mwc->root()["webhooks"].items()) {
      hooks.push_back({common::StrCat(mwc->FullName(), "/", w["name"].Str()), mwc, &w});
    }
  }

  // Every combination of the labels that drive injection must match at most one webhook.
  auto with_revisions = [&](const std::vector<config::StringMap>& base) {
    std::vector<config::StringMap> out = base;
    for (const std::string& rev : revisions) {
      for (config::StringMap m : base) {
        m["istio.io/rev"] = rev;
        out.push_back(std::move(m));
      }
    }
    return out;
  };
  std::vector<config::StringMap> ns_labels = with_revisions(
      {{}, {{"istio-injection", "enabled"}}, {{"istio-injection", "disabled"}}});
  std::vector<config::StringMap> object_labels = with_revisions(
      {{}, {{"sidecar.istio.io/inject", "true"}}, {{"sidecar.istio.io/inject", "false"}}});
  const MessageType& invalid = MessageTypeNamed("InvalidWebhook");
  for (const config::StringMap& nl : ns_labels) {
    for (const config::StringMap& ol : object_labels) {
      std::map<std::string, const Hook*> matches;
      for (const Hook& h : hooks) {
        if (LabelSelectorMatches((*h.node)["namespaceSelector"], nl) &&
            LabelSelectorMatches((*h.node)["objectSelector"], ol)) {
          matches.emplace(h.id, &h);
        }
      }
      if (matches.size() < 2) {
        continue;
      }
      for (const auto& [id, hook] : matches) {
        std::vector<std::string> others;
        for (const auto& [other, unused] : matches) {
          if (other != id) {
            others.push_back(other);
          }
        }
        context.Report(invalid, hook->owner,
                       {common::StrCat("Webhook overlaps with others: ", common::GoList(others),
                                       ". This may cause injection to occur twice.")});
      }
    }
  }
  for (const Hook& h : hooks) {
    const config::Node& service = (*h.node).At({"clientConfig", "service"});
    if (!service.Defined()) {
      continue;  // a URL
    }
    const std::string& ns = service["namespace"].Str();
    const std::string& name = service["name"].Str();
    if (world.Find(kinds::kService, ns, name) == nullptr) {
      context.Report(invalid, h.owner,
                     {common::StrCat("Injector refers to a control plane service that does not exist: ", ns, "/", name,
                                     ".")});
    }
  }
}

bool IsIpv4(std::string_view host) {
  std::vector<std::string> parts = common::Split(host, '.');
  if (parts.size() != 4) {
    return false;
  }
  for (const std::string& p : parts) {
    if (p.empty() || p.size() > 3 || p.find_first_not_of("0123456789") != std::string::npos || std::stoi(p) > 255) {
      return false;
    }
  }
  return true;
}

// The host of a URL ("https://[::1]:443/x" -> "::1"); sets `ok` false when it is malformed.
std::string UrlHost(std::string_view url, bool& ok) {
  ok = url.find_first_of(" \t\r\n") == std::string_view::npos;
  size_t scheme = url.find("://");
  std::string_view rest = scheme == std::string_view::npos ? url : url.substr(scheme + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (size_t at = rest.rfind('@'); at != std::string_view::npos) {
    rest = rest.substr(at + 1);
  }
  if (!rest.empty() && rest[0] == '[') {
    size_t close = rest.find(']');
    if (close == std::string_view::npos) {
      ok = false;
      return "";
    }
    return std::string(rest.substr(1, close - 1));
  }
  return std::string(rest.substr(0, rest.find(':')));
}

void CheckWebhookUrl(Context& context, const config::Resource& r, const config::Node& hook) {
  const config::Node& client = hook["clientConfig"];
  const std::string& name = hook["name"].Str();
  const config::Node& url = client["url"];
  if (url.Defined() && !url.LooksNull()) {
    bool ok = true;
    std::string host = UrlHost(url.Str(), ok);
    if (!ok) {
      context.Report(MessageTypeNamed("InvalidExternalControlPlaneConfig"), &r,
                     {url.Str(), name, "was provided in an invalid format"});
      return;
    }
    if (IsIpv4(host) || host.find(':') != std::string::npos) {
      context.Report(MessageTypeNamed("ExternalControlPlaneAddressIsNotAHostname"), &r, {url.Str(), name});
    }
    // Istio also resolves the host name; analysis here stays offline and deterministic.
    return;
  }
  if (!client["service"].Defined()) {
    context.Report(MessageTypeNamed("InvalidExternalControlPlaneConfig"), &r, {"", name, "is blank"});
  }
}

void AnalyzeExternalControlPlane(Context& context) {
  const World& world = context.world();
  for (const config::Resource* vwc : world.Of(kinds::kValidatingWebhook)) {
    const std::string& n = vwc->name();
    if (n == "istiod-default-validator" || n.rfind("istio-validator", 0) == 0) {
      for (const config::Node& hook : vwc->root()["webhooks"].items()) {
        CheckWebhookUrl(context, *vwc, hook);
      }
    }
  }
  for (const config::Resource* mwc : world.Of(kinds::kMutatingWebhook)) {
    if (mwc->name().rfind("istio-sidecar-injector", 0) == 0) {
      for (const config::Node& hook : mwc->root()["webhooks"].items()) {
        CheckWebhookUrl(context, *mwc, hook);
      }
    }
  }
}

}  // namespace

AnalyzerPtr NewPortNameAnalyzer() {
  return MakeAnalyzer({"service.PortNameAnalyzer", "Checks the port names associated with each service", {kinds::kService}},
                      AnalyzePortNames);
}

AnalyzerPtr NewWebhookAnalyzer() {
  return MakeAnalyzer({"webhook.Analyzer", "Checks the validity of Istio webhooks",
                       {kinds::kMutatingWebhook, kinds::kService}},
                      AnalyzeWebhooks);
}

AnalyzerPtr NewExternalControlPlaneAnalyzer() {
  return MakeAnalyzer({"externalcontrolplane.ExternalControlPlaneAnalyzer",
                       "Checks that the remote IstioOperator resources reference an external control plane",
                       {kinds::kValidatingWebhook, kinds::kMutatingWebhook}},
                      AnalyzeExternalControlPlane);
}

}  // namespace mesh::analyze::workload
