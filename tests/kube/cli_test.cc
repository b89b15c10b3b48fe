// The real meshctl binary against the in-process fake API server (FakeCluster): install
// in Kubernetes mode, readiness timeouts, --wait=false, idempotent re-install, prune,
// conflicts, label/apply/get/delete, uninstall --purge, and how the target is chosen.

#include <filesystem>
#include <map>
#include <set>

#include "gtest/gtest.h"
#include "mesh/common/strings.h"
#include "mesh/config/yaml_loader.h"
#include "tests/common/test_util.h"
#include "tests/kube/fake_apiserver.h"

namespace mesh::kube {
namespace {

using common::StrCat;
using config::Node;

class KubeCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    bin_ = testing::MeshctlBinary();
    if (bin_.empty()) {
      std::error_code ec;
      auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
      if (!ec) {
        bin_ = (self.parent_path().parent_path() / "bin" / "meshctl").string();
      }
    }
    if (bin_.empty() || !std::filesystem::exists(bin_)) {
      GTEST_SKIP() << "meshctl binary not found (set MESHCTL_BIN)";
    }
    kubeconfig_ = dir_.Write("kubeconfig", StrCat(R"(apiVersion: v1
kind: Config
clusters:
- name: fake
  cluster:
    server: http://127.0.0.1:)", server_.port(), R"(
users:
- name: admin
  user:
    token: test-token
contexts:
- name: fake
  context:
    cluster: fake
    user: admin
    namespace: default
current-context: fake
)"));
  }

  // meshctl on the fake cluster; MESHCTL_STATE_DIR is set too, to show --kubeconfig wins.
  testing::CommandResult Run(const std::string& args) {
    return testing::RunCommand(StrCat("MESHCTL_STATE_DIR=", dir_.path(), "/unused ", bin_, " ", args,
                                      " --kubeconfig ", kubeconfig_));
  }

  // Every object carrying the installer's component label.
  std::vector<std::string> Owned() {
    std::vector<std::string> out;
    for (const Node& o : cluster_.AllObjects()) {
      if (o["metadata"]["labels"]["operator.istio.io/component"].Defined() ||
          o["metadata"]["labels"]["install.meshctl.io/installed-state"].Defined()) {
        out.push_back(StrCat(o["kind"].Str(), " ", o["metadata"]["name"].Str()));
      }
    }
    return out;
  }

  std::map<std::string, std::string> ResourceVersions() {
    std::map<std::string, std::string> out;
    for (const Node& o : cluster_.AllObjects()) {
      out[StrCat(o["kind"].Str(), "/", o["metadata"]["namespace"].Str(), "/", o["metadata"]["name"].Str())] =
          o["metadata"]["resourceVersion"].Str();
    }
    return out;
  }

