#include "mesh/install/render.h"

#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "gtest/gtest.h"
#include "mesh/common/strings.h"
#include "mesh/config/yaml_loader.h"
#include "mesh/install/crd.h"
#include "mesh/install/tree.h"
#include "tests/common/test_util.h"

namespace mesh::install {
namespace {

Manifest Render(std::vector<std::string> sets) {
  MergeInputs in;
  in.set_flags = std::move(sets);
  auto c = MergeInstallConfig(in);
  EXPECT_TRUE(c.ok()) << c.status();
  auto m = RenderManifest(*c);
  EXPECT_TRUE(m.ok()) << m.status();
  return *m;
}

const RenderedObject* Find(const Manifest& m, const std::string& kind, const std::string& name) {
  for (const auto& o : m.objects) {
    if (o.kind == kind && o.name == name) {
      return &o;
    }
  }
  return nullptr;
}

TEST(Render, GoldenManifests) {
  struct Case {
    const char* golden;
    std::vector<std::string> sets;
  };
  for (const Case& c : {Case{"install/demo.golden.yaml", {"profile=demo"}},
                        Case{"install/default.golden.yaml", {}},
                        Case{"install/minimal.golden.yaml", {"profile=minimal"}},
                        Case{"install/demo-nodeport.golden.yaml",
                             {"profile=demo", "values.gateways.istio-ingressgateway.type=NodePort"}}}) {
    Manifest m = Render(c.sets);
    EXPECT_EQ(testing::CompareGolden(c.golden, ManifestToYaml(m.objects)), "") << c.golden;
  }
}

TEST(Render, DeterministicAndParsesBack) {
  std::string a = ManifestToYaml(Render({"profile=demo"}).objects);
  std::string b = ManifestToYaml(Render({"profile=demo"}).objects);
  EXPECT_EQ(a, b);
  config::LoadResult loaded = config::LoadText(a, "demo.yaml");
  EXPECT_TRUE(loaded.errors.empty());
  EXPECT_EQ(loaded.resources.size(), 42u);
}

// The (kind, namespace, name) set must equal the reference list derived from Istio's charts.
TEST(Render, DemoObjectSetMatchesReference) {
  std::string shared = testing::SharedDir();
  if (shared.empty()) {
    GTEST_SKIP() << "../shared not present";
  }
  std::ifstream in(shared + "/reference/install/golden/demo-derived-objects.tsv");
  ASSERT_TRUE(in.good());
  std::set<std::tuple<std::string, std::string, std::string>> want;
  std::map<std::string, std::string> component_of;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') {
      continue;
    }
    auto f = common::Split(line, '\t');
    if (f.size() < 6 || f[5] != "render") {
      continue;
    }
    want.insert({f[2], f[4], f[3]});
    component_of[f[2] + "/" + f[4] + "/" + f[3]] = f[0];
  }
  ASSERT_EQ(want.size(), 42u);
  Manifest m = Render({"profile=demo"});
  std::set<std::tuple<std::string, std::string, std::string>> got;
  for (const auto& o : m.objects) {
    got.insert({o.kind, o.ns, o.name});
    auto it = component_of.find(o.kind + "/" + o.ns + "/" + o.name);
    if (it != component_of.end()) {
      EXPECT_EQ(o.component, it->second) << o.kind << " " << o.name;
    }
  }
  EXPECT_EQ(got, want);
  // Same order as istioctl's manifest generate (kind rank, group, kind, name).
  std::ifstream again(shared + "/reference/install/golden/demo-derived-objects.tsv");
  std::vector<std::string> want_order;
  while (std::getline(again, line)) {
    auto f = common::Split(line, '\t');
    if (!line.empty() && line[0] != '#' && f.size() >= 6 && f[5] == "render") {
      want_order.push_back(f[2] + "/" + f[3]);
    }
  }
  std::vector<std::string> got_order;
  for (const auto& o : m.objects) {
    got_order.push_back(o.kind + "/" + o.name);
  }
  EXPECT_EQ(got_order, want_order);
}

