#include "mesh/install/render.h"

#include <algorithm>
#include <map>
#include <set>

#include "mesh/common/status_macros.h"
#include "mesh/common/strings.h"
#include "mesh/config/emit.h"
#include "mesh/config/yaml_loader.h"
#include "mesh/install/crd.h"
#include "mesh/install/embedded_data.h"
#include "mesh/install/template.h"
#include "mesh/install/tree.h"

namespace mesh::install {
namespace {

// Parsed once per process: the templates are compiled in and never change.
const std::vector<Node>& Templates(const std::string& file) {
  static auto* cache = new std::map<std::string, std::vector<Node>>();
  auto it = cache->find(file);
  if (it != cache->end()) {
    return it->second;
  }
  std::vector<Node> docs;
  config::ParseResult parsed = config::ParseYamlDocuments(EmbeddedFile(file), file);
  if (!parsed.errors.empty()) {
    std::fprintf(stderr, "meshctl: bug: %s\n", parsed.errors.front().ToString().c_str());
    std::abort();
  }
  for (auto& d : parsed.documents) {
    docs.push_back(std::move(d.root));
  }
  return cache->emplace(file, std::move(docs)).first->second;
}

Node NullIfEmpty(const Node& n) {
  if ((n.IsMap() || n.IsSequence()) && n.size() == 0) {
    return Node();
  }
  if (n.IsScalar() && n.Str().empty()) {
    return Node();
  }
  return n;
}

// First defined of the candidates.
const Node& FirstDefined(std::initializer_list<const Node*> candidates) {
  for (const Node* n : candidates) {
    if (n->Defined()) {
      return *n;
    }
  }
  return Node::NullNode();
}

std::string Image(const Node& values, const Node& component, const std::string& image) {
  std::string hub = component["hub"].Str().empty() ? values["global"]["hub"].Str() : component["hub"].Str();
  std::string tag = component["tag"].Str().empty() ? values["global"]["tag"].Str() : component["tag"].Str();
  std::string variant = values["global"]["variant"].Str();
  if (!variant.empty()) {
    tag += "-" + variant;
  }
  if (image.find('/') != std::string::npos) {
    return image.find(':') != std::string::npos ? image : image + ":" + tag;
  }
  return common::StrCat(hub, "/", image, ":", tag);
}

// values env maps ({NAME: value}) plus k8s env lists ([{name, value}]) -> env list.
Node EnvList(const Node& env_map, const Node& k8s_env) {
  Node out = Node::Sequence();
  for (const auto& [k, v] : env_map.entries()) {
    Node e = Node::Map();
    e.Set("name", StringNode(k));
    e.Set("value", StringNode(v.IsScalar() ? v.Str() : config::EmitJson(v, {.indent = 0})));
    out.Append(std::move(e));
  }
  for (const Node& e : k8s_env.items()) {
    out.Append(e);
  }
  return out;
}

Node MergedMap(const Node& a, const Node& b) {
  Node out = a.IsMap() ? a : Node::Map();
  MergeFrom(out, b);
  return NullIfEmpty(out);
}

Node ParseInline(const char* yaml) {
  auto n = config::ParseYamlNode(yaml, "render.cc");
  return n.ok() ? *n : Node();
}

// Deployment settings shared by istiod and the gateways; `components.*.k8s` wins over
// the chart values, which win over the defaults given here.
void AddDeploymentSettings(Node& ctx, const Node& vals, const Node& k8s, const Node& default_probe,
                           const Node& default_tolerations, const Node& default_pod_security) {
  Node strategy = Node::Map();
  Node rolling = Node::Map();
  rolling.Set("maxSurge", vals["rollingMaxSurge"].Defined() ? vals["rollingMaxSurge"] : StringNode("100%"));
  rolling.Set("maxUnavailable",
              vals["rollingMaxUnavailable"].Defined() ? vals["rollingMaxUnavailable"] : StringNode("25%"));
  strategy.Set("rollingUpdate", std::move(rolling));
  ctx.Set("strategy", k8s["strategy"].IsMap() ? k8s["strategy"] : strategy);
  ctx.Set("affinity", NullIfEmpty(FirstDefined({&k8s["affinity"], &vals["affinity"]})));
  ctx.Set("tolerations", NullIfEmpty(FirstDefined({&k8s["tolerations"], &vals["tolerations"], &default_tolerations})));
  ctx.Set("readinessProbe", k8s["readinessProbe"].IsMap() ? k8s["readinessProbe"] : default_probe);
  // Merged like the strategic-merge patch istioctl applies (sysctls next to runAsUser).
  ctx.Set("podSecurityContext", MergedMap(default_pod_security, k8s["securityContext"]));
  ctx.Set("volumes", k8s["volumes"].IsSequence() ? k8s["volumes"] : Node::Sequence());
  ctx.Set("volumeMounts", k8s["volumeMounts"].IsSequence() ? k8s["volumeMounts"] : Node::Sequence());
  ctx.Set("priorityClassName", NullIfEmpty(FirstDefined({&k8s["priorityClassName"], &vals["priorityClassName"]})));
}

// HPA metrics/behavior/target: k8s.hpaSpec wins; otherwise CPU at the chart's target.
void HpaSettings(Node& ctx, const Node& vals, const Node& k8s, const std::string& deployment) {
  const Node& hpa = k8s["hpaSpec"];
  if (hpa["metrics"].IsSequence()) {
    ctx.Set("hpaMetrics", hpa["metrics"]);
  } else {
    Node metrics = ParseInline("[{type: Resource, resource: {name: cpu, target: {type: Utilization}}}]");
    int64_t target = vals["cpu"]["targetAverageUtilization"].Int().value_or(80);
    (void)SetPath(metrics, "[0].resource.target.averageUtilization", IntNode(target));
    ctx.Set("hpaMetrics", std::move(metrics));
  }
  ctx.Set("hpaBehavior", NullIfEmpty(FirstDefined({&hpa["behavior"], &vals["autoscaleBehavior"]})));
  std::string target = hpa["scaleTargetRef"]["name"].Str();
  ctx.Set("scaleTargetName", StringNode(target.empty() ? deployment : target));
}

Node ReplicaSettings(Node ctx, bool autoscale, int64_t replicas, int64_t min, int64_t max) {
  ctx.Set("replicas", autoscale ? Node() : IntNode(replicas));
  bool hpa = autoscale && min > 0 && max > 0;
  ctx.Set("hpa", BoolNode(hpa));
  ctx.Set("minReplicas", IntNode(min));
  ctx.Set("maxReplicas", IntNode(std::max(min, max)));
  ctx.Set("pdb", BoolNode((autoscale ? min : replicas) > 1));
  return ctx;
}

Node PilotContext(const Node& values, const Node& component, const std::string& rev) {
  const Node& pv = values["pilot"];
  const Node& k8s = component["k8s"];
  Node ctx = Node::Map();
  HpaSettings(ctx, pv, k8s, rev == "default" ? "istiod" : "istiod-" + rev);
  ctx.Set("selector", rev == "default" ? ParseInline("{istio: pilot}")
                                       : ParseInline(("{app: istiod, istio.io/rev: " + rev + "}").c_str()));
  ctx.Set("serviceSelector", rev == "default" ? ParseInline("{app: istiod, istio: pilot}")
                                              : ParseInline(("{app: istiod, istio.io/rev: " + rev + "}").c_str()));
  ctx.Set("resources", NullIfEmpty(FirstDefined({&k8s["resources"], &pv["resources"]})));
  ctx.Set("env", EnvList(pv["env"], k8s["env"]));
  ctx.Set("nodeSelector", MergedMap(pv["nodeSelector"], k8s["nodeSelector"]));
  ctx.Set("podAnnotations", MergedMap(pv["podAnnotations"], k8s["podAnnotations"]));
  static const Node kProbe = ParseInline(
      "{httpGet: {path: /ready, port: 8080}, initialDelaySeconds: 1, periodSeconds: 3, timeoutSeconds: 5}");
  static const Node kTolerations = ParseInline("[{key: cni.istio.io/not-ready, operator: Exists}]");
  AddDeploymentSettings(ctx, pv, k8s, kProbe, kTolerations, Node());
  ctx.Set("imagePullPolicy",
          NullIfEmpty(FirstDefined({&k8s["imagePullPolicy"], &values["global"]["imagePullPolicy"]})));
  bool autoscale = pv["autoscaleEnabled"].Bool().value_or(false);
  int64_t replicas = k8s["replicaCount"].Int().value_or(pv["replicaCount"].Int().value_or(1));
  int64_t min = k8s["hpaSpec"]["minReplicas"].Int().value_or(pv["autoscaleMin"].Int().value_or(1));
  int64_t max = k8s["hpaSpec"]["maxReplicas"].Int().value_or(pv["autoscaleMax"].Int().value_or(5));
  return ReplicaSettings(std::move(ctx), autoscale, replicas, min, max);
}

// `meshctl proxy router` for a gateway pod: identity from the downward API and the
// projected token (reviewed by the control plane), labels for Gateway selectors, service
// ports mapped to the container ports it listens on (non-root: 80 -> 8080).
Node RouterArgs(const Node& labels, const Node& service_ports, const std::string& control_plane) {
  Node args = Node::Sequence();
  auto add = [&](const std::string& a) { args.Append(StringNode(a)); };
  for (const char* a : {"proxy", "router", "--workload=$(POD_NAME)", "--namespace=$(POD_NAMESPACE)",
                        "--service-account=$(SERVICE_ACCOUNT)", "--instance-ip=$(INSTANCE_IP)"}) {
    add(a);
  }
  for (const auto& [k, v] : labels.entries()) {
    add(common::StrCat("--labels=", k, "=", v.Str()));
  }
  for (const Node& p : service_ports.items()) {
    auto port = p["port"].Int();
    auto target = p["targetPort"].Int();
    if (port && target && *port != *target) {
      add(common::StrCat("--port-map=", *port, ":", *target));
    }
  }
  add("--control-plane=" + control_plane);
  add("--control-plane-root=/var/run/secrets/istio/root-cert.pem");  // the istio-ca-root-cert ConfigMap
  add("--token-file=/var/run/secrets/tokens/istio-token");
  add("--health-port=15021");
  add("--stats-port=15090");
  return args;
}

Node GatewayContext(const Node& values, const Node& spec_gw, const std::string& root,
                    const std::string& component, const std::string& istio_ns, const std::string& control_plane) {
  const Node& gv = values["gateways"][root];
  const Node& k8s = spec_gw["k8s"];
  Node ctx = Node::Map();
  std::string name = spec_gw["name"].Str().empty() ? gv["name"].Str() : spec_gw["name"].Str();
  ctx.Set("name", StringNode(name));
  ctx.Set("namespace", StringNode(spec_gw["namespace"].Str().empty() ? istio_ns : spec_gw["namespace"].Str()));
  ctx.Set("component", StringNode(component));
  ctx.Set("image", StringNode(Image(values, spec_gw, values["global"]["proxy"]["image"].Str())));
  // A gateway's `label` adds to (and may override) the chart's app/istio labels.
  Node labels = gv["labels"].IsMap() ? gv["labels"] : Node::Map();
  MergeFrom(labels, spec_gw["label"]);
  ctx.Set("labels", labels);

  const Node& ports = FirstDefined({&k8s["service"]["ports"], &gv["ports"]});
  ctx.Set("servicePorts", ports);
  Node container_ports = Node::Sequence();
  std::set<std::pair<std::string, std::string>> seen;
  auto add_port = [&](const Node& port, const std::string& protocol, const std::string& pname) {
    if (!seen.insert({port.Str(), protocol}).second) {
      return;
    }
    Node cp = Node::Map();
    cp.Set("containerPort", port);
    if (!pname.empty()) {
      cp.Set("name", StringNode(pname));
    }
    cp.Set("protocol", StringNode(protocol));
    container_ports.Append(std::move(cp));
  };
  for (const Node& p : ports.items()) {
    const Node& target = p["targetPort"].Defined() ? p["targetPort"] : p["port"];
    add_port(target, p["protocol"].Str().empty() ? "TCP" : p["protocol"].Str(), "");
  }
  add_port(Node::Scalar("15090"), "TCP", "http-envoy-prom");
  ctx.Set("containerPorts", std::move(container_ports));
  ctx.Set("args", RouterArgs(labels, ports, control_plane));

  ctx.Set("serviceType", NullIfEmpty(FirstDefined({&k8s["service"]["type"], &gv["type"]})));
  ctx.Set("externalTrafficPolicy",
          NullIfEmpty(FirstDefined({&k8s["service"]["externalTrafficPolicy"], &gv["externalTrafficPolicy"]})));
  ctx.Set("loadBalancerIP", NullIfEmpty(FirstDefined({&k8s["service"]["loadBalancerIP"], &gv["loadBalancerIP"]})));
  ctx.Set("loadBalancerSourceRanges",
          NullIfEmpty(FirstDefined({&k8s["service"]["loadBalancerSourceRanges"], &gv["loadBalancerSourceRanges"]})));
  ctx.Set("serviceAnnotations", MergedMap(gv["serviceAnnotations"], k8s["serviceAnnotations"]));
  ctx.Set("podAnnotations", MergedMap(gv["podAnnotations"], k8s["podAnnotations"]));
  ctx.Set("nodeSelector", MergedMap(gv["nodeSelector"], k8s["nodeSelector"]));
  ctx.Set("resources", NullIfEmpty(FirstDefined({&k8s["resources"], &gv["resources"]})));
  ctx.Set("env", EnvList(gv["env"], k8s["env"]));
  ctx.Set("imagePullPolicy",
          NullIfEmpty(FirstDefined({&k8s["imagePullPolicy"], &values["global"]["imagePullPolicy"]})));
  HpaSettings(ctx, gv, k8s, name);
  Node secret_volumes = Node::Sequence();
  Node secret_mounts = Node::Sequence();
  for (const Node& sv : gv["secretVolumes"].items()) {
    Node vol = Node::Map();
    vol.Set("name", sv["name"]);
    Node secret = Node::Map();
    secret.Set("optional", BoolNode(true));
    secret.Set("secretName", sv["secretName"]);
    vol.Set("secret", std::move(secret));
    secret_volumes.Append(std::move(vol));
    Node mount = Node::Map();
    mount.Set("mountPath", sv["mountPath"]);
    mount.Set("name", sv["name"]);
    mount.Set("readOnly", BoolNode(true));
    secret_mounts.Append(std::move(mount));
  }
  ctx.Set("secretVolumes", std::move(secret_volumes));
  ctx.Set("secretVolumeMounts", std::move(secret_mounts));

  bool root_user = gv["runAsRoot"].Bool().value_or(false);
  Node psc = Node::Map();
  psc.Set("runAsGroup", IntNode(root_user ? 0 : 1337));
  psc.Set("runAsNonRoot", BoolNode(!root_user));
  psc.Set("runAsUser", IntNode(root_user ? 0 : 1337));
  static const Node kProbe = ParseInline(
      "{failureThreshold: 30, httpGet: {path: /healthz/ready, port: 15021, scheme: HTTP}, initialDelaySeconds: 1, "
      "periodSeconds: 2, successThreshold: 1, timeoutSeconds: 1}");
  AddDeploymentSettings(ctx, gv, k8s, kProbe, Node(), psc);
  Node csc = Node::Map();
  csc.Set("allowPrivilegeEscalation", BoolNode(false));
  Node caps = Node::Map();
  Node drop = Node::Sequence();
  drop.Append(Node::Scalar("ALL"));
  caps.Set("drop", std::move(drop));
  csc.Set("capabilities", std::move(caps));
  csc.Set("privileged", BoolNode(false));
  csc.Set("readOnlyRootFilesystem", BoolNode(true));
  ctx.Set("containerSecurityContext", std::move(csc));

  bool autoscale = gv["autoscaleEnabled"].Bool().value_or(false);
  int64_t replicas = k8s["replicaCount"].Int().value_or(gv["replicaCount"].Int().value_or(1));
  int64_t min = k8s["hpaSpec"]["minReplicas"].Int().value_or(gv["autoscaleMin"].Int().value_or(1));
  int64_t max = k8s["hpaSpec"]["maxReplicas"].Int().value_or(gv["autoscaleMax"].Int().value_or(5));
  return ReplicaSettings(std::move(ctx), autoscale, replicas, min, max);
}

// The sidecar injector's configuration (what the injector webhook reads).
Node InjectorConfig(const Node& values) {
  const Node& w = values["sidecarInjectorWebhook"];
  Node cfg = Node::Map();
  cfg.Set("policy", StringNode(values["global"]["proxy"]["autoInject"].Str().empty()
                                   ? "enabled"
                                   : values["global"]["proxy"]["autoInject"].Str()));
  cfg.Set("alwaysInjectSelector", w["alwaysInjectSelector"].Defined() ? w["alwaysInjectSelector"] : Node::Sequence());
  cfg.Set("neverInjectSelector", w["neverInjectSelector"].Defined() ? w["neverInjectSelector"] : Node::Sequence());
  cfg.Set("injectedAnnotations", w["injectedAnnotations"].Defined() ? w["injectedAnnotations"] : Node::Map());
  Node templates = Node::Sequence();
  templates.Append(StringNode("sidecar"));
  cfg.Set("defaultTemplates", w["defaultTemplates"].size() > 0 ? w["defaultTemplates"] : templates);
  // What our injector adds (mesh/inject), with the install-time fields filled in.
  std::string sidecar(EmbeddedFile("manifests/templates/sidecar-injection.yaml"));
  if (sidecar.rfind("---\n", 0) == 0) {
    sidecar.erase(0, 4);  // the embedding's document separator
  }
  std::string rev = values["revision"].Str().empty() ? "default" : values["revision"].Str();
  std::string istio_ns = values["global"]["istioNamespace"].Str().empty() ? "istio-system"
                                                                           : values["global"]["istioNamespace"].Str();
  for (const auto& [field, value] : std::vector<std::pair<std::string, std::string>>{
           {"{{ .ProxyImage }}", Image(values, Node(), values["global"]["proxy"]["image"].Str())},
           {"{{ .ControlPlaneAddress }}",
            common::StrCat(rev == "default" ? "istiod" : "istiod-" + rev, ".", istio_ns, ".svc:15010")}}) {
    for (size_t at = sidecar.find(field); at != std::string::npos; at = sidecar.find(field, at + value.size())) {
      sidecar.replace(at, field.size(), value);
    }
  }
  Node named = Node::Map();
  named.Set("sidecar", StringNode(sidecar));
  cfg.Set("templates", std::move(named));
  return cfg;
}

void AddLabels(Node& object, const std::vector<std::pair<std::string, std::string>>& labels) {
  Node* meta = object.FindMutable("metadata");
  if (meta == nullptr) {
    return;
  }
  Node* l = meta->FindMutable("labels");
  if (l == nullptr || !l->IsMap()) {
    l = &meta->Set("labels", Node::Map());
  }
  for (const auto& [k, v] : labels) {
    if (l->Find(k) == nullptr) {
      l->Set(k, StringNode(v));
    }
  }
}

// components.*.k8s.overlays: [{kind, name, patches: [{path, value}]}]; a null value
// deletes. Returns how many objects each overlay matched via `matched`.
absl::Status ApplyOverlays(Node& object, const Node& overlays, std::vector<int>& matched) {
  for (size_t i = 0; i < overlays.items().size(); ++i) {
    const Node& overlay = overlays.items()[i];
    if (overlay["kind"].Str() != object["kind"].Str() || overlay["name"].Str() != object["metadata"]["name"].Str()) {
      continue;
    }
    if (overlay["apiVersion"].IsScalar() && !overlay["apiVersion"].Str().empty() &&
        overlay["apiVersion"].Str() != object["apiVersion"].Str()) {
      continue;
    }
    ++matched[i];
    for (const Node& patch : overlay["patches"].items()) {
      const std::string& path = patch["path"].Str();
      if (!patch["value"].Defined()) {
        auto deleted = DeletePath(object, path);
        if (!deleted.ok()) {
          return deleted.status();
        }
        continue;
      }
      Node value = patch["value"];
      // A block string holding YAML (`value: |` then a mapping) is that YAML.
      if (value.IsScalar() && value.Str().find('\n') != std::string::npos) {
        auto parsed = config::ParseYamlNode(value.Str(), "overlay value");
        if (parsed.ok() && (parsed->IsMap() || parsed->IsSequence())) {
          value = *parsed;
        }
      }
      if (auto st = SetPath(object, path, value); !st.ok()) {
        return absl::InvalidArgumentError(common::StrCat("overlay ", overlay["kind"].Str(), "/", overlay["name"].Str(),
                                                         " path ", path, ": ", st.message()));
      }
    }
  }
  return absl::OkStatus();
}

// values *.env and k8s.env, merged by name into the first container's env (as the
// strategic-merge patch istioctl applies): same name replaces in place, new ones append.
void MergeEnvByName(Node& deployment, const Node& extra) {
  if (extra.size() == 0) {
    return;
  }
  Node* spec = deployment.FindMutable("spec");
  Node* tmpl = spec ? spec->FindMutable("template") : nullptr;
  Node* pod = tmpl ? tmpl->FindMutable("spec") : nullptr;
  Node* containers = pod ? pod->FindMutable("containers") : nullptr;
  if (containers == nullptr || !containers->IsSequence() || containers->items().empty()) {
    return;
  }
  Node& container = containers->mutable_items()[0];
  Node* env = container.FindMutable("env");
  if (env == nullptr || !env->IsSequence()) {
    env = &container.Set("env", Node::Sequence());
  }
  for (const Node& e : extra.items()) {
    bool replaced = false;
    for (Node& existing : env->mutable_items()) {
      if (existing["name"].Str() == e["name"].Str()) {
        existing = e;
        replaced = true;
        break;
      }
    }
    if (!replaced) {
      env->Append(e);
    }
  }
}

RenderedObject MakeRendered(std::string component, Node object) {
  RenderedObject r;
  r.component = std::move(component);
  r.api_version = object["apiVersion"].Str();
  r.kind = object["kind"].Str();
  r.name = object["metadata"]["name"].Str();
  r.ns = object["metadata"]["namespace"].Str();
  r.object = std::move(object);
  return r;
}

std::string GroupOf(const std::string& api_version) {
  size_t slash = api_version.find('/');
  return slash == std::string::npos ? "" : api_version.substr(0, slash);
}

}  // namespace

const std::vector<std::string>& ComponentOrder() {
  static const std::vector<std::string> kOrder = {kComponentBase, kComponentPilot, kComponentIngress,
                                                  kComponentEgress};
  return kOrder;
}

std::string ComponentDisplayName(const std::string& component) {
  if (component == kComponentBase) {
    return "Istio core";
  }
  if (component == kComponentPilot) {
    return "Istiod";
  }
  if (component == kComponentIngress) {
    return "Ingress gateways";
  }
  if (component == kComponentEgress) {
    return "Egress gateways";
  }
  return component;
}

int KindRank(const std::string& kind) {
  if (kind == "CustomResourceDefinition") {
    return -1000;
  }
  if (kind == "ServiceAccount" || kind == "ClusterRole") {
    return 1;
  }
  if (kind == "ClusterRoleBinding") {
    return 2;
  }
  if (kind == "ValidatingWebhookConfiguration") {
    return 3;
  }
  if (kind == "ConfigMap" || kind == "Secret") {
    return 100;
  }
  if (kind == "HorizontalPodAutoscaler") {
    return 1001;
  }
  if (kind == "Service") {
    return 10000;
  }
  return 1000;
}

void SortObjects(std::vector<RenderedObject>& objects) {
  std::stable_sort(objects.begin(), objects.end(), [](const RenderedObject& a, const RenderedObject& b) {
    auto key = [](const RenderedObject& o) {
      return std::make_tuple(KindRank(o.kind), GroupOf(o.api_version), o.kind, o.name, o.ns);
    };
    return key(a) < key(b);
  });
}

std::string ManifestToYaml(const std::vector<RenderedObject>& objects) {
  std::string out;
  for (const RenderedObject& o : objects) {
    out += config::EmitYaml(SortedKeys(o.object));
    out += "---\n";
  }
  return out;
}

absl::StatusOr<Manifest> RenderManifest(const MergedConfig& config) {
  Manifest m;
  const Node& values = config.values;
  const Node& spec = config.iop["spec"];
  const Node& components = spec["components"];
  std::string ns = values["global"]["istioNamespace"].Str();
  if (ns.empty()) {
    ns = "istio-system";
  }
  std::string rev = values["revision"].Str().empty() ? "default" : values["revision"].Str();
  m.istio_namespace = ns;
  m.revision = rev;
  m.version = values["global"]["tag"].Str();

  Node ctx = Node::Map();
  ctx.Set("values", values);
  ctx.Set("originalValues", config.user_values);
  ctx.Set("ns", StringNode(ns));
  ctx.Set("rev", StringNode(rev));
  ctx.Set("revSuffix", StringNode(rev == "default" ? "" : "-" + rev));
  ctx.Set("isDefaultRevision", BoolNode(rev == "default"));
  std::string cluster = values["global"]["multiCluster"]["clusterName"].Str();
  ctx.Set("clusterName", StringNode(cluster.empty() ? "Kubernetes" : cluster));
  std::string mesh_id = values["global"]["meshID"].Str();
  if (mesh_id.empty()) {
    mesh_id = values["meshConfig"]["trustDomain"].Str().empty() ? "cluster.local"
                                                                : values["meshConfig"]["trustDomain"].Str();
  }
  ctx.Set("meshID", StringNode(mesh_id));
  Node images = Node::Map();
  images.Set("pilot", StringNode(Image(values, components["pilot"], values["pilot"]["image"].Str())));
  images.Set("proxy", StringNode(Image(values, Node(), values["global"]["proxy"]["image"].Str())));
  ctx.Set("images", images);
  Node pull_secrets = Node::Sequence();
  for (const Node& name : values["global"]["imagePullSecrets"].items()) {
    Node ref = Node::Map();
    ref.Set("name", name);
    pull_secrets.Append(std::move(ref));
  }
  ctx.Set("imagePullSecrets", NullIfEmpty(pull_secrets));
  Node injector = Node::Map();
  injector.Set("config", InjectorConfig(values));
  injector.Set("values", values);
  Node client = Node::Map();
  std::string injection_url = values["istiodRemote"]["injectionURL"].Str();
  if (!injection_url.empty()) {
    client.Set("url", StringNode(injection_url));
  } else {
    Node svc = Node::Map();
    svc.Set("name", StringNode(rev == "default" ? "istiod" : "istiod-" + rev));
    svc.Set("namespace", StringNode(components["pilot"]["namespace"].Str().empty() ? ns
                                                                                    : components["pilot"]["namespace"].Str()));
    svc.Set("path", StringNode("/inject"));
    svc.Set("port", IntNode(443));
    client.Set("service", std::move(svc));
  }
  injector.Set("clientConfig", std::move(client));
  ctx.Set("injector", std::move(injector));
  ctx.Set("pilot", PilotContext(values, components["pilot"], rev));
  // istiod may live in its own namespace (components.pilot.namespace).
  std::string pilot_ns = components["pilot"]["namespace"].Str().empty() ? ns : components["pilot"]["namespace"].Str();
  ctx.Set("pilotNamespace", StringNode(pilot_ns));
  // Gateways reach discovery and the CA over TLS (Istio's 15012).
  std::string control_plane_tls =
      common::StrCat(rev == "default" ? "istiod" : "istiod-" + rev, ".", pilot_ns, ".svc:15012");

  std::string owner = config.iop["metadata"]["name"].Str();
  auto common_labels = [&](const std::string& component) {
    std::vector<std::pair<std::string, std::string>> labels = {
        {"app.kubernetes.io/part-of", "istio"},
        {"app.kubernetes.io/managed-by", "meshctl"},
        {"app.kubernetes.io/instance", "istio"},
        {"app.kubernetes.io/version", m.version},
        {"install.operator.istio.io/owning-resource", owner.empty() ? "unknown" : owner},
        {"operator.istio.io/component", component},
        {"release", "istio"},
    };
    // Base (CRDs, reader account) is shared by every revision, so it carries none.
    if (component != kComponentBase) {
      labels.push_back({"istio.io/rev", rev});
    }
    return labels;
  };

  std::vector<RenderedObject> objects;
  auto add_name_label = [](Node& obj) {
    // app.kubernetes.io/name: the app label when there is one (as Istio's charts), else the name.
    const Node& labels = obj["metadata"]["labels"];
    std::string app = labels["app"].Str().empty() ? obj["metadata"]["name"].Str() : labels["app"].Str();
    AddLabels(obj, {{"app.kubernetes.io/name", app}});
  };
  auto render_file = [&](const std::string& component, const std::string& file, const Node& context,
                         const Node& overlays, const Node& env) -> absl::Status {
    std::vector<int> matched(overlays.size(), 0);
    for (const Node& tmpl : Templates(file)) {
      auto rendered = RenderTemplate(tmpl, context);
      if (!rendered.ok()) {
        return absl::InternalError(common::StrCat(file, ": ", rendered.status().message()));
      }
      if (!rendered->has_value()) {
        continue;
      }
      Node obj = std::move(**rendered);
      AddLabels(obj, common_labels(component));
      add_name_label(obj);
      if (obj["kind"].Str() == "Deployment") {
        MergeEnvByName(obj, env);
      }
      MESH_RETURN_IF_ERROR(ApplyOverlays(obj, overlays, matched));
      objects.push_back(MakeRendered(component, std::move(obj)));
    }
    for (size_t i = 0; i < matched.size(); ++i) {
      if (matched[i] == 0) {
        const Node& o = overlays.items()[i];
        return absl::InvalidArgumentError(common::StrCat("overlay for ", o["kind"].Str(), ":", o["name"].Str(),
                                                         " does not match any object of component ", component));
      }
    }
    return absl::OkStatus();
  };

  if (ComponentEnabled(components["base"])) {
    m.enabled_components.push_back(kComponentBase);
    for (Node& crd : BuildIstioCrds()) {
      AddLabels(crd, {{"operator.istio.io/component", kComponentBase},
                      {"install.operator.istio.io/owning-resource", owner.empty() ? "unknown" : owner}});
      objects.push_back(MakeRendered(kComponentBase, std::move(crd)));
    }
    MESH_RETURN_IF_ERROR(render_file(kComponentBase, "manifests/templates/base.yaml", ctx,
                                     components["base"]["k8s"]["overlays"], Node()));
  }
  if (ComponentEnabled(components["pilot"])) {
    m.enabled_components.push_back(kComponentPilot);
    Node pilot_ctx = ctx;
    pilot_ctx.Set("ns", pilot_ctx["pilotNamespace"]);
    pilot_ctx.Set("nsSuffix", StringNode(pilot_ctx["ns"].Str() == "istio-system" ? "" : "-" + pilot_ctx["ns"].Str()));
    MESH_RETURN_IF_ERROR(render_file(kComponentPilot, "manifests/templates/pilot.yaml", pilot_ctx,
                                     components["pilot"]["k8s"]["overlays"], pilot_ctx["pilot"]["env"]));
  }
  struct GatewayKind {
    const char* list;
    const char* root;
    const char* component;
  };
  for (const GatewayKind& g : {GatewayKind{"ingressGateways", "istio-ingressgateway", kComponentIngress},
                               GatewayKind{"egressGateways", "istio-egressgateway", kComponentEgress}}) {
    // values.gateways.<root>.enabled=true force-enables every listed gateway.
    bool forced = config.user_values["gateways"][g.root]["enabled"].Bool().value_or(false);
    bool any = false;
    for (const Node& gw : components[g.list].items()) {
      if (!forced && !ComponentEnabled(gw)) {
        continue;
      }
      Node gctx = ctx;
      gctx.Set("gw", GatewayContext(values, gw, g.root, g.component, ns, control_plane_tls));
      MESH_RETURN_IF_ERROR(render_file(g.component, "manifests/templates/gateway.yaml", gctx, gw["k8s"]["overlays"],
                                       gctx["gw"]["env"]));
      any = true;
    }
    if (any) {
      m.enabled_components.push_back(g.component);
    }
  }

  // Two objects with the same identity would silently overwrite each other when applied.
  std::set<std::tuple<std::string, std::string, std::string>> ids;
  for (const RenderedObject& o : objects) {
    if (!ids.insert({o.kind, o.ns, o.name}).second) {
      return absl::InvalidArgumentError(common::StrCat("the configuration renders ", o.kind, " ",
                                                       o.ns.empty() ? "" : o.ns + "/", o.name,
                                                       " twice (two gateways with the same name?)"));
    }
  }
  SortObjects(objects);
  m.objects = std::move(objects);
  return m;
}

}  // namespace mesh::install
