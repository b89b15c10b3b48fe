// The FakeCluster fixture follows the API conventions the CLI tests rely on; checked
// through the real KubeClient.

#include "gtest/gtest.h"
#include "mesh/common/strings.h"
#include "mesh/config/yaml_loader.h"
#include "mesh/kube/client.h"
#include "mesh/kube/resource_names.h"
#include "tests/kube/fake_apiserver.h"

namespace mesh::kube {
namespace {

using common::StrCat;
using config::Node;

Node Json(const std::string& text) { return *config::ParseYamlNode(text, "test"); }

const char kCrd[] = R"({"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition",
 "metadata":{"name":"widgets.example.com"},
 "spec":{"group":"example.com","scope":"Namespaced","names":{"plural":"widgets","singular":"widget","kind":"Widget","shortNames":["wd"]},
  "versions":[{"name":"v1","served":true,"storage":true,"schema":{"openAPIV3Schema":{"type":"object","x-kubernetes-preserve-unknown-fields":true}}}]}})";

struct Fixture {
  explicit Fixture(std::chrono::milliseconds crd_delay)
      : cluster(fake::FakeClusterOptions{.crd_established_delay = crd_delay}), server(cluster.Handler()) {
    RestConfig rc;
    rc.server = StrCat("http://127.0.0.1:", server.port());
    client = *NewKubeClient(rc);
  }
  fake::FakeCluster cluster;
  fake::FakeApiServer server;
  std::unique_ptr<KubeClient> client;
};

