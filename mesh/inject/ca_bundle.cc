#include "mesh/inject/ca_bundle.h"

#include "mesh/common/strings.h"
#include "mesh/install/tls_secret.h"

namespace mesh::inject {

using config::Node;

Node CaBundlePatch(const Node& webhook_configuration, const std::string& ca_pem) {
  std::string bundle = install::Base64Encode(ca_pem);
  Node webhooks = webhook_configuration["webhooks"];
  bool changed = false;
  for (Node& w : webhooks.mutable_items()) {
    if (!w.IsMap()) {
      continue;
    }
    Node* client = w.FindMutable("clientConfig");
    if (client == nullptr || !client->IsMap()) {
      client = &w.Set("clientConfig", Node::Map());
    }
    if ((*client)["caBundle"].Str() != bundle) {
      client->Set("caBundle", Node::Scalar(bundle, true));
      changed = true;
    }
  }
  if (!changed) {
    return Node();
  }
  Node patch = Node::Map();
  Node meta = Node::Map();
  meta.Set("resourceVersion", Node::Scalar(webhook_configuration["metadata"]["resourceVersion"].Str(), true));
  patch.Set("metadata", std::move(meta));
  patch.Set("webhooks", std::move(webhooks));
  return patch;
}

absl::StatusOr<CaBundleResult> PatchWebhookCaBundles(kube::KubeClient& client, const std::string& ca_pem,
                                                    const std::string& revision) {
  CaBundleResult result;
  struct Target {
    const char* kind;
    const char* app;
  };
  for (const Target& t : {Target{"MutatingWebhookConfiguration", "sidecar-injector"},
                          Target{"ValidatingWebhookConfiguration", "istiod"}}) {
    kube::ObjectRef collection{"admissionregistration.k8s.io/v1", t.kind, "", ""};
    kube::ListOptions options;
    options.label_selector = common::StrCat("app=", t.app, ",istio.io/rev=", revision);
    auto list = client.ListAll(collection, options);
    if (!list.ok()) {
      return absl::Status(list.status().code(),
                          common::StrCat("listing ", t.kind, "s: ", list.status().message()));
    }
    for (const Node& item : list->items) {
      Node patch = CaBundlePatch(item, ca_pem);
      if (patch.IsNull()) {
        ++result.unchanged;
        continue;
      }
      kube::ObjectRef ref = collection;
      ref.name = item["metadata"]["name"].Str();
      auto patched = client.MergePatch(ref, patch);
      if (!patched.ok()) {
        return absl::Status(patched.status().code(),
                            common::StrCat("patching caBundle of ", t.kind, " ", ref.name, ": ",
                                           patched.status().message()));
      }
      ++result.patched;
    }
  }
  return result;
}

absl::StatusOr<CaBundleResult> PatchWebhookCaBundlesFromKubeconfig(const std::string& ca_pem,
                                                                  const kube::KubeconfigOptions& options,
                                                                  const std::string& revision) {
  auto rest = kube::LoadRestConfig(options);
  if (!rest.ok()) {
    return rest.status();
  }
  auto client = kube::NewKubeClient(*rest);
  if (!client.ok()) {
    return client.status();
  }
  return PatchWebhookCaBundles(**client, ca_pem, revision);
}

}  // namespace mesh::inject