  fake::FakeCluster cluster_{fake::FakeClusterOptions{.crd_established_delay = std::chrono::milliseconds(300)}};
  fake::FakeApiServer server_{cluster_.Handler()};
  testing::TempDir dir_;
  std::string bin_;
  std::string kubeconfig_;
};

TEST_F(KubeCliTest, InstallDemoAppliesCrdsFirstAndTimesOutOnReadiness) {
  auto r = Run("install --profile demo -y --readiness-timeout 1s");
  EXPECT_NE(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.err.find("Target: Kubernetes cluster, context \"fake\""), std::string::npos) << r.err;
  // The clear message: the component and what is not ready.
  EXPECT_NE(r.out.find("\u2718 Installation failed: Istiod is not ready after 1s (--readiness-timeout): "
                       "Deployment/istio-system/istiod: 0/1 replicas ready"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("\u2714 Istio core installed"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("- Processing resources for Istiod. Waiting for Deployment/istio-system/istiod"),
            std::string::npos)
      << r.out;

  // Everything was applied before waiting: 42 demo objects plus the installed-state record.
  EXPECT_EQ(Owned().size(), 43u);
  auto istiod = cluster_.Find("apps", "Deployment", "istio-system", "istiod");
  ASSERT_TRUE(istiod.has_value());
  const Node& labels = (*istiod)["metadata"]["labels"];
  EXPECT_EQ(labels["operator.istio.io/component"].Str(), "Pilot");
  EXPECT_EQ(labels["install.operator.istio.io/owning-resource-namespace"].Str(), "istio-system");
  EXPECT_EQ(labels["operator.istio.io/managed"].Str(), "Reconcile");
  EXPECT_FALSE(labels["install.operator.istio.io/owning-resource"].Str().empty());
  EXPECT_EQ((*istiod)["metadata"]["managedFields"].items()[0]["manager"].Str(), "meshctl");
  EXPECT_EQ((*istiod)["metadata"]["managedFields"].items()[0]["operation"].Str(), "Apply");
  EXPECT_TRUE(cluster_.Find("apps", "Deployment", "istio-system", "istio-ingressgateway").has_value());
  EXPECT_TRUE(cluster_.Find("apps", "Deployment", "istio-system", "istio-egressgateway").has_value());
  auto crds = cluster_.ObjectsOfKind("apiextensions.k8s.io", "CustomResourceDefinition");
  EXPECT_EQ(crds.size(), 15u);

  // Order: the namespace, then every CRD, then the rest.
  auto log = cluster_.CreationLog();
  ASSERT_FALSE(log.empty());
  EXPECT_EQ(log[0], "Namespace istio-system");
  size_t last_crd = 0, first_other = log.size();
  for (size_t i = 1; i < log.size(); ++i) {
    if (log[i].rfind("CustomResourceDefinition ", 0) == 0) {
      last_crd = i;
    } else if (first_other == log.size()) {
      first_other = i;
    }
  }
  EXPECT_EQ(last_crd, 15u);
  EXPECT_EQ(first_other, 16u);
}

TEST_F(KubeCliTest, WaitFalseSucceedsReinstallIsIdempotentVerifyAndPrune) {
  auto r = Run("install --profile demo -y --wait=false");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("Not waiting for readiness"), std::string::npos) << r.out;
  auto before = ResourceVersions();

  r = Run("install --profile demo -y --wait=false");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(ResourceVersions(), before) << "a repeated install must not change anything";

  r = Run("verify-install");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("Checked 15 custom resource definitions"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Checked 3 Istio Deployments"), std::string::npos) << r.out;

  // Drift is reported.
  ASSERT_TRUE(cluster_.Find("", "ConfigMap", "istio-system", "istio").has_value());
  r = Run("delete configmap istio -n istio-system");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  r = Run("verify-install");
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("\u2718 ConfigMap: istio.istio-system: missing"), std::string::npos) << r.out;

  // Prune: without the egress gateway its objects go, nothing else does.
  r = Run("install --profile demo -y --wait=false --set components.egressGateways[0].enabled=false");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("Pruned Deployment istio-system/istio-egressgateway"), std::string::npos) << r.out;
  EXPECT_FALSE(cluster_.Find("apps", "Deployment", "istio-system", "istio-egressgateway").has_value());
  EXPECT_FALSE(cluster_.Find("", "Service", "istio-system", "istio-egressgateway").has_value());
  EXPECT_TRUE(cluster_.Find("apps", "Deployment", "istio-system", "istio-ingressgateway").has_value());
  EXPECT_TRUE(cluster_.Find("", "ConfigMap", "istio-system", "istio").has_value());
  r = Run("verify-install");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
}

TEST_F(KubeCliTest, ConflictWithAnotherManagerNeedsForceConflicts) {
  Node ns = *config::ParseYamlNode(R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"istio-system"}})", "t");
  cluster_.Put(ns);
  cluster_.Put(*config::ParseYamlNode(
      R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"istio","namespace":"istio-system"},"data":{"mesh":"edited by hand"}})",
      "t"));
  auto r = Run("install --profile demo -y --wait=false");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.out.find("ConfigMap istio-system/istio: Apply failed with 1 conflict: conflict with \"kubectl\""),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("--force-conflicts"), std::string::npos) << r.out;
  r = Run("install --profile demo -y --wait=false --force-conflicts");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE((*cluster_.Find("", "ConfigMap", "istio-system", "istio"))["data"]["mesh"].Str(), "edited by hand");
}

