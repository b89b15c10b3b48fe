#include "mesh/inject/iptables.h"

#include <sys/wait.h>

#include <algorithm>
#include <cstdio>

#include "mesh/common/strings.h"

namespace mesh::inject {
namespace {

// Comma-separated list, blanks dropped.
std::vector<std::string> List(const std::string& s) {
  std::vector<std::string> out;
  for (const std::string& p : common::Split(s, ',', true)) {
    std::string t(common::StripWhitespace(p));
    if (!t.empty()) {
      out.push_back(t);
    }
  }
  return out;
}

bool IsNumber(const std::string& s, long max) {
  if (s.empty() || s.size() > 10 || s.find_first_not_of("0123456789") != std::string::npos) {
    return false;
  }
  return std::stol(s) <= max;
}

absl::Status CheckPorts(const char* flag, const std::string& value, bool star_ok) {
  if (star_ok && common::StripWhitespace(value) == "*") {
    return absl::OkStatus();
  }
  for (const std::string& p : List(value)) {
    if (!IsNumber(p, 65535) || std::stol(p) == 0) {
      return absl::InvalidArgumentError(common::StrCat(flag, ": \"", p, "\" is not a port (1-65535)"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckCidrs(const char* flag, const std::string& value) {
  if (common::StripWhitespace(value) == "*") {
    return absl::OkStatus();
  }
  for (const std::string& c : List(value)) {
    std::vector<std::string> parts = common::Split(c, '/');
    std::vector<std::string> octets = parts.empty() ? std::vector<std::string>{} : common::Split(parts[0], '.');
    bool ok = (parts.size() == 1 || parts.size() == 2) && octets.size() == 4;
    for (const std::string& o : octets) {
      ok = ok && IsNumber(o, 255);
    }
    if (parts.size() == 2) {
      ok = ok && IsNumber(parts[1], 32);
    }
    if (!ok) {
      return absl::InvalidArgumentError(
          common::StrCat(flag, ": \"", c, "\" is not an IPv4 address or CIDR (IPv6 is not supported)"));
    }
  }
  return absl::OkStatus();
}

std::string Cidr(const std::string& c) { return c.find('/') == std::string::npos ? c + "/32" : c; }

}  // namespace

absl::StatusOr<std::string> BuildCaptureRules(const CaptureConfig& c) {
  if (c.mode != "REDIRECT") {
    return absl::InvalidArgumentError(
        common::StrCat("-m: interception mode \"", c.mode, "\" is not supported (only REDIRECT)"));
  }
  for (auto [flag, port] : {std::pair{"-p", c.outbound_port}, std::pair{"-z", c.inbound_port}}) {
    if (port <= 0 || port > 65535) {
      return absl::InvalidArgumentError(common::StrCat(flag, ": ", port, " is not a port (1-65535)"));
    }
  }
  for (auto [flag, ids] : {std::pair{"-u", &c.proxy_uid}, std::pair{"-g", &c.proxy_gid}}) {
    for (const std::string& id : List(*ids)) {
      if (!IsNumber(id, 4294967295L)) {
        return absl::InvalidArgumentError(common::StrCat(flag, ": \"", id, "\" is not a numeric id"));
      }
    }
  }
  if (auto st = CheckPorts("-b", c.include_inbound_ports, true); !st.ok()) return st;
  if (auto st = CheckPorts("-d", c.exclude_inbound_ports, false); !st.ok()) return st;
  if (auto st = CheckPorts("-q", c.include_outbound_ports, false); !st.ok()) return st;
  if (auto st = CheckPorts("-o", c.exclude_outbound_ports, false); !st.ok()) return st;
  if (auto st = CheckCidrs("-i", c.include_ip_ranges); !st.ok()) return st;
  if (auto st = CheckCidrs("-x", c.exclude_ip_ranges); !st.ok()) return st;

  std::vector<std::string> r = {"*nat", "-N ISTIO_INBOUND", "-N ISTIO_REDIRECT", "-N ISTIO_IN_REDIRECT",
                                "-N ISTIO_OUTPUT"};
  r.push_back(common::StrCat("-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports ", c.outbound_port));
  r.push_back(common::StrCat("-A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports ", c.inbound_port));

  // Inbound: everything but the excluded ports, or only the listed ports.
  std::string inbound(common::StripWhitespace(c.include_inbound_ports));
  if (!inbound.empty()) {
    r.push_back("-A PREROUTING -p tcp -j ISTIO_INBOUND");
    if (inbound == "*") {
      for (const std::string& p : List(c.exclude_inbound_ports)) {
        r.push_back(common::StrCat("-A ISTIO_INBOUND -p tcp --dport ", p, " -j RETURN"));
      }
      r.push_back("-A ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT");
    } else {
      std::vector<std::string> excluded = List(c.exclude_inbound_ports);
      for (const std::string& p : List(inbound)) {
        if (std::find(excluded.begin(), excluded.end(), p) == excluded.end()) {
          r.push_back(common::StrCat("-A ISTIO_INBOUND -p tcp --dport ", p, " -j ISTIO_IN_REDIRECT"));
        }
      }
    }
  }

  // Outbound.
  r.push_back("-A OUTPUT -p tcp -j ISTIO_OUTPUT");
  for (const std::string& p : List(c.exclude_outbound_ports)) {
    r.push_back(common::StrCat("-A ISTIO_OUTPUT -p tcp --dport ", p, " -j RETURN"));
  }
  // Traffic the sidecar sends from 127.0.0.6 (inbound passthrough) goes straight out.
  r.push_back("-A ISTIO_OUTPUT -s 127.0.0.6/32 -o lo -j RETURN");
  for (const std::string& uid : List(c.proxy_uid)) {
    // The sidecar calling its own pod by its IP is inbound traffic for itself.
    r.push_back(common::StrCat("-A ISTIO_OUTPUT ! -d 127.0.0.1/32 -o lo -p tcp -m owner --uid-owner ", uid,
                               " -j ISTIO_IN_REDIRECT"));
    // The application talking to itself over loopback is left alone.
    r.push_back(common::StrCat("-A ISTIO_OUTPUT -o lo -m owner ! --uid-owner ", uid, " -j RETURN"));
    // The sidecar's own outbound traffic is never captured.
    r.push_back(common::StrCat("-A ISTIO_OUTPUT -m owner --uid-owner ", uid, " -j RETURN"));
  }
  for (const std::string& gid : List(c.proxy_gid)) {
    r.push_back(common::StrCat("-A ISTIO_OUTPUT ! -d 127.0.0.1/32 -o lo -p tcp -m owner --gid-owner ", gid,
                               " -j ISTIO_IN_REDIRECT"));
    r.push_back(common::StrCat("-A ISTIO_OUTPUT -o lo -m owner ! --gid-owner ", gid, " -j RETURN"));
    r.push_back(common::StrCat("-A ISTIO_OUTPUT -m owner --gid-owner ", gid, " -j RETURN"));
  }
  r.push_back("-A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN");
  if (common::StripWhitespace(c.exclude_ip_ranges) != "*") {
    for (const std::string& cidr : List(c.exclude_ip_ranges)) {
      r.push_back(common::StrCat("-A ISTIO_OUTPUT -d ", Cidr(cidr), " -j RETURN"));
    }
  }
  for (const std::string& p : List(c.include_outbound_ports)) {
    r.push_back(common::StrCat("-A ISTIO_OUTPUT -p tcp --dport ", p, " -j ISTIO_REDIRECT"));
  }
  std::string include(common::StripWhitespace(c.include_ip_ranges));
  if (common::StripWhitespace(c.exclude_ip_ranges) == "*") {
    include.clear();  // everything excluded
  }
  if (include == "*") {
    r.push_back("-A ISTIO_OUTPUT -j ISTIO_REDIRECT");
  } else {
    for (const std::string& cidr : List(include)) {
      r.push_back(common::StrCat("-A ISTIO_OUTPUT -d ", Cidr(cidr), " -j ISTIO_REDIRECT"));
    }
  }
  r.push_back("COMMIT");
  return common::Join(r, "\n") + "\n";
}

absl::Status ApplyCaptureRules(const std::string& rules, const std::string& iptables_restore) {
  std::string command = iptables_restore + " --noflush 2>&1";
  FILE* pipe = ::popen(command.c_str(), "w");
  if (pipe == nullptr) {
    return absl::InternalError(common::StrCat("cannot run ", iptables_restore));
  }
  size_t written = std::fwrite(rules.data(), 1, rules.size(), pipe);
  int status = ::pclose(pipe);
  if (written != rules.size()) {
    return absl::InternalError(common::StrCat("short write to ", iptables_restore));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (code == 127) {
      return absl::FailedPreconditionError(
          common::StrCat(iptables_restore, " not found (install the iptables package)"));
    }
    return absl::FailedPreconditionError(common::StrCat(
        iptables_restore, " --noflush failed with exit code ", code,
        " (needs CAP_NET_ADMIN in the pod's network namespace; its own message is above)"));
  }
  return absl::OkStatus();
}

}  // namespace mesh::inject
