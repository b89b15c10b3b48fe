#include "mesh/proxy/runtime.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "mesh/common/status_macros.h"
#include "mesh/common/strings.h"
#include "mesh/proxy/load_balancer.h"
#include "mesh/proxy/stats.h"
#include "mesh/proxyconfig/decode.h"

namespace mesh::proxy {

using common::StrCat;
using namespace proxyconfig;

void SslCtxDeleter::operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }

uint64_t HashKey(std::string_view s) {
  uint64_t h = 1469598103934665603ULL;
  for (char c : s) {
    h ^= static_cast<uint8_t>(c);
    h *= 1099511628211ULL;
  }
  // Final mix so that near keys spread over the ring.
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  return h;
}

std::vector<uint32_t> BuildMaglevTable(const std::vector<std::string>& host_keys, const std::vector<uint32_t>& weights,
                                       uint64_t table_size) {
  const size_t n = host_keys.size();
  if (n == 0 || table_size < 2) {
    return {};
  }
  constexpr uint32_t kFree = ~uint32_t{0};
  std::vector<uint32_t> table(table_size, kFree);
  std::vector<uint64_t> offset(n), skip(n), next(n, 0), claimed(n, 0);
  uint64_t max_weight = 1;
  for (size_t i = 0; i < n; ++i) {
    offset[i] = HashKey(host_keys[i]) % table_size;
    skip[i] = HashKey(StrCat(host_keys[i], "#skip")) % (table_size - 1) + 1;
    max_weight = std::max<uint64_t>(max_weight, std::max<uint32_t>(1, weights[i]));
  }
  uint64_t filled = 0;
  for (uint64_t round = 1; filled < table_size; ++round) {
    for (size_t i = 0; i < n && filled < table_size; ++i) {
      // Weighted turns: host i claims a slot in w_i of every max_weight rounds.
      if (claimed[i] * max_weight >= round * std::max<uint32_t>(1, weights[i])) {
        continue;
      }
      uint64_t slot;
      do {
        slot = (offset[i] + next[i] * skip[i]) % table_size;
        ++next[i];
      } while (table[slot] != kFree);
      table[slot] = static_cast<uint32_t>(i);
      ++claimed[i];
      ++filled;
    }
  }
  return table;
}

std::shared_ptr<ClusterState> SharedStateRegistry::Cluster(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& s = clusters_[name];
  if (!s) {
    s = std::make_shared<ClusterState>();
  }
  return s;
}

std::shared_ptr<HostState> SharedStateRegistry::Host(const std::string& cluster, const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& s = hosts_[cluster + "|" + key];
  if (!s) {
    s = std::make_shared<HostState>();
  }
  return s;
}

Counter SharedStateRegistry::GetCounter(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& c = counters_[name];
  if (!c) {
    c = std::make_shared<std::atomic<uint64_t>>(0);
  }
  return c;
}

std::map<std::string, uint64_t> SharedStateRegistry::Counters() {
  std::lock_guard<std::mutex> lock(mu_);
  std::map<std::string, uint64_t> out;
  for (const auto& [k, v] : counters_) {
    if (v->load() > 0) {
      out[k] = v->load();
    }
  }
  return out;
}

