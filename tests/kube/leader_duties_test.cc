// The control plane's cluster writes under leader election, against the fake API server:
// only the Lease holder runs the duties; the root certificate lands in every namespace
// but Kubernetes' own and terminating ones.

#include "mesh/kubestore/leader_duties.h"

#include "mesh/inject/ca_bundle.h"

#include <atomic>
#include <thread>

#include "gtest/gtest.h"
#include "mesh/common/strings.h"
#include "mesh/config/yaml_loader.h"
#include "tests/common/test_util.h"
#include "tests/kube/fake_apiserver.h"

namespace mesh::kubestore {
namespace {

using common::StrCat;
using config::Node;

struct Fixture {
  // A bare API server: deleted namespaces stay Terminating.
  Fixture() : cluster(kube::fake::FakeClusterOptions{.namespace_controller = false}), server(cluster.Handler()) {
    kube::RestConfig rc;
    rc.server = StrCat("http://127.0.0.1:", server.port());
    client = std::shared_ptr<kube::KubeClient>(*kube::NewKubeClient(rc));
    for (const char* ns : {"istio-system", "apps"}) {
      EXPECT_TRUE(client->Apply(*config::ParseYamlNode(StrCat(R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":")",
                                                              ns, R"("}})"),
                                                       "ns"),
                                {})
                      .ok());
    }
  }
  kube::fake::FakeCluster cluster;
  kube::fake::FakeApiServer server;
  std::shared_ptr<kube::KubeClient> client;
};

TEST(LeaderDuties, RootCertificateInEveryApplicationNamespace) {
  Fixture f;
  ASSERT_TRUE(f.client->Apply(*config::ParseYamlNode(R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"leaving"}})", "ns"), {}).ok());
  ASSERT_TRUE(f.client->Delete({"v1", "Namespace", "", "leaving"}, {"Background"}).ok());
  ASSERT_TRUE(PublishRootCertificate(*f.client, "ROOT-1").ok());
  for (const char* ns : {"default", "istio-system", "apps"}) {
    auto cm = f.cluster.Find("", "ConfigMap", ns, "istio-ca-root-cert");
    ASSERT_TRUE(cm.has_value()) << ns;
    EXPECT_EQ((*cm)["data"]["root-cert.pem"].Str(), "ROOT-1");
    EXPECT_EQ((*cm)["metadata"]["labels"]["istio.io/config"].Str(), "true");
  }
  for (const char* ns : {"kube-system", "kube-public", "leaving"}) {
    EXPECT_FALSE(f.cluster.Find("", "ConfigMap", ns, "istio-ca-root-cert").has_value()) << ns;
  }
  // A new root replaces the old one (even over another manager's copy).
  ASSERT_TRUE(PublishRootCertificate(*f.client, "ROOT-2").ok());
  EXPECT_EQ((*f.cluster.Find("", "ConfigMap", "apps", "istio-ca-root-cert"))["data"]["root-cert.pem"].Str(), "ROOT-2");
}

TEST(LeaderDuties, OnlyTheLeaseHolderWritesAndTheOtherTakesOver) {
  Fixture f;
  std::atomic<int> writes_a{0}, writes_b{0};
  auto options = [&](const std::string& id, std::atomic<int>& counter) {
    LeaderDutiesOptions o;
    o.election.client = f.client;
    o.election.identity = id;
    o.election.retry_period = std::chrono::milliseconds(20);
    o.resync = std::chrono::milliseconds(20);
    o.duties.push_back({"count", [&counter]() -> absl::Status {
                          ++counter;
                          return absl::OkStatus();
                        }});
    return o;
  };
  auto a = LeaderDuties::Start(options("cp-a", writes_a));
  ASSERT_TRUE(mesh::testing::Eventually([&] { return writes_a > 0; }));
  auto b = LeaderDuties::Start(options("cp-b", writes_b));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_TRUE(a->IsLeader());
  EXPECT_FALSE(b->IsLeader());
  EXPECT_EQ(writes_b.load(), 0);
  a->Stop();  // releases the Lease
  int a_total = writes_a.load();
  EXPECT_TRUE(mesh::testing::Eventually([&] { return writes_b > 0; }));
  EXPECT_EQ(writes_a.load(), a_total);  // a stopped writing
  b->Stop();
}

// The elected replica keeps the webhook configurations' caBundle right: written when it
// starts leading, and written again after something (a re-install) wiped it.
TEST(LeaderDuties, WebhookCaBundleIsPatchedAndRepairedByTheLeader) {
  Fixture f;
  f.cluster.Put(*config::ParseYamlNode(R"({"apiVersion":"admissionregistration.k8s.io/v1",
    "kind":"MutatingWebhookConfiguration",
    "metadata":{"name":"istio-sidecar-injector","labels":{"app":"sidecar-injector","istio.io/rev":"default"}},
    "webhooks":[{"name":"rev.namespace.sidecar-injector.istio.io","clientConfig":{"service":{"name":"istiod","namespace":"istio-system","path":"/inject"}},
      "sideEffects":"None","admissionReviewVersions":["v1"]}]})", "mwc"), "meshctl");
  const std::string pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
  auto ca_bundle = [&] {
    auto mwc = f.cluster.Find("admissionregistration.k8s.io", "MutatingWebhookConfiguration", "",
                              "istio-sidecar-injector");
    return mwc ? (*mwc)["webhooks"].items()[0]["clientConfig"]["caBundle"].Str() : std::string("?");
  };
  LeaderDutiesOptions o;
  o.election.client = f.client;
  o.election.identity = "cp-a";
  o.election.retry_period = std::chrono::milliseconds(20);
  o.resync = std::chrono::hours(1);  // only Kick() and gaining leadership run the duties here
  auto client = f.client;
  o.duties.push_back({"webhook caBundle", [client, pem]() -> absl::Status {
                        return mesh::inject::PatchWebhookCaBundles(*client, pem).status();
                      }});
  auto duties = LeaderDuties::Start(std::move(o));
  EXPECT_TRUE(mesh::testing::Eventually([&] { return !ca_bundle().empty(); }));
  EXPECT_EQ(ca_bundle(), "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUIKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo=");
  // A re-install puts the configuration back without caBundle; a rotation kicks the duties.
  auto wiped = f.cluster.Find("admissionregistration.k8s.io", "MutatingWebhookConfiguration", "",
                              "istio-sidecar-injector");
  wiped->FindMutable("webhooks")->mutable_items()[0].FindMutable("clientConfig")->Erase("caBundle");
  Node patch = Node::Map();
  patch.Set("webhooks", (*wiped)["webhooks"]);  // lists merge-patch whole
  ASSERT_TRUE(f.client->MergePatch({"admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration", "",
                                    "istio-sidecar-injector"},
                                   patch)
                  .ok());
  ASSERT_EQ(ca_bundle(), "");
  duties->Kick();
  EXPECT_TRUE(mesh::testing::Eventually([&] { return !ca_bundle().empty(); }));
  EXPECT_GE(duties->Runs()["webhook caBundle"], 2);
  duties->Stop();
}

}  // namespace
}  // namespace mesh::kubestore
