// Sidecar injection: golden outputs, Istio's rules, idempotence, JSON patches, and the
// structure of an injected Deployment against Istio's own injected example.

#include <filesystem>

#include "gtest/gtest.h"
#include "mesh/common/file_util.h"
#include "mesh/config/emit.h"
#include "mesh/config/yaml_loader.h"
#include "mesh/inject/injector.h"
#include "mesh/inject/json_patch.h"
#include "tests/common/test_util.h"

namespace mesh::inject {
namespace {

using config::Node;

std::string Input(const std::string& name) {
  auto text = common::ReadFile(testing::SourceDir() + "/tests/testdata/inject/" + name);
  EXPECT_TRUE(text.ok()) << text.status();
  return text.ok() ? *text : "";
}

Node Parse(const std::string& text) {
  auto n = config::ParseYamlNode(text, "test");
  EXPECT_TRUE(n.ok()) << n.status();
  return n.ok() ? *n : Node();
}

const Node* Container(const Node& spec, const char* list, const std::string& name) {
  for (const Node& c : spec[list].items()) {
    if (c["name"].Str() == name) {
      return &c;
    }
  }
  return nullptr;
}

std::vector<std::string> Names(const Node& list) {
  std::vector<std::string> out;
  for (const Node& n : list.items()) {
    out.push_back(n["name"].Str());
  }
  return out;
}

TEST(InjectManifest, DeploymentGolden) {
  auto r = InjectManifest(Input("deployment.yaml"), "deployment.yaml", InjectionSettings{});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->injected, 1);
  EXPECT_EQ(testing::CompareGolden("inject/deployment.injected.yaml", r->yaml), "");
}

TEST(InjectManifest, PodGolden) {
  auto r = InjectManifest(Input("pod.yaml"), "pod.yaml", InjectionSettings{});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->injected, 1);
  EXPECT_EQ(testing::CompareGolden("inject/pod.injected.yaml", r->yaml), "");
  Node pod = Parse(r->yaml);
  // istio-init runs first so later init containers already see the capture rules.
  EXPECT_EQ(Names(pod["spec"]["initContainers"]), (std::vector<std::string>{"istio-init", "setup"}));
  EXPECT_EQ(Names(pod["spec"]["volumes"]), (std::vector<std::string>{"scratch", "istio-podinfo", "istio-token"}));
  // No port declared: no inbound capture, and the sidecar says so.
  const Node* init = Container(pod["spec"], "initContainers", "istio-init");
  ASSERT_NE(init, nullptr);
  auto args = (*init)["args"].StringList();
  auto b = std::find(args.begin(), args.end(), "-b");
  ASSERT_NE(b, args.end());
  EXPECT_EQ(*(b + 1), "");
}

TEST(InjectManifest, MultiDocumentKeepsOtherKindsAndFollowsRules) {
  auto r = InjectManifest(Input("multi.yaml"), "multi.yaml", InjectionSettings{});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->injected, 2);  // StatefulSet, ReplicaSet in the List
  EXPECT_EQ(testing::CompareGolden("inject/multi.injected.yaml", r->yaml), "");
  ASSERT_EQ(r->notes.size(), 2u);
  EXPECT_EQ(r->notes[0], "DaemonSet node-agent: not injected (pod uses hostNetwork)");
  EXPECT_EQ(r->notes[1], "Job once: not injected (pod label sidecar.istio.io/inject=false)");
  config::ParseResult docs = config::ParseYamlDocuments(r->yaml, "out");
  ASSERT_EQ(docs.documents.size(), 5u);
  EXPECT_EQ(docs.documents[0].root["kind"].Str(), "Service");
  const Node& sts = docs.documents[1].root;
  const Node& meta = sts["spec"]["template"]["metadata"];
  EXPECT_EQ(meta["labels"]["service.istio.io/canonical-revision"].Str(), "2.1");
  EXPECT_EQ(meta["labels"]["service.istio.io/canonical-name"].Str(), "web");
  auto args = (*Container(sts["spec"]["template"]["spec"], "initContainers", "istio-init"))["args"].StringList();
  auto x = std::find(args.begin(), args.end(), "-x");
  ASSERT_NE(x, args.end());
  EXPECT_EQ(*(x + 1), "10.96.0.0/12");
  // Not injected workloads come out unchanged.
  EXPECT_EQ(docs.documents[2].root, Parse(config::EmitYaml(config::ParseYamlDocuments(Input("multi.yaml"), "in")
                                                              .documents[2]
                                                              .root)));
}

