#pragma once

#include <chrono>
#include <string_view>

#include "absl/status/statusor.h"

namespace mesh::common {

// Go-style durations as Istio's APIs and our flags take them: "1h", "90m", "1.5s",
// "250ms", "1h30m". Returns InvalidArgument for anything else.
absl::StatusOr<std::chrono::milliseconds> ParseGoDuration(std::string_view text);

}  // namespace mesh::common
