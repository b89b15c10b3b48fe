// mesh/install's cluster installer against the FakeCluster, with an injected clock so
// readiness timeouts (even the 300 s default) are tested without waiting.

#include "mesh/install/kube_installer.h"

#include "gtest/gtest.h"
#include "mesh/common/strings.h"
#include "mesh/config/yaml_loader.h"
#include "tests/kube/fake_apiserver.h"

namespace mesh::install {
namespace {

using common::StrCat;

// Sleeping advances the clock: a poll loop runs at once, deterministically.
class SteppingClock : public common::TimeSource {
 public:
  std::chrono::system_clock::time_point SystemNow() const override { return std::chrono::system_clock::time_point(now_); }
  std::chrono::steady_clock::time_point MonotonicNow() const override {
    return std::chrono::steady_clock::time_point(now_);
  }
  void Advance(std::chrono::milliseconds d) { now_ += d; }

 private:
  std::chrono::milliseconds now_{1000000};
};

struct Env {
  explicit Env(bool ready, bool namespace_controller = true)
      : cluster(kube::fake::FakeClusterOptions{.crd_established_delay = std::chrono::milliseconds(0),
                                               .deployments_ready = ready,
                                               .namespace_controller = namespace_controller}),
        server(cluster.Handler()) {
    kube::RestConfig rc;
    rc.server = StrCat("http://127.0.0.1:", server.port());
    client = *kube::NewKubeClient(rc);
    clock = std::make_shared<SteppingClock>();
    options.clock = clock;
    options.sleep = [c = clock.get(), this](std::chrono::milliseconds d) {
      c->Advance(d);
      ++sleeps;
    };
    options.poll_interval = std::chrono::seconds(10);
    options.progress = [this](const std::string& line) { lines.push_back(line); };
  }
  absl::StatusOr<KubeInstallResult> Install(const MergeInputs& in) {
    auto merged = MergeInstallConfig(in);
    EXPECT_TRUE(merged.ok()) << merged.status();
    auto manifest = RenderManifest(*merged);
    EXPECT_TRUE(manifest.ok()) << manifest.status();
    return InstallToCluster(*client, *manifest, *merged, options);
  }

  kube::fake::FakeCluster cluster;
  kube::fake::FakeApiServer server;
  std::unique_ptr<kube::KubeClient> client;
  std::shared_ptr<SteppingClock> clock;
  KubeInstallOptions options;
  std::vector<std::string> lines;
  int sleeps = 0;
};

// A bare API server keeps a deleted namespace Terminating for ever; re-applying what is
// already there would "succeed", so the installer says what is wrong instead.
TEST(KubeInstallerTest, TerminatingNamespaceIsAClearError) {
  Env env(true, /*namespace_controller=*/false);
  ASSERT_TRUE(env.Install({.profile = "minimal"}).ok());
  ASSERT_TRUE(env.client->Delete({"v1", "Namespace", "", "istio-system"}, {"Background"}).ok());
  auto r = env.Install({.profile = "minimal"});
  ASSERT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition) << r.status();
  EXPECT_NE(r.status().message().find("Namespace istio-system is being deleted (Terminating since "), std::string::npos)
      << r.status();
}

TEST(KubeInstallerTest, DefaultReadinessTimeoutNamesComponentAndDeployment) {
  Env env(false);
  auto r = env.Install({.profile = "minimal"});
  ASSERT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded) << r.status();
  EXPECT_EQ(std::string(r.status().message()),
            "Istiod is not ready after 5m0s (--readiness-timeout): Deployment/istio-system/istiod: 0/1 replicas "
            "ready, 1 updated, 0 available; Available: Deployment does not have minimum availability.");
  // 300 s in 10 s polls.
  EXPECT_EQ(env.sleeps, 30);
  EXPECT_NE(std::find(env.lines.begin(), env.lines.end(), "\u2714 Istio core installed"), env.lines.end());
  // Applied before waiting, so the cluster has the whole install.
  EXPECT_TRUE(env.cluster.Find("apps", "Deployment", "istio-system", "istiod").has_value());
}