TEST(InjectObject, IdempotentOnInjectedObjects) {
  Node d = Parse(Input("deployment.yaml"));
  auto first = InjectObject(d, {}, InjectionSettings{});
  ASSERT_TRUE(first.ok() && first->injected);
  Node once = d;
  auto second = InjectObject(d, {}, InjectionSettings{});
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(second->injected);
  EXPECT_EQ(second->reason, "already injected");
  EXPECT_EQ(d, once);
}

TEST(InjectObject, NamespaceLabelsDecideWhenKnown) {
  struct Case {
    Labels ns;
    Labels pod;
    std::string revision;
    bool injected;
  };
  std::vector<Case> cases = {
      {{{"istio-injection", "enabled"}}, {}, "default", true},
      {{{"istio-injection", "disabled"}}, {{"sidecar.istio.io/inject", "true"}}, "default", false},
      {{}, {}, "default", false},
      {{}, {{"sidecar.istio.io/inject", "true"}}, "default", true},
      {{{"istio-injection", "enabled"}}, {{"sidecar.istio.io/inject", "false"}}, "default", false},
      {{{"istio.io/rev", "canary"}}, {}, "canary", true},
      {{{"istio.io/rev", "canary"}}, {}, "default", false},  // another revision's injector
  };
  for (const Case& c : cases) {
    Node pod = Parse("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: app, image: x}]\n");
    Node& labels = pod.FindMutable("metadata")->Set("labels", Node::Map());
    for (const auto& [k, v] : c.pod) {
      labels.Set(k, Node::Scalar(v, true));
    }
    InjectionSettings s;
    s.revision = c.revision;
    auto r = InjectObject(pod, InjectionTarget{"apps", c.ns}, s);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->injected, c.injected) << r->reason;
    if (r->injected) {
      EXPECT_EQ(pod["metadata"]["annotations"]["istio.io/rev"].Str(), c.revision);
    }
  }
}

TEST(InjectObject, SystemNamespaceAndBadSpecs) {
  Node pod = Parse("apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: kube-system}\nspec:\n"
                   "  containers: [{name: app, image: x}]\n");
  auto r = InjectObject(pod, {}, InjectionSettings{});
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->injected);
  EXPECT_EQ(r->reason, "namespace kube-system is a system namespace");

  Node bad = Parse("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  template:\n"
                   "    spec: {containers: oops}\n");
  auto e = InjectObject(bad, {}, InjectionSettings{});
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().message(), "Deployment d: pod spec.containers must be a non-empty list");

  auto manifest = InjectManifest("kind: Deployment\napiVersion: apps/v1\nmetadata: {name: d}\nspec: {}\n", "x.yaml",
                                 InjectionSettings{});
  ASSERT_FALSE(manifest.ok());
  EXPECT_EQ(manifest.status().message(), "x.yaml:1: Deployment d has no spec.template");
  auto unparsable = InjectManifest("a: [1\n", "y.yaml", InjectionSettings{});
  ASSERT_FALSE(unparsable.ok());
  EXPECT_NE(std::string(unparsable.status().message()).find("y.yaml:"), std::string::npos);
}