TEST(Render, DemoIngressServicePortsAndProbe) {
  Manifest m = Render({"profile=demo"});
  const RenderedObject* svc = Find(m, "Service", "istio-ingressgateway");
  ASSERT_NE(svc, nullptr);
  std::vector<std::string> ports;
  for (const Node& p : svc->object["spec"]["ports"].items()) {
    ports.push_back(common::StrCat(p["name"].Str(), ":", p["port"].Str(), "->", p["targetPort"].Str()));
    EXPECT_FALSE(p["nodePort"].Defined());
  }
  EXPECT_EQ(ports, (std::vector<std::string>{"status-port:15021->15021", "http2:80->8080", "https:443->8443",
                                             "tcp:31400->31400", "tls:15443->15443"}));
  EXPECT_EQ(svc->object["spec"]["type"].Str(), "LoadBalancer");
  const RenderedObject* dep = Find(m, "Deployment", "istio-ingressgateway");
  ASSERT_NE(dep, nullptr);
  const Node& c = dep->object["spec"]["template"]["spec"]["containers"].items()[0];
  EXPECT_EQ(c["readinessProbe"]["httpGet"]["path"].Str(), "/healthz/ready");
  EXPECT_EQ(c["readinessProbe"]["httpGet"]["port"].Str(), "15021");
  std::set<std::string> container_ports;
  for (const Node& p : c["ports"].items()) {
    container_ports.insert(p["containerPort"].Str());
  }
  EXPECT_EQ(container_ports, (std::set<std::string>{"15021", "8080", "8443", "31400", "15443", "15090"}));
  EXPECT_EQ(dep->object["spec"]["template"]["spec"]["securityContext"]["runAsUser"].Str(), "1337");
  // The default profile keeps the three default ports.
  Manifest def = Render({});
  EXPECT_EQ(Find(def, "Service", "istio-ingressgateway")->object["spec"]["ports"].size(), 3u);
}

TEST(Render, NodePortChangesOnlyTheServiceType) {
  Manifest lb = Render({"profile=demo"});
  Manifest np = Render({"profile=demo", "values.gateways.istio-ingressgateway.type=NodePort"});
  ASSERT_EQ(lb.objects.size(), np.objects.size());
  int differing = 0;
  for (size_t i = 0; i < lb.objects.size(); ++i) {
    if (!(lb.objects[i].object == np.objects[i].object)) {
      ++differing;
      EXPECT_TRUE(np.objects[i].kind == "Service" || np.objects[i].kind == "ConfigMap")
          << np.objects[i].kind << " " << np.objects[i].name;  // ConfigMap "values" records the values
    }
  }
  EXPECT_EQ(differing, 3);  // the Service plus the two ConfigMaps holding values
  const RenderedObject* svc = Find(np, "Service", "istio-ingressgateway");
  EXPECT_EQ(svc->object["spec"]["type"].Str(), "NodePort");
  for (const Node& p : svc->object["spec"]["ports"].items()) {
    EXPECT_FALSE(p["nodePort"].Defined());
  }
  // A nodePort appears only when the user sets one.
  Manifest fixed = Render({"profile=demo", "values.gateways.istio-ingressgateway.type=NodePort",
                           "values.gateways.istio-ingressgateway.ports[0].nodePort=30021"});
  EXPECT_EQ(Find(fixed, "Service", "istio-ingressgateway")->object["spec"]["ports"].items()[0]["nodePort"].Str(),
            "30021");
}

TEST(Render, NodePortServiceMatchesDerivedReference) {
  std::string shared = testing::SharedDir();
  if (shared.empty()) {
    GTEST_SKIP() << "../shared not present";
  }
  auto loaded = config::LoadPaths({shared + "/reference/install/golden/demo-nodeport-ingress-service.derived.yaml"});
  ASSERT_TRUE(loaded.ok());
  ASSERT_EQ(loaded->resources.size(), 1u);
  const Node& want = loaded->resources[0].root();
  Manifest np = Render({"profile=demo", "values.gateways.istio-ingressgateway.type=NodePort"});
  const Node& got = Find(np, "Service", "istio-ingressgateway")->object;
  EXPECT_EQ(got["spec"]["ports"], want["spec"]["ports"]);
  EXPECT_EQ(got["spec"]["selector"], want["spec"]["selector"]);
  EXPECT_EQ(got["spec"]["type"], want["spec"]["type"]);
  for (const char* label : {"app", "istio", "istio.io/rev", "operator.istio.io/component", "release"}) {
    EXPECT_EQ(got["metadata"]["labels"][label].Str(), want["metadata"]["labels"][label].Str()) << label;
  }
}

