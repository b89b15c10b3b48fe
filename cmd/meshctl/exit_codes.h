#pragma once

// Exit codes are part of the CLI's API (istioctl's sysexits.go).

#include "absl/status/status.h"

namespace meshctl {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 64;         // bad flags or arguments
inline constexpr int kExitDataError = 65;     // input files could not be parsed
inline constexpr int kExitAnalyzerFoundIssues = 79;

// InvalidArgument -> 64 (usage); DataLoss -> 65 (unparsable input); others -> 1.
int ExitCodeFor(const absl::Status& status);

}  // namespace meshctl