TEST(SettingsFromValues, ImageAndAddressesFromValues) {
  Node values = Parse(R"({"global": {"hub": "registry.example/mesh", "tag": "0.3.1", "istioNamespace": "mesh-system",
      "imagePullPolicy": "IfNotPresent", "proxy": {"image": "meshctl", "readinessFailureThreshold": 9,
      "excludeIPRanges": "169.254.169.254/32"}}, "revision": "canary", "meshConfig": {"trustDomain": "example.org"}})");
  auto s = SettingsFromValues(values);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->image, "registry.example/mesh/meshctl:0.3.1");
  EXPECT_EQ(s->image_pull_policy, "IfNotPresent");
  EXPECT_EQ(s->control_plane_address, "istiod-canary.mesh-system.svc:15010");
  EXPECT_EQ(s->trust_domain, "example.org");
  EXPECT_EQ(s->readiness_failure_threshold, 9);
  EXPECT_EQ(s->exclude_ip_ranges, "169.254.169.254/32");
  auto bad = SettingsFromValues(Parse(R"({"global": {"proxy": {"readinessPeriodSeconds": "soon"}}})"));
  EXPECT_FALSE(bad.ok());
}

TEST(JsonPatch, CreateThenApplyGivesTheInjectedObject) {
  Node before = Parse(Input("pod.yaml"));
  Node after = before;
  ASSERT_TRUE(InjectObject(after, {}, InjectionSettings{}).ok());
  Node patch = CreateJsonPatch(before, after);
  ASSERT_GT(patch.size(), 0u);
  auto applied = ApplyJsonPatch(before, patch);
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(*applied, after);
  EXPECT_EQ(CreateJsonPatch(after, after).size(), 0u);
}

