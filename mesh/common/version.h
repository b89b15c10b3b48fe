#pragma once

namespace mesh::common {
// Set by CMake from the project version; the Istio API level we follow is separate.
inline constexpr const char* kMeshctlVersion = "0.1.0";
inline constexpr const char* kIstioCompatVersion = "1.32";
}  // namespace mesh::common
