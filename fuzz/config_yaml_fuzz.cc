// libFuzzer target: see fuzz/entry_points.h and docs/RELIABILITY.md.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz/entry_points.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  mesh::fuzz::FuzzConfigYaml(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
