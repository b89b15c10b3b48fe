#include "mesh/proxy/tls_inspector.h"

#include "mesh/common/strings.h"

namespace mesh::proxy {

ClientHelloResult InspectClientHello(std::string_view data, std::string& sni) {
  auto u8 = [&](size_t i) { return static_cast<uint8_t>(data[i]); };
  if (data.empty()) {
    return ClientHelloResult::kNeedMoreData;
  }
  if (u8(0) != 0x16) {  // handshake record
    return ClientHelloResult::kNotTls;
  }
  if (data.size() < 5) {
    return ClientHelloResult::kNeedMoreData;
  }
  if (u8(1) != 0x03) {
    return ClientHelloResult::kNotTls;
  }
  size_t record_len = (u8(3) << 8) | u8(4);
  if (data.size() < 5 + record_len) {
    // Most ClientHellos fit one record; 16 KiB is the record limit.
    return record_len > 16384 ? ClientHelloResult::kNotTls : ClientHelloResult::kNeedMoreData;
  }
  std::string_view hs = data.substr(5, record_len);
  size_t p = 0;
  auto need = [&](size_t n) { return p + n <= hs.size(); };
  auto b = [&](size_t i) { return static_cast<uint8_t>(hs[i]); };
  if (!need(4) || b(0) != 0x01) {  // ClientHello
    return ClientHelloResult::kNotTls;
  }
  p = 4 + 2 + 32;  // header, version, random
  if (!need(1)) {
    return ClientHelloResult::kTls;
  }
  p += 1 + b(p);  // session id
  if (!need(2)) {
    return ClientHelloResult::kTls;
  }
  p += 2 + ((b(p) << 8) | b(p + 1));  // cipher suites
  if (!need(1)) {
    return ClientHelloResult::kTls;
  }
  p += 1 + b(p);  // compression methods
  if (!need(2)) {
    return ClientHelloResult::kTls;
  }
  size_t ext_end = p + 2 + ((b(p) << 8) | b(p + 1));
  p += 2;
  while (p + 4 <= ext_end && need(4)) {
    size_t type = (b(p) << 8) | b(p + 1);
    size_t len = (b(p + 2) << 8) | b(p + 3);
    p += 4;
    if (!need(len)) {
      break;
    }
    if (type == 0 && len >= 5) {  // server_name: list len(2), type(1), name len(2), name
      size_t name_len = (b(p + 3) << 8) | b(p + 4);
      if (b(p + 2) == 0 && 5 + name_len <= len) {
        sni = common::ToLower(hs.substr(p + 5, name_len));
      }
      break;
    }
    p += len;
  }
  return ClientHelloResult::kTls;
}

bool ServerNameMatches(std::string_view pattern, std::string_view sni) {
  if (pattern == sni) {
    return true;
  }
  if (pattern.size() > 2 && pattern.substr(0, 2) == "*.") {
    std::string_view suffix = pattern.substr(1);
    return sni.size() > suffix.size() && sni.substr(sni.size() - suffix.size()) == suffix;
  }
  return false;
}

}  // namespace mesh::proxy