TEST(KubeInstallerTest, ReadyClusterCompletesAndWaitFalseSkipsTheWait) {
  Env ready(true);
  auto r = ready.Install({.profile = "demo"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(ready.sleeps, 0);
  for (const char* line : {"\u2714 Istio core installed", "\u2714 Istiod installed", "\u2714 Ingress gateways installed",
                           "\u2714 Egress gateways installed"}) {
    EXPECT_NE(std::find(ready.lines.begin(), ready.lines.end(), line), ready.lines.end()) << line;
  }
  EXPECT_EQ(r->applied, 42);

  Env not_ready(false);
  not_ready.options.wait = false;
  auto skipped = not_ready.Install({.profile = "demo"});
  ASSERT_TRUE(skipped.ok()) << skipped.status();
  EXPECT_EQ(not_ready.sleeps, 0);
}

TEST(KubeInstallerTest, CrdsThatNeverBecomeEstablishedFailClearly) {
  kube::fake::FakeCluster cluster(kube::fake::FakeClusterOptions{.crd_established_delay = std::chrono::hours(1)});
  kube::fake::FakeApiServer server(cluster.Handler());
  kube::RestConfig rc;
  rc.server = StrCat("http://127.0.0.1:", server.port());
  auto client = *kube::NewKubeClient(rc);
  auto clock = std::make_shared<SteppingClock>();
  KubeInstallOptions options;
  options.clock = clock;
  options.sleep = [&](std::chrono::milliseconds d) { clock->Advance(d); };
  options.poll_interval = std::chrono::seconds(5);
  auto merged = *MergeInstallConfig({.profile = "minimal"});
  auto r = InstallToCluster(*client, *RenderManifest(merged), merged, options);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_NE(std::string(r.status().message()).find("is not Established after 1m0s"), std::string::npos) << r.status();
  // Nothing but CRDs (and the namespace) was applied.
  EXPECT_FALSE(cluster.Find("apps", "Deployment", "istio-system", "istiod").has_value());
}

TEST(KubeInstallerTest, FirstMissingFieldIgnoresServerAddedFields) {
  auto want = *config::ParseYamlNode(R"({"spec":{"a":1,"l":[{"x":"y"}]},"metadata":{"labels":{"k":"v"}}})", "w");
  auto got = *config::ParseYamlNode(
      R"({"spec":{"a":1,"b":2,"l":[{"x":"y","z":0}]},"metadata":{"labels":{"k":"v"},"uid":"u"},"status":{}})", "g");
  EXPECT_EQ(FirstMissingField(want, got), "");
  auto drift = *config::ParseYamlNode(R"({"spec":{"a":2,"l":[{"x":"y"}]},"metadata":{"labels":{"k":"v"}}})", "d");
  EXPECT_EQ(FirstMissingField(want, drift), "spec.a: want \"1\", got \"2\"");
  auto missing = *config::ParseYamlNode(R"({"spec":{"a":1,"l":[]},"metadata":{}})", "m");
  EXPECT_NE(FirstMissingField(want, missing), "");
}

// What a real API server stores differs from what was applied without being drift:
// canonical quantities, and empty strings/lists left out (omitempty).
TEST(KubeInstallerTest, FirstMissingFieldAcceptsServerNormalisation) {
  auto want = *config::ParseYamlNode(
      R"({"r":{"cpu":"2000m","memory":"1024Mi","small":"100m","exp":"1e3"},"env":[{"name":"A","value":""}],"l":[]})", "w");
  auto got = *config::ParseYamlNode(R"({"r":{"cpu":"2","memory":"1Gi","small":"100m","exp":"1k"},"env":[{"name":"A"}]})", "g");
  EXPECT_EQ(FirstMissingField(want, got), "");
  auto other = *config::ParseYamlNode(R"({"r":{"cpu":"2001m","memory":"1Gi","small":"100m","exp":"1k"},"env":[{"name":"A"}]})", "o");
  EXPECT_EQ(FirstMissingField(want, other), "r.cpu: want \"2000m\", got \"2001m\"");
  auto text = *config::ParseYamlNode(R"({"a":"abc"})", "t");
  EXPECT_NE(FirstMissingField(text, *config::ParseYamlNode(R"({"a":"abd"})", "t2")), "");
  EXPECT_NE(FirstMissingField(text, *config::ParseYamlNode(R"({})", "t3")), "");
}

}  // namespace
}  // namespace mesh::install
