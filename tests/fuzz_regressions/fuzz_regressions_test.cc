// Every file under tests/fuzz_regressions/<target>/ (inputs that crashed, leaked or hung
// a fuzz target before its fix) and under fuzz/corpus/<target>/ (the seeds) goes through
// the target's entry point. Under the normal build this checks "no crash, no hang"; under
// MESH_SANITIZE=ON also "no leak, no undefined behaviour".
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <ostream>
#include <algorithm>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "fuzz/entry_points.h"
#include "tests/common/test_util.h"

namespace mesh::fuzz {
namespace {

namespace fs = std::filesystem;

struct Target {
  const char* name;
  std::function<void(std::string_view)> entry;
};

void PrintTo(const Target& t, std::ostream* os) { *os << t.name; }

std::vector<Target> Targets() {
  return {{"config_yaml", FuzzConfigYaml},       {"proxy_http1", FuzzProxyHttp1},
          {"xds_protocol", FuzzXdsProtocol},     {"proxyconfig_decode", FuzzProxyconfigDecode},
          {"kubeconfig", FuzzKubeconfig},        {"install_set", FuzzInstallSet}};
}

std::string ReadAll(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

size_t RunDirectory(const Target& t, const fs::path& dir) {
  size_t n = 0;
  if (!fs::is_directory(dir)) {
    return 0;
  }
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.is_regular_file()) {
      files.push_back(e.path());
    }
  }
  std::sort(files.begin(), files.end());
  for (const fs::path& p : files) {
    SCOPED_TRACE(p.string());
    t.entry(ReadAll(p));
    ++n;
  }
  return n;
}

class FuzzInputs : public ::testing::TestWithParam<Target> {};

TEST_P(FuzzInputs, RegressionsAndSeedsRunClean) {
  const Target& t = GetParam();
  fs::path root = mesh::testing::SourceDir();
  size_t seeds = RunDirectory(t, root / "fuzz" / "corpus" / t.name);
  size_t regressions = RunDirectory(t, root / "tests" / "fuzz_regressions" / t.name);
  EXPECT_GT(seeds, 0u) << "no seed corpus for " << t.name;
  RecordProperty("regressions", static_cast<int>(regressions));
}

INSTANTIATE_TEST_SUITE_P(Targets, FuzzInputs, ::testing::ValuesIn(Targets()),
                         [](const ::testing::TestParamInfo<Target>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace mesh::fuzz
