#include "mesh/ca/ca.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <sys/stat.h>

#include <filesystem>
#include <memory>

#include "mesh/common/file_util.h"
#include "mesh/common/strings.h"

namespace mesh::ca {
namespace {

namespace fs = std::filesystem;

template <typename T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using KeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using ReqPtr = std::unique_ptr<X509_REQ, Deleter<X509_REQ, X509_REQ_free>>;
using NamesPtr = std::unique_ptr<GENERAL_NAMES, Deleter<GENERAL_NAMES, GENERAL_NAMES_free>>;

std::string OpenSslError(std::string_view what) {
  unsigned long e = ERR_get_error();
  char buf[256] = "unknown error";
  if (e != 0) {
    ERR_error_string_n(e, buf, sizeof(buf));
  }
  ERR_clear_error();
  return common::StrCat(what, ": ", buf);
}

std::string BioToString(BIO* bio) {
  BUF_MEM* mem = nullptr;
  BIO_get_mem_ptr(bio, &mem);
  return mem ? std::string(mem->data, mem->length) : std::string();
}

BioPtr MemBio(const std::string& data) {
  return BioPtr(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

absl::StatusOr<KeyPtr> NewEcKey() {
  KeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) {
    return absl::InternalError(OpenSslError("generate key"));
  }
  return key;
}

std::string KeyToPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  return BioToString(bio.get());
}

std::string CertToPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert);
  return BioToString(bio.get());
}

absl::StatusOr<KeyPtr> KeyFromPem(const std::string& pem) {
  BioPtr bio = MemBio(pem);
  KeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) {
    return absl::InvalidArgumentError(OpenSslError("read private key"));
  }
  return key;
}

absl::StatusOr<X509Ptr> CertFromPem(const std::string& pem) {
  BioPtr bio = MemBio(pem);
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) {
    return absl::InvalidArgumentError(OpenSslError("read certificate"));
  }
  return cert;
}

absl::Status AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) {
    return absl::InternalError(OpenSslError(common::StrCat("extension ", value)));
  }
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  return absl::OkStatus();
}

absl::Status SetSerialAndValidity(X509* cert, std::chrono::system_clock::time_point now, std::chrono::seconds ttl) {
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof(serial)) != 1) {
    return absl::InternalError(OpenSslError("random serial"));
  }
  serial[0] &= 0x7f;  // positive
  BIGNUM* bn = BN_bin2bn(serial, sizeof(serial), nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert));
  BN_free(bn);
  time_t t = std::chrono::system_clock::to_time_t(now);
  // Backdate a minute for clock skew between peers.
  ASN1_TIME_set(X509_getm_notBefore(cert), t - 60);
  ASN1_TIME_set(X509_getm_notAfter(cert), t + static_cast<time_t>(ttl.count()));
  return absl::OkStatus();
}

std::chrono::system_clock::time_point FromAsn1(const ASN1_TIME* t) {
  struct tm tm {};
  ASN1_TIME_to_tm(t, &tm);
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

std::vector<std::string> UriSans(X509* cert, std::vector<std::string>* dns) {
  std::vector<std::string> uris;
  NamesPtr names(static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  if (!names) {
    return uris;
  }
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(names.get(), i);
    if (n->type == GEN_URI) {
      uris.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(n->d.uniformResourceIdentifier)),
                        ASN1_STRING_length(n->d.uniformResourceIdentifier));
    } else if (n->type == GEN_DNS && dns != nullptr) {
      dns->emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(n->d.dNSName)),
                        ASN1_STRING_length(n->d.dNSName));
    }
  }
  return uris;
}

class LocalCa : public CertificateAuthority {
 public:
  LocalCa(KeyPtr key, X509Ptr cert, std::string chain_pem, std::string root_pem,
          std::shared_ptr<const common::TimeSource> time)
      : key_(std::move(key)),
        cert_(std::move(cert)),
        chain_pem_(std::move(chain_pem)),
        root_pem_(std::move(root_pem)),
        time_(std::move(time)) {}

