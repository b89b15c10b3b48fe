#pragma once

// Helpers shared by the tests: golden files, temporary directories, paths.

#include <chrono>
#include <functional>
#include <string>

namespace mesh::testing {

// Repository root (MESH_SOURCE_DIR overrides the configured source dir).
std::string SourceDir();
// Path of the built meshctl binary (MESHCTL_BIN overrides the build tree's).
std::string MeshctlBinary();
// ../shared next to the repository, or "" when absent (tests then skip).
std::string SharedDir();

// Compares `actual` with the golden file (path relative to tests/testdata). With
// MESH_UPDATE_GOLDEN=1 the file is rewritten instead. Returns "" when equal, otherwise
// a message with the first differing line.
std::string CompareGolden(const std::string& relative_path, const std::string& actual);

// A fresh directory under the system temp dir, removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string Write(const std::string& name, const std::string& content) const;

 private:
  std::string path_;
};

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
// Runs a shell command, capturing stdout and stderr; `stdin_data` is fed to it.
CommandResult RunCommand(const std::string& command, const std::string& stdin_data = "");

// A loopback TCP port that was free a moment ago (for flags that need a number; prefer
// binding port 0 where the code under test allows it).
int FreeLoopbackPort();

// Polls `pred` every 10 ms until it holds or `timeout` passes; the generous default
// keeps tests robust on a loaded machine without making passing runs slower.
bool Eventually(const std::function<bool()>& pred,
                std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace mesh::testing
