#include "mesh/analyze/analyzers/workload/workload.h"

#include <algorithm>

#include "mesh/analyze/util.h"

namespace mesh::analyze::workload {
namespace {

class FunctionAnalyzer : public Analyzer {
 public:
  FunctionAnalyzer(AnalyzerMetadata metadata, std::function<void(Context&)> analyze)
      : metadata_(std::move(metadata)), analyze_(std::move(analyze)) {}
  const AnalyzerMetadata& Metadata() const override { return metadata_; }
  void Analyze(Context& context) const override { analyze_(context); }

 private:
  AnalyzerMetadata metadata_;
  std::function<void(Context&)> analyze_;
};

}  // namespace

AnalyzerPtr MakeAnalyzer(AnalyzerMetadata metadata, std::function<void(Context&)> analyze) {
  return std::make_unique<FunctionAnalyzer>(std::move(metadata), std::move(analyze));
}

const config::Node& PodSpecOf(const config::Resource& resource) {
  if (resource.kind() == "Pod") {
    return resource.spec();
  }
  return resource.root().At({"spec", "template", "spec"});
}

config::StringMap PodTemplateLabels(const config::Resource& deployment) {
  return util::ToStringMap(deployment.root().At({"spec", "template", "metadata", "labels"}));
}

int AnnotationLine(const config::Resource& resource, const std::string& key) {
  const config::Node& n = resource.metadata()["annotations"][key];
  return n.Defined() ? util::LineOf(n) : 0;
}

}  // namespace mesh::analyze::workload

namespace mesh::analyze::workload {

bool LabelSelectorMatches(const config::Node& selector, const config::StringMap& labels) {
  if (!selector.Defined()) {
    return true;
  }
  if (!util::SelectorMatches(selector["matchLabels"], labels)) {
    return false;
  }
  for (const config::Node& e : selector["matchExpressions"].items()) {
    const std::string& key = e["key"].Str();
    const std::string& op = e["operator"].Str();
    std::vector<std::string> values = e["values"].StringList();
    auto it = labels.find(key);
    bool present = it != labels.end();
    bool in_values = present && std::find(values.begin(), values.end(), it->second) != values.end();
    if ((op == "In" && !in_values) || (op == "NotIn" && in_values) || (op == "Exists" && !present) ||
        (op == "DoesNotExist" && present)) {
      return false;
    }
  }
  return true;
}

bool WorkloadInMesh(const World& world, const config::StringMap& annotations, const config::StringMap& labels,
                    const std::string& ns, const config::Node& pod_spec) {
  for (const config::Node& c : pod_spec["containers"].items()) {
    if (c["name"].Str() == "istio-proxy") {
      if (!c["image"].Str().empty()) {
        return true;
      }
      break;
    }
  }
  if (auto it = labels.find("sidecar.istio.io/inject"); it != labels.end()) {
    return it->second == "true";
  }
  if (auto it = annotations.find("sidecar.istio.io/inject"); it != annotations.end()) {
    return it->second == "true";
  }
  if (const config::Resource* n = world.Find(kinds::kNamespace, "", ns); n != nullptr) {
    auto it = n->labels().find("istio-injection");
    return it != n->labels().end() && it->second == "enabled";
  }
  return false;
}

bool IsSystemNamespace(std::string_view ns) {
  return ns == "kube-system" || ns == "kube-public" || ns == "kube-node-lease" || ns == "local-path-storage";
}

bool IsIstioControlPlane(const config::Resource& resource) {
  auto it = resource.labels().find("release");
  return resource.labels().count("istio") > 0 || (it != resource.labels().end() && it->second == "istio");
}

}  // namespace mesh::analyze::workload
