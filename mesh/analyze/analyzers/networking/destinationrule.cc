// DestinationRule analyzers: TLS without CA certificates, and subsets that select no pods.

#include <unordered_map>

#include "mesh/analyze/analyzers/networking/analyzers.h"
#include "mesh/analyze/analyzers/networking/common.h"
#include "mesh/analyze/util.h"
#include "mesh/common/strings.h"

namespace mesh::analyze::networking {
namespace {

bool VerifiesServer(std::string_view mode) { return mode == "SIMPLE" || mode == "MUTUAL"; }

// Line of the TLS mode that needs a CA (the missing caCertificates has no line).
int TlsLine(const config::Node& tls) {
  int line = util::LineOf(tls["mode"]);
  return line > 0 ? line : util::LineOf(tls);
}

class CaCertificateAnalyzer : public AnalyzerBase {
 public:
  CaCertificateAnalyzer()
      : AnalyzerBase({"destinationrule.CaCertificateAnalyzer",
                      "Checks if caCertificates is set when TLS mode is SIMPLE/MUTUAL",
                      {kinds::kDestinationRule}}) {}

  void Analyze(Context& ctx) const override {
    const MessageType& destination_level = MessageTypeNamed("NoServerCertificateVerificationDestinationLevel");
    const MessageType& port_level = MessageTypeNamed("NoServerCertificateVerificationPortLevel");
    for (const config::Resource* dr : ctx.world().Of(kinds::kDestinationRule)) {
      const config::Node& policy = dr->spec()["trafficPolicy"];
      const std::string& host = dr->spec()["host"].Str();
      const config::Node& tls = policy["tls"];
      // A credentialName with a workload selector carries its own CA (sidecar-side secret).
      bool has_selector = dr->spec()["workloadSelector"].Defined();
      auto needs_ca = [&](const config::Node& t) {
        return VerifiesServer(t["mode"].Str()) && t["caCertificates"].Str().empty() &&
               !(!t["credentialName"].Str().empty() && has_selector);
      };
      if (needs_ca(tls)) {
        ctx.Report(destination_level, dr, {dr->FullName(), dr->ns(), tls["mode"].Str(), host}, TlsLine(tls));
      }
      for (const config::Node& settings : policy["portLevelSettings"].items()) {
        const config::Node& port_tls = settings["tls"];
        if (needs_ca(port_tls)) {
          // Istio prints the PortSelector message in protobuf text form.
          std::string port = common::StrCat("number:", settings.At({"port", "number"}).Int().value_or(0));
          ctx.Report(port_level, dr, {dr->FullName(), dr->ns(), port_tls["mode"].Str(), host, port},
                     TlsLine(port_tls));
        }
      }
    }
  }
};

// Labels Istio adds to endpoints from the pod's node (topology) and the node name.
config::StringMap EndpointLabels(const config::Resource& pod,
                                 const std::unordered_map<std::string, const config::Resource*>& nodes) {
  config::StringMap labels = pod.labels();
  const std::string& node_name = pod.spec()["nodeName"].Str();
  if (node_name.empty()) {
    return labels;
  }
  auto it = nodes.find(node_name);
  if (it == nodes.end()) {
    return labels;
  }
  for (const char* key : {"topology.kubernetes.io/region", "topology.kubernetes.io/zone", "topology.istio.io/subzone"}) {
    auto label = it->second->labels().find(key);
    if (label != it->second->labels().end() && !label->second.empty()) {
      labels[key] = label->second;
    }
  }
  labels["kubernetes.io/hostname"] = node_name;
  return labels;
}

class SubsetSelectPodAnalyzer : public AnalyzerBase {
 public:
  SubsetSelectPodAnalyzer()
      : AnalyzerBase({"destinationrule.SubsetSelectPodAnalyzer",
                      "Checks if pods are selected by subsets in destination rules.",
                      {kinds::kDestinationRule, kinds::kPod, kinds::kService, kinds::kServiceEntry, kinds::kNode}}) {}

  struct Subset {
    const config::Resource* rule = nullptr;
    std::string name;
    config::StringMap selector;
    bool matched = false;
  };

  void Analyze(Context& ctx) const override {
    const World& world = ctx.world();
    ServiceHostIndex services(world);
    std::unordered_map<std::string, const config::Resource*> nodes;
    for (const config::Resource* n : world.Of(kinds::kNode)) {
      nodes[n->name()] = n;
    }

    const MessageType& unknown_host = MessageTypeNamed("UnknownDestinationRuleHost");
    std::vector<Subset> subsets;
    for (const config::Resource* dr : world.Of(kinds::kDestinationRule)) {
      const std::string& host = dr->spec()["host"].Str();
      const KnownService* s = services.Lookup(dr->ns(), dr->spec()["exportTo"].StringList(), host);
      if (s == nullptr) {
        ctx.Report(unknown_host, dr, {host}, util::LineOf(dr->spec()["host"]));
        continue;
      }
      for (const config::Node& subset : dr->spec()["subsets"].items()) {
        Subset entry{dr, subset["name"].Str(), s->workload_selector, false};
        for (const auto& [k, v] : util::ToStringMap(subset["labels"])) {
          entry.selector[k] = v;
        }
        subsets.push_back(std::move(entry));
      }
    }

    // Index subsets by one of their labels so each pod only checks plausible subsets.
    std::unordered_map<std::string, std::vector<Subset*>> by_first_label;
    std::vector<Subset*> select_all;
    for (Subset& s : subsets) {
      if (s.selector.empty()) {
        select_all.push_back(&s);
      } else {
        const auto& [k, v] = *s.selector.begin();
        by_first_label[common::StrCat(k, "=", v)].push_back(&s);
      }
    }
    if (!select_all.empty() && !world.Of(kinds::kPod).empty()) {
      for (Subset* s : select_all) {
        s->matched = true;
      }
    }
    for (const config::Resource* pod : world.Of(kinds::kPod)) {
      config::StringMap labels = EndpointLabels(*pod, nodes);
      for (const auto& [k, v] : labels) {
        auto it = by_first_label.find(common::StrCat(k, "=", v));
        if (it == by_first_label.end()) {
          continue;
        }
        for (Subset* s : it->second) {
          if (!s->matched && util::SelectorMatches(s->selector, labels)) {
            s->matched = true;
          }
        }
      }
    }

    const MessageType& not_selected = MessageTypeNamed("DestinationRuleSubsetNotSelectPods");
    for (const Subset& s : subsets) {
      if (!s.matched) {
        ctx.Report(not_selected, s.rule, {s.name}, util::LineOf(s.rule->spec()["subsets"]));
      }
    }
  }
};

}  // namespace

AnalyzerPtr NewCaCertificateAnalyzer() { return std::make_unique<CaCertificateAnalyzer>(); }
AnalyzerPtr NewSubsetSelectPodAnalyzer() { return std::make_unique<SubsetSelectPodAnalyzer>(); }

}  // namespace mesh::analyze::networking
