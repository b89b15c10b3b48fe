// auth.AuthorizationPoliciesAnalyzer, authn.BlockedCIDRsAnalyzer,
// conditions.ConditionAnalyzer and deprecation.DeprecationAnalyzer.

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "mesh/analyze/analyzers/workload/workload.h"
#include "mesh/analyze/util.h"
#include "mesh/common/strings.h"

namespace mesh::analyze::workload {
namespace {

// Istio's namespace expressions: "*", "prefix*", "*suffix" or an exact name.
bool NamespaceMatches(const std::string& ns, const std::string& expr) {
  if (expr == "*") {
    return true;
  }
  if (!expr.empty() && expr.front() == '*') {
    std::string suffix = expr.substr(1);
    return ns.size() >= suffix.size() && ns.compare(ns.size() - suffix.size(), suffix.size(), suffix) == 0;
  }
  if (!expr.empty() && expr.back() == '*') {
    return ns.rfind(expr.substr(0, expr.size() - 1), 0) == 0;
  }
  return common::ToLower(ns) == common::ToLower(expr);
}

void AnalyzeAuthorizationPolicies(Context& context) {
  const World& world = context.world();
  // Labels of in-mesh (sidecar or ambient) pods, by namespace.
  std::unordered_map<std::string, std::vector<const config::StringMap*>> pods_by_ns;
  std::vector<const config::StringMap*> all_pods;
  for (const config::Resource* pod : world.Of(kinds::kPod)) {
    auto& list = pods_by_ns[pod->ns()];
    if (WorkloadInMesh(world, pod->annotations(), pod->labels(), pod->ns(), pod->spec())) {
      list.push_back(&pod->labels());
      all_pods.push_back(&pod->labels());
    }
    auto ambient = pod->annotations().find("ambient.istio.io/redirection");
    if (ambient != pod->annotations().end() && ambient->second == "enabled") {
      list.push_back(&pod->labels());
      all_pods.push_back(&pod->labels());
    }
  }
  auto any_match = [](const config::Node& selector, const std::vector<const config::StringMap*>& pods) {
    return std::any_of(pods.begin(), pods.end(),
                       [&](const config::StringMap* labels) { return util::SelectorMatches(selector, *labels); });
  };
  std::vector<std::string> namespaces;
  for (const config::Resource* ns : world.Of(kinds::kNamespace)) {
    namespaces.push_back(ns->name());
  }
  std::unordered_map<std::string, bool> expr_cache;
  auto namespace_exists = [&](const std::string& expr) {
    auto it = expr_cache.find(expr);
    if (it != expr_cache.end()) {
      return it->second;
    }
    bool found = std::any_of(namespaces.begin(), namespaces.end(),
                             [&](const std::string& ns) { return NamespaceMatches(ns, expr); });
    expr_cache[expr] = found;
    return found;
  };

  std::string root_ns = world.mesh_config()["rootNamespace"].Str();
  const MessageType& no_workloads = MessageTypeNamed("NoMatchingWorkloadsFound");
  for (const config::Resource* ap : world.Of(kinds::kAuthorizationPolicy)) {
    const config::Node& selector = ap->spec()["selector"];
    const config::Node& match_labels = selector["matchLabels"];
    int line = selector.Defined() ? util::LineOf(selector) : 0;
    if (ap->ns() == root_ns) {
      if (selector.Defined() && !any_match(match_labels, all_pods)) {
        context.Report(no_workloads, ap, {util::SelectorString(match_labels)}, line);
      }
    } else if (!selector.Defined()) {
      if (pods_by_ns[ap->ns()].empty()) {
        context.Report(no_workloads, ap, {""});
      }
    } else if (!any_match(match_labels, pods_by_ns[ap->ns()])) {
      context.Report(no_workloads, ap, {util::SelectorString(match_labels)}, line);
    }

    for (const config::Node& rule : ap->spec()["rules"].items()) {
      for (const config::Node& from : rule["from"].items()) {
        for (const char* field : {"namespaces", "notNamespaces"}) {
          for (const config::Node& ns : from["source"][field].items()) {
            if (!namespace_exists(ns.Str())) {
              context.Report(MessageTypeNamed("ReferencedResourceNotFound"), ap, {"namespace", ns.Str()},
                             util::LineOf(ns));
            }
          }
        }
      }
    }
  }
}

// True when a container of the istiod Deployment sets BLOCKED_CIDRS_IN_JWKS_URIS.
bool HasBlockedCidrs(const config::Resource& deployment) {
  for (const config::Node& c : PodSpecOf(deployment)["containers"].items()) {
    for (const config::Node& env : c["env"].items()) {
      if (env["name"].Str() == "BLOCKED_CIDRS_IN_JWKS_URIS" && !env["value"].Str().empty()) {
        return true;
      }
    }
  }
  return false;
}

void AnalyzeBlockedCidrs(Context& context) {
  const World& world = context.world();
  const auto& policies = world.Of(kinds::kRequestAuthentication);
  if (policies.empty()) {
    return;
  }
  std::vector<std::string> names;
  for (const config::Resource* ra : policies) {
    names.push_back(ra->FullName());
  }
  std::sort(names.begin(), names.end());
  for (const config::Resource* d : world.Of(kinds::kDeployment)) {
    auto app = d->labels().find("app");
    bool istiod = d->name() == "istiod" || d->name().rfind("istiod-", 0) == 0 ||
                  (app != d->labels().end() && app->second == "istiod");
    if (!istiod || HasBlockedCidrs(*d)) {
      continue;
    }
    context.Report(MessageTypeNamed("JwksUriFetchUnrestricted"), d,
                   {std::to_string(names.size()), common::Join(names, ", ")});
  }
}

struct ConditionSource {
  KindRef kind;
  std::vector<std::string> negative_when_false;  // condition types reported when "False"
  bool route = false;                            // conditions live under status.parents[]
};

void AnalyzeConditions(Context& context) {
  static const std::vector<ConditionSource> kSources = {
      {kinds::kService, {"istio.io/WaypointBound"}},
      {kinds::kServiceEntry, {"istio.io/WaypointBound"}},
      {kinds::kWorkloadEntry, {}},
      {kinds::kAuthorizationPolicy, {"ZtunnelAccepted", "WaypointAccepted"}},
      {kinds::kK8sGateway, {"Accepted", "Programmed", "ResolvedRefs"}},
      {kinds::kHTTPRoute, {"Accepted", "Programmed", "ResolvedRefs"}, true},
      {kinds::kGRPCRoute, {"Accepted", "Programmed", "ResolvedRefs"}, true},
  };
  const MessageType& type = MessageTypeNamed("NegativeConditionStatus");
  for (const ConditionSource& source : kSources) {
    for (const config::Resource* r : context.world().Of(source.kind)) {
      std::vector<const config::Node*> conditions;
      if (source.route) {
        for (const config::Node& parent : r->root().At({"status", "parents"}).items()) {
          for (const config::Node& c : parent["conditions"].items()) {
            conditions.push_back(&c);
          }
        }
      } else {
        for (const config::Node& c : r->root().At({"status", "conditions"}).items()) {
          conditions.push_back(&c);
        }
      }
      for (const config::Node* c : conditions) {
        const std::string& t = (*c)["type"].Str();
        std::vector<std::string> args = {t, (*c)["reason"].Str(), (*c)["message"].Str()};
        bool negative = (*c)["status"].Str() == "False" &&
                        std::find(source.negative_when_false.begin(), source.negative_when_false.end(), t) !=
                            source.negative_when_false.end();
        if (negative) {
          context.Report(type, r, args);
        }
        // A waypoint accepting a policy only partly is reported although its status is True.
        if (source.kind.kind == "AuthorizationPolicy" && t == "WaypointAccepted" &&
            (*c)["reason"].Str() == "PartiallyInvalid") {
          context.Report(type, r, args);
        }
      }
    }
  }
}

// Custom resource types Istio removed from its charts (RBAC v1).
bool RemovedCrd(const std::string& group, const std::string& kind) {
  return group == "rbac.istio.io" &&
         (kind == "ClusterRbacConfig" || kind == "RbacConfig" || kind == "ServiceRole" || kind == "ServiceRoleBinding");
}

void AnalyzeDeprecation(Context& context) {
  const World& world = context.world();
  const MessageType& deprecated = MessageTypeNamed("Deprecated");
  for (const config::Resource* vs : world.Of(kinds::kVirtualService)) {
    for (const config::Node& route : vs->spec()["http"].items()) {
      const config::Node& percent = route.At({"fault", "delay", "percent"});
      if (percent.Int().value_or(0) > 0) {
        context.Report(deprecated, vs,
                       {"HTTPRoute.fault.delay.percent is deprecated; use HTTPRoute.fault.delay.percentage"});
      }
    }
  }
  for (const config::Resource* sc : world.Of(kinds::kSidecar)) {
    const config::Node& proxy = sc->spec().At({"outboundTrafficPolicy", "egressProxy"});
    if (proxy.Defined()) {
      context.Report(deprecated, sc, {"OutboundTrafficPolicy.EgressProxy ignored"});
    }
  }
  for (const config::Resource* crd : world.Of(kinds::kCRD)) {
    const std::string& group = crd->spec()["group"].Str();
    const std::string& kind = crd->spec().At({"names", "kind"}).Str();
    if (RemovedCrd(group, kind)) {
      context.Report(deprecated, crd, {common::StrCat("Custom resource type ", group, " ", kind, " is removed")});
    }
  }
}

}  // namespace

AnalyzerPtr NewAuthorizationPoliciesAnalyzer() {
  return MakeAnalyzer({"auth.AuthorizationPoliciesAnalyzer", "Checks the validity of authorization policies",
                       {kinds::kMeshConfig, kinds::kAuthorizationPolicy, kinds::kNamespace, kinds::kPod}},
                      AnalyzeAuthorizationPolicies);
}

AnalyzerPtr NewBlockedCidrsAnalyzer() {
  return MakeAnalyzer({"authn.BlockedCIDRsAnalyzer",
                       "Checks that BLOCKED_CIDRS_IN_JWKS_URIS is configured on istiod when RequestAuthentication "
                       "resources exist",
                       {kinds::kRequestAuthentication, kinds::kDeployment}},
                      AnalyzeBlockedCidrs);
}

AnalyzerPtr NewConditionAnalyzer() {
  return MakeAnalyzer({"conditions.ConditionAnalyzer", "Checks for negative status conditions on resources",
                       {kinds::kService, kinds::kServiceEntry, kinds::kWorkloadEntry, kinds::kAuthorizationPolicy,
                        kinds::kK8sGateway, kinds::kHTTPRoute, kinds::kGRPCRoute}},
                      AnalyzeConditions);
}

AnalyzerPtr NewDeprecationAnalyzer() {
  return MakeAnalyzer({"deprecation.DeprecationAnalyzer", "Checks for deprecated Istio types and fields",
                       {kinds::kVirtualService, kinds::kSidecar, kinds::kCRD}},
                      AnalyzeDeprecation);
}

}  // namespace mesh::analyze::workload