  // mesh::ca::CertificateAuthority
  absl::StatusOr<SignedCertificate> Sign(const std::string& csr_pem, const SpiffeId& identity,
                                         std::chrono::seconds ttl) override {
    BioPtr bio = MemBio(csr_pem);
    ReqPtr req(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
    if (!req) {
      return absl::InvalidArgumentError(OpenSslError("parse CSR"));
    }
    EVP_PKEY* req_key = X509_REQ_get0_pubkey(req.get());
    if (req_key == nullptr || X509_REQ_verify(req.get(), req_key) != 1) {
      return absl::InvalidArgumentError("CSR signature does not verify");
    }
    std::string want = identity.ToString();
    // The CSR may ask for nothing or for exactly the authenticated identity.
    STACK_OF(X509_EXTENSION)* exts = X509_REQ_get_extensions(req.get());
    if (exts != nullptr) {
      for (int i = 0; i < sk_X509_EXTENSION_num(exts); ++i) {
        X509_EXTENSION* ext = sk_X509_EXTENSION_value(exts, i);
        if (OBJ_obj2nid(X509_EXTENSION_get_object(ext)) != NID_subject_alt_name) {
          continue;
        }
        NamesPtr names(static_cast<GENERAL_NAMES*>(X509V3_EXT_d2i(ext)));
        for (int j = 0; names && j < sk_GENERAL_NAME_num(names.get()); ++j) {
          const GENERAL_NAME* n = sk_GENERAL_NAME_value(names.get(), j);
          if (n->type != GEN_URI) {
            continue;
          }
          std::string uri(reinterpret_cast<const char*>(ASN1_STRING_get0_data(n->d.uniformResourceIdentifier)),
                          ASN1_STRING_length(n->d.uniformResourceIdentifier));
          if (uri != want) {
            sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
            return absl::PermissionDeniedError(
                common::StrCat("CSR asks for identity ", uri, " but the caller is ", want));
          }
        }
      }
      sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    }

    X509Ptr cert(X509_new());
    X509_set_version(cert.get(), 2);
    auto now = time_ ? time_->SystemNow() : std::chrono::system_clock::now();
    if (auto st = SetSerialAndValidity(cert.get(), now, ttl); !st.ok()) {
      return st;
    }
    X509_set_pubkey(cert.get(), req_key);
    X509_set_issuer_name(cert.get(), X509_get_subject_name(cert_.get()));
    // Istio's workload certificates have an empty subject; the identity is the URI SAN.
    for (auto [nid, value] : std::initializer_list<std::pair<int, std::string>>{
             {NID_basic_constraints, "critical,CA:FALSE"},
             {NID_key_usage, "critical,digitalSignature,keyEncipherment"},
             {NID_ext_key_usage, "serverAuth,clientAuth"},
             {NID_subject_alt_name, "critical,URI:" + want},
             {NID_authority_key_identifier, "keyid:always"}}) {
      if (auto st = AddExtension(cert.get(), cert_.get(), nid, value); !st.ok()) {
        return st;
      }
    }
    if (X509_sign(cert.get(), key_.get(), EVP_sha256()) == 0) {
      return absl::InternalError(OpenSslError("sign certificate"));
    }
    SignedCertificate out;
    out.cert_pem = CertToPem(cert.get());
    out.chain_pem = out.cert_pem + chain_pem_;
    out.root_cert_pem = root_pem_;
    return out;
  }

  const std::string& RootCertPem() const override { return root_pem_; }

  absl::StatusOr<ServingCertificate> IssueServingCertificate(const std::vector<std::string>& dns_names,
                                                             std::chrono::seconds ttl) override {
    if (dns_names.empty()) {
      return absl::InvalidArgumentError("a serving certificate needs at least one DNS name");
    }
    std::string san = "critical";
    for (const std::string& name : dns_names) {
      if (name.empty() || name.find_first_of(",: ") != std::string::npos) {
        return absl::InvalidArgumentError(common::StrCat("bad DNS name \"", name, "\""));
      }
      san += ",DNS:" + name;
    }
    auto key = NewEcKey();
    if (!key.ok()) {
      return key.status();
    }
    X509Ptr cert(X509_new());
    X509_set_version(cert.get(), 2);
    auto now = time_ ? time_->SystemNow() : std::chrono::system_clock::now();
    if (auto st = SetSerialAndValidity(cert.get(), now, ttl); !st.ok()) {
      return st;
    }
    X509_set_pubkey(cert.get(), key->get());
    X509_set_issuer_name(cert.get(), X509_get_subject_name(cert_.get()));
    X509_NAME* subject = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(dns_names.front().c_str()), -1, -1, 0);
    for (auto [nid, value] : std::initializer_list<std::pair<int, std::string>>{
             {NID_basic_constraints, "critical,CA:FALSE"},
             {NID_key_usage, "critical,digitalSignature,keyEncipherment"},
             {NID_ext_key_usage, "serverAuth"},
             {NID_subject_alt_name, san},
             {NID_authority_key_identifier, "keyid:always"}}) {
      if (auto st = AddExtension(cert.get(), cert_.get(), nid, value); !st.ok()) {
        return st;
      }
    }
    if (X509_sign(cert.get(), key_.get(), EVP_sha256()) == 0) {
      return absl::InternalError(OpenSslError("sign serving certificate"));
    }
    ServingCertificate out;
    out.key_pem = KeyToPem(key->get());
    out.chain_pem = CertToPem(cert.get()) + chain_pem_;
    out.root_cert_pem = root_pem_;
    return out;
  }

