// applicationUID.Analyzer (UID 1337 is the proxy's) and deployment.MultiServiceAnalyzer
// (a deployment behind several services whose ports disagree).

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "mesh/analyze/analyzers/workload/workload.h"
#include "mesh/analyze/util.h"
#include "mesh/common/strings.h"

namespace mesh::analyze::workload {
namespace {

constexpr int64_t kProxyUid = 1337;

bool RunsAsProxyUid(const config::Node& security_context) {
  return security_context["runAsUser"].Int().value_or(-1) == kProxyUid;
}

// Reports once per offending field; identical messages are merged by the framework.
void CheckUid(Context& context, const config::Resource& r) {
  if (IsIstioControlPlane(r)) {
    return;
  }
  const config::Node& spec = PodSpecOf(r);
  const MessageType& type = MessageTypeNamed("InvalidApplicationUID");
  if (RunsAsProxyUid(spec["securityContext"])) {
    context.Report(type, &r, {});
  }
  for (const config::Node& c : spec["containers"].items()) {
    const std::string& name = c["name"].Str();
    if (name != "istio-proxy" && name != "istio-operator" && RunsAsProxyUid(c["securityContext"])) {
      context.Report(type, &r, {});
    }
  }
}

struct ServicePort {
  int64_t port = 0;
  std::string protocol;
  std::string target_port;
};

struct SelectedService {
  const config::Resource* service;
  config::StringMap selector;
};

// Services indexed by namespace and by one of their selector labels, so that a
// deployment only looks at services that could select it.
class ServiceIndex {
 public:
  explicit ServiceIndex(const World& world) {
    for (const config::Resource* s : world.Of(kinds::kService)) {
      config::StringMap selector = util::ToStringMap(s->spec()["selector"]);
      if (selector.empty()) {
        continue;  // an empty selector selects nothing here
      }
      const auto& [k, v] = *selector.begin();
      by_label_[Key(s->ns(), k, v)].push_back({s, std::move(selector)});
    }
  }

  // Services in `ns` whose non-empty selector matches `labels`.
  std::vector<const config::Resource*> Matching(const std::string& ns, const config::StringMap& labels) const {
    // Each service sits in exactly one bucket, so none is found twice.
    std::vector<const config::Resource*> out;
    for (const auto& [k, v] : labels) {
      auto it = by_label_.find(Key(ns, k, v));
      if (it == by_label_.end()) {
        continue;
      }
      for (const SelectedService& s : it->second) {
        if (util::SelectorMatches(s.selector, labels)) {
          out.push_back(s.service);
        }
      }
    }
    return out;
  }

 private:
  static std::string Key(const std::string& ns, const std::string& k, const std::string& v) {
    return common::StrCat(ns, "\n", k, "\n", v);
  }
  std::unordered_map<std::string, std::vector<SelectedService>> by_label_;
};

std::vector<ServicePort> PortsOf(const config::Resource& service) {
  std::vector<ServicePort> out;
  for (const config::Node& p : service.spec()["ports"].items()) {
    ServicePort sp;
    sp.port = p["port"].Int().value_or(0);
    sp.protocol = p["protocol"].Str().empty() ? "TCP" : p["protocol"].Str();
    sp.target_port = p["targetPort"].Str();
    if (sp.target_port.empty() || sp.target_port == "0") {
      sp.target_port = std::to_string(sp.port);  // Kubernetes defaults targetPort to port
    }
    out.push_back(std::move(sp));
  }
  return out;
}

void CheckServices(Context& context, const config::Resource& deployment, const ServiceIndex& index) {
  std::vector<const config::Resource*> services = index.Matching(deployment.ns(), PodTemplateLabels(deployment));
  // port -> protocol -> services; targetPort -> port -> service.
  std::map<int64_t, std::map<std::string, std::vector<std::string>>> by_port;
  std::map<std::string, std::map<int64_t, std::string>> by_target;
  for (const config::Resource* s : services) {
    for (const ServicePort& p : PortsOf(*s)) {
      by_port[p.port][p.protocol].push_back(s->name());
      by_target[p.target_port][p.port] = s->name();
    }
  }
  for (const auto& [port, protocols] : by_port) {
    if (protocols.size() < 2) {
      continue;
    }
    std::vector<std::string> names;
    for (const auto& [proto, svcs] : protocols) {
      names.insert(names.end(), svcs.begin(), svcs.end());
    }
    std::sort(names.begin(), names.end());
    context.Report(MessageTypeNamed("DeploymentAssociatedToMultipleServices"), &deployment,
                   {deployment.name(), std::to_string(port), common::GoList(names)});
  }
  for (const auto& [target, ports] : by_target) {
    if (ports.size() < 2) {
      continue;
    }
    std::vector<std::string> names;
    std::vector<std::string> port_list;
    for (const auto& [port, svc] : ports) {
      names.push_back(svc);
      port_list.push_back(std::to_string(port));
    }
    std::sort(names.begin(), names.end());
    context.Report(MessageTypeNamed("DeploymentConflictingPorts"), &deployment,
                   {deployment.name(), common::GoList(names), target, common::GoList(port_list)});
  }
}

}  // namespace

AnalyzerPtr NewApplicationUidAnalyzer() {
  return MakeAnalyzer({"applicationUID.Analyzer", "Checks invalid application UID", {kinds::kPod, kinds::kDeployment}},
                      [](Context& context) {
                        for (const config::Resource* r : context.world().Of(kinds::kPod)) {
                          CheckUid(context, *r);
                        }
                        for (const config::Resource* r : context.world().Of(kinds::kDeployment)) {
                          CheckUid(context, *r);
                        }
                      });
}

AnalyzerPtr NewMultiServiceAnalyzer() {
  return MakeAnalyzer(
      {"deployment.MultiServiceAnalyzer", "Checks association between services and pods",
       {kinds::kService, kinds::kDeployment, kinds::kNamespace}},
      [](Context& context) {
        const World& world = context.world();
        ServiceIndex index(world);
        for (const config::Resource* d : world.Of(kinds::kDeployment)) {
          const config::Node& tmpl_meta = d->root().At({"spec", "template", "metadata"});
          if (WorkloadInMesh(world, util::ToStringMap(tmpl_meta["annotations"]), util::ToStringMap(tmpl_meta["labels"]),
                             d->ns(), PodSpecOf(*d))) {
            CheckServices(context, *d, index);
          }
        }
      });
}

}  // namespace mesh::analyze::workload
