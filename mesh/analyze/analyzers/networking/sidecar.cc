// sidecar.SelectorAnalyzer: workload selectors that match no pod, several Sidecars for one
// pod or one namespace, and Sidecars that cannot apply to ambient workloads.

#include <map>
#include <unordered_map>
#include <unordered_set>

#include "mesh/analyze/analyzers/networking/analyzers.h"
#include "mesh/analyze/analyzers/networking/common.h"
#include "mesh/analyze/util.h"
#include "mesh/common/strings.h"

namespace mesh::analyze::networking {
namespace {

bool PodInAmbientMode(const config::Resource* pod) {
  if (pod == nullptr) {
    return false;
  }
  auto it = pod->annotations().find("ambient.istio.io/redirection");
  return it != pod->annotations().end() && it->second == "enabled";
}

// Sidecar injection labels win over the ambient data plane label.
bool NamespaceInAmbientMode(const config::Resource* ns) {
  if (ns == nullptr) {
    return false;
  }
  const config::StringMap& labels = ns->labels();
  auto injection = labels.find("istio-injection");
  if (injection != labels.end() && injection->second == "enabled") {
    return false;
  }
  auto rev = labels.find("istio.io/rev");
  if (rev != labels.end() && !rev->second.empty()) {
    return false;
  }
  auto mode = labels.find("istio.io/dataplane-mode");
  return mode != labels.end() && mode->second == "ambient";
}

std::string NameList(const std::vector<const config::Resource*>& sidecars) {
  std::vector<std::string> names;
  for (const config::Resource* s : sidecars) {
    names.push_back(s->name());
  }
  return common::GoList(names);
}

class SelectorAnalyzer : public AnalyzerBase {
 public:
  SelectorAnalyzer()
      : AnalyzerBase({"sidecar.SelectorAnalyzer",
                      "Validates that sidecars that define a workload selector match at least one pod, and that "
                      "there aren't multiple sidecar resources that select overlapping pods",
                      {kinds::kSidecar, kinds::kPod, kinds::kNamespace}}) {}

  void Analyze(Context& ctx) const override {
    const World& world = ctx.world();
    PodIndex pods(world);
    std::vector<const config::Resource*> pod_order;
    std::unordered_map<const config::Resource*, std::vector<const config::Resource*>> sidecars_by_pod;
    std::vector<std::string> ns_order;
    std::unordered_map<std::string, std::vector<const config::Resource*>> unscoped_by_ns;

    const MessageType& not_found = MessageTypeNamed("ReferencedResourceNotFound");
    for (const config::Resource* sidecar : world.Of(kinds::kSidecar)) {
      config::StringMap selector = util::ToStringMap(sidecar->spec().At({"workloadSelector", "labels"}));
      if (selector.empty()) {
        auto [it, inserted] = unscoped_by_ns.try_emplace(sidecar->ns());
        if (inserted) {
          ns_order.push_back(sidecar->ns());
        }
        it->second.push_back(sidecar);
        continue;
      }
      bool found = false;
      for (const config::Resource* pod : pods.Matching(selector, &sidecar->ns())) {
        found = true;
        auto [it, inserted] = sidecars_by_pod.try_emplace(pod);
        if (inserted) {
          pod_order.push_back(pod);
        }
        it->second.push_back(sidecar);
      }
      if (!found) {
        const config::Node& labels = sidecar->spec().At({"workloadSelector", "labels"});
        int line = util::LineOf(labels[FirstSelectorKey(selector)]);
        ctx.Report(not_found, sidecar, {"selector", SelectorText(selector)}, line > 0 ? line : util::LineOf(labels));
      }
    }

    // Ambient workloads have no sidecar, so a Sidecar for them is only ineffective.
    const MessageType& ineffective = MessageTypeNamed("IneffectivePolicy");
    const MessageType& conflicting = MessageTypeNamed("ConflictingSidecarWorkloadSelectors");
    std::unordered_set<const config::Resource*> reported;
    for (const config::Resource* pod : pod_order) {
      const auto& sidecars = sidecars_by_pod[pod];
      bool ambient = PodInAmbientMode(pod);
      if (sidecars.size() == 1 && !ambient) {
        continue;
      }
      std::string names = NameList(sidecars);
      for (const config::Resource* sidecar : sidecars) {
        if (ambient) {
          if (reported.insert(sidecar).second) {
            ctx.Report(ineffective, sidecar, {"selected workload is in ambient mode, the policy has no impact"});
          }
          continue;
        }
        ctx.Report(conflicting, sidecar, {names, pod->ns(), pod->name()}, util::LineOf(sidecar->metadata()["name"]));
      }
    }

    const MessageType& multiple = MessageTypeNamed("MultipleSidecarsWithoutWorkloadSelectors");
    for (const std::string& ns : ns_order) {
      const auto& sidecars = unscoped_by_ns[ns];
      if (NamespaceInAmbientMode(world.Find(kinds::kNamespace, "", ns))) {
        for (const config::Resource* sidecar : sidecars) {
          if (reported.insert(sidecar).second) {
            ctx.Report(ineffective, sidecar, {"namespace is in ambient mode, the policy has no impact"});
          }
        }
        continue;
      }
      if (sidecars.size() > 1) {
        std::string names = NameList(sidecars);
        for (const config::Resource* sidecar : sidecars) {
          ctx.Report(multiple, sidecar, {names, ns}, util::LineOf(sidecar->metadata()["name"]));
        }
      }
    }
  }
};

}  // namespace

AnalyzerPtr NewSidecarSelectorAnalyzer() { return std::make_unique<SelectorAnalyzer>(); }

}  // namespace mesh::analyze::networking
