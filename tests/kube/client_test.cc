// KubeClient against an in-process fake API server (Beast, loopback, port 0) that follows
// the API conventions: Status objects, continue tokens, chunked watch streams, 410 Gone.

#include "mesh/kube/client.h"

#include <atomic>
#include <mutex>
#include <thread>

#include "gtest/gtest.h"
#include "mesh/common/file_util.h"
#include "mesh/common/strings.h"
#include "mesh/config/yaml_loader.h"
#include "tests/common/test_util.h"
#include "tests/kube/fake_apiserver.h"

namespace mesh::kube {
namespace {

using common::StrCat;

const char kDiscoveryCoreV1[] = R"({"kind":"APIResourceList","groupVersion":"v1","resources":[
 {"name":"namespaces","namespaced":false,"kind":"Namespace","verbs":["get"]},
 {"name":"configmaps","namespaced":true,"kind":"ConfigMap","verbs":["get"]},
 {"name":"pods/status","namespaced":true,"kind":"Pod","verbs":["get"]}]})";
const char kDiscoveryIstio[] = R"({"kind":"APIResourceList","groupVersion":"networking.istio.io/v1beta1","resources":[
 {"name":"virtualservices","namespaced":true,"kind":"VirtualService","verbs":["get"]}]})";

using fake::FakeHandler;
using fake::FakeResponse;
using fake::SeenRequest;
using fake::StatusJson;

// The shared fixture, with the two discovery documents these tests rely on.
class FakeApiServer : public fake::FakeApiServer {
 public:
  explicit FakeApiServer(FakeHandler handler, const std::string& tls_dir = "")
      : fake::FakeApiServer(
            [handler = std::move(handler)](const SeenRequest& r) -> FakeResponse {
              if (r.target == "/api/v1") {
                return {200, kDiscoveryCoreV1};
              }
              if (r.target == "/apis/networking.istio.io/v1beta1") {
                return {200, kDiscoveryIstio};
              }
              return handler(r);
            },
            tls_dir) {}
};

RestConfig PlainConfig(int port) {
  RestConfig rc;
  rc.server = StrCat("http://127.0.0.1:", port);
  rc.bearer_token = "secret";
  rc.namespace_name = "apps";
  return rc;
}

config::Node Json(const std::string& text) { return *config::ParseYamlNode(text, "test"); }

TEST(KubeClientTest, GetUsesDiscoveryPathsAndBearerToken) {
  FakeApiServer server([](const SeenRequest& r) -> FakeResponse {
    if (r.target == "/api/v1/namespaces/apps/configmaps/cfg") {
      return {200, R"({"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"cfg"},"data":{"k":"v"}})"};
    }
    if (r.target == "/api/v1/namespaces/web") {
      return {200, R"({"kind":"Namespace","apiVersion":"v1","metadata":{"name":"web"}})"};
    }
    return {404, StatusJson(404, "NotFound", "configmaps \"nope\" not found")};
  });
  auto client = NewKubeClient(PlainConfig(server.port()));
  ASSERT_TRUE(client.ok()) << client.status();
  auto cm = (*client)->Get({"v1", "ConfigMap", "", "cfg"});  // namespace from the context
  ASSERT_TRUE(cm.ok()) << cm.status();
  EXPECT_EQ(cm->At({"data", "k"}).Str(), "v");
  auto ns = (*client)->Get({"v1", "Namespace", "ignored", "web"});  // cluster-scoped
  ASSERT_TRUE(ns.ok()) << ns.status();

  auto missing = (*client)->Get({"v1", "ConfigMap", "apps", "nope"});
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(KubeReason(missing.status()), "NotFound");
  EXPECT_NE(std::string(missing.status().message()).find("configmaps \"nope\" not found"), std::string::npos)
      << missing.status();

  auto unknown = (*client)->Get({"v1", "Widget", "apps", "w"});
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);

  auto reqs = server.requests();
  int discovery_calls = 0;
  for (const auto& r : reqs) {
    EXPECT_EQ(r.authorization, "Bearer secret");
    discovery_calls += r.target == "/api/v1";
  }
  // Cached; refetched only once for the unknown kind (it may be a new CRD).
  EXPECT_EQ(discovery_calls, 2);
}

