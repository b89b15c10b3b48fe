// Kubernetes Gateway API analyzers: workload selectors that target gateway pods (they
// need targetRef), and Gateway API CRDs older than Istio supports.

#include <array>
#include <optional>
#include <unordered_map>

#include "mesh/analyze/analyzers/networking/analyzers.h"
#include "mesh/analyze/analyzers/networking/common.h"
#include "mesh/analyze/util.h"
#include "mesh/common/strings.h"

namespace mesh::analyze::networking {
namespace {

inline constexpr std::string_view kGatewayNameLabel = "gateway.networking.k8s.io/gateway-name";

class SelectorAnalyzer : public AnalyzerBase {
 public:
  SelectorAnalyzer()
      : AnalyzerBase({"k8sgateway.SelectorAnalyzer",
                      "Check that selectors are effective for Kubernetes gateway",
                      {kinds::kAuthorizationPolicy, kinds::kRequestAuthentication, kinds::kTelemetry,
                       kinds::kWasmPlugin, kinds::kPod}}) {}

  void Analyze(Context& ctx) const override {
    const World& world = ctx.world();
    std::unordered_map<std::string, std::vector<const config::Resource*>> gateway_pods_by_ns;
    for (const config::Resource* pod : world.Of(kinds::kPod)) {
      if (pod->labels().count(std::string(kGatewayNameLabel)) > 0) {
        gateway_pods_by_ns[pod->ns()].push_back(pod);
      }
    }
    const MessageType& type = MessageTypeNamed("IneffectiveSelector");
    for (const KindRef& kind : {kinds::kAuthorizationPolicy, kinds::kRequestAuthentication, kinds::kTelemetry,
                                kinds::kWasmPlugin}) {
      for (const config::Resource* policy : world.Of(kind)) {
        const config::Node& spec = policy->spec();
        if (spec["targetRef"].Defined() || !spec["selector"].Defined()) {
          continue;
        }
        const config::Node& match_labels = spec.At({"selector", "matchLabels"});
        config::StringMap selector = util::ToStringMap(match_labels);
        auto it = gateway_pods_by_ns.find(policy->ns());
        if (it == gateway_pods_by_ns.end()) {
          continue;
        }
        for (const config::Resource* pod : it->second) {
          if (util::SelectorMatches(selector, pod->labels())) {
            int line = util::LineOf(spec["selector"]);
            ctx.Report(type, policy, {pod->labels().at(std::string(kGatewayNameLabel))}, line);
          }
        }
      }
    }
  }
};

// A semantic version without build metadata; prerelease kept for printing.
struct SemVer {
  std::array<int64_t, 3> numbers{};
  std::string prerelease;
  std::string metadata;
  std::string ToString() const {
    std::string out = common::StrCat(numbers[0], ".", numbers[1], ".", numbers[2]);
    if (!prerelease.empty()) {
      out += "-" + prerelease;
    }
    if (!metadata.empty()) {
      out += "+" + metadata;
    }
    return out;
  }
};

// Parses "v1.4.1", "1.4", "1.5.0-rc.1" (missing minor/patch are 0).
std::optional<SemVer> ParseSemVer(std::string_view text) {
  SemVer v;
  if (!text.empty() && (text[0] == 'v' || text[0] == 'V')) {
    text.remove_prefix(1);
  }
  size_t plus = text.find('+');
  if (plus != std::string_view::npos) {
    v.metadata = std::string(text.substr(plus + 1));
    text = text.substr(0, plus);
  }
  size_t dash = text.find('-');
  if (dash != std::string_view::npos) {
    v.prerelease = std::string(text.substr(dash + 1));
    text = text.substr(0, dash);
  }
  std::vector<std::string> parts = common::Split(text, '.');
  if (parts.empty() || parts.size() > 3) {
    return std::nullopt;
  }
  for (size_t i = 0; i < parts.size(); ++i) {
    if (parts[i].empty() || parts[i].find_first_not_of("0123456789") != std::string::npos || parts[i].size() > 9) {
      return std::nullopt;
    }
    v.numbers[i] = std::stoll(parts[i]);
  }
  return v;
}

class CrdVersionAnalyzer : public AnalyzerBase {
 public:
  CrdVersionAnalyzer()
      : AnalyzerBase({"k8sgateway.CRDVersionAnalyzer",
                      "Checks Gateway API CRDs are at the minimum version required by this Istio version",
                      {kinds::kCRD}}) {}

  void Analyze(Context& ctx) const override {
    // Bundle versions Istio needs to watch these CRDs at all.
    static const std::unordered_map<std::string, std::array<int64_t, 3>> kMinimum = {
        {"grpcroutes.gateway.networking.k8s.io", {1, 1, 0}},
        {"backendtlspolicies.gateway.networking.k8s.io", {1, 4, 0}},
        {"tlsroutes.gateway.networking.k8s.io", {1, 5, 0}},
    };
    const MessageType& type = MessageTypeNamed("GatewayAPICRDVersionBelowMinimum");
    for (const config::Resource* crd : ctx.world().Of(kinds::kCRD)) {
      auto min = kMinimum.find(crd->name());
      if (min == kMinimum.end()) {
        continue;
      }
      auto annotation = crd->annotations().find("gateway.networking.k8s.io/bundle-version");
      if (annotation == crd->annotations().end()) {
        continue;
      }
      std::optional<SemVer> installed = ParseSemVer(annotation->second);
      if (!installed.has_value() || installed->numbers >= min->second) {
        continue;
      }
      SemVer minimum{min->second, "", ""};
      int line = util::LineOf(crd->metadata().At({"annotations", "gateway.networking.k8s.io/bundle-version"}));
      ctx.Report(type, crd, {crd->name(), installed->ToString(), minimum.ToString()}, line);
    }
  }
};

}  // namespace

AnalyzerPtr NewK8sGatewaySelectorAnalyzer() { return std::make_unique<SelectorAnalyzer>(); }
AnalyzerPtr NewGatewayApiCrdVersionAnalyzer() { return std::make_unique<CrdVersionAnalyzer>(); }

}  // namespace mesh::analyze::networking
