#include "mesh/install/tls_secret.h"

#include <memory>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "mesh/common/strings.h"
#include "mesh/install/tree.h"

namespace mesh::install {

std::string Base64Encode(const std::string& data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(data.data()), static_cast<int>(data.size()));
  out.resize(n < 0 ? 0 : static_cast<size_t>(n));
  return out;
}

absl::StatusOr<config::Node> BuildTlsSecret(const std::string& name, const std::string& ns,
                                            const std::string& cert_pem, const std::string& key_pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> cert_bio(BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size())),
                                                     BIO_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr),
                                                   X509_free);
  if (!cert) {
    return absl::InvalidArgumentError("failed to load key pair: the certificate is not a PEM-encoded X.509 certificate");
  }
  std::unique_ptr<BIO, decltype(&BIO_free)> key_bio(BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())),
                                                    BIO_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr), EVP_PKEY_free);
  if (!key) {
    return absl::InvalidArgumentError("failed to load key pair: the key is not a PEM-encoded private key");
  }
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    return absl::InvalidArgumentError("failed to load key pair: private key does not match public key");
  }
  config::Node secret = config::Node::Map();
  secret.Set("apiVersion", config::Node::Scalar("v1"));
  secret.Set("kind", config::Node::Scalar("Secret"));
  config::Node meta = config::Node::Map();
  meta.Set("name", StringNode(name));
  meta.Set("namespace", StringNode(ns));
  secret.Set("metadata", std::move(meta));
  secret.Set("type", StringNode("kubernetes.io/tls"));
  config::Node data = config::Node::Map();
  data.Set("tls.crt", StringNode(Base64Encode(cert_pem)));
  data.Set("tls.key", StringNode(Base64Encode(key_pem)));
  secret.Set("data", std::move(data));
  return secret;
}

}  // namespace mesh::install
