// The admission webhooks over real HTTPS: the server's certificate comes from the
// control plane's CA, curl verifies it against that CA for istiod.istio-system.svc, and
// the JSONPatch it returns is applied here and compared with a golden file.

#include <openssl/evp.h>

#include <atomic>
#include <chrono>

#include "gtest/gtest.h"
#include "mesh/common/file_util.h"
#include "mesh/config/emit.h"
#include "mesh/config/yaml_loader.h"
#include "mesh/inject/json_patch.h"
#include "mesh/inject/webhook_server.h"
#include "mesh/store/local_store.h"
#include "tests/common/test_util.h"

namespace mesh::inject {
namespace {

using config::Node;

std::string Base64Decode(const std::string& in) {
  std::string out(in.size(), '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  if (n < 0) {
    return "";
  }
  size_t pad = 0;
  for (size_t i = in.size(); i > 0 && in[i - 1] == '='; --i) {
    ++pad;
  }
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

Node Parse(const std::string& text) {
  auto n = config::ParseYamlNode(text, "test");
  EXPECT_TRUE(n.ok()) << n.status() << "\n" << text;
  return n.ok() ? *n : Node();
}

class WebhookTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = store::LocalStore::Open(dir_.path() + "/state");
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::shared_ptr<store::ConfigStore>(std::move(*store));
    AdmissionWebhookOptions o;
    o.address = "127.0.0.1";
    o.port = 0;
    o.ca_dir = dir_.path() + "/ca";
    o.store = store_;
    auto webhook = StartAdmissionWebhook(o);
    ASSERT_TRUE(webhook.ok()) << webhook.status();
    webhook_ = std::move(*webhook);
    ca_file_ = dir_.Write("ca-bundle.pem", webhook_.ca_bundle_pem);
  }
  void TearDown() override {
    if (webhook_.server) {
      webhook_.server->Stop();
    }
  }

  // POSTs `body` to https://istiod.istio-system.svc:PORT/path, verified against the CA.
  testing::CommandResult Post(const std::string& path, const std::string& body, const std::string& extra = "") {
    std::string file = dir_.Write("body.json", body);
    std::string port = std::to_string(webhook_.server->port());
    return testing::RunCommand("curl -sS --max-time 20 -w '\\n%{http_code}' --cacert " + ca_file_ +
                               " --resolve istiod.istio-system.svc:" + port + ":127.0.0.1 " + extra +
                               " -H 'Content-Type: application/json' --data-binary @" + file +
                               " https://istiod.istio-system.svc:" + port + path);
  }
  // Splits curl's "-w \n%{http_code}" suffix off.
  static std::pair<std::string, int> BodyAndCode(const std::string& out) {
    size_t nl = out.rfind('\n');
    return {out.substr(0, nl), std::stoi(out.substr(nl + 1))};
  }

  void LabelNamespace(const std::string& name, const std::string& key, const std::string& value) {
    Node ns = Parse("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + name + "\n  labels:\n    " + key + ": " +
                    value + "\n");
    ASSERT_TRUE(store_->Apply(ns).ok());
  }

  std::string Review(const std::string& object_json, const std::string& kind = "Pod",
                     const std::string& group = "") {
    return R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"abc-123",)"
           R"("kind":{"group":")" + group + R"(","version":"v1","kind":")" + kind +
           R"("},"namespace":"sample","operation":"CREATE","object":)" + object_json + "}}";
  }

  testing::TempDir dir_;
  std::shared_ptr<store::ConfigStore> store_;
  AdmissionWebhook webhook_;
  std::string ca_file_;
};

