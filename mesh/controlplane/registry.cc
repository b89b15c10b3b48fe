#include "mesh/controlplane/registry.h"

#include "mesh/common/strings.h"
#include "mesh/config/emit.h"
#include "mesh/config/yaml_loader.h"

namespace mesh::controlplane {

absl::StatusOr<ProxyIdentity> ParseProxyIdentity(const xds::ProxyNode& node) {
  const config::Node& m = node.metadata;
  ProxyIdentity id;
  id.type = m["PROXY_TYPE"].Str().empty() ? "sidecar" : m["PROXY_TYPE"].Str();
  if (id.type != "sidecar" && id.type != "router") {
    return absl::InvalidArgumentError(common::StrCat("unknown PROXY_TYPE \"", id.type, "\""));
  }
  pilot::WorkloadInstance& w = id.workload;
  w.name = m["WORKLOAD_NAME"].Str();
  w.ns = m["NAMESPACE"].Str();
  if (w.name.empty() || w.ns.empty()) {
    return absl::InvalidArgumentError("proxy metadata needs WORKLOAD_NAME and NAMESPACE");
  }
  if (m["SERVICE_ACCOUNT"].IsScalar()) {
    w.service_account = m["SERVICE_ACCOUNT"].Str();
  }
  for (const auto& [k, v] : m["LABELS"].StringMap()) {
    w.labels[k] = v;
  }
  if (m["INSTANCE_IP"].IsScalar()) {
    w.address = m["INSTANCE_IP"].Str();
  }
  w.services = m["SERVICES"].StringList();
  w.default_endpoint_port = static_cast<uint32_t>(m["INBOUND_PORT"].Int().value_or(0));
  w.has_sidecar = id.type == "sidecar";
  id.outbound_port = static_cast<uint32_t>(m["OUTBOUND_PORT"].Int().value_or(0));
  id.app_port = static_cast<uint32_t>(m["APP_PORT"].Int().value_or(0));
  for (const auto& [svc_port, local] : m["GATEWAY_PORTS"].entries()) {
    config::Node k = config::Node::Scalar(svc_port);
    if (k.Int() && local.Int()) {
      id.gateway_ports[static_cast<uint32_t>(*k.Int())] = static_cast<uint32_t>(*local.Int());
    }
  }
  return id;
}

bool WorkloadRegistry::Connect(const std::string& proxy_id, const ProxyIdentity& identity, config::Node metadata) {
  auto it = entries_.find(proxy_id);
  bool changed = it == entries_.end() || !it->second.connected;
  if (it == entries_.end() || !(it->second.metadata == metadata)) {
    ++version_;
  }
  entries_[proxy_id] = Entry{identity, true, {}, std::move(metadata)};
  return changed;
}

bool WorkloadRegistry::Disconnect(const std::string& proxy_id, Clock::time_point now) {
  auto it = entries_.find(proxy_id);
  if (it == entries_.end()) {
    return false;
  }
  it->second.connected = false;
  it->second.disconnected_at = now;
  return Expire(now);
}

bool WorkloadRegistry::Expire(Clock::time_point now) {
  bool removed = false;
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (!it->second.connected && now - it->second.disconnected_at >= grace_) {
      it = entries_.erase(it);
      removed = true;
      ++version_;
    } else {
      ++it;
    }
  }
  return removed;
}

std::vector<pilot::WorkloadInstance> WorkloadRegistry::Workloads() const {
  std::vector<pilot::WorkloadInstance> out;
  for (const auto& [id, e] : entries_) {
    if (e.identity.type == "sidecar" && e.identity.workload.default_endpoint_port != 0) {
      out.push_back(e.identity.workload);
    }
  }
  return out;
}

const ProxyIdentity* WorkloadRegistry::Find(const std::string& proxy_id) const {
  auto it = entries_.find(proxy_id);
  return it == entries_.end() ? nullptr : &it->second.identity;
}

std::string WorkloadRegistry::Save() const {
  config::Node proxies = config::Node::Sequence();
  for (const auto& [id, e] : entries_) {
    config::Node p = config::Node::Map();
    p.Set("id", config::Node::Scalar(id, true));
    p.Set("metadata", e.metadata.IsNull() ? config::Node::Map() : e.metadata);
    proxies.Append(std::move(p));
  }
  config::Node root = config::Node::Map();
  root.Set("proxies", std::move(proxies));
  return config::EmitJson(root) + "\n";
}

absl::Status WorkloadRegistry::RestoreDisconnected(std::string_view json, Clock::time_point now) {
  absl::StatusOr<config::Node> root = config::ParseYamlNode(std::string(json), "registry");
  if (!root.ok()) {
    return root.status();
  }
  const config::Node& proxies = (*root)["proxies"];
  if (!proxies.IsSequence()) {
    return absl::InvalidArgumentError("registry: \"proxies\" must be a list");
  }
  std::map<std::string, Entry> restored;
  for (const config::Node& p : proxies.items()) {
    xds::ProxyNode node;
    node.id = p["id"].Str();
    node.metadata = p["metadata"];
    absl::StatusOr<ProxyIdentity> identity = ParseProxyIdentity(node);
    if (node.id.empty() || !identity.ok()) {
      return absl::InvalidArgumentError(common::StrCat(
          "registry: proxy \"", node.id, "\": ", identity.ok() ? "no id" : identity.status().message()));
    }
    restored[node.id] = Entry{*std::move(identity), false, now, std::move(node.metadata)};
  }
  for (auto& [id, e] : restored) {
    if (entries_.emplace(id, std::move(e)).second) {
      ++version_;
    }
  }
  return absl::OkStatus();
}

}  // namespace mesh::controlplane
