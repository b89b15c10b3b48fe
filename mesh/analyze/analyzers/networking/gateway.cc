// Istio Gateway analyzers: duplicate certificates, conflicting servers, ports missing
// from the ingress Service, and missing credential Secrets.

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "mesh/analyze/analyzers/networking/analyzers.h"
#include "mesh/analyze/analyzers/networking/common.h"
#include "mesh/analyze/util.h"
#include "mesh/common/strings.h"
#include "openssl/bio.h"
#include "openssl/evp.h"
#include "openssl/pem.h"
#include "openssl/x509.h"

namespace mesh::analyze::networking {
namespace {

config::StringMap GatewaySelector(const config::Resource& gw) { return util::ToStringMap(gw.spec()["selector"]); }

// Line of the first selector label (where a selector problem is visible).
int SelectorLine(const config::Resource& gw, const config::StringMap& selector) {
  std::string key = FirstSelectorKey(selector);
  int line = key.empty() ? 0 : util::LineOf(gw.spec()["selector"][key]);
  return line > 0 ? line : util::LineOf(gw.spec()["selector"]);
}

int MetadataNameLine(const config::Resource& r) { return util::LineOf(r.metadata()["name"]); }

// ---------------------------------------------------------------- CertificateAnalyzer

// Two TLS settings share a certificate when both name the same credential, or both name
// the same certificate and key files (Istio's haveSameCertificate).
std::string CertificateKey(const config::Node& tls) {
  const std::string& credential = tls["credentialName"].Str();
  if (!credential.empty()) {
    return "credential:" + credential;
  }
  const std::string& cert = tls["serverCertificate"].Str();
  const std::string& key = tls["privateKey"].Str();
  if (!cert.empty() && !key.empty()) {
    return common::StrCat("files:", cert, "\n", key);
  }
  return "";
}

// Whether every label of `x` is in `y` with the same value.
bool SelectorSubset(const config::StringMap& x, const config::StringMap& y) {
  for (const auto& [k, v] : x) {
    auto it = y.find(k);
    if (it == y.end() || it->second != v) {
      return false;
    }
  }
  return true;
}

class CertificateAnalyzer : public AnalyzerBase {
 public:
  CertificateAnalyzer()
      : AnalyzerBase({"gateway.CertificateAnalyzer", "Checks a gateway certificate", {kinds::kGateway}}) {}

  void Analyze(Context& ctx) const override {
    const auto& gateways = ctx.world().Of(kinds::kGateway);
    // Certificate -> gateways with a TLS server using it (each gateway once per server).
    std::unordered_map<std::string, std::vector<const config::Resource*>> by_cert;
    for (const config::Resource* gw : gateways) {
      for (const config::Node& server : gw->spec()["servers"].items()) {
        const config::Node& tls = server["tls"];
        if (!tls.Defined()) {
          continue;
        }
        std::string key = CertificateKey(tls);
        if (!key.empty()) {
          by_cert[key].push_back(gw);
        }
      }
    }
    const MessageType& type = MessageTypeNamed("GatewayDuplicateCertificate");
    for (const config::Resource* gw : gateways) {
      config::StringMap selector = GatewaySelector(*gw);
      for (const config::Node& server : gw->spec()["servers"].items()) {
        const config::Node& tls = server["tls"];
        if (!tls.Defined()) {
          continue;
        }
        auto it = by_cert.find(CertificateKey(tls));
        if (it == by_cert.end()) {
          continue;
        }
        for (const config::Resource* other : it->second) {
          if (other == gw) {
            continue;
          }
          // A gateway conflicts with those whose selector includes all of its labels.
          if (!selector.empty() && !SelectorSubset(selector, GatewaySelector(*other))) {
            continue;
          }
          ctx.Report(type, gw, {common::GoList({gw->FullName(), other->FullName()})}, MetadataNameLine(*gw));
        }
      }
    }
  }
};

// ---------------------------------------------------------------- ConflictingGatewayAnalyzer

// Host -> bind of one gateway's servers on one selector and port.
using HostsBind = std::map<std::string, std::string>;

class ConflictingGatewayAnalyzer : public AnalyzerBase {
 public:
  ConflictingGatewayAnalyzer()
      : AnalyzerBase({"gateway.ConflictingGatewayAnalyzer",
                      "Checks a gateway's selector, port number and hosts",
                      {kinds::kGateway, kinds::kPod}}) {}

