// End-to-end tests of the meshctl binary on a fresh local state directory.

#include <filesystem>

#include "gtest/gtest.h"
#include "mesh/config/yaml_loader.h"
#include "tests/common/test_util.h"

namespace mesh::install {
namespace {

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    bin_ = testing::MeshctlBinary();
    if (bin_.empty()) {
      // ctest may not pass MESHCTL_BIN; the binary sits at build/bin next to build/tests.
      std::error_code ec;
      auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
      if (!ec) {
        bin_ = (self.parent_path().parent_path() / "bin" / "meshctl").string();
      }
    }
    if (bin_.empty() || !std::filesystem::exists(bin_)) {
      GTEST_SKIP() << "meshctl binary not found (set MESHCTL_BIN)";
    }
    state_ = dir_.path() + "/state";
  }
  testing::CommandResult Run(const std::string& args, const std::string& stdin_data = "") {
    return testing::RunCommand(bin_ + " " + args + " --state-dir " + state_, stdin_data);
  }
  // For commands that do not touch the state (manifest, profile).
  testing::CommandResult RunStateless(const std::string& args) { return testing::RunCommand(bin_ + " " + args); }
  int CountFiles() {
    int n = 0;
    if (!std::filesystem::exists(state_)) {
      return 0;
    }
    for (const auto& e : std::filesystem::recursive_directory_iterator(state_)) {
      n += e.path().extension() == ".yaml" ? 1 : 0;
    }
    return n;
  }

  std::string bin_;
  testing::TempDir dir_;
  std::string state_;
};

TEST_F(CliTest, InstallDemoNodePortGetVerifyReinstall) {
  auto r = Run("install --profile demo --set values.gateways.istio-ingressgateway.type=NodePort -y");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out.find("Proceed?"), std::string::npos);
  for (const char* line : {"\u2714 Istio core installed\n", "\u2714 Istiod installed\n",
                           "\u2714 Ingress gateways installed\n", "\u2714 Egress gateways installed\n",
                           "\u2714 Installation complete\n"}) {
    EXPECT_NE(r.out.find(line), std::string::npos) << line << "\n" << r.out;
  }
  EXPECT_LT(r.out.find("Istio core installed"), r.out.find("Istiod installed"));

  r = Run("get deployments -n istio-system");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.substr(0, r.out.find('\n')).find("NAME"), 0u);
  for (const char* name : {"\nistio-egressgateway ", "\nistio-ingressgateway ", "\nistiod "}) {
    EXPECT_NE(r.out.find(name), std::string::npos) << r.out;
  }

  r = Run("get svc istio-ingressgateway -n istio-system -o yaml");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto svc = config::ParseYamlNode(r.out, "svc");
  ASSERT_TRUE(svc.ok()) << svc.status();
  EXPECT_EQ((*svc)["kind"].Str(), "Service");
  EXPECT_EQ((*svc)["spec"]["type"].Str(), "NodePort");
  ASSERT_EQ((*svc)["spec"]["ports"].size(), 5u);
  EXPECT_EQ((*svc)["spec"]["ports"].items()[0]["name"].Str(), "status-port");
  EXPECT_EQ((*svc)["spec"]["ports"].items()[0]["port"].Str(), "15021");
  EXPECT_FALSE((*svc)["metadata"]["resourceVersion"].Str().empty());

  r = Run("verify-install");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("\u2714 Istio is installed and verified successfully"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Checked 15 custom resource definitions"), std::string::npos);
  EXPECT_NE(r.out.find("Checked 3 Istio Deployments"), std::string::npos);

  r = Run("install --profile demo --set values.gateways.istio-ingressgateway.type=NodePort -y");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("No changes"), std::string::npos) << r.out;

  // Drift is reported.
  r = Run("label deployment istiod -n istio-system touched=yes");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = Run("verify-install");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("Deployment: istiod.istio-system: metadata.labels.touched"), std::string::npos) << r.out;

  r = Run("uninstall --purge -y");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\u2714 Uninstall complete"), std::string::npos);
  r = Run("get deployments -n istio-system");
  EXPECT_NE(r.err.find("No resources found in istio-system namespace."), std::string::npos) << r.err;
}