TEST(FakeClusterTest, CrdsAreServedOnlyOnceEstablished) {
  Fixture never(std::chrono::hours(1));
  ASSERT_TRUE(never.client->Apply(Json(kCrd), {}).ok());
  auto crd = never.client->Get({"apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "widgets.example.com"});
  ASSERT_TRUE(crd.ok()) << crd.status();
  EXPECT_FALSE(crd->At({"status", "conditions"}).Defined());
  EXPECT_EQ(never.client->Resolve("example.com/v1", "Widget").status().code(), absl::StatusCode::kNotFound);

  Fixture at_once(std::chrono::milliseconds(0));
  ASSERT_TRUE(at_once.client->Apply(Json(kCrd), {}).ok());
  crd = at_once.client->Get({"apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "widgets.example.com"});
  ASSERT_TRUE(crd.ok());
  EXPECT_EQ(crd->At({"status", "conditions"}).items()[1]["type"].Str(), "Established");
  auto info = ResolveResourceName(*at_once.client, "widgets");
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->resource, "widgets");
  EXPECT_TRUE(info->namespaced);
  EXPECT_EQ(ResolveResourceName(*at_once.client, "widget.example.com")->kind, "Widget");

  // Objects of the CRD live and die with it.
  ASSERT_TRUE(at_once.client->Apply(Json(R"({"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w","namespace":"default"},"spec":{"size":1}})"), {}).ok());
  ASSERT_TRUE(at_once.client->Get({"example.com/v1", "Widget", "default", "w"}).ok());
  ASSERT_TRUE(at_once.client->Delete({"apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "widgets.example.com"}, {}).ok());
  EXPECT_FALSE(at_once.cluster.Find("example.com", "Widget", "default", "w").has_value());
}

TEST(FakeClusterTest, ServerSideApplyVersionsConflictsAndErrors) {
  Fixture f(std::chrono::milliseconds(0));
  Node cm = Json(R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","namespace":"default","labels":{"app":"a"}},"data":{"k":"1"}})");
  auto created = f.client->Apply(cm, {});
  ASSERT_TRUE(created.ok()) << created.status();
  std::string rv = created->At({"metadata", "resourceVersion"}).Str();
  EXPECT_FALSE(rv.empty());
  EXPECT_EQ(created->At({"metadata", "generation"}).Str(), "1");
  EXPECT_EQ(created->At({"metadata", "managedFields"}).items()[0]["manager"].Str(), "meshctl");
  // The same apply again is a no-op: same resourceVersion.
  EXPECT_EQ(f.client->Apply(cm, {})->At({"metadata", "resourceVersion"}).Str(), rv);
  Node changed = Json(R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","namespace":"default"},"data":{"k":"2"}})");
  EXPECT_NE(f.client->Apply(changed, {})->At({"metadata", "resourceVersion"}).Str(), rv);

  // Another manager's different value is a 409 Conflict unless forced.
  auto conflict = f.client->Apply(cm, {.field_manager = "other"});
  EXPECT_EQ(conflict.status().code(), absl::StatusCode::kAborted) << conflict.status();
  EXPECT_EQ(KubeReason(conflict.status()), "Conflict");
  EXPECT_TRUE(f.client->Apply(cm, {.field_manager = "other", .force = true}).ok());

  // A namespaced object needs its namespace; a second delete is 404.
  auto no_ns = f.client->Apply(Json(R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","namespace":"nope"}})"), {});
  EXPECT_EQ(no_ns.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(KubeMessage(no_ns.status()), "namespaces \"nope\" not found");
  EXPECT_TRUE(f.client->Delete({"v1", "ConfigMap", "default", "c"}, {"Foreground"}).ok());
  auto again = f.client->Delete({"v1", "ConfigMap", "default", "c"}, {});
  EXPECT_EQ(again.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(KubeMessage(again), "configmaps \"c\" not found");
  EXPECT_EQ(f.cluster.DeletePropagation().front(), "Foreground");
}

TEST(FakeClusterTest, ListSelectorsPagingGoneAndWatchReplay) {
  Fixture f(std::chrono::milliseconds(0));
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(f.client->Apply(Json(StrCat(R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c)", i,
                                            R"(","namespace":"default","labels":{"tier":")", i % 2 ? "odd" : "even",
                                            R"("}}})")), {}).ok());
  }
  auto odd = f.client->ListAll({"v1", "ConfigMap", "", ""}, {.label_selector = "tier=odd"});
  ASSERT_TRUE(odd.ok()) << odd.status();
  EXPECT_EQ(odd->items.size(), 2u);
  EXPECT_EQ(f.client->ListAll({"v1", "ConfigMap", "default", ""}, {.label_selector = "tier!=odd"})->items.size(), 3u);
  EXPECT_EQ(f.client->ListAll({"v1", "ConfigMap", "default", ""}, {.label_selector = "!tier"})->items.size(), 0u);
  auto paged = f.client->ListAll({"v1", "ConfigMap", "default", ""}, {.limit = 2});
  ASSERT_TRUE(paged.ok());
  EXPECT_EQ(paged->items.size(), 5u);

  auto first = f.client->List({"v1", "ConfigMap", "default", ""}, {.limit = 2});
  ASSERT_TRUE(first.ok());
  ASSERT_FALSE(first->continue_token.empty());
  std::string rv = first->resource_version;
  // A write in between makes the continue token stale: 410 Expired.
  ASSERT_TRUE(f.client->MergePatch({"v1", "ConfigMap", "default", "c0"}, Json(R"({"data":{"x":"y"}})")).ok());
  auto stale = f.client->List({"v1", "ConfigMap", "default", ""}, {.limit = 2, .continue_token = first->continue_token});
  EXPECT_TRUE(IsGone(stale.status())) << stale.status();

  // A watch from the list's resourceVersion replays the change.
  std::vector<std::string> events;
  auto st = f.client->Watch({"v1", "ConfigMap", "default", ""}, {.resource_version = rv}, [&](const WatchEvent& ev) {
    events.push_back(StrCat(ev.type, ":", ev.object.At({"metadata", "name"}).Str()));
    return true;
  });
  ASSERT_TRUE(st.ok()) << st;
  ASSERT_GE(events.size(), 1u);
  EXPECT_EQ(events[0], "MODIFIED:c0");
  EXPECT_TRUE(IsGone(f.client->Watch({"v1", "ConfigMap", "default", ""}, {.resource_version = "1"},
                                     [](const WatchEvent&) { return true; })));
}

TEST(FakeClusterTest, DeploymentsNeverBecomeReady) {
  Fixture f(std::chrono::milliseconds(0));
  auto d = f.client->Apply(Json(R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d","namespace":"default"},"spec":{"replicas":2}})"), {});
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->At({"status", "unavailableReplicas"}).Str(), "2");
  EXPECT_FALSE(d->At({"status", "readyReplicas"}).Defined());
}

// A bare kube-apiserver (no controller-manager): a deleted namespace stays Terminating
// with its objects, and nothing new can be created in it.
TEST(FakeClusterTest, NamespaceStaysTerminatingWithoutANamespaceController) {
  fake::FakeCluster cluster(fake::FakeClusterOptions{.namespace_controller = false});
  fake::FakeApiServer server(cluster.Handler());
  RestConfig rc;
  rc.server = StrCat("http://127.0.0.1:", server.port());
  auto client = *NewKubeClient(rc);
  ASSERT_TRUE(client->Apply(Json(R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"gone"}})"), {}).ok());
  ASSERT_TRUE(client->Apply(Json(R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","namespace":"gone"}})"), {}).ok());
  ASSERT_TRUE(client->Delete({"v1", "Namespace", "", "gone"}, {"Background"}).ok());
  auto ns = client->Get({"v1", "Namespace", "", "gone"});
  ASSERT_TRUE(ns.ok()) << ns.status();
  EXPECT_EQ(ns->At({"status", "phase"}).Str(), "Terminating");
  EXPECT_TRUE(ns->At({"metadata", "deletionTimestamp"}).Defined());
  EXPECT_TRUE(client->Get({"v1", "ConfigMap", "gone", "a"}).ok());
  auto created = client->Apply(Json(R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"b","namespace":"gone"}})"), {});
  EXPECT_EQ(created.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(KubeMessage(created.status()),
            "configmaps \"b\" is forbidden: unable to create new content in namespace gone because it is being terminated");
  EXPECT_EQ(KubeReason(created.status()), "Forbidden");
}

}  // namespace
}  // namespace mesh::kube