TEST_F(WebhookTest, InjectReturnsAJsonPatchThatInjectsThePod) {
  LabelNamespace("sample", "istio-injection", "enabled");
  auto request = common::ReadFile(testing::SourceDir() + "/tests/testdata/inject/admission-pod.json");
  ASSERT_TRUE(request.ok());
  auto r = Post("/inject", *request);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto [body, code] = BodyAndCode(r.out);
  ASSERT_EQ(code, 200) << body;
  Node review = Parse(body);
  EXPECT_EQ(review["apiVersion"].Str(), "admission.k8s.io/v1");
  EXPECT_EQ(review["kind"].Str(), "AdmissionReview");
  const Node& response = review["response"];
  EXPECT_EQ(response["uid"].Str(), "705ab4f5-6393-11e8-b7cc-42010a800002");
  EXPECT_EQ(response["allowed"].Bool(), true);
  EXPECT_EQ(response["patchType"].Str(), "JSONPatch");
  Node patch = Parse(Base64Decode(response["patch"].Str()));
  ASSERT_TRUE(patch.IsSequence()) << response["patch"].Str();

  Node pod = Parse(*request)["request"]["object"];
  auto patched = ApplyJsonPatch(pod, patch);
  ASSERT_TRUE(patched.ok()) << patched.status();
  EXPECT_EQ(testing::CompareGolden("inject/webhook-pod.patched.yaml", config::EmitYaml(*patched)), "");
  // The pod of a Deployment's ReplicaSet is named after the Deployment.
  const Node& proxy = (*patched)["spec"]["containers"].items().at(1);
  EXPECT_EQ(proxy["name"].Str(), "istio-proxy");
  std::string env = config::EmitJson(proxy["env"], {.indent = 0});
  EXPECT_NE(env.find(R"({"name":"ISTIO_META_WORKLOAD_NAME","value":"helloworld-v1"})"), std::string::npos) << env;
  EXPECT_NE(env.find("kubernetes://apis/apps/v1/namespaces/sample/deployments/helloworld-v1"), std::string::npos);
}

TEST_F(WebhookTest, NamespaceDisabledOrPodOptOutGetsNoPatch) {
  LabelNamespace("sample", "istio-injection", "disabled");
  auto r = Post("/inject", Review(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},)"
                                  R"("spec":{"containers":[{"name":"a","image":"x"}]}})"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Node response = Parse(BodyAndCode(r.out).first)["response"];
  EXPECT_EQ(response["uid"].Str(), "abc-123");
  EXPECT_EQ(response["allowed"].Bool(), true);
  EXPECT_FALSE(response["patch"].Defined());

  LabelNamespace("sample", "istio-injection", "enabled");
  r = Post("/inject", Review(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p",)"
                             R"("labels":{"sidecar.istio.io/inject":"false"}},)"
                             R"("spec":{"containers":[{"name":"a","image":"x"}]}})"));
  response = Parse(BodyAndCode(r.out).first)["response"];
  EXPECT_EQ(response["allowed"].Bool(), true);
  EXPECT_FALSE(response["patch"].Defined());
}

TEST_F(WebhookTest, ValidateDeniesAnInvalidVirtualServiceWithTheMessage) {
  std::string bad = Review(R"({"apiVersion":"networking.istio.io/v1","kind":"VirtualService",)"
                           R"("metadata":{"name":"reviews","namespace":"sample"},)"
                           R"("spec":{"hosts":["*"],"http":[{"route":[{"destination":{"host":"reviews"}}]}]}})",
                           "VirtualService", "networking.istio.io");
  auto r = Post("/validate", bad);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto [body, code] = BodyAndCode(r.out);
  ASSERT_EQ(code, 200) << body;
  Node response = Parse(body)["response"];
  EXPECT_EQ(response["uid"].Str(), "abc-123");
  EXPECT_EQ(response["allowed"].Bool(), false);
  EXPECT_EQ(response["status"]["code"].Int(), 400);
  EXPECT_EQ(response["status"]["message"].Str(),
            "configuration is invalid: wildcard host * is not allowed for virtual services bound to the mesh gateway");

  std::string good = Review(R"({"apiVersion":"networking.istio.io/v1","kind":"VirtualService",)"
                            R"("metadata":{"name":"reviews","namespace":"sample"},)"
                            R"("spec":{"hosts":["reviews"],"http":[{"route":[{"destination":{"host":"reviews"}}]}]}})",
                            "VirtualService", "networking.istio.io");
  r = Post("/validate", good);
  response = Parse(BodyAndCode(r.out).first)["response"];
  EXPECT_EQ(response["allowed"].Bool(), true);
  EXPECT_FALSE(response["status"].Defined());
}

TEST_F(WebhookTest, MalformedReviewsAndUnknownPathsAreHttpErrors) {
  auto r = Post("/inject", "{\"kind\": \"Pod\"}");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto [body, code] = BodyAndCode(r.out);
  EXPECT_EQ(code, 400);
  EXPECT_EQ(body, "body is not an AdmissionReview\n");
  r = Post("/validate", R"({"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{"uid":"x"}})");
  EXPECT_EQ(BodyAndCode(r.out).second, 400);
  EXPECT_NE(r.out.find("admission.k8s.io/v1 only"), std::string::npos) << r.out;
  r = Post("/mutate", "{}");
  EXPECT_EQ(BodyAndCode(r.out).second, 404);
}

