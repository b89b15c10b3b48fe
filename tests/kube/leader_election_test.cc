// Lease-based leader election against the fake API server, with an injected clock: two
// candidates, one wins; when it stops renewing the other takes over after a lease
// duration; a write from a stale read loses with 409; a released lease is taken at once.

#include "mesh/kube/leader_election.h"

#include <atomic>
#include <thread>

#include "gtest/gtest.h"
#include "mesh/common/strings.h"
#include "mesh/config/yaml_loader.h"
#include "mesh/kube/client.h"
#include "tests/common/test_util.h"
#include "tests/kube/fake_apiserver.h"

namespace mesh::kube {
namespace {

using common::StrCat;
using config::Node;
using std::chrono::seconds;

class ManualClock : public common::TimeSource {
 public:
  std::chrono::system_clock::time_point SystemNow() const override {
    return std::chrono::system_clock::time_point(seconds(1'800'000'000)) + seconds(offset_.load());
  }
  std::chrono::steady_clock::time_point MonotonicNow() const override {
    return std::chrono::steady_clock::time_point(seconds(offset_.load()));
  }
  void Advance(int s) { offset_ += s; }

 private:
  std::atomic<int64_t> offset_{0};
};

struct Fixture {
  Fixture() : server(cluster.Handler()) {
    RestConfig rc;
    rc.server = StrCat("http://127.0.0.1:", server.port());
    client = std::shared_ptr<KubeClient>(*NewKubeClient(rc));
    Node ns = *config::ParseYamlNode(R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"istio-system"}})", "ns");
    EXPECT_TRUE(client->Apply(ns, {}).ok());
  }
  LeaderElectionOptions Options(const std::string& identity) {
    LeaderElectionOptions o;
    o.client = client;
    o.identity = identity;
    o.lease_duration = seconds(30);
    o.renew_deadline = seconds(15);
    o.clock = clock;
    return o;
  }
  Node Lease() {
    auto l = cluster.Find("coordination.k8s.io", "Lease", "istio-system", "meshctl-control-plane-leader");
    return l ? *l : Node();
  }
  fake::FakeCluster cluster;
  fake::FakeApiServer server;
  std::shared_ptr<KubeClient> client;
  std::shared_ptr<ManualClock> clock = std::make_shared<ManualClock>();
};

TEST(LeaderElection, MicroTimeFormat) {
  auto t = std::chrono::system_clock::time_point(seconds(1'800'000'000)) + std::chrono::microseconds(42);
  EXPECT_EQ(FormatMicroTime(t), "2027-01-15T08:00:00.000042Z");
  auto parsed = ParseRfc3339(FormatMicroTime(t));
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(std::chrono::duration_cast<seconds>(parsed->time_since_epoch()).count(), 1'800'000'000);
}

TEST(LeaderElection, OneWinsTheOtherTakesOverWhenRenewalsStop) {
  Fixture f;
  LeaderElector a(f.Options("istiod-a"));
  LeaderElector b(f.Options("istiod-b"));

  // a creates the Lease; b finds it held.
  ASSERT_EQ(a.TryAcquireOrRenew().value_or(false), true);
  ASSERT_EQ(b.TryAcquireOrRenew().value_or(true), false);
  EXPECT_TRUE(a.IsLeader());
  EXPECT_FALSE(b.IsLeader());
  Node lease = f.Lease();
  EXPECT_EQ(lease["spec"]["holderIdentity"].Str(), "istiod-a");
  EXPECT_EQ(lease["spec"]["leaseDurationSeconds"].Str(), "30");
  EXPECT_EQ(lease["spec"]["leaseTransitions"].Str(), "0");
  EXPECT_EQ(lease["spec"]["acquireTime"].Str(), "2027-01-15T08:00:00.000000Z");
  std::string first_rv = lease["metadata"]["resourceVersion"].Str();

  // a renews every 10 s; b keeps seeing a fresh record and stays a follower.
  for (int i = 0; i < 5; ++i) {
    f.clock->Advance(10);
    ASSERT_EQ(a.TryAcquireOrRenew().value_or(false), true);
    ASSERT_EQ(b.TryAcquireOrRenew().value_or(true), false);
  }
  lease = f.Lease();
  EXPECT_EQ(lease["spec"]["holderIdentity"].Str(), "istiod-a");
  EXPECT_EQ(lease["spec"]["renewTime"].Str(), "2027-01-15T08:00:50.000000Z");
  EXPECT_EQ(lease["spec"]["acquireTime"].Str(), "2027-01-15T08:00:00.000000Z");
  EXPECT_NE(lease["metadata"]["resourceVersion"].Str(), first_rv);

  // a stops renewing. Within a lease duration of b's last sight, b waits...
  f.clock->Advance(29);
  ASSERT_EQ(b.TryAcquireOrRenew().value_or(true), false);
  // ...then takes over.
  f.clock->Advance(2);
  ASSERT_EQ(b.TryAcquireOrRenew().value_or(false), true);
  lease = f.Lease();
  EXPECT_EQ(lease["spec"]["holderIdentity"].Str(), "istiod-b");
  EXPECT_EQ(lease["spec"]["leaseTransitions"].Str(), "1");
  EXPECT_EQ(lease["spec"]["acquireTime"].Str(), "2027-01-15T08:01:21.000000Z");

  // a comes back: it sees b's lease and steps down.
  ASSERT_EQ(a.TryAcquireOrRenew().value_or(true), false);
  EXPECT_FALSE(a.IsLeader());
  EXPECT_TRUE(b.IsLeader());
}

TEST(LeaderElection, StaleWriteLosesWithConflict) {
  Fixture f;
  LeaderElector a(f.Options("istiod-a"));
  ASSERT_EQ(a.TryAcquireOrRenew().value_or(false), true);
  std::string rv = f.Lease()["metadata"]["resourceVersion"].Str();
  // Another candidate's write raced ours: patching with the resourceVersion we read
  // is refused, so the later writer cannot overwrite the winner.
  f.clock->Advance(5);
  ASSERT_EQ(a.TryAcquireOrRenew().value_or(false), true);
  Node stale = *config::ParseYamlNode(
      StrCat(R"({"metadata":{"resourceVersion":")", rv, R"("},"spec":{"holderIdentity":"istiod-b"}})"), "patch");
  auto st = f.client->MergePatch({"coordination.k8s.io/v1", "Lease", "istio-system", "meshctl-control-plane-leader"},
                                 stale);
  EXPECT_EQ(st.status().code(), absl::StatusCode::kAborted) << st.status();
  EXPECT_NE(std::string(st.status().message()).find("the object has been modified"), std::string::npos);
  EXPECT_EQ(f.Lease()["spec"]["holderIdentity"].Str(), "istiod-a");
}

TEST(LeaderElection, LeaderKeepsLeadingUntilRenewDeadlineWhenTheServerIsAway) {
  Fixture f;
  LeaderElector a(f.Options("istiod-a"));
  ASSERT_EQ(a.TryAcquireOrRenew().value_or(false), true);
  f.server.Stop();
  f.clock->Advance(10);
  EXPECT_FALSE(a.TryAcquireOrRenew().ok());
  EXPECT_TRUE(a.IsLeader());  // 10 s < renew deadline
  f.clock->Advance(6);
  EXPECT_FALSE(a.TryAcquireOrRenew().ok());
  EXPECT_FALSE(a.IsLeader());  // stepped down before anyone else may take over (30 s)
}

TEST(LeaderElection, StartedCandidatesHandOverOnStop) {
  Fixture f;
  std::atomic<int> a_started{0}, a_stopped{0}, b_started{0};
  LeaderElectionOptions ao = f.Options("istiod-a");
  ao.clock = nullptr;  // real time, short retry period
  ao.retry_period = std::chrono::milliseconds(20);
  ao.on_started_leading = [&] { ++a_started; };
  ao.on_stopped_leading = [&] { ++a_stopped; };
  LeaderElectionOptions bo = ao;
  bo.identity = "istiod-b";
  bo.on_started_leading = [&] { ++b_started; };
  bo.on_stopped_leading = nullptr;

  LeaderElector a(ao);
  a.Start();
  ASSERT_TRUE(mesh::testing::Eventually([&] { return a_started == 1; }));
  LeaderElector b(bo);
  b.Start();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // b tries a few rounds
  EXPECT_EQ(b_started, 0);
  a.Stop();  // releases the lease: b need not wait 30 s
  EXPECT_EQ(a_stopped, 1);
  EXPECT_TRUE(mesh::testing::Eventually([&] { return b_started == 1; }));
  EXPECT_EQ(f.Lease()["spec"]["holderIdentity"].Str(), "istiod-b");
  b.Stop();
  EXPECT_FALSE(f.Lease()["spec"]["holderIdentity"].Defined());
}

}  // namespace
}  // namespace mesh::kube