TEST(JsonPatch, EscapesRemovesAndErrors) {
  Node a = Parse(R"({"metadata": {"annotations": {"x/y": "1", "gone": "z"}}, "list": [1, 2]})");
  Node b = Parse(R"({"metadata": {"annotations": {"x/y": "2", "a~b": "n"}}, "list": [1, 2, 3]})");
  Node patch = CreateJsonPatch(a, b);
  std::string json = config::EmitJson(patch, {.indent = 0});
  EXPECT_NE(json.find(R"("path":"/metadata/annotations/x~1y")"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("path":"/metadata/annotations/a~0b")"), std::string::npos) << json;
  EXPECT_NE(json.find(R"({"op":"remove","path":"/metadata/annotations/gone"})"), std::string::npos) << json;
  auto applied = ApplyJsonPatch(a, patch);
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(*applied, b);
  auto appended = ApplyJsonPatch(a, Parse(R"([{"op": "add", "path": "/list/-", "value": 7},
                                              {"op": "add", "path": "/list/0", "value": 0}])"));
  ASSERT_TRUE(appended.ok()) << appended.status();
  EXPECT_EQ((*appended)["list"].StringList(), (std::vector<std::string>{"0", "1", "2", "7"}));
  auto missing = ApplyJsonPatch(a, Parse(R"([{"op": "replace", "path": "/nope/x", "value": 1}])"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message(), "patch operation 0: path /nope/x does not exist");
  EXPECT_FALSE(ApplyJsonPatch(a, Parse(R"([{"op": "add", "path": "/list/9", "value": 1}])")).ok());
}

// Our injected Deployment against Istio's injected example (classic layout): the same
// containers, labels, annotations, probe, security contexts and token volume.
TEST(InjectReference, StructureMatchesIstiosInjectedDeployment) {
  std::string dir = testing::SharedDir();
  std::string in = dir + "/reference/install/injection/pairs/hello.yaml";
  std::string want_path = dir + "/reference/install/injection/pairs/hello-old-version.yaml.injected";
  if (dir.empty() || !std::filesystem::exists(want_path)) {
    GTEST_SKIP() << "reference data not present";
  }
  auto text = common::ReadFile(in);
  auto want_text = common::ReadFile(want_path);
  ASSERT_TRUE(text.ok() && want_text.ok());
  auto r = InjectManifest(*text, in, InjectionSettings{});
  ASSERT_TRUE(r.ok()) << r.status();
  Node got = config::ParseYamlDocuments(r->yaml, "got").documents.at(0).root;
  Node want = config::ParseYamlDocuments(*want_text, "want").documents.at(0).root;
  const Node& gt = got["spec"]["template"];
  const Node& wt = want["spec"]["template"];
  EXPECT_EQ(Names(gt["spec"]["containers"]), Names(wt["spec"]["containers"]));
  EXPECT_EQ(Names(gt["spec"]["initContainers"]), Names(wt["spec"]["initContainers"]));
  for (const char* label : {"security.istio.io/tlsMode", "service.istio.io/canonical-name",
                            "service.istio.io/canonical-revision", "app"}) {
    EXPECT_EQ(gt["metadata"]["labels"][label].Str(), wt["metadata"]["labels"][label].Str()) << label;
  }
  for (const char* a : {"istio.io/rev", "kubectl.kubernetes.io/default-container",
                        "kubectl.kubernetes.io/default-logs-container", "prometheus.io/path", "prometheus.io/scrape"}) {
    EXPECT_EQ(gt["metadata"]["annotations"][a].Str(), wt["metadata"]["annotations"][a].Str()) << a;
  }
  Node status = Parse(gt["metadata"]["annotations"]["sidecar.istio.io/status"].Str());
  Node want_status = Parse(wt["metadata"]["annotations"]["sidecar.istio.io/status"].Str());
  EXPECT_EQ(status["initContainers"], want_status["initContainers"]);
  EXPECT_EQ(status["containers"], want_status["containers"]);
  EXPECT_EQ(status["revision"], want_status["revision"]);
  const Node* proxy = Container(gt["spec"], "containers", "istio-proxy");
  const Node* want_proxy = Container(wt["spec"], "containers", "istio-proxy");
  ASSERT_TRUE(proxy != nullptr && want_proxy != nullptr);
  for (const char* field : {"securityContext", "readinessProbe", "ports"}) {
    EXPECT_EQ((*proxy)[field], (*want_proxy)[field]) << field;
  }
  EXPECT_EQ((*proxy)["resources"]["requests"], (*want_proxy)["resources"]["requests"]) << config::EmitYaml(*proxy);
  const Node* init = Container(gt["spec"], "initContainers", "istio-init");
  const Node* want_init = Container(wt["spec"], "initContainers", "istio-init");
  EXPECT_EQ((*init)["securityContext"], (*want_init)["securityContext"]);
  // Downward API env the agent needs.
  for (const char* env : {"POD_NAME", "POD_NAMESPACE", "INSTANCE_IP", "SERVICE_ACCOUNT", "ISTIO_META_WORKLOAD_NAME",
                          "ISTIO_META_OWNER", "ISTIO_META_APP_CONTAINERS", "TRUST_DOMAIN"}) {
    const Node* got_env = nullptr;
    const Node* want_env = nullptr;
    for (const Node& e : (*proxy)["env"].items()) {
      got_env = e["name"].Str() == env ? &e : got_env;
    }
    for (const Node& e : (*want_proxy)["env"].items()) {
      want_env = e["name"].Str() == env ? &e : want_env;
    }
    ASSERT_TRUE(got_env != nullptr && want_env != nullptr) << env;
    EXPECT_EQ(*got_env, *want_env) << env;
  }
  auto volume = [](const Node& spec, const char* name) {
    for (const Node& v : spec["volumes"].items()) {
      if (v["name"].Str() == name) {
        return v;
      }
    }
    return Node();
  };
  EXPECT_EQ(volume(gt["spec"], "istio-token"), volume(wt["spec"], "istio-token"));
  EXPECT_EQ(volume(gt["spec"], "istio-podinfo"), volume(wt["spec"], "istio-podinfo"));
}

}  // namespace
}  // namespace mesh::inject
