#include "mesh/ca/token.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <charconv>
#include <cstring>
#include <filesystem>

#include "mesh/common/file_util.h"
#include "mesh/common/strings.h"

namespace mesh::ca {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string Base64Url(std::string_view in) {
  std::string out;
  size_t i = 0;
  while (i + 2 < in.size()) {
    uint32_t v = (static_cast<uint8_t>(in[i]) << 16) | (static_cast<uint8_t>(in[i + 1]) << 8) |
                 static_cast<uint8_t>(in[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
    i += 3;
  }
  if (i + 1 == in.size()) {
    uint32_t v = static_cast<uint8_t>(in[i]) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
  } else if (i + 2 == in.size()) {
    uint32_t v = (static_cast<uint8_t>(in[i]) << 16) | (static_cast<uint8_t>(in[i + 1]) << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
  }
  return out;
}

bool FromBase64Url(std::string_view in, std::string& out) {
  uint32_t buf = 0;
  int bits = 0;
  for (char c : in) {
    const char* p = std::strchr(kAlphabet, c);
    if (p == nullptr || c == '\0') {
      return false;
    }
    buf = (buf << 6) | static_cast<uint32_t>(p - kAlphabet);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buf >> bits) & 0xff);
    }
  }
  return true;
}

// Claims are "ns\nsa\nworkload\nexpiry-seconds"; newlines cannot occur in Kubernetes names.
bool ValidName(const std::string& s) { return !s.empty() && s.find('\n') == std::string::npos; }

}  // namespace

absl::StatusOr<TokenAuthority> TokenAuthority::Open(const std::string& key_file) {
  if (std::filesystem::exists(key_file)) {
    auto key = common::ReadFile(key_file);
    if (!key.ok()) {
      return key.status();
    }
    if (key->size() < 32) {
      return absl::FailedPreconditionError(common::StrCat(key_file, ": token key is too short"));
    }
    return TokenAuthority(*key);
  }
  std::string key(32, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(key.data()), static_cast<int>(key.size())) != 1) {
    return absl::InternalError("no randomness for the token key");
  }
  if (auto st = common::WriteFileAtomic(key_file, key, 0600); !st.ok()) {
    return st;
  }
  return TokenAuthority(key);
}

std::string TokenAuthority::Mac(const std::string& payload) const {
  unsigned char out[EVP_MAX_MD_SIZE];
  size_t len = 0;
  EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, key_.data(), key_.size(),
            reinterpret_cast<const unsigned char*>(payload.data()), payload.size(), out, sizeof(out), &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string TokenAuthority::Issue(const WorkloadClaims& c) const {
  long long exp = std::chrono::duration_cast<std::chrono::seconds>(c.expiry.time_since_epoch()).count();
  std::string payload = common::StrCat(c.ns, "\n", c.service_account, "\n", c.workload, "\n", exp);
  return common::StrCat("mwt1.", Base64Url(payload), ".", Base64Url(Mac(payload)));
}

absl::StatusOr<WorkloadClaims> TokenAuthority::Verify(const std::string& token,
                                                      std::chrono::system_clock::time_point now) const {
  std::vector<std::string> parts = common::Split(token, '.');
  std::string payload, mac;
  if (parts.size() != 3 || parts[0] != "mwt1" || !FromBase64Url(parts[1], payload) ||
      !FromBase64Url(parts[2], mac)) {
    return absl::UnauthenticatedError("malformed bootstrap token");
  }
  std::string want = Mac(payload);
  if (mac.size() != want.size() || CRYPTO_memcmp(mac.data(), want.data(), want.size()) != 0) {
    return absl::UnauthenticatedError("bootstrap token signature does not verify");
  }
  std::vector<std::string> f = common::Split(payload, '\n');
  if (f.size() != 4 || !ValidName(f[0]) || !ValidName(f[1]) || !ValidName(f[2])) {
    return absl::UnauthenticatedError("bootstrap token claims are malformed");
  }
  long long exp = 0;
  auto [ptr, ec] = std::from_chars(f[3].data(), f[3].data() + f[3].size(), exp);
  if (ec != std::errc() || ptr != f[3].data() + f[3].size()) {
    return absl::UnauthenticatedError("bootstrap token expiry is malformed");
  }
  WorkloadClaims c{f[0], f[1], f[2], std::chrono::system_clock::time_point(std::chrono::seconds(exp))};
  if (now >= c.expiry) {
    return absl::UnauthenticatedError("bootstrap token has expired");
  }
  return c;
}

}  // namespace mesh::ca