TEST_F(KubeCliTest, LabelApplyGetDeleteAndUninstallPurge) {
  auto r = Run("install --profile demo -y --wait=false");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;

  r = Run("create namespace awscommunity");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out, "namespace/awscommunity created\n");
  r = Run("create namespace awscommunity");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("AlreadyExists"), std::string::npos) << r.err;
  r = Run("label namespace awscommunity istio-injection=enabled");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out, "namespace/awscommunity labeled\n");
  EXPECT_EQ((*cluster_.Find("", "Namespace", "", "awscommunity"))["metadata"]["labels"]["istio-injection"].Str(),
            "enabled");
  r = Run("label namespace awscommunity istio-injection=disabled");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--overwrite"), std::string::npos) << r.err;
  r = Run("label ns awscommunity istio-injection-");
  EXPECT_EQ(r.out, "namespace/awscommunity unlabeled\n") << r.err;
  EXPECT_FALSE((*cluster_.Find("", "Namespace", "", "awscommunity"))["metadata"]["labels"]["istio-injection"].Defined());
  r = Run("label namespace nope a=b");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("Error from server (NotFound): namespaces \"nope\" not found"), std::string::npos) << r.err;

  // The talk's manifests (the namespace is applied first even though gateway.yaml sorts first).
  std::string examples = testing::SourceDir() + "/examples/helloworld/";
  r = Run("apply -f " + examples);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("namespace/devops created"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("gateway.networking.istio.io/mobifingw created"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("virtualservice.networking.istio.io/helloworldvs created"), std::string::npos) << r.out;
  r = Run("apply -f " + examples);
  EXPECT_NE(r.out.find("gateway.networking.istio.io/mobifingw unchanged"), std::string::npos) << r.out;

  r = Run("get gateway mobifingw -n devops -o yaml");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto gw = config::ParseYamlNode(r.out, "gw");
  ASSERT_TRUE(gw.ok()) << gw.status();
  EXPECT_EQ((*gw)["spec"]["servers"].items()[0]["tls"]["mode"].Str(), "SIMPLE");
  EXPECT_FALSE((*gw)["metadata"]["managedFields"].Defined());
  // What `get -o yaml` printed can be applied again even after the object changed: its
  // resourceVersion/uid are not sent (a real server takes them as preconditions: 409).
  ASSERT_TRUE((*gw)["metadata"]["resourceVersion"].Defined());
  std::string fetched = dir_.Write("fetched-gateway.yaml", r.out);
  std::string changed = r.out;
  changed.replace(changed.find("mode: SIMPLE"), 12, "mode: PASSTHROUGH");
  r = Run("apply -f " + dir_.Write("changed-gateway.yaml", changed));
  EXPECT_EQ(r.out, "gateway.networking.istio.io/mobifingw configured\n") << r.err;
  r = Run("apply -f " + fetched);
  EXPECT_EQ(r.out, "gateway.networking.istio.io/mobifingw configured\n") << r.err;
  EXPECT_EQ((*cluster_.Find("networking.istio.io", "Gateway", "devops", "mobifingw"))["spec"]["servers"].items()[0]["tls"]["mode"].Str(),
            "SIMPLE");
  r = Run("get vs -n devops");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("helloworldvs"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("NAME"), std::string::npos) << r.out;
  r = Run("get deployments -n istio-system -l app=istiod -o name");
  EXPECT_EQ(r.out, "deployment.apps/istiod\n") << r.err;
  r = Run("get widgets");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("the server doesn't have a resource type \"widgets\""), std::string::npos) << r.err;

  r = Run("delete virtualservice helloworldvs -n devops");
  EXPECT_EQ(r.out, "virtualservice.networking.istio.io \"helloworldvs\" deleted\n") << r.err;
  r = Run("delete virtualservice helloworldvs -n devops");
  EXPECT_EQ(r.exit_code, 1);
  r = Run("delete virtualservice helloworldvs -n devops --ignore-not-found");
  EXPECT_EQ(r.exit_code, 0);

  r = Run("uninstall --purge -y");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(Owned().empty()) << common::Join(Owned(), ", ");
  EXPECT_TRUE(cluster_.ObjectsOfKind("apiextensions.k8s.io", "CustomResourceDefinition").empty());
  // The CRDs took the Istio objects with them; the namespaces stay.
  EXPECT_FALSE(cluster_.Find("networking.istio.io", "Gateway", "devops", "mobifingw").has_value());
  EXPECT_TRUE(cluster_.Find("", "Namespace", "", "istio-system").has_value());
  for (const std::string& p : cluster_.DeletePropagation()) {
    EXPECT_EQ(p, "Background");
  }
  r = Run("uninstall --purge -y");
  EXPECT_EQ(r.out, "Nothing to uninstall.\n") << r.err;
}

