#pragma once

// Traffic capture for a sidecar (what istio-init's istio-iptables does in REDIRECT
// mode): nat-table chains that send the pod's inbound TCP to the sidecar's inbound port
// and its outbound TCP to the outbound port, except the sidecar's own traffic (by uid
// and gid) and the excluded ports and ranges. IPv4 only.

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace mesh::inject {

// istio-iptables' flags, already split ("*" means everything, "" nothing).
struct CaptureConfig {
  int outbound_port = 15001;               // -p
  int inbound_port = 15006;                // -z
  std::string proxy_uid = "1337";          // -u (comma-separated)
  std::string proxy_gid = "1337";          // -g (comma-separated)
  std::string mode = "REDIRECT";           // -m (only REDIRECT)
  std::string include_ip_ranges = "*";     // -i
  std::string exclude_ip_ranges;           // -x
  std::string include_inbound_ports = "*"; // -b
  std::string exclude_inbound_ports = "15090,15021,15020";  // -d
  std::string include_outbound_ports;      // -q
  std::string exclude_outbound_ports;      // -o
};

// Checks the values (ports, uids, CIDRs, mode) and returns the rules in
// iptables-restore format (nat table, `COMMIT`-terminated), deterministic.
absl::StatusOr<std::string> BuildCaptureRules(const CaptureConfig& config);

// Feeds `rules` to `<iptables_restore> --noflush` (so unrelated chains survive).
absl::Status ApplyCaptureRules(const std::string& rules, const std::string& iptables_restore = "iptables-restore");

}  // namespace mesh::inject