bool Subset(const Node& small, const Node& big) {
  for (const auto& [k, v] : small.entries()) {
    if (big[k].Str() != v.Str()) {
      return false;
    }
  }
  return true;
}

// What a kube-apiserver would reject: missing identity, selectors that select nothing,
// CRDs whose name is not plural.group, not exactly one storage version.
TEST(Render, ObjectsAreValidForAnApiServer) {
  for (const std::vector<std::string>& sets : std::vector<std::vector<std::string>>{
           {"profile=demo"}, {}, {"profile=minimal"}, {"profile=remote"}, {"revision=canary"}}) {
    Manifest m = Render(sets);
    std::vector<const Node*> pod_labels;
    for (const auto& o : m.objects) {
      SCOPED_TRACE(o.kind + " " + o.name);
      EXPECT_FALSE(o.api_version.empty());
      EXPECT_FALSE(o.name.empty());
      const config::KindSchema* ks = config::FindKind(
          o.api_version.find('/') == std::string::npos ? "" : o.api_version.substr(0, o.api_version.find('/')), o.kind);
      ASSERT_NE(ks, nullptr);
      EXPECT_EQ(ks->ApiVersion(), o.api_version);
      EXPECT_EQ(ks->namespaced, !o.ns.empty());
      for (const auto& [k, v] : o.object["metadata"]["labels"].entries()) {
        EXPECT_TRUE(v.IsScalar() && v.Str().size() <= 63) << k;
      }
      if (o.kind == "Deployment") {
        const Node& sel = o.object["spec"]["selector"]["matchLabels"];
        const Node& labels = o.object["spec"]["template"]["metadata"]["labels"];
        EXPECT_GT(sel.size(), 0u);
        EXPECT_TRUE(Subset(sel, labels));
        pod_labels.push_back(&labels);
        for (const Node& c : o.object["spec"]["template"]["spec"]["containers"].items()) {
          EXPECT_FALSE(c["image"].Str().empty());
          for (const Node& p : c["ports"].items()) {
            EXPECT_TRUE(p["containerPort"].Int().has_value());
            EXPECT_LE(p["name"].Str().size(), 15u);
          }
        }
      }
      if (o.kind == "CustomResourceDefinition") {
        const Node& spec = o.object["spec"];
        EXPECT_EQ(o.name, spec["names"]["plural"].Str() + "." + spec["group"].Str());
        int storage = 0;
        for (const Node& v : spec["versions"].items()) {
          storage += v["storage"].Str() == "true" ? 1 : 0;
          EXPECT_EQ(v["schema"]["openAPIV3Schema"]["type"].Str(), "object");
        }
        EXPECT_EQ(storage, 1);
      }
      if (o.kind == "Service") {
        std::set<std::string> names;
        for (const Node& p : o.object["spec"]["ports"].items()) {
          EXPECT_TRUE(p["port"].Int().has_value());
          EXPECT_TRUE(names.insert(p["name"].Str()).second) << "duplicate port name";
        }
      }
      if (o.kind == "RoleBinding" || o.kind == "ClusterRoleBinding") {
        EXPECT_EQ(o.object["roleRef"]["apiGroup"].Str(), "rbac.authorization.k8s.io");
        EXPECT_GT(o.object["subjects"].size(), 0u);
      }
      if (o.kind == "MutatingWebhookConfiguration" || o.kind == "ValidatingWebhookConfiguration") {
        for (const Node& w : o.object["webhooks"].items()) {
          EXPECT_EQ(w["sideEffects"].Str(), "None");
          EXPECT_GT(w["admissionReviewVersions"].size(), 0u);
          EXPECT_NE(w["name"].Str().find('.'), std::string::npos);  // must be fully qualified
        }
      }
    }
    // Every Service selects some Deployment's pods.
    for (const auto& o : m.objects) {
      if (o.kind != "Service") {
        continue;
      }
      bool selects = false;
      for (const Node* labels : pod_labels) {
        selects |= Subset(o.object["spec"]["selector"], *labels);
      }
      EXPECT_TRUE(selects) << "Service " << o.name << " selects no pods";
    }
  }
}