TEST_F(KubeCliTest, AnalyzeUseKubeReadsTheClusterAndFilesOverrideIt) {
  ASSERT_EQ(Run("install --profile demo -y --wait=false").exit_code, 0);
  std::string bad = dir_.Write("bad.yaml", R"(apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata:
  name: bad
  namespace: devops
spec:
  hosts: [helloworld.panamaxil.com]
  gateways: [nogw]
  http:
  - route:
    - destination:
        host: helloworldsvc
)");
  auto r = Run(StrCat("apply -f ", testing::SourceDir(), "/examples/helloworld/ -f ", bad));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  r = Run("analyze --use-kube=true -n devops");
  EXPECT_EQ(r.exit_code, 79) << r.out << r.err;
  EXPECT_NE(r.out.find("Error [IST0101] (VirtualService devops/bad) Referenced gateway not found: \"nogw\""),
            std::string::npos)
      << r.out;
  // Without --use-kube nothing is read from the cluster.
  r = Run("analyze -n devops " + bad);
  EXPECT_EQ(r.out.find("Gateway devops/mobifingw"), std::string::npos) << r.out;
  // A file overrides the live object of the same name.
  std::string fixed = dir_.Write("fixed.yaml", R"(apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata:
  name: bad
  namespace: devops
spec:
  hosts: [helloworld.panamaxil.com]
  gateways: [mobifingw]
  http:
  - route:
    - destination:
        host: helloworldsvc
)");
  r = Run("analyze --use-kube=true -n devops " + fixed);
  EXPECT_EQ(r.out.find("nogw"), std::string::npos) << r.out;
  // The cluster has no nodes, so no gateway Pod: the live view says so.
  EXPECT_NE(r.out.find("(Gateway devops/mobifingw) Referenced selector not found: \"istio=ingressgateway\""),
            std::string::npos)
      << r.out;
}

TEST_F(KubeCliTest, UninstallWithoutPurgeKeepsBase) {
  ASSERT_EQ(Run("install --profile demo -y --wait=false").exit_code, 0);
  auto r = Run("uninstall -y");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_FALSE(cluster_.Find("apps", "Deployment", "istio-system", "istiod").has_value());
  EXPECT_EQ(cluster_.ObjectsOfKind("apiextensions.k8s.io", "CustomResourceDefinition").size(), 15u);
  EXPECT_TRUE(cluster_.Find("", "ServiceAccount", "istio-system", "istio-reader-service-account").has_value());
}

TEST_F(KubeCliTest, TargetSelection) {
  testing::TempDir home;
  std::string env = StrCat("env -u KUBECONFIG -u MESHCTL_STATE_DIR -u KUBERNETES_SERVICE_HOST HOME=", home.path(), " ");
  std::string get = StrCat(bin_, " get namespaces -o name");
  // Nothing configured: local mode in ./.meshctl (not created by a read).
  auto r = testing::RunCommand(StrCat("cd ", home.path(), " && ", env, get));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("Target: local mesh state .meshctl [no cluster configured]"), std::string::npos) << r.err;
  // KUBECONFIG: the cluster.
  r = testing::RunCommand(StrCat(env, "KUBECONFIG=", kubeconfig_, " ", get));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("[KUBECONFIG]"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("namespace/kube-system"), std::string::npos) << r.out;
  // MESHCTL_STATE_DIR beats KUBECONFIG (scripts and tests rely on it).
  r = testing::RunCommand(StrCat(env, "KUBECONFIG=", kubeconfig_, " MESHCTL_STATE_DIR=", home.path(), "/s ", get));
  EXPECT_NE(r.err.find("Target: local mesh state"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("kube-system"), std::string::npos) << r.out;
  // ~/.kube/config.
  std::filesystem::create_directories(home.path() + "/.kube");
  std::filesystem::copy_file(kubeconfig_, home.path() + "/.kube/config");
  r = testing::RunCommand(StrCat(env, get));
  EXPECT_NE(r.err.find("[~/.kube/config]"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("namespace/kube-system"), std::string::npos) << r.out;
  // --state-dir beats ~/.kube/config; with --kubeconfig it is a usage error.
  r = testing::RunCommand(StrCat(env, get, " --state-dir ", home.path(), "/s"));
  EXPECT_NE(r.err.find("Target: local mesh state"), std::string::npos) << r.err;
  r = testing::RunCommand(StrCat(env, get, " --state-dir ", home.path(), "/s --kubeconfig ", kubeconfig_));
  EXPECT_EQ(r.exit_code, 64) << r.err;
  // manifest generate needs no cluster at all.
  r = testing::RunCommand(StrCat(env, bin_, " manifest generate --profile demo"));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find("Target:"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace mesh::kube