  // selector text -> port -> gateway full name -> hosts/bind (Istio's gatewaysContextMap).
  using PortMap = std::map<std::string, std::map<std::string, HostsBind>>;

  void Analyze(Context& ctx) const override {
    const World& world = ctx.world();
    std::unordered_map<std::string, PortMap> index;
    std::unordered_map<std::string, config::StringMap> selector_maps;
    for (const config::Resource* gw : world.Of(kinds::kGateway)) {
      config::StringMap selector_map = GatewaySelector(*gw);
      std::string selector = SelectorText(selector_map);
      for (const config::Node& server : gw->spec()["servers"].items()) {
        std::string port = std::to_string(server.At({"port", "number"}).Int().value_or(0));
        HostsBind hb;
        for (const std::string& h : server["hosts"].StringList()) {
          hb[h] = server["bind"].Str();
        }
        index[selector][port][gw->FullName()] = std::move(hb);
        selector_maps.emplace(selector, selector_map);
      }
    }
    // Indexed selectors by each of their labels ("" for the empty selector), to find those
    // that select a given pod without scanning them all.
    std::unordered_map<std::string, std::vector<const std::string*>> selectors_by_label;
    for (const auto& [text, map] : selector_maps) {
      if (map.empty()) {
        selectors_by_label[""].push_back(&text);
      } else {
        const auto& [k, v] = *map.begin();
        selectors_by_label[common::StrCat(k, "=", v)].push_back(&text);
      }
    }
    PodIndex pods(world);

    // Selectors treated as the same workload as `selector`: itself, and those that are
    // textually contained in it (or contain it) and select a common pod.
    std::unordered_map<std::string, std::vector<const PortMap*>> same_workload_cache;
    auto same_workload = [&](const std::string& selector,
                             const config::StringMap& selector_map) -> const std::vector<const PortMap*>& {
      auto cached = same_workload_cache.find(selector);
      if (cached != same_workload_cache.end()) {
        return cached->second;
      }
      std::vector<const PortMap*> out;
      std::set<std::string> seen;
      if (auto it = index.find(selector); it != index.end()) {
        out.push_back(&it->second);
        seen.insert(selector);
      }
      for (const config::Resource* pod : pods.Matching(selector_map)) {
        std::vector<std::string> keys = {""};
        for (const auto& [k, v] : pod->labels()) {
          keys.push_back(common::StrCat(k, "=", v));
        }
        for (const std::string& key : keys) {
          auto it = selectors_by_label.find(key);
          if (it == selectors_by_label.end()) {
            continue;
          }
          for (const std::string* other : it->second) {
            if (seen.count(*other) > 0 ||
                (other->find(selector) == std::string::npos && selector.find(*other) == std::string::npos) ||
                !util::SelectorMatches(selector_maps[*other], pod->labels())) {
              continue;
            }
            seen.insert(*other);
            out.push_back(&index[*other]);
          }
        }
      }
      return same_workload_cache.emplace(selector, std::move(out)).first->second;
    };

    const MessageType& not_found = MessageTypeNamed("ReferencedResourceNotFound");
    const MessageType& conflicting = MessageTypeNamed("ConflictingGateways");
    for (const config::Resource* gw : world.Of(kinds::kGateway)) {
      config::StringMap selector_map = GatewaySelector(*gw);
      std::string selector = SelectorText(selector_map);
      const std::vector<const PortMap*>& workloads = same_workload(selector, selector_map);
      if (!selector.empty() && workloads.empty()) {
        ctx.Report(not_found, gw, {"selector", selector}, SelectorLine(*gw, selector_map));
        continue;
      }
      std::string name = gw->FullName();
      for (const config::Node& server : gw->spec()["servers"].items()) {
        std::string port = std::to_string(server.At({"port", "number"}).Int().value_or(0));
        std::vector<std::string> hosts = server["hosts"].StringList();
        const std::string& bind = server["bind"].Str();
        std::vector<std::string> conflicts;
        for (const PortMap* ports : workloads) {
          auto pit = ports->find(port);
          if (pit == ports->end()) {
            continue;
          }
          for (const auto& [other_name, hosts_bind] : pit->second) {
            if (other_name == name) {
              continue;
            }
            // Same host with the same bind (Istio's CheckDuplicates).
            bool duplicate = std::any_of(hosts.begin(), hosts.end(), [&](const std::string& h) {
              auto hit = hosts_bind.find(h);
              return hit != hosts_bind.end() && hit->second == bind;
            });
            if (duplicate) {
              conflicts.push_back(other_name);
            }
          }
        }
        if (!conflicts.empty()) {
          std::sort(conflicts.begin(), conflicts.end());
          ctx.Report(conflicting, gw, {common::Join(conflicts, ","), selector, port, common::Join(hosts, ",")},
                     util::LineOf(server["port"]));
        }
      }
    }
  }
};

// ---------------------------------------------------------------- IngressGatewayPortAnalyzer

class IngressGatewayPortAnalyzer : public AnalyzerBase {
 public:
  IngressGatewayPortAnalyzer()
      : AnalyzerBase({"gateway.IngressGatewayPortAnalyzer",
                      "Checks a gateway's ports against the gateway's Kubernetes service ports",
                      {kinds::kGateway, kinds::kPod, kinds::kService}}) {}

