#include "mesh/inject/injector.h"

#include <set>
#include <string_view>
#include <vector>

#include "mesh/common/status_macros.h"
#include "mesh/common/strings.h"
#include "mesh/config/emit.h"
#include "mesh/config/yaml_loader.h"

namespace mesh::inject {
namespace {

Node Str(const std::string& s) { return Node::Scalar(s, true); }
Node Int(int64_t v) { return Node::Scalar(std::to_string(v)); }
Node Bool(bool v) { return Node::Scalar(v ? "true" : "false"); }

Node MapOf(std::initializer_list<std::pair<const char*, Node>> entries) {
  Node m = Node::Map();
  for (const auto& [k, v] : entries) {
    m.Set(k, v);
  }
  return m;
}

Node SeqOf(std::initializer_list<Node> items) {
  Node s = Node::Sequence();
  for (const Node& n : items) {
    s.Append(n);
  }
  return s;
}

Node FieldRefEnv(const char* name, const char* path) {
  return MapOf({{"name", Str(name)}, {"valueFrom", MapOf({{"fieldRef", MapOf({{"fieldPath", Str(path)}})}})}});
}

Node ValueEnv(const char* name, const std::string& value) { return MapOf({{"name", Str(name)}, {"value", Str(value)}}); }

// Map child, created (or replaced when not a map) on demand.
Node& MapChild(Node& parent, const char* key) {
  Node* n = parent.FindMutable(key);
  if (n == nullptr || !n->IsMap()) {
    return parent.Set(key, Node::Map());
  }
  return *n;
}

// Sequence child, created on demand; an error when present with another type.
absl::StatusOr<Node*> SeqChild(Node& parent, const char* key, const std::string& where) {
  Node* n = parent.FindMutable(key);
  if (n == nullptr || n->IsNull()) {
    return &parent.Set(key, Node::Sequence());
  }
  if (!n->IsSequence()) {
    return absl::InvalidArgumentError(common::StrCat(where, ".", key, " must be a list"));
  }
  return n;
}

void SetIfAbsent(Node& map, const std::string& key, const std::string& value) {
  if (map.Find(key) == nullptr) {
    map.Set(key, Str(value));
  }
}

std::string Lookup(const Node& map, std::string_view key) {
  const Node* n = map.Find(key);
  return n != nullptr && n->IsScalar() ? n->Str() : "";
}

Labels ToLabels(const Node& n) {
  Labels out;
  for (const auto& [k, v] : n.StringMap()) {
    out[k] = v;
  }
  return out;
}

bool IsPodTemplateKind(const std::string& kind) {
  static const std::set<std::string> kKinds = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet",
                                               "Job",        "ReplicationController", "DeploymentConfig"};
  return kKinds.count(kind) > 0;
}

// The workload a pod belongs to, as Istio names it: a ReplicaSet's pods belong to the
// Deployment (pod-template-hash suffix dropped), a Job's to the Job, a bare pod to itself.
std::pair<std::string, std::string> DeriveWorkload(const Node& meta) {
  for (const Node& ref : meta["ownerReferences"].items()) {
    if (!ref["controller"].Bool().value_or(false)) {
      continue;
    }
    std::string kind = ref["kind"].Str();
    std::string name = ref["name"].Str();
    if (kind == "ReplicaSet") {
      size_t dash = name.rfind('-');
      if (dash != std::string::npos && dash > 0) {
        return {"Deployment", name.substr(0, dash)};
      }
    }
    return {kind, name};
  }
  std::string name = meta["name"].Str();
  if (name.empty()) {
    // generateName "hello-7d4f9-" of a pod whose owner we do not know.
    name = meta["generateName"].Str();
    while (!name.empty() && name.back() == '-') {
      name.pop_back();
    }
  }
  return {"Pod", name};
}

std::string OwnerUri(const std::string& kind, const std::string& ns, const std::string& name) {
  static const std::vector<std::pair<std::string, std::string>> kPaths = {
      {"Deployment", "apis/apps/v1/namespaces/{ns}/deployments/"},
      {"StatefulSet", "apis/apps/v1/namespaces/{ns}/statefulsets/"},
      {"DaemonSet", "apis/apps/v1/namespaces/{ns}/daemonsets/"},
      {"ReplicaSet", "apis/apps/v1/namespaces/{ns}/replicasets/"},
      {"Job", "apis/batch/v1/namespaces/{ns}/jobs/"},
      {"CronJob", "apis/batch/v1/namespaces/{ns}/cronjobs/"},
      {"Pod", "api/v1/namespaces/{ns}/pods/"}};
  for (const auto& [k, path] : kPaths) {
    if (k == kind) {
      std::string p = path;
      p.replace(p.find("{ns}"), 4, ns);
      return common::StrCat("kubernetes://", p, name);
    }
  }
  return common::StrCat("kubernetes://", kind, "/", ns, "/", name);
}

struct AppPort {
  std::string name;
  int64_t port = 0;
};

std::vector<AppPort> ContainerPorts(const Node& spec) {
  std::vector<AppPort> out;
  for (const Node& c : spec["containers"].items()) {
    for (const Node& p : c["ports"].items()) {
      std::string protocol = p["protocol"].Str();
      if (!protocol.empty() && protocol != "TCP") {
        continue;
      }
      if (auto v = p["containerPort"].Int(); v.has_value()) {
        out.push_back({p["name"].Str(), *v});
      }
    }
  }
  return out;
}

std::string Annotation(const Node& meta, const char* key, const std::string& fallback) {
  const Node* n = meta["annotations"].Find(key);
  return n != nullptr && n->IsScalar() ? n->Str() : fallback;
}

Node SidecarSecurityContext(const InjectionSettings& s) {
  return MapOf({{"allowPrivilegeEscalation", Bool(false)},
                {"capabilities", MapOf({{"drop", SeqOf({Str("ALL")})}})},
                {"privileged", Bool(false)},
                {"readOnlyRootFilesystem", Bool(true)},
                {"runAsGroup", Int(s.proxy_gid)},
                {"runAsNonRoot", Bool(true)},
                {"runAsUser", Int(s.proxy_uid)}});
}

Node InitSecurityContext() {
  return MapOf({{"allowPrivilegeEscalation", Bool(false)},
                {"capabilities", MapOf({{"add", SeqOf({Str("NET_ADMIN"), Str("NET_RAW")})}, {"drop", SeqOf({Str("ALL")})}})},
                {"privileged", Bool(false)},
                {"readOnlyRootFilesystem", Bool(false)},
                {"runAsGroup", Int(0)},
                {"runAsNonRoot", Bool(false)},
                {"runAsUser", Int(0)}});
}

// values.global.proxy.resources of the default profile, when the values give none.
Node Resources(const InjectionSettings& s) {
  if (s.resources.IsMap()) {
    return s.resources;
  }
  return MapOf({{"limits", MapOf({{"cpu", Str("2000m")}, {"memory", Str("1024Mi")}})},
                {"requests", MapOf({{"cpu", Str("100m")}, {"memory", Str("128Mi")}})}});
}

void SetImage(Node& container, const InjectionSettings& s) {
  container.Set("image", Str(s.image));
  if (!s.image_pull_policy.empty()) {
    container.Set("imagePullPolicy", Str(s.image_pull_policy));
  }
}

std::string JoinNonEmpty(const std::vector<std::string>& parts) {
  std::vector<std::string> kept;
  for (const std::string& p : parts) {
    if (!p.empty()) {
      kept.push_back(p);
    }
  }
  return common::Join(kept, ",");
}

struct PodFacts {
  std::string ns;
  std::string workload_kind;
  std::string workload_name;
  std::string canonical_name;
  std::string canonical_revision;
  std::vector<AppPort> ports;
  std::vector<std::string> app_containers;
  Labels labels;
  std::string app_probers;  // ISTIO_KUBE_APP_PROBERS JSON, "" when no probe was rewritten
};

// A probe's port as a number: numeric, or a named port of the same container.
std::optional<int64_t> ProbePort(const Node& port, const Node& container) {
  if (auto v = port.Int(); v.has_value()) {
    return v;
  }
  for (const Node& p : container["ports"].items()) {
    if (!port.Str().empty() && p["name"].Str() == port.Str()) {
      return p["containerPort"].Int();
    }
  }
  return std::nullopt;
}

// Points the app containers' HTTP/TCP probes at the sidecar's status port and returns
// the original probes as ISTIO_KUBE_APP_PROBERS (JSON), as Istio's injector does.
std::string RewriteAppProbes(Node& spec) {
  Node probers = Node::Map();
  Node* containers = spec.FindMutable("containers");
  for (Node& c : containers->mutable_items()) {
    std::string name = c["name"].Str();
    for (auto [kind, suffix] : {std::pair{"readinessProbe", "readyz"}, std::pair{"livenessProbe", "livez"},
                                std::pair{"startupProbe", "startupz"}}) {
      Node* probe = c.FindMutable(kind);
      if (probe == nullptr || !probe->IsMap()) {
        continue;
      }
      Node original = Node::Map();
      if ((*probe)["httpGet"].IsMap()) {
        const Node& g = (*probe)["httpGet"];
        std::string scheme = g["scheme"].Str();
        auto port = ProbePort(g["port"], c);
        if ((!scheme.empty() && scheme != "HTTP") || !port.has_value() || !g["host"].Str().empty()) {
          continue;  // HTTPS, unresolvable ports and other hosts stay as they are
        }
        Node get = MapOf({{"path", Str(g["path"].Str().empty() ? "/" : g["path"].Str())}, {"port", Int(*port)},
                          {"scheme", Str("HTTP")}});
        if (g["httpHeaders"].IsSequence()) {
          get.Set("httpHeaders", g["httpHeaders"]);
        }
        original.Set("httpGet", std::move(get));
      } else if ((*probe)["tcpSocket"].IsMap()) {
        auto port = ProbePort((*probe)["tcpSocket"]["port"], c);
        if (!port.has_value()) {
          continue;
        }
        original.Set("tcpSocket", MapOf({{"port", Int(*port)}}));
        probe->Erase("tcpSocket");
      } else {
        continue;  // exec and grpc probes do not go through the network capture
      }
      original.Set("timeoutSeconds", Int((*probe)["timeoutSeconds"].Int().value_or(1)));
      std::string path = common::StrCat("/app-health/", name, "/", suffix);
      probe->Set("httpGet", MapOf({{"path", Str(path)}, {"port", Int(kStatusPort)}, {"scheme", Str("HTTP")}}));
      probers.Set(path, std::move(original));
    }
  }
  return probers.size() == 0 ? "" : config::EmitJson(probers, {.indent = 0});
}

Node InitContainer(const PodFacts& f, const Node& meta, const InjectionSettings& s) {
  // Inbound capture covers the port the sidecar forwards to (it serves one app port);
  // the traffic.sidecar.istio.io annotations override as with istio-iptables.
  std::string inbound = f.ports.empty() ? "" : std::to_string(f.ports.front().port);
  inbound = Annotation(meta, "traffic.sidecar.istio.io/includeInboundPorts", inbound);
  std::string exclude_inbound = JoinNonEmpty(
      {kAlwaysExcludedInboundPorts, s.exclude_inbound_ports,
       Annotation(meta, "traffic.sidecar.istio.io/excludeInboundPorts", "")});
  Node args = SeqOf({Str("proxy"), Str("init"), Str("-p"), Str(std::to_string(kOutboundPort)), Str("-z"),
                     Str(std::to_string(kInboundPort)), Str("-u"), Str(std::to_string(s.proxy_uid)), Str("-g"),
                     Str(std::to_string(s.proxy_gid)), Str("-m"), Str("REDIRECT"), Str("-i"),
                     Str(Annotation(meta, "traffic.sidecar.istio.io/includeOutboundIPRanges", s.include_ip_ranges)),
                     Str("-x"),
                     Str(Annotation(meta, "traffic.sidecar.istio.io/excludeOutboundIPRanges", s.exclude_ip_ranges)),
                     Str("-b"), Str(inbound), Str("-d"), Str(exclude_inbound)});
  std::string exclude_outbound =
      JoinNonEmpty({s.exclude_outbound_ports, Annotation(meta, "traffic.sidecar.istio.io/excludeOutboundPorts", "")});
  if (!exclude_outbound.empty()) {
    args.Append(Str("-o"));
    args.Append(Str(exclude_outbound));
  }
  std::string include_outbound_ports = Annotation(meta, "traffic.sidecar.istio.io/includeOutboundPorts", "");
  if (!include_outbound_ports.empty()) {
    args.Append(Str("-q"));
    args.Append(Str(include_outbound_ports));
  }
  Node c = Node::Map();
  c.Set("name", Str("istio-init"));
  SetImage(c, s);
  c.Set("args", std::move(args));
  c.Set("resources", Resources(s));
  c.Set("securityContext", InitSecurityContext());
  return c;
}

Node SidecarContainer(const PodFacts& f, const InjectionSettings& s) {
  Node args = SeqOf({Str("proxy"), Str("sidecar"), Str("--workload=$(POD_NAME)"), Str("--namespace=$(POD_NAMESPACE)"),
                     Str("--service-account=$(SERVICE_ACCOUNT)"),
                     Str(common::StrCat("--app-port=", f.ports.empty() ? 0 : f.ports.front().port)),
                     Str(common::StrCat("--inbound-port=", kInboundPort)),
                     Str(common::StrCat("--outbound-port=", kOutboundPort)),
                     Str(common::StrCat("--status-port=", kStatusPort)), Str("--instance-ip=$(INSTANCE_IP)"),
                     Str(common::StrCat("--control-plane=", s.control_plane_address)),
                     Str("--token-file=/var/run/secrets/tokens/istio-token")});
  for (const auto& [k, v] : f.labels) {
    args.Append(Str(common::StrCat("--labels=", k, "=", v)));
  }
  Node env = SeqOf({FieldRefEnv("POD_NAME", "metadata.name"), FieldRefEnv("POD_NAMESPACE", "metadata.namespace"),
                    FieldRefEnv("INSTANCE_IP", "status.podIP"), FieldRefEnv("SERVICE_ACCOUNT", "spec.serviceAccountName"),
                    FieldRefEnv("HOST_IP", "status.hostIP"), ValueEnv("CA_ADDR", s.control_plane_address)});
  std::string pod_ports = "[";
  for (size_t i = 0; i < f.ports.size(); ++i) {
    pod_ports += common::StrCat(i == 0 ? "" : ",", "{", f.ports[i].name.empty() ? "" : "\"name\":", 
                                f.ports[i].name.empty() ? "" : config::JsonQuote(f.ports[i].name) + ",",
                                "\"containerPort\":", f.ports[i].port, "}");
  }
  pod_ports += "]";
  env.Append(ValueEnv("ISTIO_META_POD_PORTS", pod_ports));
  env.Append(ValueEnv("ISTIO_META_APP_CONTAINERS", common::Join(f.app_containers, ",")));
  env.Append(ValueEnv("ISTIO_META_CLUSTER_ID", s.cluster_id));
  env.Append(ValueEnv("ISTIO_META_INTERCEPTION_MODE", "REDIRECT"));
  env.Append(ValueEnv("ISTIO_META_WORKLOAD_NAME", f.workload_name));
  env.Append(ValueEnv("ISTIO_META_OWNER", OwnerUri(f.workload_kind, f.ns, f.workload_name)));
  env.Append(ValueEnv("ISTIO_META_MESH_ID", s.trust_domain));
  env.Append(ValueEnv("TRUST_DOMAIN", s.trust_domain));
  if (!f.app_probers.empty()) {
    env.Append(ValueEnv("ISTIO_KUBE_APP_PROBERS", f.app_probers));
  }

  Node probe = MapOf({{"failureThreshold", Int(s.readiness_failure_threshold)},
                      {"httpGet", MapOf({{"path", Str("/healthz/ready")}, {"port", Int(kHealthPort)}})},
                      {"periodSeconds", Int(s.readiness_period_seconds)},
                      {"timeoutSeconds", Int(3)}});
  if (s.readiness_initial_delay_seconds > 0) {
    probe.Set("initialDelaySeconds", Int(s.readiness_initial_delay_seconds));
  }
  Node c = Node::Map();
  c.Set("name", Str("istio-proxy"));
  SetImage(c, s);
  c.Set("args", std::move(args));
  c.Set("env", std::move(env));
  c.Set("ports", SeqOf({MapOf({{"containerPort", Int(kStatsPort)}, {"name", Str("http-envoy-prom")},
                               {"protocol", Str("TCP")}})}));
  c.Set("readinessProbe", std::move(probe));
  c.Set("resources", Resources(s));
  c.Set("securityContext", SidecarSecurityContext(s));
  c.Set("volumeMounts", SeqOf({MapOf({{"mountPath", Str("/var/run/secrets/tokens")}, {"name", Str("istio-token")}}),
                               MapOf({{"mountPath", Str("/etc/istio/pod")}, {"name", Str("istio-podinfo")}})}));
  return c;
}

std::vector<Node> Volumes() {
  Node podinfo = MapOf(
      {{"downwardAPI",
        MapOf({{"items", SeqOf({MapOf({{"fieldRef", MapOf({{"fieldPath", Str("metadata.labels")}})}, {"path", Str("labels")}}),
                                MapOf({{"fieldRef", MapOf({{"fieldPath", Str("metadata.annotations")}})},
                                       {"path", Str("annotations")}})})}})},
       {"name", Str("istio-podinfo")}});
  // The service-account token the CA authenticates: audience istio-ca, as Istio's.
  Node token = MapOf(
      {{"name", Str("istio-token")},
       {"projected",
        MapOf({{"sources", SeqOf({MapOf({{"serviceAccountToken",
                                          MapOf({{"audience", Str("istio-ca")}, {"expirationSeconds", Int(43200)},
                                                 {"path", Str("istio-token")}})}})})}})}});
  return {podinfo, token};
}

bool AlreadyInjected(const Node& meta, const Node& spec) {
  if (meta["annotations"].Find(kStatusAnnotation) != nullptr) {
    return true;
  }
  for (const Node& c : spec["containers"].items()) {
    if (c["name"].Str() == "istio-proxy") {
      return true;
    }
  }
  return false;
}

InjectionOutcome Decide(const Node& meta, const Node& spec, const InjectionTarget& target,
                        const InjectionSettings& s) {
  InjectionOutcome out;
  install::InjectionInput in;
  in.namespace_name = target.ns.empty() ? "default" : target.ns;
  in.pod_labels = ToLabels(meta["labels"]);
  // The pod annotation is the older spelling of the label; the label wins.
  std::string annotation = Annotation(meta, "sidecar.istio.io/inject", "");
  if (!annotation.empty() && in.pod_labels.count("sidecar.istio.io/inject") == 0) {
    in.pod_labels["sidecar.istio.io/inject"] = annotation;
  }
  in.host_network = spec["hostNetwork"].Bool().value_or(false);
  in.enable_namespaces_by_default = s.enable_namespaces_by_default;
  in.installed_revisions = {s.revision};
  if (target.namespace_labels.has_value()) {
    in.namespace_labels = *target.namespace_labels;
  } else {
    // Selectors already matched: only the pod's own opt-out and the injector's rules.
    in.namespace_labels = {{"istio-injection", "enabled"}};
    if (s.revision != "default") {
      in.namespace_labels = {{"istio.io/rev", s.revision}};
    }
  }
  install::InjectionDecision d = install::DecideInjection(in);
  out.injected = d.injected;
  out.reason = d.reason;
  auto asked = in.pod_labels.find("sidecar.istio.io/inject");
  if (out.injected && !s.policy_enabled && (asked == in.pod_labels.end() || asked->second != "true")) {
    out.injected = false;
    out.reason = "injector policy is disabled and the pod does not ask (sidecar.istio.io/inject=true)";
  }
  return out;
}

}  // namespace

