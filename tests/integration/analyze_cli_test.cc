// `meshctl analyze` as CI scripts use it: exit codes, stdin, output shapes, file errors.

#include "gtest/gtest.h"
#include "tests/common/test_util.h"

namespace mesh::testing {
namespace {

std::string Meshctl() { return MeshctlBinary(); }

TEST(AnalyzeCli, CleanFileExitsZeroWithCheckMark) {
  TempDir dir;
  std::string f = dir.Write("ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: clean\n");
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