// Structural schema rule: every node has a type unless it preserves unknown fields.
void ExpectStructural(const Node& schema, const std::string& path) {
  bool preserve = schema["x-kubernetes-preserve-unknown-fields"].Str() == "true";
  EXPECT_TRUE(schema["type"].Defined() || preserve) << path;
  for (const auto& [k, v] : schema["properties"].entries()) {
    ExpectStructural(v, path + "." + k);
  }
  if (schema["items"].Defined()) {
    ExpectStructural(schema["items"], path + "[]");
  }
  if (schema["additionalProperties"].IsMap()) {
    ExpectStructural(schema["additionalProperties"], path + "{}");
  }
}

TEST(Crd, GeneratedFromSchemaTable) {
  std::vector<Node> crds = BuildIstioCrds();
  int istio_kinds = 0;
  for (const auto& k : config::AllKinds()) {
    istio_kinds += k.istio ? 1 : 0;
  }
  EXPECT_EQ(static_cast<int>(crds.size()), istio_kinds);
  const config::KindSchema* gw = config::FindKind("networking.istio.io", "Gateway");
  Node crd = BuildCrd(*gw);
  const Node& spec_schema = crd["spec"]["versions"].items()[0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
  EXPECT_EQ(spec_schema["properties"]["servers"]["type"].Str(), "array");
  EXPECT_EQ(spec_schema["properties"]["servers"]["items"]["properties"]["port"]["properties"]["number"]["type"].Str(),
            "integer");
  EXPECT_EQ(crd["spec"]["names"]["shortNames"].items()[0].Str(), "gw");
  for (const Node& c : crds) {
    for (const Node& v : c["spec"]["versions"].items()) {
      ExpectStructural(v["schema"]["openAPIV3Schema"], c["metadata"]["name"].Str());
    }
  }
}

TEST(Render, EgressForceEnabledByValuesAndRevisionNames) {
  Manifest m = Render({"values.gateways.istio-egressgateway.enabled=true"});
  EXPECT_NE(Find(m, "Deployment", "istio-egressgateway"), nullptr);
  Manifest rev = Render({"revision=canary"});
  EXPECT_NE(Find(rev, "Deployment", "istiod-canary"), nullptr);
  EXPECT_NE(Find(rev, "MutatingWebhookConfiguration", "istio-sidecar-injector-canary"), nullptr);
  // Only the default revision has the istio-injection=enabled webhook.
  const Node& hooks = Find(rev, "MutatingWebhookConfiguration", "istio-sidecar-injector-canary")->object["webhooks"];
  EXPECT_EQ(hooks.size(), 2u);
  EXPECT_EQ(Find(Render({}), "MutatingWebhookConfiguration", "istio-sidecar-injector")->object["webhooks"].size(), 4u);
}

TEST(Render, DefaultProfileHasHpasDemoHasNone) {
  int hpas = 0;
  for (const auto& o : Render({}).objects) {
    hpas += o.kind == "HorizontalPodAutoscaler" ? 1 : 0;
  }
  EXPECT_EQ(hpas, 2);
  for (const auto& o : Render({"profile=demo"}).objects) {
    EXPECT_NE(o.kind, "HorizontalPodAutoscaler");
    EXPECT_NE(o.kind, "PodDisruptionBudget");
  }
  // Two replicas make a PodDisruptionBudget worthwhile.
  Manifest m = Render({"profile=demo", "values.pilot.replicaCount=2"});
  EXPECT_NE(Find(m, "PodDisruptionBudget", "istiod"), nullptr);
  EXPECT_EQ(Find(m, "Deployment", "istiod")->object["spec"]["replicas"].Str(), "2");
}

}  // namespace
}  // namespace mesh::install