absl::StatusOr<InjectionSettings> SettingsFromValues(const Node& values) {
  InjectionSettings s;
  if (!values.IsMap()) {
    return s;
  }
  const Node& global = values["global"];
  const Node& proxy = global["proxy"];
  std::string hub = global["hub"].Str().empty() ? "docker.io/istio" : global["hub"].Str();
  std::string tag = global["tag"].Str().empty() ? "1.29.0" : global["tag"].Str();
  std::string image = proxy["image"].Str().empty() ? "meshctl" : proxy["image"].Str();
  if (!global["variant"].Str().empty()) {
    tag += "-" + global["variant"].Str();
  }
  // A full reference ("reg/img:tag") is used as given, as Istio's chart does.
  if (image.find('/') != std::string::npos) {
    s.image = image.find(':') != std::string::npos ? image : image + ":" + tag;
  } else {
    s.image = common::StrCat(hub, "/", image, ":", tag);
  }
  s.image_pull_policy = global["imagePullPolicy"].Str();
  if (!values["revision"].Str().empty()) {
    s.revision = values["revision"].Str();
  }
  if (!global["istioNamespace"].Str().empty()) {
    s.istio_namespace = global["istioNamespace"].Str();
  }
  std::string istiod = s.revision == "default" ? "istiod" : "istiod-" + s.revision;
  s.control_plane_address = common::StrCat(istiod, ".", s.istio_namespace, ".svc:15010");
  if (!values["meshConfig"]["trustDomain"].Str().empty()) {
    s.trust_domain = values["meshConfig"]["trustDomain"].Str();
  }
  if (!global["multiCluster"]["clusterName"].Str().empty()) {
    s.cluster_id = global["multiCluster"]["clusterName"].Str();
  }
  if (proxy["resources"].IsMap()) {
    s.resources = proxy["resources"];
  }
  auto int_or = [](const Node& n, int64_t fallback) -> absl::StatusOr<int64_t> {
    if (!n.Defined()) {
      return fallback;
    }
    auto v = n.Int();
    if (!v.has_value() || *v < 0) {
      return absl::InvalidArgumentError(common::StrCat("expected a non-negative integer, got \"", n.Str(), "\""));
    }
    return *v;
  };
  MESH_ASSIGN_OR_RETURN(s.readiness_failure_threshold, int_or(proxy["readinessFailureThreshold"], 4));
  MESH_ASSIGN_OR_RETURN(s.readiness_initial_delay_seconds, int_or(proxy["readinessInitialDelaySeconds"], 0));
  MESH_ASSIGN_OR_RETURN(s.readiness_period_seconds, int_or(proxy["readinessPeriodSeconds"], 15));
  if (proxy["includeIPRanges"].IsScalar()) {
    s.include_ip_ranges = proxy["includeIPRanges"].Str();
  }
  s.exclude_ip_ranges = proxy["excludeIPRanges"].Str();
  s.exclude_inbound_ports = proxy["excludeInboundPorts"].Str();
  s.exclude_outbound_ports = proxy["excludeOutboundPorts"].Str();
  s.enable_namespaces_by_default =
      values["sidecarInjectorWebhook"]["enableNamespacesByDefault"].Bool().value_or(false);
  s.rewrite_app_probes = values["sidecarInjectorWebhook"]["rewriteAppHTTPProbe"].Bool().value_or(true);
  return s;
}

