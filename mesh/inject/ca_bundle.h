#pragma once

// In a cluster the API server must trust the webhook's certificate: the control plane
// writes its CA into `clientConfig.caBundle` of our webhook configurations (the
// MutatingWebhookConfigurations labelled app=sidecar-injector and the
// ValidatingWebhookConfigurations labelled app=istiod, both with istio.io/rev=<rev>).

#include <string>

#include "absl/status/statusor.h"
#include "mesh/config/node.h"
#include "mesh/kube/client.h"

namespace mesh::inject {

// The merge patch that sets every webhook's caBundle to `ca_pem` (base64), carrying
// metadata.resourceVersion so a concurrent change is a conflict; null when every
// webhook already has it. Lists merge-patch whole, so the webhooks are copied.
config::Node CaBundlePatch(const config::Node& webhook_configuration, const std::string& ca_pem);

struct CaBundleResult {
  int patched = 0;
  int unchanged = 0;
};

// Lists our webhook configurations for `revision` and patches those that need it.
absl::StatusOr<CaBundleResult> PatchWebhookCaBundles(kube::KubeClient& client, const std::string& ca_pem,
                                                    const std::string& revision = "default");

// The same, against the cluster the kubeconfig (or in-cluster config) points at.
absl::StatusOr<CaBundleResult> PatchWebhookCaBundlesFromKubeconfig(const std::string& ca_pem,
                                                                  const kube::KubeconfigOptions& options,
                                                                  const std::string& revision = "default");

}  // namespace mesh::inject