namespace {

std::string OpenSslError() {
  unsigned long e = ERR_get_error();
  if (e == 0) {
    return "unknown OpenSSL error";
  }
  char buf[256];
  ERR_error_string_n(e, buf, sizeof(buf));
  ERR_clear_error();
  return buf;
}

absl::StatusOr<std::string> ReadDataSource(const DataSource& d) {
  if (!d.inline_string.empty()) {
    return d.inline_string;
  }
  std::ifstream in(d.filename);
  if (!in) {
    return absl::InvalidArgumentError(StrCat("cannot read ", d.filename));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// SAN matchers live in the verify callback's app data: index registered once.
void FreeMatchers(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
  delete static_cast<std::vector<SanMatcher>*>(ptr);
}

int SanIndex() {
  static int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, FreeMatchers);
  return index;
}

bool SanMatches(X509* cert, const std::vector<SanMatcher>& matchers) {
  if (matchers.empty()) {
    return true;
  }
  auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (names == nullptr) {
    return false;
  }
  bool ok = false;
  for (int i = 0; i < sk_GENERAL_NAME_num(names) && !ok; ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
    SanMatcher::Type type;
    std::string value;
    if (n->type == GEN_DNS) {
      type = SanMatcher::Type::kDns;
      value.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(n->d.dNSName)), ASN1_STRING_length(n->d.dNSName));
    } else if (n->type == GEN_URI) {
      type = SanMatcher::Type::kUri;
      value.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(n->d.uniformResourceIdentifier)),
                   ASN1_STRING_length(n->d.uniformResourceIdentifier));
    } else if (n->type == GEN_EMAIL) {
      type = SanMatcher::Type::kEmail;
      value.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(n->d.rfc822Name)), ASN1_STRING_length(n->d.rfc822Name));
    } else {
      continue;
    }
    for (const auto& m : matchers) {
      if (m.type == type && m.matcher.Matches(value)) {
        ok = true;
        break;
      }
    }
  }
  GENERAL_NAMES_free(names);
  return ok;
}

int VerifyCallback(int preverify_ok, X509_STORE_CTX* store) {
  if (preverify_ok == 0) {
    return 0;
  }
  if (X509_STORE_CTX_get_error_depth(store) != 0) {
    return 1;
  }
  SSL* ssl = static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  SSL_CTX* ctx = SSL_get_SSL_CTX(ssl);
  auto* matchers = static_cast<std::vector<SanMatcher>*>(SSL_CTX_get_ex_data(ctx, SanIndex()));
  if (matchers == nullptr) {
    return 1;
  }
  if (!SanMatches(X509_STORE_CTX_get_current_cert(store), *matchers)) {
    X509_STORE_CTX_set_error(store, X509_V_ERR_SUBJECT_ISSUER_MISMATCH);
    return 0;
  }
  return 1;
}

absl::Status LoadChain(SSL_CTX* ctx, const TlsCertificate& cert) {
  MESH_ASSIGN_OR_RETURN(std::string chain, ReadDataSource(cert.certificate_chain));
  MESH_ASSIGN_OR_RETURN(std::string key, ReadDataSource(cert.private_key));
  BIO* bio = BIO_new_mem_buf(chain.data(), static_cast<int>(chain.size()));
  X509* leaf = PEM_read_bio_X509_AUX(bio, nullptr, nullptr, nullptr);
  if (leaf == nullptr || SSL_CTX_use_certificate(ctx, leaf) != 1) {
    BIO_free(bio);
    X509_free(leaf);
    return absl::InvalidArgumentError(StrCat("bad certificate chain: ", OpenSslError()));
  }
  X509_free(leaf);
  SSL_CTX_clear_chain_certs(ctx);
  while (X509* extra = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
    SSL_CTX_add0_chain_cert(ctx, extra);
  }
  ERR_clear_error();
  BIO_free(bio);
  bio = BIO_new_mem_buf(key.data(), static_cast<int>(key.size()));
  EVP_PKEY* pkey = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (pkey == nullptr || SSL_CTX_use_PrivateKey(ctx, pkey) != 1) {
    EVP_PKEY_free(pkey);
    return absl::InvalidArgumentError(StrCat("bad private key: ", OpenSslError()));
  }
  EVP_PKEY_free(pkey);
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return absl::InvalidArgumentError("private key does not match the certificate");
  }
  return absl::OkStatus();
}

absl::Status LoadTrustedCa(SSL_CTX* ctx, const DataSource& ca) {
  MESH_ASSIGN_OR_RETURN(std::string pem, ReadDataSource(ca));
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  int count = 0;
  while (X509* c = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
    X509_STORE_add_cert(store, c);
    X509_free(c);
    ++count;
  }
  ERR_clear_error();
  BIO_free(bio);
  if (count == 0) {
    return absl::InvalidArgumentError("trusted_ca holds no certificate");
  }
  return absl::OkStatus();
}