TEST(KubeClientTest, StatusCodesMapToAbslCodes) {
  FakeApiServer server([](const SeenRequest& r) -> FakeResponse {
    if (r.target.find("/exists") != std::string::npos) {
      return {409, StatusJson(409, "AlreadyExists", "already exists")};
    }
    if (r.target.find("/conflict") != std::string::npos) {
      return {409, StatusJson(409, "Conflict", "the object has been modified")};
    }
    if (r.target.find("/forbidden") != std::string::npos) {
      return {403, StatusJson(403, "Forbidden", "user cannot get")};
    }
    if (r.target.find("/unauth") != std::string::npos) {
      return {401, StatusJson(401, "Unauthorized", "Unauthorized")};
    }
    if (r.target.find("/invalid") != std::string::npos) {
      return {422, StatusJson(422, "Invalid", "spec.x: Invalid value")};
    }
    return {500, "plain text failure"};
  });
  auto client = *NewKubeClient(PlainConfig(server.port()));
  auto code = [&](const std::string& name) { return client->Get({"v1", "ConfigMap", "a", name}).status(); };
  EXPECT_EQ(code("exists").code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(code("conflict").code(), absl::StatusCode::kAborted);
  EXPECT_EQ(KubeReason(code("conflict")), "Conflict");
  EXPECT_EQ(code("forbidden").code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(code("unauth").code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(code("invalid").code(), absl::StatusCode::kInvalidArgument);
  auto st = code("boom");
  EXPECT_EQ(st.code(), absl::StatusCode::kInternal);
  EXPECT_NE(std::string(st.message()).find("plain text failure"), std::string::npos) << st;
}

TEST(KubeClientTest, ListFollowsContinueTokens) {
  FakeApiServer server([](const SeenRequest& r) -> FakeResponse {
    if (r.target == "/api/v1/namespaces/apps/configmaps?labelSelector=app%3Dweb&limit=2") {
      return {200, R"({"kind":"ConfigMapList","metadata":{"resourceVersion":"10","continue":"tok1"},"items":[{"metadata":{"name":"a"}},{"metadata":{"name":"b"}}]})"};
    }
    if (r.target == "/api/v1/namespaces/apps/configmaps?labelSelector=app%3Dweb&limit=2&continue=tok1") {
      return {200, R"({"kind":"ConfigMapList","metadata":{"resourceVersion":"10"},"items":[{"metadata":{"name":"c"}}]})"};
    }
    return {400, StatusJson(400, "BadRequest", "unexpected " + r.target)};
  });
  auto client = *NewKubeClient(PlainConfig(server.port()));
  ListOptions opts;
  opts.limit = 2;
  opts.label_selector = "app=web";
  auto page = client->List({"v1", "ConfigMap", "apps", ""}, opts);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->items.size(), 2u);
  EXPECT_EQ(page->continue_token, "tok1");
  auto all = client->ListAll({"v1", "ConfigMap", "apps", ""}, opts);
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->items.size(), 3u);
  EXPECT_EQ(all->items[2].At({"metadata", "name"}).Str(), "c");
  EXPECT_EQ(all->resource_version, "10");
}

TEST(KubeClientTest, ServerSideApplyPatchAndDeleteRequestShape) {
  FakeApiServer server([](const SeenRequest& r) -> FakeResponse {
    if (r.method == "DELETE") {
      return {200, StatusJson(200, "", "")};
    }
    return {200, r.body};  // echo
  });
  auto client = *NewKubeClient(PlainConfig(server.port()));
  auto obj = Json(R"({"apiVersion":"networking.istio.io/v1beta1","kind":"VirtualService","metadata":{"name":"vs","namespace":"shop"},"spec":{"hosts":["a"]}})");
  auto applied = client->Apply(obj, {.force = true});
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(applied->At({"spec", "hosts"}).items()[0].Str(), "a");
  ASSERT_TRUE(client->Apply(obj, {}).ok());
  ASSERT_TRUE(client->MergePatch({"v1", "ConfigMap", "", "cfg"}, Json(R"({"data":{"k":null}})")).ok());
  ASSERT_TRUE(client->Delete({"v1", "ConfigMap", "apps", "cfg"}, {"Foreground"}).ok());

  std::vector<SeenRequest> calls;
  for (const auto& r : server.requests()) {
    if (r.target != "/api/v1" && r.target != "/apis/networking.istio.io/v1beta1") {
      calls.push_back(r);
    }
  }
  ASSERT_EQ(calls.size(), 4u);
  EXPECT_EQ(calls[0].method, "PATCH");
  EXPECT_EQ(calls[0].target, "/apis/networking.istio.io/v1beta1/namespaces/shop/virtualservices/vs?fieldManager=meshctl&force=true");
  EXPECT_EQ(calls[0].content_type, "application/apply-patch+yaml");
  EXPECT_EQ(Json(calls[0].body), obj);
  EXPECT_EQ(calls[1].target, "/apis/networking.istio.io/v1beta1/namespaces/shop/virtualservices/vs?fieldManager=meshctl");
  EXPECT_EQ(calls[2].method, "PATCH");
  EXPECT_EQ(calls[2].content_type, "application/merge-patch+json");
  EXPECT_EQ(calls[2].target, "/api/v1/namespaces/apps/configmaps/cfg");
  EXPECT_EQ(calls[3].method, "DELETE");
  EXPECT_EQ(Json(calls[3].body)["propagationPolicy"].Str(), "Foreground");
  EXPECT_EQ(Json(calls[3].body)["kind"].Str(), "DeleteOptions");
}

TEST(KubeClientTest, WatchStreamsEventsBookmarksAndGone) {
  FakeApiServer server([](const SeenRequest& r) -> FakeResponse {
    if (r.target.find("resourceVersion=100") != std::string::npos) {
      // One event split over two chunks, two events in one chunk, then a bookmark.
      return {200, "", {R"({"type":"ADDED","object":{"metadata":{"name":"a","resourceVersion":"101"}}})" "\n"
                        R"({"type":"MODIFIED","object":{"metadata":{"name":"a","reso)",
                        R"(urceVersion":"102"}}})" "\n" R"({"type":"DELETED","object":{"metadata":{"name":"a","resourceVersion":"103"}}})" "\n",
                        R"({"type":"BOOKMARK","object":{"kind":"ConfigMap","metadata":{"resourceVersion":"150"}}})" "\n"}};
    }
    if (r.target.find("resourceVersion=5") != std::string::npos) {
      return {200, "", {StrCat(R"({"type":"ERROR","object":)", StatusJson(410, "Expired", "too old resource version: 5 (100)"), "}\n")}};
    }
    return {410, StatusJson(410, "Gone", "resourceVersion too old")};
  });
  auto client = *NewKubeClient(PlainConfig(server.port()));
  std::vector<std::string> seen;
  WatchOptions opts;
  opts.resource_version = "100";
  auto st = client->Watch({"v1", "ConfigMap", "apps", ""}, opts, [&](const WatchEvent& ev) {
    seen.push_back(StrCat(ev.type, ":", ev.object.At({"metadata", "resourceVersion"}).Str()));
    return true;
  });
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_EQ(common::Join(seen, ","), "ADDED:101,MODIFIED:102,DELETED:103,BOOKMARK:150");
  auto reqs = server.requests();
  EXPECT_EQ(reqs.back().target,
            "/api/v1/namespaces/apps/configmaps?watch=1&resourceVersion=100&allowWatchBookmarks=true");

  // The handler can stop early.
  seen.clear();
  st = client->Watch({"v1", "ConfigMap", "apps", ""}, opts, [&](const WatchEvent& ev) {
    seen.push_back(ev.type);
    return false;
  });
  EXPECT_TRUE(st.ok()) << st;
  EXPECT_EQ(seen.size(), 1u);

  opts.resource_version = "5";
  st = client->Watch({"v1", "ConfigMap", "apps", ""}, opts, [](const WatchEvent&) { return true; });
  EXPECT_TRUE(IsGone(st)) << st;
  EXPECT_NE(std::string(st.message()).find("too old resource version"), std::string::npos) << st;

  opts.resource_version = "1";
  st = client->Watch({"v1", "ConfigMap", "apps", ""}, opts, [](const WatchEvent&) { return true; });
  EXPECT_TRUE(IsGone(st)) << st;
  // Other errors are not "gone".
  EXPECT_FALSE(IsGone(absl::NotFoundError("x")));
}

