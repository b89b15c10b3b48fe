// `meshctl analyze` as CI scripts use it: exit codes, stdin, output shapes, file errors.

#include "gtest/gtest.h"
#include "tests/common/test_util.h"

namespace mesh::testing {
namespace {

std::string Meshctl() { return MeshctlBinary(); }

TEST(AnalyzeCli, CleanFileExitsZeroWithCheckMark) {
  TempDir dir;
  std::string f = dir.Write("ns.yaml",
                            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: clean\n"
                            "  labels:\n    istio-injection: enabled\n");
  CommandResult r = RunCommand(Meshctl() + " analyze -A " + f);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "\n");
  EXPECT_NE(r.err.find("\u2714 No validation issues found when analyzing " + f + "."), std::string::npos) << r.err;
}

TEST(AnalyzeCli, UnparsableYamlExits65WithPosition) {
  TempDir dir;
  std::string f = dir.Write("bad.yaml", "apiVersion: v1\nkind: Service\nmetadata:\n  name: x\n namespace: y\n");
  CommandResult r = RunCommand(Meshctl() + " analyze " + f);
  EXPECT_EQ(r.exit_code, 65);
  EXPECT_NE(r.err.find(f + ":5:2: bad indentation"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("Error: Some files couldn't be parsed."), std::string::npos);
  CommandResult ignored = RunCommand(Meshctl() + " analyze --ignore-unknown " + f);
  EXPECT_EQ(ignored.exit_code, 0);
}

TEST(AnalyzeCli, JsonOutputOfNothingIsEmptyArray) {
  TempDir dir;
  std::string f = dir.Write("ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: clean\n");
  CommandResult r = RunCommand(Meshctl() + " analyze -o json " + f);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "[]\n");
  CommandResult y = RunCommand(Meshctl() + " analyze -o YAML " + f);
  EXPECT_EQ(y.out, "[]\n");
}

TEST(AnalyzeCli, ReadsStdin) {
  CommandResult r = RunCommand(Meshctl() + " analyze -", "apiVersion: v1\nkind: Namespace\nmetadata: [\n");
  EXPECT_EQ(r.exit_code, 65);
  EXPECT_NE(r.err.find("-:4:1: while parsing a flow node: did not find expected node content"), std::string::npos) << r.err;
}

TEST(AnalyzeCli, UsageErrorsExit64) {
  EXPECT_EQ(RunCommand(Meshctl() + " analyze -o xml x.yaml").exit_code, 64);
  EXPECT_EQ(RunCommand(Meshctl() + " analyze --no-such-flag").exit_code, 64);
  EXPECT_EQ(RunCommand(Meshctl() + " analyze --failure-threshold Fatal x.yaml").exit_code, 64);
  CommandResult unknown = RunCommand(Meshctl() + " analyze --analyzer no.SuchAnalyzer x.yaml");
  EXPECT_EQ(unknown.exit_code, 64);
  EXPECT_NE(unknown.err.find("unknown analyzer"), std::string::npos);
  EXPECT_EQ(RunCommand(Meshctl() + " no-such-command").exit_code, 64);
}

TEST(AnalyzeCli, OtherErrorsExit1) {
  CommandResult missing = RunCommand(Meshctl() + " analyze /nonexistent/file.yaml");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("/nonexistent/file.yaml"), std::string::npos);
  TempDir dir;
  std::string f = dir.Write("ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n");
  EXPECT_EQ(RunCommand(Meshctl() + " analyze -S nonsense " + f).exit_code, 1);
}

TEST(AnalyzeCli, SkipsUnknownExtensions) {
  TempDir dir;
  std::string f = dir.Write("notes.md", "# not yaml\n");
  CommandResult r = RunCommand(Meshctl() + " analyze -o json " + f);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "[]\n");
  EXPECT_NE(r.err.find("Skipping file " + f), std::string::npos);
}