TEST_F(CliTest, ConcurrentInstallsLeaveAConsistentState) {
  std::string cmd = bin_ + " install --profile demo -y --state-dir " + state_;
  auto r = testing::RunCommand("(" + cmd + " >/dev/null & " + cmd + " >/dev/null & " + cmd +
                               " >/dev/null & wait) && echo all-done");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("all-done"), std::string::npos);
  r = Run("verify-install");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(CountFiles(), 44);  // 42 objects + namespace + installed-state, no leftovers
  r = Run("install --profile demo -y");
  EXPECT_NE(r.out.find("No changes"), std::string::npos) << r.out;
}

TEST_F(CliTest, PromptAndDryRunChangeNothing) {
  auto r = Run("install --profile demo", "n\n");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("This will install the Istio 1.29.0 profile \"demo\" into the local mesh state (" + state_ +
                       "). Proceed? (y/N)"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("Cancelled."), std::string::npos);
  EXPECT_EQ(CountFiles(), 0);
  r = Run("install --profile demo", "");  // EOF cancels
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(CountFiles(), 0);
  r = Run("install --profile demo --dry-run");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("nothing was changed"), std::string::npos);
  EXPECT_EQ(CountFiles(), 0);
  r = Run("install --profile minimal", "Y\n");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_GT(CountFiles(), 30);
}

TEST_F(CliTest, ApplyValidatesFirstAndWritesNothingOnError) {
  std::string good = dir_.Write("good.yaml",
                                "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata:\n  name: gw\nspec:\n"
                                "  selector: {istio: ingressgateway}\n  servers:\n  - port: {number: 80, name: http, "
                                "protocol: HTTP}\n    hosts: ['*']\n");
  std::string bad = dir_.Write("bad.yaml",
                               "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata:\n  name: gw2\nspec:\n"
                               "  servers:\n  - port:\n      number: eighty\n");
  auto r = Run("apply -f " + good + " -f " + bad);
  EXPECT_EQ(r.exit_code, 65);
  EXPECT_NE(r.err.find(bad + ":8:7:"), std::string::npos) << r.err;
  EXPECT_EQ(CountFiles(), 0);

  r = Run("apply -f -", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Bad_Name\n");
  EXPECT_EQ(r.exit_code, 65);
  EXPECT_NE(r.err.find("-:1:1: ConfigMap \"Bad_Name\" is invalid: metadata.name"), std::string::npos) << r.err;
  EXPECT_EQ(CountFiles(), 0);

  r = Run("apply -f " + good);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "gateway.networking.istio.io/gw created\n");
  r = Run("apply -f -", "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata:\n  name: gw\nspec:\n"
                        "  selector: {istio: ingressgateway}\n  servers:\n  - port: {number: 80, name: http, "
                        "protocol: HTTP}\n    hosts: ['*']\n");
  EXPECT_EQ(r.out, "gateway.networking.istio.io/gw unchanged\n") << r.err;
  r = Run("get gateways.networking.istio.io -o name");
  EXPECT_EQ(r.out, "gateway.networking.istio.io/gw\n");
  r = Run("get gw nope");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("NotFound"), std::string::npos);
  r = Run("delete -f " + good);
  EXPECT_EQ(r.out, "gateway.networking.istio.io \"gw\" deleted\n");
  r = Run("delete gw gw");
  EXPECT_EQ(r.exit_code, 1);
}

