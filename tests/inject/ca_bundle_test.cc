// Writing the webhook CA into our webhook configurations, against a fake KubeClient
// that keeps objects with resourceVersions and answers label selectors.

#include <map>

#include "gtest/gtest.h"
#include "mesh/common/strings.h"
#include "mesh/config/yaml_loader.h"
#include "mesh/inject/ca_bundle.h"
#include "mesh/install/tls_secret.h"

namespace mesh::inject {
namespace {

using config::Node;

class FakeKube : public kube::KubeClient {
 public:
  void Add(const std::string& yaml) {
    auto n = config::ParseYamlNode(yaml, "fake");
    ASSERT_TRUE(n.ok()) << n.status();
    objects_[{(*n)["kind"].Str(), (*n)["metadata"]["name"].Str()}] = *n;
  }
  const Node& Object(const std::string& kind, const std::string& name) { return objects_[{kind, name}]; }
  std::vector<std::string> patched;

  // mesh::kube::KubeClient
  absl::StatusOr<kube::ResourceInfo> Resolve(const std::string&, const std::string&) override {
    return absl::UnimplementedError("fake");
  }
  absl::StatusOr<std::vector<kube::ResourceInfo>> DiscoverAll() override { return absl::UnimplementedError("fake"); }
  void InvalidateDiscovery() override {}
  absl::StatusOr<Node> Get(const kube::ObjectRef& ref) override {
    auto it = objects_.find({ref.kind, ref.name});
    if (it == objects_.end()) {
      return absl::NotFoundError(ref.name);
    }
    return it->second;
  }
  absl::StatusOr<kube::ListResult> List(const kube::ObjectRef& collection, const kube::ListOptions& options) override {
    kube::ListResult out;
    for (const auto& [key, obj] : objects_) {
      if (key.first != collection.kind) {
        continue;
      }
      bool match = true;
      for (const std::string& term : common::Split(options.label_selector, ',', true)) {
        std::vector<std::string> kv = common::Split(term, '=');
        match = match && obj["metadata"]["labels"][kv[0]].Str() == kv[1];
      }
      if (match) {
        out.items.push_back(obj);
      }
    }
    return out;
  }
  absl::StatusOr<Node> Apply(const Node&, const kube::ApplyOptions&) override {
    return absl::UnimplementedError("fake");
  }
  absl::StatusOr<Node> MergePatch(const kube::ObjectRef& ref, const Node& patch) override {
    Node& obj = objects_[{ref.kind, ref.name}];
    if (patch["metadata"]["resourceVersion"].Str() != obj["metadata"]["resourceVersion"].Str()) {
      return absl::AbortedError("Operation cannot be fulfilled: the object has been modified");
    }
    obj.Set("webhooks", patch["webhooks"]);
    Node& meta = *obj.FindMutable("metadata");
    meta.Set("resourceVersion", Node::Scalar(std::to_string(std::stoi(meta["resourceVersion"].Str()) + 1), true));
    patched.push_back(ref.kind + "/" + ref.name);
    return obj;
  }
  absl::Status Delete(const kube::ObjectRef&, const kube::DeleteOptions&) override {
    return absl::UnimplementedError("fake");
  }
  absl::Status Watch(const kube::ObjectRef&, const kube::WatchOptions&, const kube::WatchHandler&) override {
    return absl::UnimplementedError("fake");
  }

 private:
  std::map<std::pair<std::string, std::string>, Node> objects_;
};

constexpr const char* kMutating = R"(
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata:
  name: istio-sidecar-injector
  resourceVersion: "7"
  labels: {app: sidecar-injector, istio.io/rev: default}
webhooks:
- name: rev.namespace.sidecar-injector.istio.io
  clientConfig: {service: {name: istiod, namespace: istio-system, path: /inject, port: 443}}
  sideEffects: None
- name: rev.object.sidecar-injector.istio.io
  clientConfig: {service: {name: istiod, namespace: istio-system, path: /inject, port: 443}}
)";

TEST(CaBundle, PatchesOurWebhookConfigurationsOnce) {
  FakeKube kube;
  kube.Add(kMutating);
  kube.Add(R"(
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata:
  name: istio-validator-istio-system
  resourceVersion: "3"
  labels: {app: istiod, istio.io/rev: default}
webhooks:
- name: rev.validation.istio.io
  clientConfig: {service: {name: istiod, namespace: istio-system, path: /validate}}
)");
  // Another revision's and someone else's configurations are left alone.
  kube.Add(R"(
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata:
  name: istio-sidecar-injector-canary
  resourceVersion: "1"
  labels: {app: sidecar-injector, istio.io/rev: canary}
webhooks:
- name: rev.namespace.sidecar-injector.istio.io
  clientConfig: {service: {name: istiod-canary, namespace: istio-system}}
)");
  auto r = PatchWebhookCaBundles(kube, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->patched, 2);
  EXPECT_EQ(kube.patched, (std::vector<std::string>{"MutatingWebhookConfiguration/istio-sidecar-injector",
                                                    "ValidatingWebhookConfiguration/istio-validator-istio-system"}));
  std::string bundle = install::Base64Encode("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
  const Node& mwc = kube.Object("MutatingWebhookConfiguration", "istio-sidecar-injector");
  ASSERT_EQ(mwc["webhooks"].size(), 2u);
  for (const Node& w : mwc["webhooks"].items()) {
    EXPECT_EQ(w["clientConfig"]["caBundle"].Str(), bundle);
    EXPECT_EQ(w["clientConfig"]["service"]["path"].Str(), "/inject");  // the rest kept
  }
  EXPECT_EQ(mwc["webhooks"].items()[0]["sideEffects"].Str(), "None");
  EXPECT_FALSE(kube.Object("MutatingWebhookConfiguration", "istio-sidecar-injector-canary")["webhooks"]
                   .items()[0]["clientConfig"]["caBundle"]
                   .Defined());

  // Second run: nothing to do.
  auto again = PatchWebhookCaBundles(kube, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->patched, 0);
  EXPECT_EQ(again->unchanged, 2);
}

TEST(CaBundle, PatchCarriesTheResourceVersion) {
  auto mwc = config::ParseYamlNode(kMutating, "mwc");
  ASSERT_TRUE(mwc.ok());
  Node patch = CaBundlePatch(*mwc, "pem");
  EXPECT_EQ(patch["metadata"]["resourceVersion"].Str(), "7");
  EXPECT_EQ(patch["webhooks"].size(), 2u);
  EXPECT_TRUE(CaBundlePatch(patch, "pem").IsNull());  // already carries it
}

}  // namespace
}  // namespace mesh::inject