absl::StatusOr<SslCtxPtr> BuildSslContext(const CommonTlsContext& common, const Resources& resources, bool server,
                                          bool require_client_cert, const std::string& where) {
  SSL_CTX* raw = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
  if (raw == nullptr) {
    return absl::InternalError(OpenSslError());
  }
  SslCtxPtr ctx(raw, SslCtxDeleter());
  int min_version = common.tls_minimum_protocol_version == "TLSv1_3" ? TLS1_3_VERSION : TLS1_2_VERSION;
  SSL_CTX_set_min_proto_version(raw, min_version);
  if (common.tls_maximum_protocol_version == "TLSv1_2") {
    SSL_CTX_set_max_proto_version(raw, TLS1_2_VERSION);
  }
  std::string ciphers = common.cipher_suites.empty()
                            ? "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
                              "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
                            : common::Join(common.cipher_suites, ":");
  if (SSL_CTX_set_cipher_list(raw, ciphers.c_str()) != 1) {
    return absl::InvalidArgumentError(StrCat(where, ": bad cipher_suites: ", OpenSslError()));
  }
  SSL_CTX_set_options(raw, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_mode(raw, SSL_MODE_RELEASE_BUFFERS);
  std::vector<TlsCertificate> certs = common.tls_certificates;
  for (const auto& name : common.tls_certificate_sds_secret_configs) {
    const Secret* s = resources.FindSecret(name);
    if (s == nullptr || !s->tls_certificate) {
      return absl::InvalidArgumentError(StrCat(where, ": secret \"", name, "\" has no tls_certificate"));
    }
    certs.push_back(*s->tls_certificate);
  }
  if (!certs.empty()) {
    absl::Status st = LoadChain(raw, certs.front());
    if (!st.ok()) {
      return absl::InvalidArgumentError(StrCat(where, ": ", std::string(st.message())));
    }
  }
  std::optional<CertificateValidationContext> validation = common.validation_context;
  if (!common.validation_context_sds_secret_config.empty()) {
    const Secret* s = resources.FindSecret(common.validation_context_sds_secret_config);
    if (s == nullptr || !s->validation_context) {
      return absl::InvalidArgumentError(StrCat(where, ": secret \"", common.validation_context_sds_secret_config,
                                               "\" has no validation_context"));
    }
    CertificateValidationContext merged = *s->validation_context;
    if (validation) {
      for (const auto& m : validation->match_typed_subject_alt_names) {
        merged.match_typed_subject_alt_names.push_back(m);
      }
    }
    validation = merged;
  }
  if (validation && !validation->trusted_ca.empty()) {
    absl::Status st = LoadTrustedCa(raw, validation->trusted_ca);
    if (!st.ok()) {
      return absl::InvalidArgumentError(StrCat(where, ": ", std::string(st.message())));
    }
    int mode = SSL_VERIFY_PEER;
    if (server && require_client_cert) {
      mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    }
    SSL_CTX_set_ex_data(raw, SanIndex(), new std::vector<SanMatcher>(validation->match_typed_subject_alt_names));
    SSL_CTX_set_verify(raw, mode, VerifyCallback);
    if (server) {
      static const unsigned char kSessionId[] = "meshctl";
      SSL_CTX_set_session_id_context(raw, kSessionId, sizeof(kSessionId) - 1);
    }
  } else if (server && require_client_cert) {
    return absl::InvalidArgumentError(StrCat(where, ": require_client_certificate needs a validation context with trusted_ca"));
  } else {
    SSL_CTX_set_verify(raw, SSL_VERIFY_NONE, nullptr);
  }
  if (!server) {
    std::string alpn;
    for (const auto& p : common.alpn_protocols) {
      if (p == "http/1.1") {
        alpn.push_back(static_cast<char>(p.size()));
        alpn += p;
      }
    }
    if (!alpn.empty()) {
      SSL_CTX_set_alpn_protos(raw, reinterpret_cast<const unsigned char*>(alpn.data()), alpn.size());
    }
  }
  return ctx;
}

// Server-side ALPN selection: the first of our preferences the client offers.
int SelectAlpnFrom(const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned int inlen,
                   bool allow_h2) {
  static const std::string_view kPrefs[] = {"h2", "http/1.1"};
  for (size_t p = allow_h2 ? 0 : 1; p < 2; ++p) {
    for (unsigned int i = 0; i < inlen;) {
      unsigned int len = in[i];
      if (i + 1 + len > inlen) {
        break;
      }
      if (std::string_view(reinterpret_cast<const char*>(in + i + 1), len) == kPrefs[p]) {
        *out = in + i + 1;
        *outlen = static_cast<unsigned char>(len);
        return SSL_TLSEXT_ERR_OK;
      }
      i += 1 + len;
    }
  }
  return SSL_TLSEXT_ERR_NOACK;
}
int SelectAlpnH2(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned int inlen,
                 void*) {
  return SelectAlpnFrom(out, outlen, in, inlen, true);
}
int SelectAlpnHttp11(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                     unsigned int inlen, void*) {
  return SelectAlpnFrom(out, outlen, in, inlen, false);
}

std::string ServiceFromCluster(const std::string& name) {
  // Istio names: "outbound|80||reviews.default.svc.cluster.local".
  auto parts = common::Split(name, '|');
  if (parts.size() == 4) {
    return parts[3];
  }
  return name;
}

void BuildLabels(const NodeInfo& node, const std::string& service, uint32_t out[2][3]) {
  auto md = [&](const char* key) {
    std::string v = node.Metadata(key);
    return v.empty() ? std::string("unknown") : v;
  };
  std::string svc_name = service, svc_ns = "unknown";
  auto dot = service.find('.');
  if (dot != std::string::npos) {
    svc_name = service.substr(0, dot);
    auto rest = service.substr(dot + 1);
    svc_ns = rest.substr(0, rest.find('.'));
  }
  const char* policies[3] = {"none", "mutual_tls", "unknown"};
  for (int reporter = 0; reporter < 2; ++reporter) {
    bool dest = reporter == 1;
    for (int p = 0; p < 3; ++p) {
      std::vector<std::pair<std::string, std::string>> labels = {
          {"reporter", dest ? "destination" : "source"},
          {"source_workload", dest ? "unknown" : md("WORKLOAD_NAME")},
          {"source_workload_namespace", dest ? "unknown" : md("NAMESPACE")},
          {"source_principal", "unknown"},
          {"source_app", dest ? "unknown" : md("APP")},
          {"source_version", dest ? "unknown" : md("VERSION")},
          {"source_cluster", dest ? "unknown" : md("CLUSTER_ID")},
          {"destination_workload", dest ? md("WORKLOAD_NAME") : "unknown"},
          {"destination_workload_namespace", dest ? md("NAMESPACE") : svc_ns},
          {"destination_principal", "unknown"},
          {"destination_app", dest ? md("APP") : "unknown"},
          {"destination_version", dest ? md("VERSION") : "unknown"},
          {"destination_service", service},
          {"destination_service_name", svc_name},
          {"destination_service_namespace", svc_ns},
          {"destination_cluster", dest ? md("CLUSTER_ID") : "unknown"},
          {"request_protocol", "http"},
          {"grpc_response_status", ""},
          {"connection_security_policy", policies[p]},
      };
      out[reporter][p] = InternLabels(RenderLabels(labels));
    }
  }
}

std::shared_ptr<FILE> OpenLog(const std::string& path) {
  if (path.empty()) {
    return nullptr;
  }
  FILE* f = std::fopen(path.c_str(), "a");
  if (f == nullptr) {
    return nullptr;
  }
  return std::shared_ptr<FILE>(f, [](FILE* fp) { std::fclose(fp); });
}

}  // namespace

