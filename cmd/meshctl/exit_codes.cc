#include "cmd/meshctl/exit_codes.h"

namespace meshctl {

int ExitCodeFor(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return kExitOk;
    case absl::StatusCode::kInvalidArgument:
      return kExitUsage;
    case absl::StatusCode::kDataLoss:
      return kExitDataError;
    default:
      return kExitFailure;
  }
}

}  // namespace meshctl
