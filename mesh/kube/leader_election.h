#pragma once

// Leader election on a coordination.k8s.io/v1 Lease, as client-go's: one candidate at a
// time holds `spec.holderIdentity` and renews `spec.renewTime` well within
// `spec.leaseDurationSeconds`; the others take over once they have seen the same
// record unchanged for a whole lease duration (measured on their own clock, so clock
// skew between pods does not matter). Every write carries the resourceVersion that was
// read, so two candidates racing for an expired lease cannot both win: the loser gets
// 409 Conflict and stays a follower.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "mesh/common/time_source.h"
#include "mesh/kube/client.h"

namespace mesh::kube {

struct LeaderElectionOptions {
  std::shared_ptr<KubeClient> client;
  std::string ns = "istio-system";
  std::string lease_name = "meshctl-control-plane-leader";
  std::string identity;  // unique per candidate: the pod name
  std::chrono::seconds lease_duration{30};
  // A leader that could not renew for this long steps down (before others may take over).
  std::chrono::seconds renew_deadline{15};
  std::chrono::milliseconds retry_period{2000};  // how often Start()'s thread tries or renews
  std::shared_ptr<const common::TimeSource> clock;  // null: the real clock
  // Called from Start()'s thread when leadership is gained or lost.
  std::function<void()> on_started_leading;
  std::function<void()> on_stopped_leading;
};

class LeaderElector {
 public:
  explicit LeaderElector(LeaderElectionOptions options);
  ~LeaderElector();
  LeaderElector(const LeaderElector&) = delete;
  LeaderElector& operator=(const LeaderElector&) = delete;

  // One round: create the Lease, renew it, or take it over when expired. True when this
  // candidate holds it afterwards; an error when the API server could not be asked
  // (leadership is then kept until renew_deadline has passed since the last renewal).
  absl::StatusOr<bool> TryAcquireOrRenew();
  bool IsLeader() const;
  std::string identity() const { return options_.identity; }

  // Runs TryAcquireOrRenew every retry_period on a thread, calling the callbacks.
  void Start();
  // Stops the thread; a leader releases the Lease (holder cleared) so another
  // candidate takes over at once instead of after a lease duration.
  void Stop();

 private:
  std::chrono::system_clock::time_point Now() const;
  void SetLeader(bool leader);
  void Release();

  LeaderElectionOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool leader_ = false;
  bool stopping_ = false;
  bool started_ = false;
  std::thread thread_;
  // What was last seen on the Lease and when (our clock): expiry is judged from it.
  std::string observed_record_;
  std::chrono::system_clock::time_point observed_time_{};
  std::chrono::system_clock::time_point last_renewed_{};
  bool changed_ = false;  // leadership changed in the last round (for the callbacks)
};

// Kubernetes MicroTime: RFC 3339 in UTC with microseconds, "2026-01-02T03:04:05.000000Z".
std::string FormatMicroTime(std::chrono::system_clock::time_point t);

}  // namespace mesh::kube