TEST(KubeClientTest, TlsWithTestCaAndClientCertificate) {
  testing::TempDir dir;
  const std::string d = dir.path();
  dir.Write("san.cnf", "subjectAltName=IP:127.0.0.1,DNS:api.test\n");
  std::string cmd = StrCat(
      "cd ", d, " && ",
      "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 1 -subj /CN=test-ca && ",
      "openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=apiserver && ",
      "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 1 -extfile san.cnf && ",
      "openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj /CN=admin && ",
      "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client.pem -days 1 && ",
      "openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other.pem -days 1 -subj /CN=other");
  auto gen = testing::RunCommand(cmd);
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  FakeApiServer server([](const SeenRequest&) -> FakeResponse {
    return {200, R"({"kind":"Namespace","metadata":{"name":"n"}})"};
  }, d);
  auto read = [&](const std::string& f) { return *common::ReadFile(StrCat(d, "/", f)); };
  RestConfig rc;
  rc.server = StrCat("https://127.0.0.1:", server.port());
  rc.ca_pem = read("ca.pem");
  rc.client_cert_pem = read("client.pem");
  rc.client_key_pem = read("client.key");
  auto client = *NewKubeClient(rc);
  auto ns = client->Get({"v1", "Namespace", "", "n"});
  ASSERT_TRUE(ns.ok()) << ns.status();

  // tls-server-name is what the certificate is checked against.
  rc.tls_server_name = "api.test";
  ASSERT_TRUE((*NewKubeClient(rc))->Get({"v1", "Namespace", "", "n"}).ok());
  rc.tls_server_name = "wrong.test";
  EXPECT_EQ((*NewKubeClient(rc))->Get({"v1", "Namespace", "", "n"}).status().code(),
            absl::StatusCode::kUnavailable);
  rc.tls_server_name.clear();

  // A server the CA did not sign is refused; insecure-skip-tls-verify accepts it.
  RestConfig wrong_ca = rc;
  wrong_ca.ca_pem = read("other.pem");
  EXPECT_EQ((*NewKubeClient(wrong_ca))->Get({"v1", "Namespace", "", "n"}).status().code(),
            absl::StatusCode::kUnavailable);
  RestConfig insecure = rc;
  insecure.ca_pem.clear();
  insecure.insecure_skip_tls_verify = true;
  EXPECT_TRUE((*NewKubeClient(insecure))->Get({"v1", "Namespace", "", "n"}).ok());

  // Without a client certificate the server refuses the handshake.
  int before = server.handshake_failures();
  RestConfig no_cert = rc;
  no_cert.client_cert_pem.clear();
  no_cert.client_key_pem.clear();
  EXPECT_FALSE((*NewKubeClient(no_cert))->Get({"v1", "Namespace", "", "n"}).ok());
  // The server counts the failure after the client has seen it: wait for it.
  EXPECT_TRUE(mesh::testing::Eventually([&] { return server.handshake_failures() > before; }));

  // A client certificate returned by an exec plugin is used for TLS instead.
  std::string plugin = dir.Write("plugin.sh", StrCat(R"(#!/bin/sh
cert=$(awk '{printf "%s\\n", $0}' )", d, R"(/client.pem)
key=$(awk '{printf "%s\\n", $0}' )", d, R"(/client.key)
printf '{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1beta1","status":{"clientCertificateData":"%s","clientKeyData":"%s"}}' "$cert" "$key"
)"));
  RestConfig exec_cert = no_cert;
  exec_cert.exec = ExecConfig{.api_version = "client.authentication.k8s.io/v1beta1", .command = "/bin/sh", .args = {plugin}};
  auto via_exec = (*NewKubeClient(exec_cert))->Get({"v1", "Namespace", "", "n"});
  EXPECT_TRUE(via_exec.ok()) << via_exec.status();
}

TEST(KubeClientTest, ExecTokenRefreshedAfter401) {
  testing::TempDir dir;
  std::string counter = StrCat(dir.path(), "/count");
  RestConfig rc;
  rc.exec = ExecConfig{.api_version = "client.authentication.k8s.io/v1",
                       .command = "/bin/sh",
                       .args = {"-c", StrCat("echo x >> ", counter, "; n=$(wc -l < ", counter,
                                             " | tr -d ' '); echo '{\"kind\":\"ExecCredential\",\"apiVersion\":\"client.authentication.k8s.io/v1\",\"status\":{\"token\":\"t'$n'\"}}'")}};
  FakeApiServer server([](const SeenRequest& r) -> FakeResponse {
    if (r.authorization != "Bearer t2") {
      return {401, StatusJson(401, "Unauthorized", "Unauthorized")};
    }
    return {200, R"({"kind":"Namespace","metadata":{"name":"n"}})"};
  });
  rc.server = StrCat("http://127.0.0.1:", server.port());
  auto client = *NewKubeClient(rc);
  auto ns = client->Get({"v1", "Namespace", "", "n"});
  // t1 gets a 401, the plugin runs again, and the retry carries t2.
  ASSERT_TRUE(ns.ok()) << ns.status();
  EXPECT_EQ(server.requests().back().authorization, "Bearer t2");
}

}  // namespace
}  // namespace mesh::kube