constexpr char kBrokenVs[] =
    "apiVersion: networking.istio.io/v1\n"
    "kind: VirtualService\n"
    "metadata:\n"
    "  name: bookinfo\n"
    "  namespace: shop\n"
    "spec:\n"
    "  hosts: ['*']\n"
    "  gateways:\n"
    "  - bookinfo-gateway\n"
    "  http:\n"
    "  - route:\n"
    "    - destination: {host: productpage}\n";

TEST(AnalyzeCli, FindingsExit79InEveryFormat) {
  TempDir dir;
  std::string f = dir.Write("vs.yaml", kBrokenVs);
  CommandResult log = RunCommand(Meshctl() + " analyze -A " + f);
  EXPECT_EQ(log.exit_code, 79) << log.err;
  EXPECT_NE(log.out.find("Error [IST0101] (VirtualService shop/bookinfo " + f +
                         ":9) Referenced gateway not found: \"bookinfo-gateway\""),
            std::string::npos)
      << log.out;
  EXPECT_NE(log.err.find("Error: Analyzers found issues when analyzing all namespaces."), std::string::npos);
  // istioctl exits 0 here; meshctl keeps failing the CI job whatever the format.
  for (const char* format : {"json", "yaml", "sarif"}) {
    CommandResult r = RunCommand(Meshctl() + " analyze -A -o " + format + " " + f);
    EXPECT_EQ(r.exit_code, 79) << format;
    EXPECT_NE(r.out.find("IST0101"), std::string::npos) << format;
  }
}

TEST(AnalyzeCli, ThresholdsSuppressionAndNamespaceFilter) {
  TempDir dir;
  std::string f = dir.Write("vs.yaml", kBrokenVs);
  // Only warnings and worse count; the error still fails the run.
  CommandResult warn = RunCommand(Meshctl() + " analyze -A --output-threshold Error " + f);
  EXPECT_EQ(warn.exit_code, 79);
  EXPECT_EQ(warn.out.find("Warning ["), std::string::npos);
  // Suppress every message about the VirtualService: clean run.
  CommandResult sup = RunCommand(Meshctl() + " analyze -A -S 'IST0101=VirtualService shop/*' -S "
                                 "'IST0132=VirtualService shop/*' " + f);
  EXPECT_EQ(sup.exit_code, 0) << sup.out << sup.err;
  // Without -A only the default namespace is reported on.
  CommandResult ns_default = RunCommand(Meshctl() + " analyze " + f);
  EXPECT_EQ(ns_default.exit_code, 0) << ns_default.out;
  CommandResult ns_shop = RunCommand(Meshctl() + " analyze -n shop " + f);
  EXPECT_EQ(ns_shop.exit_code, 79);
  // Raising the failure threshold to nothing below Error keeps 79; Info-only runs pass.
  CommandResult one = RunCommand(Meshctl() + " analyze -A --analyzer virtualservice.GatewayAnalyzer -o json " + f);
  EXPECT_EQ(one.exit_code, 79);
  EXPECT_EQ(one.out.find("IST0112"), std::string::npos);
}

TEST(AnalyzeCli, SeedManifestsGiveActionableFindings) {
  CommandResult r = RunCommand(Meshctl() + " analyze -A " + SourceDir() + "/examples/seed");
  EXPECT_EQ(r.exit_code, 79) << r.out << r.err;
  EXPECT_NE(r.err.find("01-ingress.yaml:9:43: mapping values are not allowed"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("02-deployment.yaml:5:2: bad indentation"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("[IST0106] (Gateway devops/mobifingw"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("must contain at least one host"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Referenced credentialName not found: \"tls-secret\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Referenced host not found: \"helloworldsvc.devops.svc.cluster.local\""),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("[IST0132] (VirtualService devops/helloworldvs"), std::string::npos) << r.out;
}

TEST(AnalyzeCli, ListAnalyzersAndVersion) {
  CommandResult r = RunCommand(Meshctl() + " analyze -L");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("Available analyzers:"), std::string::npos);
  CommandResult v = RunCommand(Meshctl() + " version -o json");
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_NE(v.out.find("\"meshctlVersion\""), std::string::npos);
}

}  // namespace
}  // namespace mesh::testing