  struct Workload {
    int matched_pods = 0;
    std::set<int64_t> service_ports;  // TCP ports of Services selecting those pods
  };

  void Analyze(Context& ctx) const override {
    const World& world = ctx.world();
    std::unordered_map<std::string, std::vector<const config::Resource*>> services_by_ns;
    for (const config::Resource* svc : world.Of(kinds::kService)) {
      services_by_ns[svc->ns()].push_back(svc);
    }
    PodIndex pods(world);
    std::unordered_map<std::string, Workload> by_selector;
    auto workload_for = [&](const config::StringMap& selector) -> const Workload& {
      std::string key = SelectorText(selector);
      auto it = by_selector.find(key);
      if (it != by_selector.end()) {
        return it->second;
      }
      Workload w;
      for (const config::Resource* pod : pods.Matching(selector)) {
        ++w.matched_pods;
        for (const config::Resource* svc : services_by_ns[pod->ns()]) {
          if (!util::SelectorMatches(svc->spec()["selector"], pod->labels())) {
            continue;
          }
          for (const config::Node& p : svc->spec()["ports"].items()) {
            if (p["protocol"].Str() != "TCP") {
              continue;
            }
            // A gateway server port may be the Service port or the targetPort it
            // translates to (a named targetPort counts as unset, like IntValue()).
            w.service_ports.insert(p["port"].Int().value_or(0));
            int64_t target = p["targetPort"].Int().value_or(0);
            if (target != 0) {
              w.service_ports.insert(target);
            }
          }
        }
      }
      return by_selector.emplace(key, std::move(w)).first->second;
    };

    const MessageType& not_found = MessageTypeNamed("ReferencedResourceNotFound");
    const MessageType& not_on_service = MessageTypeNamed("GatewayPortNotDefinedOnService");
    for (const config::Resource* gw : world.Of(kinds::kGateway)) {
      config::StringMap selector = GatewaySelector(*gw);
      const Workload& w = workload_for(selector);
      if (w.matched_pods == 0) {
        ctx.Report(not_found, gw, {"selector", SelectorText(selector)}, SelectorLine(*gw, selector));
        continue;
      }
      for (const config::Node& server : gw->spec()["servers"].items()) {
        const config::Node& port = server["port"];
        if (!port.Defined()) {
          continue;
        }
        int64_t number = port["number"].Int().value_or(0);
        if (w.service_ports.count(number) == 0) {
          int line = util::LineOf(port["number"]);
          ctx.Report(not_on_service, gw, {std::to_string(number), SelectorText(selector)},
                     line > 0 ? line : SelectorLine(*gw, selector));
        }
      }
    }
  }
};

// ---------------------------------------------------------------- SecretAnalyzer

// Standard base64 (Secret `data` values); nullopt when malformed.
std::optional<std::string> DecodeBase64(std::string_view in) {
  std::string clean;
  for (char c : in) {
    if (c != '\n' && c != '\r' && c != ' ' && c != '\t') {
      clean.push_back(c);
    }
  }
  if (clean.size() % 4 != 0) {
    return std::nullopt;
  }
  std::string out(clean.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(clean.data()), static_cast<int>(clean.size()));
  if (n < 0) {
    return std::nullopt;
  }
  size_t padding = 0;
  for (size_t i = clean.size(); i > 0 && clean[i - 1] == '='; --i) {
    ++padding;
  }
  out.resize(static_cast<size_t>(n) - padding);
  return out;
}

// Whether the first PEM block of `pem` holds DER certificates that are all valid now
// (Istio's ValidateCertificate).
bool CertificatesValidNow(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  char* name = nullptr;
  char* header = nullptr;
  unsigned char* der = nullptr;
  long der_len = 0;
  bool ok = PEM_read_bio(bio, &name, &header, &der, &der_len) == 1;
  BIO_free(bio);
  if (ok) {
    const unsigned char* p = der;
    const unsigned char* end = der + der_len;
    int count = 0;
    while (ok && p < end) {
      X509* cert = d2i_X509(nullptr, &p, end - p);
      if (cert == nullptr) {
        ok = false;
        break;
      }
      ++count;
      ok = X509_cmp_current_time(X509_get0_notBefore(cert)) < 0 && X509_cmp_current_time(X509_get0_notAfter(cert)) > 0;
      X509_free(cert);
    }
    ok = ok && count > 0;
  }
  OPENSSL_free(name);
  OPENSSL_free(header);
  OPENSSL_free(der);
  return ok;
}

// A gateway credential needs cert+key (or tls.crt+tls.key) with a certificate that
// parses and is currently valid.
bool IsValidCredentialSecret(const config::Resource& secret) {
  const config::Node& data = secret.root()["data"];
  auto has_values = [&](std::string_view cert, std::string_view key) {
    return !data[cert].Str().empty() && !data[key].Str().empty();
  };
  std::string cert_key;
  if (has_values("cert", "key")) {
    cert_key = "cert";
  } else if (has_values("tls.crt", "tls.key")) {
    cert_key = "tls.crt";
  } else {
    return false;
  }
  std::optional<std::string> pem = DecodeBase64(data[cert_key].Str());
  return pem.has_value() && CertificatesValidNow(*pem);
}

class SecretAnalyzer : public AnalyzerBase {
 public:
  SecretAnalyzer()
      : AnalyzerBase({"gateway.SecretAnalyzer",
                      "Checks a gateway's referenced secrets for correctness",
                      {kinds::kGateway, kinds::kPod, kinds::kSecret}}) {}

