#include "mesh/kubestore/workloads.h"

#include <map>
#include <tuple>

#include "mesh/common/strings.h"

namespace mesh::kubestore {

using config::Node;
using config::Resource;

namespace {

bool IsSidecarPod(const Resource& pod) {
  if (pod.annotations().count("sidecar.istio.io/status") > 0) {
    return true;
  }
  for (const Node& c : pod.spec()["containers"].items()) {
    if (c["name"].Str() == "istio-proxy") {
      return true;
    }
  }
  return false;
}

}  // namespace

std::vector<pilot::WorkloadInstance> WorkloadsFromEndpointSlices(const std::vector<Resource>& resources,
                                                                  const pilot::MeshSettings&) {
  using NsName = std::pair<std::string, std::string>;
  std::map<NsName, const Resource*> pods;
  std::map<NsName, const Resource*> services;
  std::vector<const Resource*> slices;
  for (const Resource& r : resources) {
    if (r.gvk().group.empty() && r.kind() == "Pod") {
      pods[{r.ns(), r.name()}] = &r;
    } else if (r.gvk().group.empty() && r.kind() == "Service") {
      services[{r.ns(), r.name()}] = &r;
    } else if (r.gvk().group == "discovery.k8s.io" && r.kind() == "EndpointSlice") {
      slices.push_back(&r);
    }
  }
  // One instance per (namespace, address), in a stable order.
  std::map<NsName, pilot::WorkloadInstance> instances;
  for (const Resource* slice : slices) {
    const std::string& address_type = slice->root()["addressType"].Str();
    if (address_type != "IPv4" && address_type != "IPv6") {
      continue;  // FQDN endpoints are not workloads
    }
    auto label = slice->labels().find("kubernetes.io/service-name");
    if (label == slice->labels().end()) {
      continue;
    }
    auto svc = services.find({slice->ns(), label->second});
    if (svc == services.end()) {
      continue;
    }
    const Node& service_ports = svc->second->spec()["ports"];
    // Service target port (as pilot keys it) -> the endpoint's port number.
    std::map<uint32_t, uint32_t> port_map;
    for (const Node& ep_port : slice->root()["ports"].items()) {
      auto number = ep_port["port"].Int();
      if (!number) {
        continue;
      }
      for (const Node& sp : service_ports.items()) {
        bool same_name = sp["name"].Str() == ep_port["name"].Str() || service_ports.size() == 1;
        if (!same_name) {
          continue;
        }
        uint32_t service_port = static_cast<uint32_t>(sp["port"].Int().value_or(0));
        uint32_t target = static_cast<uint32_t>(sp["targetPort"].Int().value_or(service_port));
        port_map[target] = static_cast<uint32_t>(*number);
      }
    }
    for (const Node& ep : slice->root()["endpoints"].items()) {
      const Node& ready = ep.At({"conditions", "ready"});
      if (ready.Defined() && !ready.Bool().value_or(false)) {
        continue;
      }
      if (ep["addresses"].items().empty()) {
        continue;
      }
      const std::string& address = ep["addresses"].items().front().Str();
      pilot::WorkloadInstance& w = instances[{slice->ns(), address}];
      if (w.name.empty()) {
        w.ns = slice->ns();
        w.address = address;
        w.has_sidecar = false;
        w.name = common::StrCat(label->second, "-", address);
        const Node& ref = ep["targetRef"];
        if (ref["kind"].Str() == "Pod") {
          std::string pod_ns = ref["namespace"].Str().empty() ? slice->ns() : ref["namespace"].Str();
          auto pod = pods.find({pod_ns, ref["name"].Str()});
          w.name = ref["name"].Str();
          if (pod != pods.end()) {
            const Resource& p = *pod->second;
            w.labels = p.labels();
            const std::string& sa = p.spec()["serviceAccountName"].Str();
            w.service_account = sa.empty() ? "default" : sa;
            w.has_sidecar = IsSidecarPod(p);
          }
        }
      }
      if (std::find(w.services.begin(), w.services.end(), label->second) == w.services.end()) {
        w.services.push_back(label->second);
      }
      for (const auto& [target, port] : port_map) {
        w.endpoint_ports.emplace(target, port);
      }
    }
  }
  std::vector<pilot::WorkloadInstance> out;
  out.reserve(instances.size());
  for (auto& [key, w] : instances) {
    out.push_back(std::move(w));
  }
  return out;
}

}  // namespace mesh::kubestore