namespace mesh::kube {
namespace {

TEST(KubeClientTest, RequestTimeoutIsDeadlineExceeded) {
  FakeApiServer server([](const SeenRequest&) -> FakeResponse {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    return {200, R"({"kind":"Namespace","metadata":{"name":"n"}})"};
  });
  RestConfig rc = PlainConfig(server.port());
  rc.request_timeout = std::chrono::milliseconds(200);
  auto client = *NewKubeClient(rc);
  auto ns = client->Get({"v1", "Namespace", "", "n"});
  EXPECT_EQ(ns.status().code(), absl::StatusCode::kDeadlineExceeded) << ns.status();
}

}  // namespace
}  // namespace mesh::kube

namespace mesh::kube {
namespace {

TEST(KubeClientTest, WatchCancelledFromAnotherThread) {
  FakeApiServer server([](const SeenRequest&) -> FakeResponse {
    return {200, "", {R"({"type":"ADDED","object":{"metadata":{"name":"a","resourceVersion":"1"}}})" "\n"}, 2000};
  });
  auto client = *NewKubeClient(PlainConfig(server.port()));
  WatchOptions opts;
  opts.cancel = std::make_shared<WatchCancel>();
  std::thread canceller;
  int events = 0;
  auto st = client->Watch({"v1", "ConfigMap", "apps", ""}, opts, [&](const WatchEvent&) {
    ++events;
    canceller = std::thread([cancel = opts.cancel] { cancel->Cancel(); });
    return true;
  });
  canceller.join();
  // Without the cancel the stream would end normally (OK) after the server's hold.
  EXPECT_EQ(st.code(), absl::StatusCode::kCancelled) << st;
  EXPECT_EQ(events, 1);
  // A cancelled token stops the next watch before it connects.
  st = client->Watch({"v1", "ConfigMap", "apps", ""}, opts, [](const WatchEvent&) { return true; });
  EXPECT_EQ(st.code(), absl::StatusCode::kCancelled) << st;
}

}  // namespace
}  // namespace mesh::kube