  void Analyze(Context& ctx) const override {
    const World& world = ctx.world();
    // Selector -> namespace of the first selected workload pod ("" when none).
    std::unordered_map<std::string, std::string> workload_ns;
    PodIndex pods(world);
    const MessageType& not_found = MessageTypeNamed("ReferencedResourceNotFound");
    const MessageType& invalid = MessageTypeNamed("InvalidGatewayCredential");
    for (const config::Resource* gw : world.Of(kinds::kGateway)) {
      config::StringMap selector = GatewaySelector(*gw);
      std::string selector_text = SelectorText(selector);
      auto it = workload_ns.find(selector_text);
      if (it == workload_ns.end()) {
        const config::Resource* pod = pods.FirstMatching(selector);
        it = workload_ns.emplace(selector_text, pod == nullptr ? std::string() : pod->ns()).first;
      }
      const std::string& gw_ns = it->second;
      // Secrets are looked up where the gateway workload runs, so no workload means no
      // way to resolve them.
      if (gw_ns.empty()) {
        ctx.Report(not_found, gw, {"selector", selector_text}, SelectorLine(*gw, selector));
        continue;
      }
      for (const config::Node& server : gw->spec()["servers"].items()) {
        const config::Node& credential = server.At({"tls", "credentialName"});
        const std::string& name = credential.Str();
        if (name.empty()) {
          continue;
        }
        auto [ns, secret] = ShortOrFullName(gw_ns, name);
        const config::Resource* found = world.Find(kinds::kSecret, ns, secret);
        if (found == nullptr) {
          ctx.Report(not_found, gw, {"credentialName", name}, util::LineOf(credential));
        } else if (!IsValidCredentialSecret(*found)) {
          ctx.Report(invalid, gw, {gw->name(), gw_ns}, util::LineOf(credential));
        }
      }
    }
  }
};

}  // namespace

AnalyzerPtr NewGatewayCertificateAnalyzer() { return std::make_unique<CertificateAnalyzer>(); }
AnalyzerPtr NewConflictingGatewayAnalyzer() { return std::make_unique<ConflictingGatewayAnalyzer>(); }
AnalyzerPtr NewIngressGatewayPortAnalyzer() { return std::make_unique<IngressGatewayPortAnalyzer>(); }
AnalyzerPtr NewGatewaySecretAnalyzer() { return std::make_unique<SecretAnalyzer>(); }

}  // namespace mesh::analyze::networking
