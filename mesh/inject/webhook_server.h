#pragma once

// The admission webhook's HTTPS server (istiod's port 15017): TLS with a serving
// certificate, HTTP/1.1 keep-alive, a request handler that is a plain function. One
// io_context on one thread; Stop() closes the listener and open connections.

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "mesh/inject/admission.h"
#include "mesh/store/store.h"

namespace mesh::inject {

using RequestHandler = std::function<HttpReply(std::string_view method, std::string_view target, std::string_view body)>;

struct WebhookServerOptions {
  std::string address = "0.0.0.0";
  uint16_t port = 15017;  // 0: pick one
  std::string cert_chain_pem;
  std::string key_pem;
  RequestHandler handler;
  std::chrono::seconds io_timeout{10};
  size_t body_limit = 8 << 20;  // AdmissionReviews of large pods stay well below
};

class WebhookServer {
 public:
  virtual ~WebhookServer() = default;
  virtual uint16_t port() const = 0;
  virtual void Stop() = 0;
};

absl::StatusOr<std::unique_ptr<WebhookServer>> StartWebhookServer(WebhookServerOptions options);

// The control plane's admission webhook, ready to serve: a serving certificate for
// `dns_names` from the CA in `ca_dir`, injection settings from the store's
// istio-sidecar-injector ConfigMap (defaults when absent), namespace labels from the
// store, validation of Istio resources.
struct AdmissionWebhookOptions {
  std::string address = "0.0.0.0";
  uint16_t port = 15017;
  std::string ca_dir;
  std::vector<std::string> dns_names = {"istiod.istio-system.svc", "istiod.istio-system.svc.cluster.local",
                                        "istiod.istio-system", "istiod"};
  std::chrono::seconds cert_ttl{365 * 24 * 3600};
  std::shared_ptr<const store::ConfigStore> store;  // may be null: defaults, no namespace labels
  std::string istio_namespace = "istio-system";
};

struct AdmissionWebhook {
  std::unique_ptr<WebhookServer> server;
  std::string ca_bundle_pem;  // what clients trust: the webhook configurations' caBundle
};

absl::StatusOr<AdmissionWebhook> StartAdmissionWebhook(const AdmissionWebhookOptions& options);

// Injection settings from a store: ConfigMap <ns>/istio-sidecar-injector `values`
// (JSON), or the defaults when there is none.
absl::StatusOr<InjectionSettings> SettingsFromStore(const store::ConfigStore& store, const std::string& istio_namespace);

}  // namespace mesh::inject
