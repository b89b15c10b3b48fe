// injection.Analyzer (namespace and pod injection state), injection.ImageAnalyzer (proxy
// images that differ from the injector's) and injection.ImageAutoAnalyzer (`image: auto`
// that no injection webhook will replace).

#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "mesh/analyze/analyzers/workload/workload.h"
#include "mesh/analyze/util.h"
#include "mesh/common/strings.h"
#include "mesh/config/yaml_loader.h"

namespace mesh::analyze::workload {
namespace {

constexpr std::string_view kInjectorConfigMap = "istio-sidecar-injector";
constexpr std::string_view kInjectionLabel = "istio-injection";
constexpr std::string_view kRevisionLabel = "istio.io/rev";
constexpr std::string_view kDataplaneModeLabel = "istio.io/dataplane-mode";

std::string InjectorConfigMapName(const std::string& revision) {
  if (revision.empty() || revision == "default") {
    return std::string(kInjectorConfigMap);
  }
  return common::StrCat(kInjectorConfigMap, "-", revision);
}

// The injector's Helm values (the `values` key of the ConfigMap, JSON).
config::Node InjectorValues(const config::Resource& config_map) {
  auto node = config::ParseYamlNode(config_map.root().At({"data", "values"}).Str(), "");
  return node.ok() && node->IsMap() ? *node : config::Node();
}

const config::Node* FindProxy(const config::Node& pod_spec) {
  for (const char* list : {"containers", "initContainers"}) {
    for (const config::Node& c : pod_spec[list].items()) {
      if (c["name"].Str() == "istio-proxy") {
        return &c;
      }
    }
  }
  return nullptr;
}

const std::string* Label(const config::Resource& r, std::string_view key) {
  auto it = r.labels().find(std::string(key));
  return it == r.labels().end() ? nullptr : &it->second;
}

void AnalyzeInjection(Context& context) {
  const World& world = context.world();
  std::unordered_map<std::string, const config::Resource*> config_maps;
  for (const config::Resource* cm : world.Of(kinds::kConfigMap)) {
    config_maps.emplace(cm->name(), cm);
  }
  // Like Istio, the last injector config read decides for later namespaces too.
  bool enable_namespaces_by_default = false;
  std::unordered_map<std::string, bool> injected;
  for (const config::Resource* ns : world.Of(kinds::kNamespace)) {
    if (ns->name() == world.istio_namespace()) {
      continue;
    }
    const std::string* injection = Label(*ns, kInjectionLabel);
    const std::string* revision = Label(*ns, kRevisionLabel);
    std::vector<std::string> labels;
    if (injection != nullptr) {
      labels.push_back(common::StrCat(kInjectionLabel, "=", *injection));
    }
    for (std::string_view key : {kRevisionLabel, kDataplaneModeLabel}) {
      const std::string* v = Label(*ns, key);
      if (v != nullptr && (injection == nullptr || *injection == "enabled")) {
        labels.push_back(common::StrCat(key, "=", *v));
      }
    }
    if (labels.size() > 1) {
      context.Report(MessageTypeNamed("NamespaceMultipleInjectionLabels"), ns, {common::GoList(labels)});
    }
    const std::string* mode = Label(*ns, kDataplaneModeLabel);
    if (mode != nullptr && *mode == "ambient") {
      continue;
    }
    auto cm = config_maps.find(InjectorConfigMapName(revision == nullptr ? "" : *revision));
    if (cm != config_maps.end()) {
      config::Node values = InjectorValues(*cm->second);
      enable_namespaces_by_default =
          values.At({"sidecarInjectorWebhook", "enableNamespacesByDefault"}).Bool().value_or(false);
    }
    if ((injection == nullptr || injection->empty()) && revision == nullptr) {
      if (enable_namespaces_by_default) {
        context.Report(MessageTypeNamed("NamespaceInjectionEnabledByDefault"), ns, {});
      } else {
        context.Report(MessageTypeNamed("NamespaceNotInjected"), ns, {ns->name(), ns->name()},
                       util::LineOf(ns->metadata()["name"]));
      }
      continue;
    }
    if (injection == nullptr || *injection != "enabled") {
      continue;  // deliberately not injected (or revision-only)
    }
    injected[ns->name()] = true;
  }

  for (const config::Resource* pod : world.Of(kinds::kPod)) {
    if (!injected.count(pod->ns())) {
      continue;
    }
    std::string inject;
    if (auto it = pod->annotations().find("sidecar.istio.io/inject"); it != pod->annotations().end()) {
      inject = it->second;
    }
    if (auto it = pod->labels().find("sidecar.istio.io/inject"); it != pod->labels().end()) {
      inject = it->second;
    }
    if (common::ToLower(inject) == "false" || pod->spec()["hostNetwork"].Bool().value_or(false)) {
      continue;
    }
    const config::Node* proxy = FindProxy(pod->spec());
    if (proxy == nullptr || (*proxy)["image"].Str().empty()) {
      context.Report(MessageTypeNamed("PodMissingProxy"), pod, {pod->FullName()});
    }
  }
}

// The proxy image the injector would use: global.proxy.image, qualified with hub and tag
// unless it already contains a '/'.
std::string InjectorProxyImage(const config::Resource& config_map) {
  config::Node values = InjectorValues(config_map);
  if (!values.IsMap()) {
    return "";  // unreadable values: like Istio, every proxy image then differs
  }
  const config::Node& global = values["global"];
  std::string image = global.At({"proxy", "image"}).Str();
  if (image.find('/') != std::string::npos) {
    return image;
  }
  return common::StrCat(global["hub"].Str(), "/", image, ":", global["tag"].Str());
}

// Istio's effective proxy image type: mesh default, root-namespace ProxyConfig, namespace
// ProxyConfig, workload ProxyConfig, then the pod's proxy.istio.io/config annotation.
class ImageTypeResolver {
 public:
  explicit ImageTypeResolver(const World& world) {
    root_ns_ = world.mesh_config()["rootNamespace"].Str();
    if (root_ns_.empty()) {
      root_ns_ = world.istio_namespace();
    }
    mesh_default_ = world.mesh_config().At({"defaultConfig", "image", "imageType"}).Str();
    for (const config::Resource* pc : world.Of(kinds::kProxyConfig)) {
      if (pc->spec()["selector"].Defined()) {
        workload_[pc->ns()].push_back(pc);
      } else {
        namespace_[pc->ns()] = pc;
      }
    }
  }

