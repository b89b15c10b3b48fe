#pragma once

#include <string>
#include <string_view>
#include <sys/types.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace mesh::common {

// Reads a whole file ("-" reads standard input).
absl::StatusOr<std::string> ReadFile(const std::string& path);

// Writes `content` to `path` atomically: a temporary file in the same directory is
// written, fsynced and renamed over the target, then the directory is fsynced. A crash
// at any point leaves either the old or the new content, never a mix.
absl::Status WriteFileAtomic(const std::string& path, std::string_view content, mode_t mode = 0644);

// Test hook: called by WriteFileAtomic after the temporary file is written and synced and
// before it is renamed over the target (crash-consistency tests kill the process here).
using AtomicWriteHook = void (*)(const std::string& temp_path, const std::string& target_path);
void SetAtomicWriteHookForTesting(AtomicWriteHook hook);

// Creates a directory and its parents (like mkdir -p).
absl::Status MakeDirs(const std::string& path, mode_t mode = 0755);

}  // namespace mesh::common