namespace mesh::install {
namespace {

TEST(Render, K8sSettingsAndOverlays) {
  testing::TempDir dir;
  std::string f = dir.Write("ov.yaml", R"(apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
spec:
  components:
    pilot:
      k8s:
        tolerations: [{key: dedicated, operator: Exists}]
        strategy: {type: Recreate}
        overlays:
        - kind: Deployment
          name: istiod
          patches:
          - path: spec.template.spec.containers.[name:discovery].args[99]
            value: --extra
          - path: spec.template.metadata.annotations.prometheus\.io/scrape
          - path: spec.minReadySeconds
            value: 5
    ingressGateways:
    - name: istio-ingressgateway
      k8s:
        service:
          type: NodePort
        readinessProbe: {httpGet: {path: /other, port: 15021}}
        volumes: [{name: extra, emptyDir: {}}]
        volumeMounts: [{name: extra, mountPath: /extra}]
)");
  MergeInputs in;
  in.files = {f};
  auto c = MergeInstallConfig(in);
  ASSERT_TRUE(c.ok()) << c.status();
  auto m = RenderManifest(*c);
  ASSERT_TRUE(m.ok()) << m.status();
  const Node& istiod = Find(*m, "Deployment", "istiod")->object;
  EXPECT_EQ(istiod["spec"]["minReadySeconds"].Str(), "5");
  EXPECT_EQ(istiod["spec"]["strategy"]["type"].Str(), "Recreate");
  EXPECT_EQ(istiod["spec"]["template"]["spec"]["tolerations"].items()[0]["key"].Str(), "dedicated");
  const Node& args = istiod["spec"]["template"]["spec"]["containers"].items()[0]["args"];
  EXPECT_EQ(args.items().back().Str(), "--extra");
  EXPECT_FALSE(istiod["spec"]["template"]["metadata"]["annotations"]["prometheus.io/scrape"].Defined());
  EXPECT_TRUE(istiod["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"].Defined());

  const Node& gw = Find(*m, "Deployment", "istio-ingressgateway")->object;
  const Node& container = gw["spec"]["template"]["spec"]["containers"].items()[0];
  EXPECT_EQ(container["readinessProbe"]["httpGet"]["path"].Str(), "/other");
  EXPECT_EQ(container["volumeMounts"].items().back()["mountPath"].Str(), "/extra");
  EXPECT_EQ(gw["spec"]["template"]["spec"]["volumes"].items().back()["name"].Str(), "extra");
  EXPECT_EQ(Find(*m, "Service", "istio-ingressgateway")->object["spec"]["type"].Str(), "NodePort");

  // An overlay that matches nothing is an error.
  in.set_flags = {"components.pilot.k8s.overlays[0].name=nope"};
  c = MergeInstallConfig(in);
  ASSERT_TRUE(c.ok()) << c.status();
  auto bad = RenderManifest(*c);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(std::string(bad.status().message()).find("overlay for Deployment:nope does not match"), std::string::npos);
}

}  // namespace
}  // namespace mesh::install

namespace mesh::install {
namespace {

TEST(Render, ImagesFromGlobalAndPerComponentHubTag) {
  Manifest m = Render({"profile=demo", "hub=my.registry/istio", "tag=1.30-dev", "components.pilot.hub=pilot.io",
                       "components.egressGateways[0].tag=9", "values.global.variant=distroless"});
  auto image = [&](const std::string& name) {
    return Find(m, "Deployment", name)->object["spec"]["template"]["spec"]["containers"].items()[0]["image"].Str();
  };
  EXPECT_EQ(image("istiod"), "pilot.io/meshctl:1.30-dev-distroless");
  EXPECT_EQ(image("istio-ingressgateway"), "my.registry/istio/meshctl:1.30-dev-distroless");
  EXPECT_EQ(image("istio-egressgateway"), "my.registry/istio/meshctl:9-distroless");
}

}  // namespace
}  // namespace mesh::install
