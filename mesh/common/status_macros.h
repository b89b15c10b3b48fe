#pragma once

// Local shims for ABSL_RETURN_IF_ERROR / ABSL_ASSIGN_OR_RETURN, which the installed
// abseil (20220623) lacks. Same semantics; switch when abseil >= 20260526 is the minimum.

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define MESH_STATUS_CONCAT_INNER(a, b) a##b
#define MESH_STATUS_CONCAT(a, b) MESH_STATUS_CONCAT_INNER(a, b)

#define MESH_RETURN_IF_ERROR(expr)                   \
  do {                                               \
    const ::absl::Status mesh_status_ = (expr);      \
    if (!mesh_status_.ok()) {                        \
      return mesh_status_;                           \
    }                                                \
  } while (false)

#define MESH_ASSIGN_OR_RETURN(lhs, rexpr) \
  MESH_ASSIGN_OR_RETURN_IMPL(MESH_STATUS_CONCAT(mesh_statusor_, __LINE__), lhs, rexpr)

#define MESH_ASSIGN_OR_RETURN_IMPL(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                               \
  if (!statusor.ok()) {                                  \
    return std::move(statusor).status();                 \
  }                                                      \
  lhs = std::move(statusor).value()
