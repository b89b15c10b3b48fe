#include "mesh/inject/admission.h"

#include "mesh/common/strings.h"
#include "mesh/config/emit.h"
#include "mesh/config/resource.h"
#include "mesh/config/validation.h"
#include "mesh/config/yaml_loader.h"
#include "mesh/inject/json_patch.h"
#include "mesh/install/tls_secret.h"

namespace mesh::inject {
namespace {

Node Str(const std::string& s) { return Node::Scalar(s, true); }

struct Review {
  Node root;
  std::string uid;
  const Node* request = nullptr;
};

absl::StatusOr<Review> ParseReview(std::string_view body) {
  auto root = config::ParseYamlNode(body, "AdmissionReview");
  if (!root.ok()) {
    return absl::InvalidArgumentError(common::StrCat("body is not JSON: ", root.status().message()));
  }
  Review r;
  r.root = std::move(*root);
  if (!r.root.IsMap() || r.root["kind"].Str() != "AdmissionReview") {
    return absl::InvalidArgumentError("body is not an AdmissionReview");
  }
  if (r.root["apiVersion"].Str() != "admission.k8s.io/v1") {
    return absl::InvalidArgumentError(common::StrCat("AdmissionReview apiVersion \"", r.root["apiVersion"].Str(),
                                                     "\" is not supported (admission.k8s.io/v1 only)"));
  }
  r.request = r.root.Find("request");
  if (r.request == nullptr || !r.request->IsMap()) {
    return absl::InvalidArgumentError("AdmissionReview has no request");
  }
  r.uid = (*r.request)["uid"].Str();
  if (r.uid.empty()) {
    return absl::InvalidArgumentError("AdmissionReview request has no uid");
  }
  return r;
}

std::string ResponseJson(const std::string& uid, Node response_fields) {
  Node response = Node::Map();
  response.Set("uid", Str(uid));
  for (auto& [k, v] : response_fields.mutable_entries()) {
    response.Set(k, std::move(v));
  }
  Node out = Node::Map();
  out.Set("apiVersion", Str("admission.k8s.io/v1"));
  out.Set("kind", Str("AdmissionReview"));
  out.Set("response", std::move(response));
  return config::EmitJson(out, {.indent = 0});
}

Node Allowed() {
  Node r = Node::Map();
  r.Set("allowed", Node::Scalar("true"));
  return r;
}

HttpReply Reply(const absl::StatusOr<std::string>& r) {
  if (r.ok()) {
    return HttpReply{200, "application/json", *r};
  }
  return HttpReply{400, "text/plain", std::string(r.status().message()) + "\n"};
}

}  // namespace

absl::StatusOr<std::string> ReviewInject(std::string_view body, const InjectionSettings& settings,
                                         const NamespaceLabelsLookup& namespace_labels) {
  auto review = ParseReview(body);
  if (!review.ok()) {
    return review.status();
  }
  const Node& req = *review->request;
  const Node& kind = req["kind"];
  Node fields = Allowed();
  if (!(kind["group"].Str().empty() && kind["kind"].Str() == "Pod") || !req["object"].IsMap()) {
    return ResponseJson(review->uid, std::move(fields));  // not ours to change
  }
  Node pod = req["object"];
  InjectionTarget target;
  target.ns = req["namespace"].Str();
  if (target.ns.empty()) {
    target.ns = pod["metadata"]["namespace"].Str();
  }
  if (namespace_labels) {
    target.namespace_labels = namespace_labels(target.ns.empty() ? "default" : target.ns);
  }
  auto outcome = InjectObject(pod, target, settings);
  if (!outcome.ok()) {
    // A pod we cannot read is the API server's business to reject; never block it here.
    Node warnings = Node::Sequence();
    warnings.Append(Str(common::StrCat("sidecar not injected: ", outcome.status().message())));
    fields.Set("warnings", std::move(warnings));
    return ResponseJson(review->uid, std::move(fields));
  }
  if (outcome->injected) {
    Node patch = CreateJsonPatch(req["object"], pod);
    fields.Set("patchType", Str("JSONPatch"));
    fields.Set("patch", Str(install::Base64Encode(config::EmitJson(patch, {.indent = 0}))));
  }
  return ResponseJson(review->uid, std::move(fields));
}

absl::StatusOr<std::string> ReviewValidate(std::string_view body) {
  auto review = ParseReview(body);
  if (!review.ok()) {
    return review.status();
  }
  const Node& req = *review->request;
  const Node& object = req["object"];
  if (!object.IsMap() || req["operation"].Str() == "DELETE") {
    return ResponseJson(review->uid, Allowed());
  }
  auto resource = config::Resource::FromNode(object, config::SourceRef{});
  if (!resource.ok()) {
    Node fields = Node::Map();
    fields.Set("allowed", Node::Scalar("false"));
    Node status = Node::Map();
    status.Set("code", Node::Scalar("400"));
    status.Set("message", Str(common::StrCat("configuration is invalid: ", resource.status().message())));
    fields.Set("status", std::move(status));
    return ResponseJson(review->uid, std::move(fields));
  }
  config::IstioValidationOptions options;
  options.report_unknown_fields = false;
  config::ValidationResult result = config::ValidateIstioResource(*resource, options);
  std::vector<std::string> errors;
  Node warnings = Node::Sequence();
  for (const config::ValidationIssue& issue : result.issues) {
    if (issue.severity == config::IssueSeverity::kError) {
      errors.push_back(issue.message);
    } else {
      warnings.Append(Str(issue.message));
    }
  }
  Node fields = Node::Map();
  fields.Set("allowed", Node::Scalar(errors.empty() ? "true" : "false"));
  if (!errors.empty()) {
    Node status = Node::Map();
    status.Set("code", Node::Scalar("400"));
    status.Set("message", Str(common::StrCat("configuration is invalid: ", common::Join(errors, "; "))));
    fields.Set("status", std::move(status));
  }
  if (warnings.size() > 0) {
    fields.Set("warnings", std::move(warnings));
  }
  return ResponseJson(review->uid, std::move(fields));
}

HttpReply HandleAdmissionRequest(const AdmissionHandlers& handlers, std::string_view method, std::string_view path,
                                 std::string_view body) {
  std::string_view p = path.substr(0, path.find('?'));
  if (method == "GET" && (p == "/ready" || p == "/healthz")) {
    return HttpReply{200, "text/plain", "ok\n"};
  }
  bool inject = p == "/inject" || p.substr(0, 8) == "/inject/";
  bool validate = p == "/validate" || p.substr(0, 10) == "/validate/";
  if (!inject && !validate) {
    return HttpReply{404, "text/plain", common::StrCat("no handler for ", p, " (try /inject or /validate)\n")};
  }
  if (method != "POST") {
    return HttpReply{405, "text/plain", "POST an AdmissionReview\n"};
  }
  if (validate) {
    return Reply(ReviewValidate(body));
  }
  if (!handlers.settings) {
    return HttpReply{500, "text/plain", "injection is not configured\n"};
  }
  auto settings = handlers.settings();
  if (!settings.ok()) {
    return HttpReply{500, "text/plain", common::StrCat("injector values: ", settings.status().message(), "\n")};
  }
  return Reply(ReviewInject(body, *settings, handlers.namespace_labels));
}

}  // namespace mesh::inject