  std::string ImageType(const config::Resource& pod) const {
    std::string type = mesh_default_;
    auto apply = [&type](const config::Node& image) {
      if (!image["imageType"].Str().empty()) {
        type = image["imageType"].Str();
      }
    };
    if (auto it = namespace_.find(root_ns_); it != namespace_.end()) {
      apply(it->second->spec()["image"]);
    }
    if (pod.ns() != root_ns_) {
      if (auto it = namespace_.find(pod.ns()); it != namespace_.end()) {
        apply(it->second->spec()["image"]);
      }
    }
    if (auto it = workload_.find(pod.ns()); it != workload_.end()) {
      for (const config::Resource* pc : it->second) {
        if (util::SelectorMatches(pc->spec().At({"selector", "matchLabels"}), pod.labels())) {
          apply(pc->spec()["image"]);
        }
      }
    }
    if (auto it = pod.annotations().find("proxy.istio.io/config"); it != pod.annotations().end()) {
      auto node = config::ParseYamlNode(it->second, "");
      if (node.ok()) {
        apply((*node)["image"]);
      }
    }
    return type;
  }

 private:
  std::string root_ns_;
  std::string mesh_default_;
  std::unordered_map<std::string, const config::Resource*> namespace_;
  std::unordered_map<std::string, std::vector<const config::Resource*>> workload_;
};

void AnalyzeImages(Context& context) {
  const World& world = context.world();
  std::unordered_map<std::string, std::string> images;  // config map name -> proxy image
  for (const config::Resource* cm : world.Of(kinds::kConfigMap)) {
    if (cm->name().rfind(kInjectorConfigMap, 0) == 0) {
      images[cm->name()] = InjectorProxyImage(*cm);
    }
  }
  if (images.empty()) {
    return;
  }
  std::unordered_map<std::string, std::string> injected;  // namespace -> revision
  std::unordered_map<std::string, const config::Resource*> namespaces;
  for (const config::Resource* ns : world.Of(kinds::kNamespace)) {
    namespaces[ns->name()] = ns;
    const std::string* revision = Label(*ns, kRevisionLabel);
    const std::string* injection = Label(*ns, kInjectionLabel);
    if (revision != nullptr) {
      injected[ns->name()] = *revision;
    } else if (injection != nullptr && *injection == "enabled") {
      injected[ns->name()] = "default";
    }
  }
  ImageTypeResolver resolver(world);
  std::map<std::string, std::vector<std::string>> mismatched;  // namespace -> pods
  std::vector<std::string> order;
  for (const config::Resource* pod : world.Of(kinds::kPod)) {
    auto ns = injected.find(pod->ns());
    if (ns == injected.end()) {
      continue;
    }
    if (auto it = pod->annotations().find("sidecar.istio.io/proxyImage");
        it != pod->annotations().end() && !it->second.empty()) {
      continue;  // a custom proxy image always wins over the injector's
    }
    auto image = images.find(InjectorConfigMapName(ns->second));
    if (image == images.end()) {
      continue;
    }
    std::string variant = resolver.ImageType(*pod);
    for (const char* list : {"containers", "initContainers"}) {
      for (const config::Node& c : pod->spec()[list].items()) {
        if (c["name"].Str() != "istio-proxy") {
          continue;
        }
        const std::string& actual = c["image"].Str();
        if (actual != image->second && actual != common::StrCat(image->second, "-", variant)) {
          if (!mismatched.count(pod->ns())) {
            order.push_back(pod->ns());
          }
          mismatched[pod->ns()].push_back(pod->name());
        }
      }
    }
  }
  for (const std::string& ns : order) {
    context.Report(MessageTypeNamed("PodsIstioProxyImageMismatchInNamespace"), namespaces[ns],
                   {common::GoList(mismatched[ns])});
  }
}

bool HasAutoImage(const config::Node& pod_spec) {
  for (const config::Node& c : pod_spec["containers"].items()) {
    if (c["image"].Str() == "auto") {
      return true;
    }
  }
  return false;
}

void AnalyzeImageAuto(Context& context) {
  const World& world = context.world();
  std::vector<const config::Node*> webhooks;  // Istio's injection webhooks
  for (const config::Resource* mwc : world.Of(kinds::kMutatingWebhook)) {
    for (const config::Node& w : mwc->root()["webhooks"].items()) {
      const std::string& name = w["name"].Str();
      if (name.size() >= 8 && name.compare(name.size() - 8, 8, "istio.io") == 0) {
        webhooks.push_back(&w);
      }
    }
  }
  // A pod that still has `image: auto` was not injected, whatever the webhooks say.
  for (const config::Resource* pod : world.Of(kinds::kPod)) {
    if (HasAutoImage(pod->spec())) {
      context.Report(MessageTypeNamed("ImageAutoWithoutInjectionError"), pod, {"Pod", pod->name()});
    }
  }
  for (const config::Resource* d : world.Of(kinds::kDeployment)) {
    if (!HasAutoImage(PodSpecOf(*d))) {
      continue;
    }
    config::StringMap ns_labels;
    if (const config::Resource* ns = world.Find(kinds::kNamespace, "", d->ns()); ns != nullptr) {
      ns_labels = ns->labels();
    }
    config::StringMap pod_labels = PodTemplateLabels(*d);
    bool matched = false;
    for (const config::Node* w : webhooks) {
      if (LabelSelectorMatches((*w)["namespaceSelector"], ns_labels) &&
          LabelSelectorMatches((*w)["objectSelector"], pod_labels)) {
        matched = true;
        break;
      }
    }
    if (!matched) {
      context.Report(MessageTypeNamed("ImageAutoWithoutInjectionWarning"), d, {"Deployment", d->name()});
    }
  }
}

}  // namespace

AnalyzerPtr NewInjectionAnalyzer() {
  return MakeAnalyzer({"injection.Analyzer", "Checks conditions related to Istio sidecar injection",
                       {kinds::kNamespace, kinds::kPod, kinds::kConfigMap}},
                      AnalyzeInjection);
}

AnalyzerPtr NewInjectionImageAnalyzer() {
  return MakeAnalyzer({"injection.ImageAnalyzer",
                       "Checks the image of auto-injection configured with the running proxies on pods",
                       {kinds::kNamespace, kinds::kPod, kinds::kConfigMap, kinds::kMeshConfig, kinds::kProxyConfig}},
                      AnalyzeImages);
}

AnalyzerPtr NewImageAutoAnalyzer() {
  return MakeAnalyzer({"injection.ImageAutoAnalyzer",
                       "Makes sure that Pods and Deployments with `image: auto` are going to be injected",
                       {kinds::kNamespace, kinds::kPod, kinds::kDeployment, kinds::kMutatingWebhook}},
                      AnalyzeImageAuto);
}

}  // namespace mesh::analyze::workload
