#pragma once

// The admission webhooks' request handling, without sockets: AdmissionReview v1 in,
// AdmissionReview v1 out (uid echoed).
// - /inject (mutating): the Pod with the sidecar, as a base64 JSONPatch.
// - /validate (validating): Istio resources checked with the same validation as
//   `meshctl apply`/`analyze`; invalid ones are denied with its messages.

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "mesh/inject/injector.h"

namespace mesh::inject {

struct HttpReply {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

// Labels of a namespace, or nullopt when unknown (then the webhook trusts the API
// server's selector match).
using NamespaceLabelsLookup = std::function<std::optional<Labels>(const std::string& ns)>;

struct AdmissionHandlers {
  // Current injection settings (re-read per request so an install update applies).
  std::function<absl::StatusOr<InjectionSettings>()> settings;
  NamespaceLabelsLookup namespace_labels;  // may be empty
};

// Dispatches by path: /inject, /validate (and Istio's aliases /inject/, /validate/...);
// GET /ready answers 200. Malformed reviews get 400 with a message.
HttpReply HandleAdmissionRequest(const AdmissionHandlers& handlers, std::string_view method, std::string_view path,
                                 std::string_view body);

// The two reviews (exposed for tests).
absl::StatusOr<std::string> ReviewInject(std::string_view body, const InjectionSettings& settings,
                                         const NamespaceLabelsLookup& namespace_labels);
absl::StatusOr<std::string> ReviewValidate(std::string_view body);

}  // namespace mesh::inject
