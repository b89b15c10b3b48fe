// annotations.K8sAnalyzer (unknown, misplaced, invalid and deprecated Istio annotations)
// and annotations.AlphaAnalyzer (annotations of alpha-phase features).

#include <cerrno>
#include <cstdlib>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "mesh/analyze/analyzers/workload/workload.h"
#include "mesh/analyze/annotations_data.h"
#include "mesh/common/strings.h"
#include "mesh/config/yaml_loader.h"

namespace mesh::analyze::workload {
namespace {

struct AnnotationInfo {
  std::string name;
  std::vector<std::string> kinds;  // "Any" means every kind
  bool deprecated = false;
  bool alpha = true;  // Istio's default feature status
  std::string validate;
};

const std::unordered_map<std::string, AnnotationInfo>& AnnotationTable() {
  static const auto* table = [] {
    auto* out = new std::unordered_map<std::string, AnnotationInfo>();
    auto root = config::ParseYamlNode(kAnnotationTable, "annotations.yaml");
    if (!root.ok()) {
      std::abort();  // the embedded table is part of the build; a bad one is a bug
    }
    for (const config::Node& n : (*root)["annotations"].items()) {
      AnnotationInfo info;
      info.name = n["name"].Str();
      info.kinds = n["kinds"].StringList();
      info.deprecated = n["deprecated"].Bool().value_or(false);
      info.alpha = !n["status"].Defined() || n["status"].Str() == "Alpha";
      info.validate = n["validate"].Str();
      out->emplace(info.name, std::move(info));
    }
    return out;
  }();
  return *table;
}

// Set by Istio itself, never by users.
bool AlwaysIgnored(const std::string& name) {
  return name == "sidecar.istio.io/status" || name == "gateway.istio.io/controller-version" || name == "istio.io/rev";
}

// Set by default on pods whose traffic is captured by istio-cni; only reported as alpha
// when the pod has an istio-init container.
bool IgnoredWithCni(const std::string& name) {
  return name == "sidecar.istio.io/interceptionMode" || name == "traffic.sidecar.istio.io/includeInboundPorts" ||
         name == "traffic.sidecar.istio.io/excludeInboundPorts" ||
         name == "traffic.sidecar.istio.io/includeOutboundIPRanges";
}

// Annotations in Istio's domain (and the one Kubernetes annotation Istio documents).
bool IsIstioAnnotation(const std::string& name) {
  if (name == "kubernetes.io/ingress.class") {
    return true;
  }
  std::string_view prefix = std::string_view(name).substr(0, name.find('/'));
  return prefix.size() >= 8 && prefix.substr(prefix.size() - 8) == "istio.io";
}

// Go's strconv.ParseUint(value, 10, bits) error text, or "".
std::string ParseUintError(const std::string& value, int bits) {
  bool digits = !value.empty();
  for (char c : value) {
    digits = digits && c >= '0' && c <= '9';
  }
  if (!digits) {
    return common::StrCat("strconv.ParseUint: parsing ", common::GoQuote(value), ": invalid syntax");
  }
  errno = 0;
  unsigned long long v = std::strtoull(value.c_str(), nullptr, 10);
  if (errno == ERANGE || (bits < 64 && v >= (1ULL << bits))) {
    return common::StrCat("strconv.ParseUint: parsing ", common::GoQuote(value), ": value out of range");
  }
  return "";
}

std::string PortListError(const std::string& parameter, const std::string& value) {
  if (common::StripWhitespace(value).empty()) {
    return "";
  }
  for (const std::string& port : common::Split(common::StripWhitespace(value), ',')) {
    std::string err = ParseUintError(std::string(common::StripWhitespace(port)), 16);
    if (!err.empty()) {
      return common::StrCat(parameter, " invalid: failed parsing port '", port, "': failed parsing port '", port,
                            "': ", err);
    }
  }
  return "";
}

bool ValidCidr(std::string_view cidr) {
  size_t slash = cidr.find('/');
  if (slash == std::string_view::npos) {
    return false;
  }
  std::string addr(cidr.substr(0, slash));
  std::string bits(cidr.substr(slash + 1));
  bool v6 = addr.find(':') != std::string::npos;
  if (bits.empty() || !ParseUintError(bits, 8).empty() || std::stoi(bits) > (v6 ? 128 : 32)) {
    return false;
  }
  if (v6) {
    return addr.find_first_not_of("0123456789abcdefABCDEF:.") == std::string::npos;
  }
  std::vector<std::string> octets = common::Split(addr, '.');
  if (octets.size() != 4) {
    return false;
  }
  for (const std::string& o : octets) {
    if (o.empty() || !ParseUintError(o, 8).empty()) {
      return false;
    }
  }
  return true;
}

std::string IpRangesError(const std::string& parameter, const std::string& value, bool allow_wildcard) {
  if (allow_wildcard && value == "*") {
    return "";
  }
  if (value.empty()) {
    return "";
  }
  for (const std::string& cidr : common::Split(value, ',')) {
    if (!ValidCidr(cidr)) {
      return common::StrCat(parameter, " invalid: failed parsing cidr '", cidr, "': netip.ParsePrefix(",
                            common::GoQuote(cidr), "): invalid prefix");
    }
  }
  return "";
}

// Problem with an annotation value (Istio's injection-time validation), or "".
std::string ValidateValue(const AnnotationInfo& info, const std::string& value) {
  const std::string& v = info.validate;
  if (v == "uint32") {
    return ParseUintError(value, 32);
  }
  if (v == "bool") {
    static const std::unordered_set<std::string> kBools = {"1", "t", "T", "true", "TRUE", "True",
                                                           "0", "f", "F", "false", "FALSE", "False"};
    return kBools.count(value) ? "" : common::StrCat("strconv.ParseBool: parsing ", common::GoQuote(value), ": invalid syntax");
  }
  if (v == "interceptionMode") {
    return (value == "REDIRECT" || value == "TPROXY" || value == "NONE")
               ? ""
               : common::StrCat("interceptionMode invalid, use REDIRECT,TPROXY,NONE: ", value);
  }
  if (v == "statusPort") {
    // Istio names the wrong parameter here; kept for identical messages.
    std::string err = ParseUintError(std::string(common::StripWhitespace(value)), 16);
    if (!err.empty()) {
      return common::StrCat("excludeInboundPorts invalid: failed parsing port ", common::GoQuote(value), ": ", err);
    }
    return "";
  }
  if (v == "ports") {
    return PortListError(info.name.substr(info.name.find('/') + 1), value);
  }
  if (v == "includePorts") {
    return value == "*" ? "" : PortListError("includeInboundPorts", value);
  }
  if (v == "includeIPRanges") {
    return IpRangesError("includeIPRanges", value, true);
  }
  if (v == "excludeIPRanges") {
    return IpRangesError("excludeIPRanges", value, false);
  }
  return "";
}

const std::vector<KindRef> kAnnotatedKinds = {kinds::kNamespace, kinds::kService, kinds::kPod, kinds::kDeployment};

void CheckAnnotations(Context& context, const config::Resource& r) {
  const auto& table = AnnotationTable();
  for (const auto& [name, value] : r.annotations()) {
    if (!IsIstioAnnotation(name) || AlwaysIgnored(name)) {
      continue;
    }
    int line = AnnotationLine(r, name);
    auto it = table.find(name);
    if (it == table.end()) {
      context.Report(MessageTypeNamed("UnknownAnnotation"), &r, {name}, line);
      continue;
    }
    const AnnotationInfo& info = it->second;
    if (info.deprecated) {
      bool has_label_too = name == "sidecar.istio.io/inject" && r.labels().count(name) > 0;
      if (!has_label_too) {
        std::string extra = name == "sidecar.istio.io/inject" ? " in favor of the \"sidecar.istio.io/inject\" label" : "";
        context.Report(MessageTypeNamed("DeprecatedAnnotation"), &r, {name, extra}, line);
      }
    }
    bool any = false;
    bool allowed = false;
    for (const std::string& k : info.kinds) {
      any = any || k == "Any";
      allowed = allowed || k == r.kind();
    }
    if (any) {
      continue;
    }
    if (!allowed) {
      context.Report(MessageTypeNamed("MisplacedAnnotation"), &r, {name, common::Join(info.kinds, ", ")}, line);
      continue;
    }
    std::string problem = ValidateValue(info, value);
    if (!problem.empty()) {
      context.Report(MessageTypeNamed("InvalidAnnotation"), &r, {name, problem}, line);
    }
  }
}

bool HasIstioInitContainer(const config::Resource& pod) {
  for (const config::Node& c : pod.spec()["initContainers"].items()) {
    if (c["name"].Str() == "istio-init") {
      return true;
    }
  }
  return false;
}

void CheckAlpha(Context& context, const config::Resource& r) {
  const auto& table = AnnotationTable();
  bool cni = r.kind() == "Pod" && !HasIstioInitContainer(r);
  for (const auto& [name, value] : r.annotations()) {
    if (!IsIstioAnnotation(name)) {
      continue;
    }
    auto it = table.find(name);
    if (it == table.end() || !it->second.alpha || AlwaysIgnored(name) || (cni && IgnoredWithCni(name))) {
      continue;
    }
    context.Report(MessageTypeNamed("AlphaAnnotation"), &r, {name}, AnnotationLine(r, name));
  }
}

}  // namespace

AnalyzerPtr NewK8sAnnotationsAnalyzer() {
  return MakeAnalyzer({"annotations.K8sAnalyzer", "Checks for misplaced and invalid Istio annotations in Kubernetes resources",
                       kAnnotatedKinds},
                      [](Context& context) {
                        for (const KindRef& kind : kAnnotatedKinds) {
                          for (const config::Resource* r : context.world().Of(kind)) {
                            CheckAnnotations(context, *r);
                          }
                        }
                      });
}

AnalyzerPtr NewAlphaAnnotationsAnalyzer() {
  return MakeAnalyzer({"annotations.AlphaAnalyzer", "Checks for alpha Istio annotations in Kubernetes resources",
                       kAnnotatedKinds},
                      [](Context& context) {
                        for (const KindRef& kind : kAnnotatedKinds) {
                          for (const config::Resource* r : context.world().Of(kind)) {
                            CheckAlpha(context, *r);
                          }
                        }
                      });
}

}  // namespace mesh::analyze::workload
