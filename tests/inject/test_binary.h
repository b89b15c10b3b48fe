#pragma once

// The meshctl binary for CLI tests: MESHCTL_BIN, else build/bin next to build/tests.

#include <filesystem>
#include <string>

#include "tests/common/test_util.h"

namespace mesh::inject {

inline std::string MeshctlForTest() {
  std::string bin = testing::MeshctlBinary();
  if (bin.empty() || !std::filesystem::exists(bin)) {
    std::error_code ec;
    auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (!ec) {
      bin = (self.parent_path().parent_path() / "bin" / "meshctl").string();
    }
  }
  return std::filesystem::exists(bin) ? bin : "";
}

}  // namespace mesh::inject
