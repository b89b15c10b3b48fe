// The istiod container of the rendered demo manifest, run for real: the meshctl binary
// with exactly the rendered arguments (ports moved to free ones, the state directory to a
// temporary one, a kubeconfig for the fake API server instead of the in-cluster config)
// starts, syncs, wins the Lease, publishes istio-ca-root-cert, patches the webhook's
// caBundle, answers its readiness probe and metrics, and releases the Lease on SIGTERM.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include <openssl/evp.h>

#include "gtest/gtest.h"
#include "mesh/common/file_util.h"
#include "mesh/common/strings.h"
#include "mesh/config/yaml_loader.h"
#include "mesh/install/render.h"
#include "mesh/kube/client.h"
#include "tests/common/test_util.h"
#include "tests/kube/fake_apiserver.h"

namespace mesh::kube {
namespace {

using common::StrCat;
using config::Node;

std::string Base64(const std::string& in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

bool Eventually(const std::function<bool()>& pred) {
  return testing::Eventually(pred, std::chrono::seconds(20));  // a full control plane start on a loaded machine
}

TEST(ControlPlaneInCluster, RenderedIstiodCommandRunsAgainstTheApiServer) {
  std::string bin = testing::MeshctlBinary();
  if (bin.empty() || !std::filesystem::exists(bin)) {
    GTEST_SKIP() << "meshctl binary not found";
  }
  install::MergeInputs in;
  in.set_flags = {"profile=demo"};
  auto merged = install::MergeInstallConfig(in);
  ASSERT_TRUE(merged.ok()) << merged.status();
  auto manifest = install::RenderManifest(*merged);
  ASSERT_TRUE(manifest.ok()) << manifest.status();

  fake::FakeCluster cluster(fake::FakeClusterOptions{.crd_established_delay = std::chrono::milliseconds(0)});
  fake::FakeApiServer server(cluster.Handler());
  RestConfig rc;
  rc.server = StrCat("http://127.0.0.1:", server.port());
  std::shared_ptr<KubeClient> client(*NewKubeClient(rc));
  // What install applies first: the namespace, the mesh config, the webhook configuration.
  std::vector<std::string> args;
  ASSERT_TRUE(client->Apply(*config::ParseYamlNode(R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"istio-system"}})", "ns"), {}).ok());
  for (const install::RenderedObject& o : manifest->objects) {
    if ((o.kind == "ConfigMap" && o.name == "istio") || o.kind == "MutatingWebhookConfiguration") {
      auto applied = client->Apply(o.object, {});
      ASSERT_TRUE(applied.ok()) << o.kind << " " << o.name << ": " << applied.status();
    }
    if (o.kind == "Deployment" && o.name == "istiod") {
      for (const Node& a : o.object["spec"]["template"]["spec"]["containers"].items()[0]["args"].items()) {
        args.push_back(a.Str());
      }
    }
  }
  ASSERT_FALSE(args.empty());

  testing::TempDir dir;
  std::string kubeconfig = dir.Write(
      "kubeconfig", StrCat("apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: ", rc.server,
                           "\nusers:\n- name: admin\n  user:\n    token: fake\ncontexts:\n- name: fake\n  context:\n"
                           "    cluster: fake\n    user: admin\ncurrent-context: fake\n"));
  std::string state = dir.path() + "/state";
  std::map<std::string, int> ports;
  for (std::string& a : args) {
    for (const char* flag : {"--port=", "--tls-port=", "--webhook-port=", "--debug-port=", "--monitoring-port="}) {
      if (a.rfind(flag, 0) == 0) {
        ports[flag] = testing::FreeLoopbackPort();
        a = StrCat(flag, ports[flag]);
      }
    }
    if (a == "--address=0.0.0.0") {
      a = "--address=127.0.0.1";
    }
    if (a.rfind("--state-dir=", 0) == 0) {
      a = "--state-dir=" + state;
    }
  }
  ASSERT_EQ(ports.size(), 5u) << common::Join(args, " ");
  args.push_back("--kubeconfig=" + kubeconfig);

  std::string out = dir.path() + "/out";
  pid_t pid = ::fork();
  if (pid == 0) {
    FILE* f = freopen(out.c_str(), "w", stdout);
    FILE* e = freopen((out + ".err").c_str(), "w", stderr);
    (void)f;
    (void)e;
    ::setenv("POD_NAME", "istiod-7d9f-abcde", 1);
    ::setenv("POD_NAMESPACE", "istio-system", 1);
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>("meshctl"));
    for (std::string& a : args) {
      argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    execv(bin.c_str(), argv.data());
    _exit(127);
  }
  auto logs = [&] {
    auto o = common::ReadFile(out);
    auto e = common::ReadFile(out + ".err");
    return StrCat(o.ok() ? *o : "", e.ok() ? *e : "");
  };

  // The leader publishes the root certificate and patches the webhook's caBundle.
  ASSERT_TRUE(Eventually([&] { return cluster.Find("", "ConfigMap", "default", "istio-ca-root-cert").has_value(); }))
      << logs();
  auto root = common::ReadFile(state + "/ca/root-cert.pem");
  ASSERT_TRUE(root.ok()) << root.status();
  for (const char* ns : {"default", "istio-system"}) {
    auto cm = cluster.Find("", "ConfigMap", ns, "istio-ca-root-cert");
    ASSERT_TRUE(cm.has_value()) << ns;
    EXPECT_EQ((*cm)["data"]["root-cert.pem"].Str(), *root);
  }
  EXPECT_FALSE(cluster.Find("", "ConfigMap", "kube-system", "istio-ca-root-cert").has_value());
  auto ca_bundle = [&] {
    auto mwc = cluster.Find("admissionregistration.k8s.io", "MutatingWebhookConfiguration", "", "istio-sidecar-injector");
    return mwc ? (*mwc)["webhooks"].items()[0]["clientConfig"]["caBundle"].Str() : std::string();
  };
  EXPECT_TRUE(Eventually([&] { return ca_bundle() == Base64(*root); })) << logs();
  auto lease = cluster.Find("coordination.k8s.io", "Lease", "istio-system", "meshctl-control-plane-leader");
  ASSERT_TRUE(lease.has_value());
  EXPECT_EQ((*lease)["spec"]["holderIdentity"].Str(), "istiod-7d9f-abcde");

  // The readiness probe's path and port (8080 in the manifest), and the metrics port.
  auto ready = testing::RunCommand(StrCat("curl -s --max-time 10 http://127.0.0.1:", ports["--debug-port="], "/ready"));
  EXPECT_EQ(ready.out, "ok\n") << logs();
  auto metrics =
      testing::RunCommand(StrCat("curl -s --max-time 10 http://127.0.0.1:", ports["--monitoring-port="], "/metrics"));
  EXPECT_NE(metrics.out.find("\npilot_xds 0\n"), std::string::npos) << metrics.out;
  // The webhook over TLS with the published root.
  std::string ca_file = dir.Write("root.pem", *root);
  std::string webhook = std::to_string(ports["--webhook-port="]);
  auto hook = testing::RunCommand("curl -s --max-time 10 --cacert " + ca_file + " --resolve istiod.istio-system.svc:" +
                                  webhook + ":127.0.0.1 https://istiod.istio-system.svc:" + webhook + "/ready");
  EXPECT_EQ(hook.out, "ok\n") << hook.err;
  // The demo mesh config has fields meshctl does not apply: named, not silently dropped.
  EXPECT_NE(logs().find("not applied by meshctl: "), std::string::npos) << logs();
  if (std::getenv("MESH_TEST_VERBOSE")) {
    std::cerr << logs();
  }

  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status << "\n" << logs();
  lease = cluster.Find("coordination.k8s.io", "Lease", "istio-system", "meshctl-control-plane-leader");
  ASSERT_TRUE(lease.has_value());
  EXPECT_FALSE((*lease)["spec"]["holderIdentity"].Defined()) << "released on shutdown";
}

}  // namespace
}  // namespace mesh::kube