absl::StatusOr<InjectionOutcome> InjectPod(Node& meta, Node& spec, const InjectionTarget& target,
                                           const InjectionSettings& s, const std::string& workload_kind,
                                           const std::string& workload_name) {
  if (!spec.IsMap()) {
    return absl::InvalidArgumentError("pod spec must be a map");
  }
  if (!spec["containers"].IsSequence() || spec["containers"].size() == 0) {
    return absl::InvalidArgumentError("pod spec.containers must be a non-empty list");
  }
  if (meta.IsNull()) {
    meta = Node::Map();
  }
  if (!meta.IsMap()) {
    return absl::InvalidArgumentError("pod metadata must be a map");
  }
  if (AlreadyInjected(meta, spec)) {
    return InjectionOutcome{false, "already injected"};
  }
  InjectionOutcome outcome = Decide(meta, spec, target, s);
  if (!outcome.injected) {
    return outcome;
  }

  PodFacts f;
  f.ns = target.ns.empty() ? "default" : target.ns;
  if (workload_kind.empty()) {
    std::tie(f.workload_kind, f.workload_name) = DeriveWorkload(meta);
  } else {
    f.workload_kind = workload_kind;
    f.workload_name = workload_name;
  }
  f.labels = ToLabels(meta["labels"]);
  f.ports = ContainerPorts(spec);
  for (const Node& c : spec["containers"].items()) {
    f.app_containers.push_back(c["name"].Str());
  }
  auto label_or = [&](std::initializer_list<const char*> keys, const std::string& fallback) {
    for (const char* k : keys) {
      auto it = f.labels.find(k);
      if (it != f.labels.end() && !it->second.empty()) {
        return it->second;
      }
    }
    return fallback;
  };
  f.canonical_name = label_or({"service.istio.io/canonical-name", "app.kubernetes.io/name", "app"}, f.workload_name);
  f.canonical_revision =
      label_or({"service.istio.io/canonical-revision", "app.kubernetes.io/version", "version"}, "latest");

  if (s.rewrite_app_probes && Annotation(meta, "sidecar.istio.io/rewriteAppHTTPProbers", "true") != "false") {
    f.app_probers = RewriteAppProbes(spec);
  }

  // Containers, init container, volumes.
  MESH_ASSIGN_OR_RETURN(Node * init, SeqChild(spec, "initContainers", "spec"));
  std::vector<Node> inits;
  inits.push_back(InitContainer(f, meta, s));  // first, so later init containers see the rules
  std::vector<std::string> init_names = {"istio-init"};
  for (Node& c : init->mutable_items()) {
    inits.push_back(std::move(c));
  }
  init->mutable_items() = std::move(inits);
  MESH_ASSIGN_OR_RETURN(Node * containers, SeqChild(spec, "containers", "spec"));
  containers->Append(SidecarContainer(f, s));
  MESH_ASSIGN_OR_RETURN(Node * volumes, SeqChild(spec, "volumes", "spec"));
  std::vector<std::string> volume_names;
  for (Node& v : Volumes()) {
    volume_names.push_back(v["name"].Str());
    volumes->Append(std::move(v));
  }

  // Labels and annotations Istio sets.
  Node& labels = MapChild(meta, "labels");
  labels.Set("security.istio.io/tlsMode", Str("istio"));
  labels.Set("service.istio.io/canonical-name", Str(f.canonical_name));
  labels.Set("service.istio.io/canonical-revision", Str(f.canonical_revision));
  Node& annotations = MapChild(meta, "annotations");
  SetIfAbsent(annotations, "kubectl.kubernetes.io/default-container", f.app_containers.front());
  SetIfAbsent(annotations, "kubectl.kubernetes.io/default-logs-container", f.app_containers.front());
  SetIfAbsent(annotations, "prometheus.io/path", "/stats/prometheus");
  SetIfAbsent(annotations, "prometheus.io/port", std::to_string(kStatsPort));
  SetIfAbsent(annotations, "prometheus.io/scrape", "true");
  annotations.Set("istio.io/rev", Str(s.revision));
  auto quoted_list = [](const std::vector<std::string>& names) {
    std::vector<std::string> q;
    for (const std::string& n : names) {
      q.push_back(config::JsonQuote(n));
    }
    return common::StrCat("[", common::Join(q, ","), "]");
  };
  annotations.Set(kStatusAnnotation,
                  Str(common::StrCat("{\"initContainers\":", quoted_list(init_names),
                                     ",\"containers\":[\"istio-proxy\"],\"volumes\":", quoted_list(volume_names),
                                     ",\"imagePullSecrets\":null,\"revision\":", config::JsonQuote(s.revision), "}")));
  outcome.reason = common::StrCat("injected: ", outcome.reason);
  return outcome;
}