 private:
  KeyPtr key_;
  X509Ptr cert_;
  std::string chain_pem_;  // the CA's own chain (issuer cert + parents)
  std::string root_pem_;
  std::shared_ptr<const common::TimeSource> time_;
};

absl::StatusOr<std::pair<KeyPtr, X509Ptr>> CreateRoot(const LocalCaOptions& o) {
  auto key = NewEcKey();
  if (!key.ok()) {
    return key.status();
  }
  X509Ptr cert(X509_new());
  X509_set_version(cert.get(), 2);
  auto now = o.time_source ? o.time_source->SystemNow() : std::chrono::system_clock::now();
  if (auto st = SetSerialAndValidity(cert.get(), now, std::chrono::duration_cast<std::chrono::seconds>(o.root_ttl));
      !st.ok()) {
    return st;
  }
  X509_set_pubkey(cert.get(), key->get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(o.trust_domain.c_str()),
                             -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("meshctl root CA"), -1,
                             -1, 0);
  X509_set_issuer_name(cert.get(), name);
  for (auto [nid, value] : std::initializer_list<std::pair<int, std::string>>{
           {NID_basic_constraints, "critical,CA:TRUE"},
           {NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature"},
           {NID_subject_key_identifier, "hash"}}) {
    if (auto st = AddExtension(cert.get(), cert.get(), nid, value); !st.ok()) {
      return st;
    }
  }
  if (X509_sign(cert.get(), key->get(), EVP_sha256()) == 0) {
    return absl::InternalError(OpenSslError("self-sign root"));
  }
  return std::make_pair(std::move(*key), std::move(cert));
}

}  // namespace

std::string SpiffeId::ToString() const {
  return common::StrCat("spiffe://", trust_domain, "/ns/", ns, "/sa/", service_account);
}

absl::StatusOr<SpiffeId> ParseSpiffeId(std::string_view uri) {
  std::string_view rest = uri;
  if (!common::ConsumePrefix(rest, "spiffe://")) {
    return absl::InvalidArgumentError(common::StrCat("not a SPIFFE ID: ", uri));
  }
  std::vector<std::string> parts = common::Split(rest, '/');
  if (parts.size() != 5 || parts[1] != "ns" || parts[3] != "sa" || parts[0].empty() || parts[2].empty() ||
      parts[4].empty()) {
    return absl::InvalidArgumentError(common::StrCat("SPIFFE ID is not spiffe://<td>/ns/<ns>/sa/<sa>: ", uri));
  }
  return SpiffeId{parts[0], parts[2], parts[4]};
}

absl::StatusOr<KeyAndCsr> GenerateKeyAndCsr(const SpiffeId& id) {
  auto key = NewEcKey();
  if (!key.ok()) {
    return key.status();
  }
  ReqPtr req(X509_REQ_new());
  X509_REQ_set_version(req.get(), 0);
  X509_REQ_set_pubkey(req.get(), key->get());
  STACK_OF(X509_EXTENSION)* exts = sk_X509_EXTENSION_new_null();
  std::string san = "URI:" + id.ToString();
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name, san.c_str());
  if (ext == nullptr) {
    sk_X509_EXTENSION_free(exts);
    return absl::InternalError(OpenSslError("CSR SAN"));
  }
  sk_X509_EXTENSION_push(exts, ext);
  X509_REQ_add_extensions(req.get(), exts);
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  if (X509_REQ_sign(req.get(), key->get(), EVP_sha256()) == 0) {
    return absl::InternalError(OpenSslError("sign CSR"));
  }
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509_REQ(bio.get(), req.get());
  return KeyAndCsr{KeyToPem(key->get()), BioToString(bio.get())};
}

