#pragma once

// The admission webhook's HTTPS server (istiod's port 15017): TLS with a serving
// certificate, HTTP/1.1 keep-alive, a request handler that is a plain function. One
// io_context on one thread; Stop() closes the listener and open connections.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "absl/status/statusor.h"
#include "mesh/ca/ca.h"
#include "mesh/common/time_source.h"
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
  // Serves new connections with this certificate (open ones keep theirs). Thread-safe.
  virtual absl::Status UpdateCertificate(const std::string& chain_pem, const std::string& key_pem) = 0;
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
  std::chrono::seconds cert_ttl{30 * 24 * 3600};
  // The serving certificate is re-issued once this fraction of its lifetime has passed.
  double renew_fraction = 2.0 / 3.0;
  std::shared_ptr<const common::TimeSource> clock;  // null: the real clock
  std::shared_ptr<const store::ConfigStore> store;  // may be null: defaults, no namespace labels
  std::string istio_namespace = "istio-system";
};

// Keeps the webhook's serving certificate fresh: re-issues it from the CA before it
// expires and installs it in the server (new connections get it). Stop() it before the
// server.
class ServingCertificateRotator {
 public:
  ServingCertificateRotator(std::unique_ptr<ca::CertificateAuthority> ca, WebhookServer* server,
                            const AdmissionWebhookOptions& options);
  ~ServingCertificateRotator();
  // Issues and installs the first certificate (at start) or a new one when due.
  absl::Status Issue();
  // True when it rotated; false when not yet due.
  absl::StatusOr<bool> RotateIfDue();
  std::chrono::system_clock::time_point renew_at() const;
  std::chrono::system_clock::time_point not_after() const;
  std::string ca_bundle_pem() const;
  std::string chain_pem() const;
  // Checks every `every` on a thread; `on_rotated(ca_bundle_pem)` after each rotation
  // (the caller re-patches the webhook configurations' caBundle).
  void Start(std::chrono::milliseconds every, std::function<void(const std::string&)> on_rotated);
  void Stop();
  // Records a certificate issued (and installed) elsewhere, at `at`.
  void Adopt(const ca::ServingCertificate& cert, std::chrono::system_clock::time_point at);

 private:
  std::unique_ptr<ca::CertificateAuthority> ca_;
  WebhookServer* server_;
  AdmissionWebhookOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::chrono::system_clock::time_point issued_at_{};
  std::string ca_bundle_pem_;
  std::string chain_pem_;
  std::thread thread_;
};

struct AdmissionWebhook {
  std::unique_ptr<WebhookServer> server;
  std::string ca_bundle_pem;  // what clients trust: the webhook configurations' caBundle
  std::unique_ptr<ServingCertificateRotator> rotator;  // not started: call Start()
};

absl::StatusOr<AdmissionWebhook> StartAdmissionWebhook(const AdmissionWebhookOptions& options);

// Injection settings from a store: ConfigMap <ns>/istio-sidecar-injector `values`
// (JSON), or the defaults when there is none.
absl::StatusOr<InjectionSettings> SettingsFromStore(const store::ConfigStore& store, const std::string& istio_namespace);

}  // namespace mesh::inject