absl::StatusOr<InjectionOutcome> InjectObject(Node& object, const InjectionTarget& target,
                                              const InjectionSettings& settings) {
  std::string kind = Lookup(object, "kind");
  std::string name = object["metadata"]["name"].Str();
  InjectionTarget t = target;
  if (t.ns.empty()) {
    t.ns = object["metadata"]["namespace"].Str();
  }
  if (kind == "Pod") {
    Node& meta = MapChild(object, "metadata");  // before taking `spec`: Set may move entries
    Node* spec = object.FindMutable("spec");
    if (spec == nullptr) {
      return absl::InvalidArgumentError(common::StrCat("Pod ", name, " has no spec"));
    }
    return InjectPod(meta, *spec, t, settings);
  }
  Node* tmpl = nullptr;
  if (IsPodTemplateKind(kind)) {
    Node* spec = object.FindMutable("spec");
    tmpl = spec == nullptr ? nullptr : spec->FindMutable("template");
  } else if (kind == "CronJob") {
    Node* spec = object.FindMutable("spec");
    Node* jt = spec == nullptr ? nullptr : spec->FindMutable("jobTemplate");
    Node* jspec = jt == nullptr ? nullptr : jt->FindMutable("spec");
    tmpl = jspec == nullptr ? nullptr : jspec->FindMutable("template");
  } else {
    return InjectionOutcome{false, common::StrCat("kind ", kind.empty() ? "<none>" : kind, " has no pod template")};
  }
  if (tmpl == nullptr || !tmpl->IsMap()) {
    return absl::InvalidArgumentError(common::StrCat(kind, " ", name, " has no spec.template"));
  }
  Node& meta = MapChild(*tmpl, "metadata");  // before taking `spec`: Set may move entries
  Node* spec = tmpl->FindMutable("spec");
  if (spec == nullptr) {
    return absl::InvalidArgumentError(common::StrCat(kind, " ", name, " has no spec.template.spec"));
  }
  auto r = InjectPod(meta, *spec, t, settings, kind, name);
  if (!r.ok()) {
    return absl::InvalidArgumentError(common::StrCat(kind, " ", name, ": ", r.status().message()));
  }
  return r;
}

