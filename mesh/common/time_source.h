#pragma once

#include <chrono>

namespace mesh::common {

// Injected clock so that debounce, backoff and certificate lifetimes are testable.
class TimeSource {
 public:
  virtual ~TimeSource() = default;
  virtual std::chrono::system_clock::time_point SystemNow() const = 0;
  virtual std::chrono::steady_clock::time_point MonotonicNow() const = 0;
};

class RealTimeSource : public TimeSource {
 public:
  std::chrono::system_clock::time_point SystemNow() const override {
    return std::chrono::system_clock::now();
  }
  std::chrono::steady_clock::time_point MonotonicNow() const override {
    return std::chrono::steady_clock::now();
  }
};

}  // namespace mesh::common
