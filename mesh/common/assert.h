#pragma once

// Invariant checks (Envoy's split): MESH_ASSERT is debug-only, MESH_RELEASE_ASSERT is
// always fatal, MESH_BUG is fatal in debug builds and logged in release builds.
// Never use these on external input (YAML, network, Kubernetes responses): return a Status.

#include <cstdio>
#include <cstdlib>

namespace mesh::common {
[[noreturn]] inline void AssertFail(const char* expr, const char* file, int line) {
  std::fprintf(stderr, "meshctl: assertion failed: %s at %s:%d\n", expr, file, line);
  std::abort();
}
}  // namespace mesh::common

#define MESH_RELEASE_ASSERT(expr)                                   \
  do {                                                              \
    if (!(expr)) {                                                  \
      ::mesh::common::AssertFail(#expr, __FILE__, __LINE__);        \
    }                                                               \
  } while (false)

#ifdef NDEBUG
#define MESH_ASSERT(expr) \
  do {                    \
  } while (false && (expr))
#define MESH_BUG(expr)                                                              \
  do {                                                                              \
    if (!(expr)) {                                                                  \
      std::fprintf(stderr, "meshctl: bug: %s at %s:%d\n", #expr, __FILE__, __LINE__); \
    }                                                                               \
  } while (false)
#else
#define MESH_ASSERT(expr) MESH_RELEASE_ASSERT(expr)
#define MESH_BUG(expr) MESH_RELEASE_ASSERT(expr)
#endif