absl::StatusOr<ManifestInjection> InjectManifest(std::string_view text, const std::string& file,
                                                 const InjectionSettings& settings) {
  config::ParseResult parsed = config::ParseYamlDocuments(text, file);
  if (!parsed.errors.empty()) {
    return absl::InvalidArgumentError(parsed.errors.front().ToString());
  }
  ManifestInjection out;
  auto inject_one = [&](Node& object) -> absl::Status {
    std::string kind = object["kind"].Str();
    auto r = InjectObject(object, InjectionTarget{}, settings);
    if (!r.ok()) {
      return r.status();
    }
    if (r->injected) {
      ++out.injected;
    } else if (kind == "Pod" || kind == "CronJob" || IsPodTemplateKind(kind)) {
      std::string ns = object["metadata"]["namespace"].Str();
      out.notes.push_back(common::StrCat(kind, " ", ns.empty() ? "" : ns + "/", object["metadata"]["name"].Str(),
                                         ": not injected (", r->reason, ")"));
    }
    return absl::OkStatus();
  };
  std::vector<std::string> docs;
  for (config::ParsedDocument& doc : parsed.documents) {
    Node& root = doc.root;
    if (root.IsMap() && root["kind"].Str() == "List" && root["items"].IsSequence()) {
      for (Node& item : root.FindMutable("items")->mutable_items()) {
        if (auto st = inject_one(item); !st.ok()) {
          return absl::InvalidArgumentError(common::StrCat(file, ":", doc.start_line, ": ", st.message()));
        }
      }
    } else if (root.IsMap()) {
      if (auto st = inject_one(root); !st.ok()) {
        return absl::InvalidArgumentError(common::StrCat(file, ":", doc.start_line, ": ", st.message()));
      }
    }
    docs.push_back(config::EmitYaml(root));
  }
  out.yaml = common::Join(docs, "---\n");
  return out;
}

}  // namespace mesh::inject