TEST_F(CliTest, NamespacesLabelsSecretsAndCheckInject) {
  auto r = Run("create namespace shop");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "namespace/shop created\n");
  r = Run("create namespace shop");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("AlreadyExists"), std::string::npos);
  r = Run("label namespace shop istio-injection=enabled");
  EXPECT_EQ(r.out, "namespace/shop labeled\n");
  r = Run("label namespace shop istio-injection=disabled");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("already has a value (enabled), and --overwrite is false"), std::string::npos);
  r = Run("get ns shop -o json");
  EXPECT_NE(r.out.find("\"istio-injection\": \"enabled\""), std::string::npos) << r.out;
  r = Run("label namespace missing a=b");
  EXPECT_EQ(r.exit_code, 1);

  ASSERT_EQ(Run("install --profile minimal -y").exit_code, 0);
  std::string dep = dir_.Write("dep.yaml",
                               "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\n"
                               "spec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata:\n"
                               "      labels: {app: web}\n    spec:\n      containers: [{name: web, image: nginx}]\n");
  ASSERT_EQ(Run("apply -f " + dep).exit_code, 0);
  r = Run("x check-inject -n shop");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Deployment/web"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("namespace label istio-injection=enabled"), std::string::npos) << r.out;
  ASSERT_EQ(Run("label namespace shop istio-injection=disabled --overwrite").exit_code, 0);
  r = Run("x check-inject web -n shop");
  EXPECT_NE(r.out.find("\u2718"), std::string::npos) << r.out;

  // TLS secret from a real key pair (openssl), and a mismatched pair is refused.
  std::string d = dir_.path();
  auto gen = testing::RunCommand("cd " + d +
                                 " && openssl req -x509 -newkey rsa:2048 -nodes -keyout a.key -out a.crt -days 1 "
                                 "-subj /CN=a 2>/dev/null && openssl req -x509 -newkey rsa:2048 -nodes -keyout b.key "
                                 "-out b.crt -days 1 -subj /CN=b 2>/dev/null");
  if (gen.exit_code != 0) {
    GTEST_SKIP() << "openssl not available";
  }
  r = Run("create secret tls shop-cert --cert " + d + "/a.crt --key " + d + "/a.key -n shop");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "secret/shop-cert created\n");
  r = Run("get secret shop-cert -n shop -o yaml");
  EXPECT_NE(r.out.find("type: kubernetes.io/tls"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("tls.crt: "), std::string::npos);
  r = Run("create secret tls bad --cert " + d + "/a.crt --key " + d + "/b.key -n shop");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("private key does not match public key"), std::string::npos) << r.err;

  // Deleting the namespace deletes what is in it.
  r = Run("delete namespace shop");
  EXPECT_EQ(r.out, "namespace \"shop\" deleted\n");
  r = Run("get secret shop-cert -n shop");
  EXPECT_EQ(r.exit_code, 1);
  r = Run("get deploy -n shop");
  EXPECT_NE(r.err.find("No resources found in shop namespace."), std::string::npos);
}

TEST_F(CliTest, ManifestGenerateAndProfiles) {
  auto r = RunStateless("manifest generate --profile demo");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(testing::CompareGolden("install/demo.golden.yaml", r.out), "");
  r = RunStateless("profile list");
  EXPECT_EQ(r.out, "Istio configuration profiles:\n    default\n    demo\n    empty\n    minimal\n    preview\n    remote\n");
  r = RunStateless("profile diff default default");
  EXPECT_EQ(r.exit_code, 0);
  r = RunStateless("profile diff default demo");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("+  profile: demo"), std::string::npos) << r.out;
  r = RunStateless("profile dump demo -o flags -p components.egressGateways");
  EXPECT_EQ(r.out, "[0].enabled=true\n[0].name=\"istio-egressgateway\"\n");
  r = RunStateless("profile dump -o flags");
  EXPECT_EQ(r.out.rfind("components.base.enabled=true\n", 0), 0u) << r.out;
  // -f - reads the IstioOperator from stdin; --set values are never split on commas.
  r = testing::RunCommand(bin_ + " manifest generate -f - --set meshConfig.defaultConfig.proxyMetadata.X=a,b",
                          "apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nspec:\n  profile: minimal\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("name: istio-ingressgateway"), std::string::npos);
  EXPECT_NE(r.out.find("X: a,b"), std::string::npos);
  r = RunStateless("manifest generate --set values.pilot.bogus=1");
  EXPECT_EQ(r.exit_code, 64);
  EXPECT_NE(r.err.find("spec.values.pilot.bogus"), std::string::npos);
}

}  // namespace
}  // namespace mesh::install