absl::StatusOr<RuntimePtr> CompileRuntime(ConfigSnapshotPtr snapshot, SharedStateRegistry& registry) {
  auto rt = std::make_shared<Runtime>();
  rt->snapshot = snapshot;
  const Resources& res = snapshot->resources;
  const NodeInfo& node = snapshot->bootstrap.node;
  MESH_RETURN_IF_ERROR(ValidateResources(res));
  BuildLabels(node, "unknown", rt->no_cluster_labels);
  if (!node.Metadata("WORKLOAD_NAME").empty() && !node.Metadata("NAMESPACE").empty()) {
    rt->peer_workload = StrCat(node.Metadata("NAMESPACE"), "/", node.Metadata("WORKLOAD_NAME"));
  }
  for (const auto& c : res.clusters) {
    ClusterRuntime cr;
    cr.cluster = &c;
    cr.state = registry.Cluster(c.name);
    cr.stat_prefix = StrCat("cluster.", c.name, ".");
    cr.rq_total = registry.GetCounter(cr.stat_prefix + "upstream_rq_total");
    for (int i = 1; i < 6; ++i) {
      cr.rq_class[i] = registry.GetCounter(StrCat(cr.stat_prefix, "upstream_rq_", i, "xx"));
    }
    cr.lb_healthy_panic = registry.GetCounter(cr.stat_prefix + "upstream_rq_lb_healthy_panic");
    if (c.outlier_detection) {
      auto od = [&](const char* name) { return registry.GetCounter(StrCat(cr.stat_prefix, "outlier_detection.", name)); };
      cr.outlier.ejections_enforced_total = od("ejections_enforced_total");
      cr.outlier.ejections_overflow = od("ejections_overflow");
      cr.outlier.ejections_enforced_consecutive_5xx = od("ejections_enforced_consecutive_5xx");
      cr.outlier.ejections_enforced_consecutive_gateway_failure = od("ejections_enforced_consecutive_gateway_failure");
      cr.outlier.ejections_detected_success_rate = od("ejections_detected_success_rate");
      cr.outlier.ejections_enforced_success_rate = od("ejections_enforced_success_rate");
      cr.outlier.ejections_detected_failure_percentage = od("ejections_detected_failure_percentage");
      cr.outlier.ejections_enforced_failure_percentage = od("ejections_enforced_failure_percentage");
    }
    const ClusterLoadAssignment* cla = c.load_assignment ? &*c.load_assignment : nullptr;
    if (c.type == Cluster::DiscoveryType::kEds) {
      cla = res.FindEndpoints(c.eds_service_name.empty() ? c.name : c.eds_service_name);
    }
    if (cla != nullptr) {
      for (const auto& le : cla->endpoints) {
        if (cr.priorities.size() <= le.priority) {
          cr.priorities.resize(le.priority + 1);
        }
        PriorityRuntime& level = cr.priorities[le.priority];
        level.localities.push_back({le.load_balancing_weight, {}});
        for (const auto& e : le.lb_endpoints) {
          uint32_t index = static_cast<uint32_t>(cr.hosts.size());
          level.set.hosts.push_back(index);
          level.localities.back().set.hosts.push_back(index);
          HostRuntime h;
          h.address = e.address.address;
          h.port = static_cast<uint16_t>(e.address.port_value);
          h.key = StrCat(h.address, ":", h.port);
          h.pool_key = StrCat(c.name, "|", h.key);
          h.weight = std::max<uint32_t>(1, e.load_balancing_weight);
          h.configured_healthy = e.healthy;
          h.priority = le.priority;
          h.state = registry.Host(c.name, h.key);
          cr.hosts.push_back(std::move(h));
        }
      }
    }
    if (c.lb_policy == Cluster::LbPolicy::kMaglev) {
      std::vector<std::string> keys;
      std::vector<uint32_t> weights;
      for (const auto& h : cr.hosts) {
        keys.push_back(h.key);
        weights.push_back(h.weight);
      }
      cr.maglev = BuildMaglevTable(keys, weights, c.maglev_table_size);
    }
    for (uint32_t i = 0; i < cr.hosts.size(); ++i) {
      if (c.lb_policy == Cluster::LbPolicy::kRingHash) {
        for (uint32_t v = 0; v < 64 * std::min<uint32_t>(cr.hosts[i].weight, 16); ++v) {
          cr.ring.emplace_back(HashKey(StrCat(cr.hosts[i].key, "_", v)), i);
        }
      }
    }
    std::sort(cr.ring.begin(), cr.ring.end());
    cr.locality_weighted = c.locality_weighted_lb;
    BuildLoadBalancingTables(cr);
    if (c.tls) {
      MESH_ASSIGN_OR_RETURN(cr.tls, BuildSslContext(c.tls->common_tls_context, res, false, false,
                                                    StrCat("cluster \"", c.name, "\"")));
      cr.sni = c.tls->sni;
      if (c.http2) {  // HTTP/2 clusters offer only h2 (Istio's mTLS carries h2 the same way)
        static const unsigned char kH2Alpn[] = {2, 'h', '2'};
        SSL_CTX_set_alpn_protos(cr.tls.get(), kH2Alpn, sizeof(kH2Alpn));
      }
    }
    BuildLabels(node, ServiceFromCluster(c.name), cr.labels);
    rt->clusters.emplace(c.name, std::move(cr));
  }
  for (const auto& l : res.listeners) {
    ListenerRuntime lr;
    lr.listener = &l;
    lr.reporter = l.traffic_direction == Listener::Direction::kInbound ? 1 : 0;
    lr.stat_prefix = StrCat("listener.", l.address.address, "_", l.address.port_value, ".");
    for (const auto& fc : l.filter_chains) {
      ChainRuntime cr;
      cr.chain = &fc;
      if (const auto* hcm = std::get_if<HttpConnectionManager>(&fc.filter)) {
        cr.hcm = hcm;
        cr.routes = hcm->route_config ? &*hcm->route_config : res.FindRouteConfig(hcm->rds_route_config_name);
        cr.stat_prefix = StrCat("http.", hcm->stat_prefix.empty() ? l.name : hcm->stat_prefix, ".");
        cr.downstream_rq_total = registry.GetCounter(cr.stat_prefix + "downstream_rq_total");
        for (const auto& log : hcm->access_log) {
          cr.logs.push_back({log, OpenLog(log.path)});
        }
      } else {
        cr.tcp = &std::get<TcpProxy>(fc.filter);
        cr.stat_prefix = StrCat("tcp.", cr.tcp->stat_prefix.empty() ? l.name : cr.tcp->stat_prefix, ".");
        for (const auto& log : cr.tcp->access_log) {
          cr.logs.push_back({log, OpenLog(log.path)});
        }
      }
      if (fc.tls) {
        MESH_ASSIGN_OR_RETURN(cr.tls, BuildSslContext(fc.tls->common_tls_context, res, true,
                                                      fc.tls->require_client_certificate,
                                                      StrCat("listener \"", l.name, "\"")));
        // ALPN: h2 for HTTP connection managers that allow it, else http/1.1.
        if (cr.hcm != nullptr) {
          bool allow_h2 = cr.hcm->codec_type != "HTTP1";
          SSL_CTX_set_alpn_select_cb(cr.tls.get(), allow_h2 ? &SelectAlpnH2 : &SelectAlpnHttp11, nullptr);
        }
      }
      if (fc.tls || !fc.filter_chain_match.server_names.empty() || !fc.filter_chain_match.transport_protocol.empty()) {
        lr.inspect = true;
      }
      lr.chains.push_back(std::move(cr));
    }
    if (lr.chains.size() == 1 && lr.chains[0].chain->filter_chain_match.server_names.empty() &&
        lr.chains[0].chain->filter_chain_match.transport_protocol.empty()) {
      lr.inspect = false;  // one chain: nothing to choose
    }
    rt->listeners.emplace(l.name, std::move(lr));
  }
  return RuntimePtr(std::move(rt));
}

}  // namespace mesh::proxy
