#include "mesh/common/duration.h"

#include <cctype>
#include <cstdlib>
#include <string>

#include "mesh/common/strings.h"

namespace mesh::common {

absl::StatusOr<std::chrono::milliseconds> ParseGoDuration(std::string_view text) {
  auto bad = [&] { return absl::InvalidArgumentError(StrCat("invalid duration \"", text, "\" (e.g. 30s, 5m, 1h)")); };
  if (text.empty()) {
    return bad();
  }
  double total_ms = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t start = i;
    while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) {
      ++i;
    }
    if (i == start) {
      return bad();
    }
    std::string number(text.substr(start, i - start));
    char* end = nullptr;
    double value = std::strtod(number.c_str(), &end);
    if (end != number.c_str() + number.size()) {
      return bad();
    }
    size_t unit_start = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) {
      ++i;
    }
    std::string_view unit = text.substr(unit_start, i - unit_start);
    double factor = 0;
    if (unit == "h") {
      factor = 3600e3;
    } else if (unit == "m") {
      factor = 60e3;
    } else if (unit == "s") {
      factor = 1e3;
    } else if (unit == "ms") {
      factor = 1;
    } else if (unit == "us" || unit == "µs") {
      factor = 1e-3;
    } else if (unit == "ns") {
      factor = 1e-6;
    } else {
      return bad();
    }
    total_ms += value * factor;
  }
  return std::chrono::milliseconds(static_cast<int64_t>(total_ms + 0.5));
}

}  // namespace mesh::common
