// Traffic capture rules: dry-run goldens, flag validation, and the real thing applied
// inside a network namespace the test creates (skipped where that is not permitted).

#include "gtest/gtest.h"
#include "mesh/inject/iptables.h"
#include "tests/common/test_util.h"
#include "tests/inject/test_binary.h"

namespace mesh::inject {
namespace {

TEST(CaptureRules, DefaultsGolden) {
  auto rules = BuildCaptureRules(CaptureConfig{});
  ASSERT_TRUE(rules.ok()) << rules.status();
  EXPECT_EQ(testing::CompareGolden("inject/capture-default.rules", *rules), "");
}

TEST(CaptureRules, ListsAndExclusionsGolden) {
  CaptureConfig c;
  c.include_inbound_ports = "5000,15021";  // 15021 stays excluded
  c.include_ip_ranges = "10.0.0.0/8,192.168.1.1";
  c.exclude_ip_ranges = "10.96.0.0/12";
  c.include_outbound_ports = "8443";
  c.exclude_outbound_ports = "5432, 6379";
  c.proxy_gid = "";
  auto rules = BuildCaptureRules(c);
  ASSERT_TRUE(rules.ok()) << rules.status();
  EXPECT_EQ(testing::CompareGolden("inject/capture-lists.rules", *rules), "");
}

TEST(CaptureRules, NoInboundCaptureWhenNoPorts) {
  CaptureConfig c;
  c.include_inbound_ports = "";
  auto rules = BuildCaptureRules(c);
  ASSERT_TRUE(rules.ok());
  EXPECT_EQ(rules->find("PREROUTING"), std::string::npos);
  EXPECT_NE(rules->find("-A OUTPUT -p tcp -j ISTIO_OUTPUT"), std::string::npos);
}

TEST(CaptureRules, BadFlagsAreClearErrors) {
  auto err = [](CaptureConfig c) { return std::string(BuildCaptureRules(c).status().message()); };
  CaptureConfig c;
  c.mode = "TPROXY";
  EXPECT_EQ(err(c), "-m: interception mode \"TPROXY\" is not supported (only REDIRECT)");
  c = {};
  c.outbound_port = 70000;
  EXPECT_EQ(err(c), "-p: 70000 is not a port (1-65535)");
  c = {};
  c.exclude_inbound_ports = "15090,http";
  EXPECT_EQ(err(c), "-d: \"http\" is not a port (1-65535)");
  c = {};
  c.exclude_ip_ranges = "10.0.0.0/33";
  EXPECT_EQ(err(c), "-x: \"10.0.0.0/33\" is not an IPv4 address or CIDR (IPv6 is not supported)");
  c = {};
  c.include_ip_ranges = "fd00::/8";
  EXPECT_EQ(err(c), "-i: \"fd00::/8\" is not an IPv4 address or CIDR (IPv6 is not supported)");
  c = {};
  c.proxy_uid = "istio";
  EXPECT_EQ(err(c), "-u: \"istio\" is not a numeric id");
}

TEST(ProxyInitCli, DryRunPrintsTheRulesAndRejectsBadFlags) {
  std::string bin = MeshctlForTest();
  if (bin.empty()) {
    GTEST_SKIP() << "meshctl binary not found (set MESHCTL_BIN)";
  }
  // The init container's exact arguments, as injection writes them.
  auto r = testing::RunCommand(bin + " proxy init -p 15001 -z 15006 -u 1337 -g 1337 -m REDIRECT -i '*' -x '' "
                                     "-b 5000 -d 15090,15021,15020 --dry-run");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  CaptureConfig c;
  c.include_inbound_ports = "5000";
  EXPECT_EQ(r.out, *BuildCaptureRules(c));
  auto bad = testing::RunCommand(bin + " proxy init -m TPROXY --dry-run");
  EXPECT_EQ(bad.exit_code, 64);
  EXPECT_EQ(bad.err, "Error: -m: interception mode \"TPROXY\" is not supported (only REDIRECT)\n");
}

// Applies the rules for real in a fresh network namespace (so no host state is touched)
// and reads them back with iptables-save. Needs root: in a user namespace (unshare -rn)
// uid 1337 is unmapped and the kernel rejects the owner match.
TEST(ProxyInitCli, AppliesRulesInsideANetworkNamespace) {
  std::string bin = MeshctlForTest();
  if (bin.empty()) {
    GTEST_SKIP() << "meshctl binary not found (set MESHCTL_BIN)";
  }
  auto probe = testing::RunCommand("unshare -n sh -c 'iptables-restore --version && iptables-save -t nat' 2>&1");
  if (probe.exit_code != 0) {
    GTEST_SKIP() << "cannot run iptables in a new network namespace here (needs root: unshare -n + iptables): " << probe.out;
  }
  auto r = testing::RunCommand("unshare -n sh -c '" + bin +
                               " proxy init -b 5000 -d 15090,15021,15020 -x 10.96.0.0/12 && iptables-save -t nat' 2>&1");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  for (const char* rule : {
           ":ISTIO_INBOUND - [0:0]",
           ":ISTIO_REDIRECT - [0:0]",
           ":ISTIO_IN_REDIRECT - [0:0]",
           ":ISTIO_OUTPUT - [0:0]",
           "-A PREROUTING -p tcp -j ISTIO_INBOUND",
           "-A OUTPUT -p tcp -j ISTIO_OUTPUT",
           "-A ISTIO_INBOUND -p tcp -m tcp --dport 5000 -j ISTIO_IN_REDIRECT",
           "-A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006",
           "-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001",
           "-A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN",
           "-A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN",
           "-A ISTIO_OUTPUT -d 10.96.0.0/12 -j RETURN",
           "-A ISTIO_OUTPUT -j ISTIO_REDIRECT",
       }) {
    EXPECT_NE(r.out.find(std::string(rule) + "\n"), std::string::npos) << rule << "\n" << r.out;
  }
  EXPECT_NE(r.out.find("traffic capture set up"), std::string::npos) << r.out;
  // Running it twice fails (chains exist), as istio-init does: the pod restarts the init
  // container in a fresh namespace, never on top of old rules.
  auto twice = testing::RunCommand("unshare -n sh -c '" + bin + " proxy init && " + bin + " proxy init' 2>&1");
  EXPECT_NE(twice.exit_code, 0) << twice.out;
  EXPECT_NE(twice.out.find("iptables-restore --noflush failed"), std::string::npos) << twice.out;
}

}  // namespace
}  // namespace mesh::inject