absl::StatusOr<CertificateInfo> InspectCertificate(const std::string& cert_pem) {
  auto cert = CertFromPem(cert_pem);
  if (!cert.ok()) {
    return cert.status();
  }
  CertificateInfo info;
  info.not_before = FromAsn1(X509_get0_notBefore(cert->get()));
  info.not_after = FromAsn1(X509_get0_notAfter(cert->get()));
  info.uri_sans = UriSans(cert->get(), &info.dns_sans);
  char buf[512];
  X509_NAME_oneline(X509_get_subject_name(cert->get()), buf, sizeof(buf));
  info.subject = buf;
  info.is_ca = X509_check_ca(cert->get()) != 0;
  return info;
}

std::chrono::system_clock::time_point RotationTime(const CertificateInfo& info, double fraction) {
  auto lifetime = info.not_after - info.not_before;
  return info.not_before +
         std::chrono::duration_cast<std::chrono::system_clock::duration>(lifetime * fraction);
}

absl::StatusOr<std::unique_ptr<CertificateAuthority>> OpenLocalCa(const LocalCaOptions& options) {
  const fs::path dir(options.dir);
  if (auto st = common::MakeDirs(options.dir); !st.ok()) {
    return st;
  }
  ::chmod(options.dir.c_str(), 0700);
  auto read = [&](const char* name) { return common::ReadFile((dir / name).string()); };

  // Plugged-in CA (Istio's cacerts layout): an intermediate signed by the user's root.
  if (fs::exists(dir / "ca-cert.pem") || fs::exists(dir / "ca-key.pem")) {
    auto cert_pem = read("ca-cert.pem");
    auto key_pem = read("ca-key.pem");
    auto root_pem = read("root-cert.pem");
    if (!cert_pem.ok() || !key_pem.ok() || !root_pem.ok()) {
      return absl::FailedPreconditionError(common::StrCat(
          "plugged-in CA in ", options.dir, " needs ca-cert.pem, ca-key.pem and root-cert.pem (and cert-chain.pem)"));
    }
    auto chain_pem = read("cert-chain.pem");
    auto key = KeyFromPem(*key_pem);
    auto cert = CertFromPem(*cert_pem);
    if (!key.ok()) {
      return key.status();
    }
    if (!cert.ok()) {
      return cert.status();
    }
    if (X509_check_private_key(cert->get(), key->get()) != 1) {
      return absl::FailedPreconditionError("ca-key.pem does not match ca-cert.pem");
    }
    std::string chain = chain_pem.ok() ? *chain_pem : *cert_pem;
    return std::unique_ptr<CertificateAuthority>(
        new LocalCa(std::move(*key), std::move(*cert), chain, *root_pem, options.time_source));
  }

  // Self-signed root, created once.
  if (fs::exists(dir / "root-cert.pem") && fs::exists(dir / "root-key.pem")) {
    auto cert_pem = read("root-cert.pem");
    auto key_pem = read("root-key.pem");
    if (!cert_pem.ok() || !key_pem.ok()) {
      return !cert_pem.ok() ? cert_pem.status() : key_pem.status();
    }
    auto key = KeyFromPem(*key_pem);
    auto cert = CertFromPem(*cert_pem);
    if (!key.ok() || !cert.ok()) {
      return !key.ok() ? key.status() : cert.status();
    }
    return std::unique_ptr<CertificateAuthority>(
        new LocalCa(std::move(*key), std::move(*cert), *cert_pem, *cert_pem, options.time_source));
  }
  auto root = CreateRoot(options);
  if (!root.ok()) {
    return root.status();
  }
  std::string key_pem = KeyToPem(root->first.get());
  std::string cert_pem = CertToPem(root->second.get());
  // Key first: a crash in between leaves no certificate without its key.
  if (auto st = common::WriteFileAtomic((dir / "root-key.pem").string(), key_pem, 0600); !st.ok()) {
    return st;
  }
  if (auto st = common::WriteFileAtomic((dir / "root-cert.pem").string(), cert_pem, 0644); !st.ok()) {
    return st;
  }
  return std::unique_ptr<CertificateAuthority>(
      new LocalCa(std::move(root->first), std::move(root->second), cert_pem, cert_pem, options.time_source));
}

}  // namespace mesh::ca
