#include "mesh/kube/leader_election.h"

#include <ctime>

#include "fmt/format.h"
#include "mesh/common/strings.h"

namespace mesh::kube {
namespace {

using config::Node;

Node Str(const std::string& s) { return Node::Scalar(s, true); }
Node Num(int64_t v) { return Node::Scalar(std::to_string(v)); }

ObjectRef LeaseRef(const LeaderElectionOptions& o) {
  return ObjectRef{"coordination.k8s.io/v1", "Lease", o.ns, o.lease_name};
}

// The part of the record whose change proves the holder is alive.
std::string RecordKey(const Node& spec) {
  return common::StrCat(spec["holderIdentity"].Str(), "|", spec["renewTime"].Str(), "|",
                        spec["acquireTime"].Str(), "|", spec["leaseTransitions"].Str(), "|",
                        spec["leaseDurationSeconds"].Str());
}

}  // namespace

std::string FormatMicroTime(std::chrono::system_clock::time_point t) {
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  time_t seconds = static_cast<time_t>(micros / 1000000);
  int64_t fraction = micros % 1000000;
  if (fraction < 0) {
    fraction += 1000000;
    --seconds;
  }
  struct tm tm {};
  gmtime_r(&seconds, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:06d}Z", buf, fraction);
}

LeaderElector::LeaderElector(LeaderElectionOptions options) : options_(std::move(options)) {
  if (!options_.clock) {
    options_.clock = std::make_shared<common::RealTimeSource>();
  }
}

LeaderElector::~LeaderElector() { Stop(); }

std::chrono::system_clock::time_point LeaderElector::Now() const { return options_.clock->SystemNow(); }

bool LeaderElector::IsLeader() const {
  std::lock_guard<std::mutex> lock(mu_);
  return leader_;
}

void LeaderElector::SetLeader(bool leader) {
  std::lock_guard<std::mutex> lock(mu_);
  leader_ = leader;
}

absl::StatusOr<bool> LeaderElector::TryAcquireOrRenew() {
  const auto now = Now();
  const std::string now_text = FormatMicroTime(now);
  const int64_t duration = options_.lease_duration.count();
  auto fail = [&](absl::Status st) -> absl::StatusOr<bool> {
    // Keep leading through short API server trouble, never past the renew deadline.
    std::lock_guard<std::mutex> lock(mu_);
    if (leader_ && now - last_renewed_ >= options_.renew_deadline) {
      leader_ = false;
    }
    return st;
  };

  auto current = options_.client->Get(LeaseRef(options_));
  if (!current.ok() && current.status().code() == absl::StatusCode::kNotFound) {
    Node lease = Node::Map();
    lease.Set("apiVersion", Str("coordination.k8s.io/v1"));
    lease.Set("kind", Str("Lease"));
    Node meta = Node::Map();
    meta.Set("name", Str(options_.lease_name));
    meta.Set("namespace", Str(options_.ns));
    lease.Set("metadata", std::move(meta));
    Node spec = Node::Map();
    spec.Set("holderIdentity", Str(options_.identity));
    spec.Set("leaseDurationSeconds", Num(duration));
    spec.Set("acquireTime", Str(now_text));
    spec.Set("renewTime", Str(now_text));
    spec.Set("leaseTransitions", Num(0));
    lease.Set("spec", std::move(spec));
    auto created = options_.client->Create(lease);
    if (!created.ok()) {
      if (created.status().code() == absl::StatusCode::kAlreadyExists) {
        SetLeader(false);  // another candidate created it first
        return false;
      }
      return fail(created.status());
    }
    std::lock_guard<std::mutex> lock(mu_);
    observed_record_ = RecordKey((*created)["spec"]);
    observed_time_ = now;
    last_renewed_ = now;
    leader_ = true;
    return true;
  }
  if (!current.ok()) {
    return fail(current.status());
  }
  const Node& spec = (*current)["spec"];
  const std::string holder = spec["holderIdentity"].Str();
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::string key = RecordKey(spec);
    if (key != observed_record_) {
      observed_record_ = key;
      observed_time_ = now;
    }
    int64_t held_for = spec["leaseDurationSeconds"].Int().value_or(duration);
    bool expired = now >= observed_time_ + std::chrono::seconds(held_for);
    if (!holder.empty() && holder != options_.identity && !expired) {
      leader_ = false;
      return false;
    }
  }
  // Renew (ours) or take over (expired or released), guarded by the resourceVersion read.
  Node patch = Node::Map();
  Node meta = Node::Map();
  meta.Set("resourceVersion", Str((*current)["metadata"]["resourceVersion"].Str()));
  patch.Set("metadata", std::move(meta));
  Node next = Node::Map();
  next.Set("holderIdentity", Str(options_.identity));
  next.Set("leaseDurationSeconds", Num(duration));
  next.Set("renewTime", Str(now_text));
  if (holder != options_.identity) {
    next.Set("acquireTime", Str(now_text));
    next.Set("leaseTransitions", Num(spec["leaseTransitions"].Int().value_or(0) + 1));
  }
  patch.Set("spec", std::move(next));
  auto written = options_.client->MergePatch(LeaseRef(options_), patch);
  if (!written.ok()) {
    if (written.status().code() == absl::StatusCode::kAborted) {
      // 409: someone wrote the Lease since we read it; whoever did holds it now.
      SetLeader(false);
      return false;
    }
    return fail(written.status());
  }
  std::lock_guard<std::mutex> lock(mu_);
  observed_record_ = RecordKey((*written)["spec"]);
  observed_time_ = now;
  last_renewed_ = now;
  leader_ = true;
  return true;
}

void LeaderElector::Release() {
  auto current = options_.client->Get(LeaseRef(options_));
  if (!current.ok() || (*current)["spec"]["holderIdentity"].Str() != options_.identity) {
    return;
  }
  Node patch = Node::Map();
  Node meta = Node::Map();
  meta.Set("resourceVersion", Str((*current)["metadata"]["resourceVersion"].Str()));
  patch.Set("metadata", std::move(meta));
  Node spec = Node::Map();
  spec.Set("holderIdentity", Node());  // null: removed by the merge patch
  spec.Set("renewTime", Str(FormatMicroTime(Now())));
  patch.Set("spec", std::move(spec));
  (void)options_.client->MergePatch(LeaseRef(options_), patch);
}

void LeaderElector::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (started_) {
    return;
  }
  started_ = true;
  thread_ = std::thread([this] {
    bool was_leader = false;
    std::string last_error;
    for (;;) {
      auto round = TryAcquireOrRenew();
      if (!round.ok() && std::string(round.status().message()) != last_error) {
        last_error = std::string(round.status().message());
        std::fprintf(stderr, "leader election: lease %s/%s: %s\n", options_.ns.c_str(), options_.lease_name.c_str(),
                     last_error.c_str());
      } else if (round.ok()) {
        last_error.clear();
      }
      bool leader = IsLeader();
      if (leader && !was_leader && options_.on_started_leading) {
        options_.on_started_leading();
      } else if (!leader && was_leader && options_.on_stopped_leading) {
        options_.on_stopped_leading();
      }
      was_leader = leader;
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, options_.retry_period, [this] { return stopping_; });
      if (stopping_) {
        break;
      }
    }
    if (was_leader) {
      Release();
      SetLeader(false);
      if (options_.on_stopped_leading) {
        options_.on_stopped_leading();
      }
    }
  });
}

void LeaderElector::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
}

}  // namespace mesh::kube