TEST_F(WebhookTest, TlsIsVerifiedAgainstTheControlPlaneCa) {
  std::string port = std::to_string(webhook_.server->port());
  // Without the CA, curl refuses the certificate; with the wrong name too.
  auto untrusted = testing::RunCommand("curl -sS --max-time 20 --resolve istiod.istio-system.svc:" + port +
                                       ":127.0.0.1 https://istiod.istio-system.svc:" + port + "/ready");
  EXPECT_NE(untrusted.exit_code, 0);
  auto wrong_name = testing::RunCommand("curl -sS --max-time 20 --cacert " + ca_file_ + " --resolve other.example:" +
                                        port + ":127.0.0.1 https://other.example:" + port + "/ready");
  EXPECT_NE(wrong_name.exit_code, 0);
  auto ok = testing::RunCommand("curl -sS --max-time 20 --cacert " + ca_file_ + " --resolve istiod.istio-system.svc:" +
                                port + ":127.0.0.1 https://istiod.istio-system.svc:" + port + "/ready");
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(ok.out, "ok\n");
}

class ManualClock : public common::TimeSource {
 public:
  std::chrono::system_clock::time_point SystemNow() const override {
    return std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000)) +
           std::chrono::seconds(offset_.load());
  }
  std::chrono::steady_clock::time_point MonotonicNow() const override {
    return std::chrono::steady_clock::time_point(std::chrono::seconds(offset_.load()));
  }
  void Advance(std::chrono::seconds s) { offset_ += s.count(); }

 private:
  std::atomic<int64_t> offset_{0};
};

// The serial number of the certificate the server presents for istiod.istio-system.svc.
std::string ServedSerial(uint16_t port) {
  testing::CommandResult r = testing::RunCommand(
      "openssl s_client -connect 127.0.0.1:" + std::to_string(port) +
      " -servername istiod.istio-system.svc </dev/null 2>/dev/null | openssl x509 -noout -serial");
  return r.exit_code == 0 ? r.out : "";
}

// The serving certificate is re-issued at 2/3 of its lifetime (by the injected clock),
// new connections get the new one, and clients keep trusting it with the same bundle.
TEST(WebhookRotation, ServingCertificateIsRotatedBeforeExpiry) {
  testing::TempDir dir;
  auto clock = std::make_shared<ManualClock>();
  AdmissionWebhookOptions o;
  o.address = "127.0.0.1";
  o.port = 0;
  o.ca_dir = dir.path() + "/ca";
  o.cert_ttl = std::chrono::hours(3);
  o.clock = clock;
  auto webhook = StartAdmissionWebhook(o);
  ASSERT_TRUE(webhook.ok()) << webhook.status();
  ServingCertificateRotator& rotator = *webhook->rotator;
  EXPECT_EQ(rotator.renew_at(), clock->SystemNow() + std::chrono::hours(2));
  EXPECT_EQ(rotator.not_after(), clock->SystemNow() + std::chrono::hours(3));
  std::string first_chain = rotator.chain_pem();
  std::string first_serial = ServedSerial(webhook->server->port());
  ASSERT_NE(first_serial, "");

  clock->Advance(std::chrono::hours(2) - std::chrono::seconds(1));
  ASSERT_EQ(rotator.RotateIfDue().value_or(true), false);
  EXPECT_EQ(ServedSerial(webhook->server->port()), first_serial);

  clock->Advance(std::chrono::seconds(1));
  ASSERT_EQ(rotator.RotateIfDue().value_or(false), true);
  EXPECT_NE(rotator.chain_pem(), first_chain);
  std::string second_serial = ServedSerial(webhook->server->port());
  EXPECT_NE(second_serial, "");
  EXPECT_NE(second_serial, first_serial);
  EXPECT_EQ(rotator.ca_bundle_pem(), webhook->ca_bundle_pem);  // same CA: the caBundle stays valid
  EXPECT_EQ(rotator.renew_at(), clock->SystemNow() + std::chrono::hours(2));

  // Still verified against the bundle the webhook configurations carry.
  std::string ca_file = dir.Write("ca.pem", rotator.ca_bundle_pem());
  std::string port = std::to_string(webhook->server->port());
  testing::CommandResult ok = testing::RunCommand(
      "curl -sS --max-time 20 --cacert " + ca_file + " --resolve istiod.istio-system.svc:" + port +
      ":127.0.0.1 https://istiod.istio-system.svc:" + port + "/ready");
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(ok.out, "ok\n");
  rotator.Stop();
  webhook->server->Stop();
}

}  // namespace
}  // namespace mesh::inject
