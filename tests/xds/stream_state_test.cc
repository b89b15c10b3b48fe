#include "mesh/xds/stream_state.h"

#include "gtest/gtest.h"
#include "mesh/config/yaml_loader.h"

namespace mesh::xds {
namespace {

using config::Node;

Node Cluster(const std::string& name) {
  return config::ParseYamlNode("{\"@type\": \"" + std::string(type_url::kCluster) + "\", \"name\": \"" + name + "\"}",
                               "c")
      .value();
}

DiscoveryRequest Req(const std::string& version, const std::string& nonce, const std::string& nack = "") {
  DiscoveryRequest r;
  r.node.id = "sidecar~1";
  r.type_url = type_url::kCluster;
  r.version_info = version;
  r.response_nonce = nonce;
  r.error_detail.message = nack;
  return r;
}

TEST(StreamState, SubscribeSendAckThenNoResendOfSameContent) {
  StreamState s;
  EXPECT_EQ(s.OnRequest(Req("", "")), RequestKind::kSubscribe);
  EXPECT_EQ(s.Status(type_url::kCluster), SyncStatus::kNotSent);
  auto resp = s.PrepareResponse(type_url::kCluster, MakeResourceList({Cluster("a")}));
  ASSERT_TRUE(resp.has_value());
  EXPECT_EQ(s.Status(type_url::kCluster), SyncStatus::kStale);
  EXPECT_EQ(s.OnRequest(Req(resp->version_info, resp->nonce)), RequestKind::kAck);
  EXPECT_EQ(s.Status(type_url::kCluster), SyncStatus::kSynced);
  EXPECT_FALSE(s.PrepareResponse(type_url::kCluster, MakeResourceList({Cluster("a")})).has_value());
  auto changed = s.PrepareResponse(type_url::kCluster, MakeResourceList({Cluster("b")}));
  ASSERT_TRUE(changed.has_value());
  EXPECT_NE(changed->version_info, resp->version_info);
  EXPECT_NE(changed->nonce, resp->nonce);
}

TEST(StreamState, NackIsRecordedAndClearedByTheNextAck) {
  StreamState s;
  s.OnRequest(Req("", ""));
  auto good = s.PrepareResponse(type_url::kCluster, MakeResourceList({Cluster("a")})).value();
  s.OnRequest(Req(good.version_info, good.nonce));
  auto bad = s.PrepareResponse(type_url::kCluster, MakeResourceList({Cluster("bad")})).value();
  EXPECT_EQ(s.OnRequest(Req(good.version_info, bad.nonce, "unsupported field")), RequestKind::kNack);
  EXPECT_EQ(s.Status(type_url::kCluster), SyncStatus::kNacked);
  EXPECT_EQ(s.types().at(type_url::kCluster).nack_message, "unsupported field");
  auto fixed = s.PrepareResponse(type_url::kCluster, MakeResourceList({Cluster("c")})).value();
  EXPECT_EQ(s.Status(type_url::kCluster), SyncStatus::kStale);
  EXPECT_EQ(s.OnRequest(Req(fixed.version_info, fixed.nonce)), RequestKind::kAck);
  EXPECT_EQ(s.Status(type_url::kCluster), SyncStatus::kSynced);
}

TEST(StreamState, StaleNonceIsIgnored) {
  StreamState s;
  s.OnRequest(Req("", ""));
  auto first = s.PrepareResponse(type_url::kCluster, MakeResourceList({Cluster("a")})).value();
  auto second = s.PrepareResponse(type_url::kCluster, MakeResourceList({Cluster("b")})).value();
  EXPECT_EQ(s.OnRequest(Req(first.version_info, first.nonce)), RequestKind::kStaleNonce);
  EXPECT_EQ(s.Status(type_url::kCluster), SyncStatus::kStale);
  EXPECT_EQ(s.OnRequest(Req(second.version_info, second.nonce)), RequestKind::kAck);
}

TEST(StreamState, ReconnectingProxyWithCurrentVersionGetsNothingResent) {
  StreamState first;
  first.OnRequest(Req("", ""));
  std::string version = first.PrepareResponse(type_url::kCluster, MakeResourceList({Cluster("a")}))->version_info;
  StreamState s;  // the stream after a reconnect
  EXPECT_EQ(s.OnRequest(Req(version, "")), RequestKind::kSubscribe);
  EXPECT_FALSE(s.PrepareResponse(type_url::kCluster, MakeResourceList({Cluster("a")})).has_value());
  EXPECT_EQ(s.Status(type_url::kCluster), SyncStatus::kSynced);
  EXPECT_TRUE(s.PrepareResponse(type_url::kCluster, MakeResourceList({Cluster("b")})).has_value());
}

TEST(Debouncer, WaitsForQuietButNotForeverUnderConstantChange) {
  using namespace std::chrono_literals;
  Debouncer d(100ms, 1000ms);
  Debouncer::Clock::time_point t0{};
  EXPECT_FALSE(d.Deadline().has_value());
  d.OnChange(t0);
  EXPECT_FALSE(d.TakeDue(t0 + 50ms));
  d.OnChange(t0 + 80ms);
  EXPECT_FALSE(d.TakeDue(t0 + 150ms));
  EXPECT_TRUE(d.TakeDue(t0 + 180ms));
  EXPECT_FALSE(d.TakeDue(t0 + 300ms));
  // A change every 50 ms still pushes by max_delay.
  auto t1 = t0 + 1s;
  for (int i = 0; i < 30; ++i) {
    d.OnChange(t1 + i * 50ms);
  }
  EXPECT_EQ(*d.Deadline(), t1 + 1000ms);
}

TEST(ReconnectDelay, GrowsExponentiallyWithJitterAndCap) {
  using namespace std::chrono_literals;
  EXPECT_EQ(ReconnectDelay(0, 1.0), 100ms);
  EXPECT_EQ(ReconnectDelay(0, 0.0), 50ms);
  EXPECT_EQ(ReconnectDelay(3, 1.0), 800ms);
  EXPECT_EQ(ReconnectDelay(30, 1.0), 10000ms);
}

TEST(Protocol, RoundTripsAndRejectsGarbage) {
  DiscoveryRequest r = Req("v1", "7", "bad");
  r.resource_names = {"a", "b"};
  auto back = ParseRequest(SerializeRequest(r));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->version_info, "v1");
  EXPECT_EQ(back->response_nonce, "7");
  EXPECT_TRUE(back->IsNack());
  EXPECT_EQ(back->resource_names.size(), 2u);
  EXPECT_FALSE(ParseRequest("{}").ok());
  EXPECT_FALSE(ParseRequest("[").ok());
  EXPECT_FALSE(ParseResponse("{\"typeUrl\": \"x\"}").ok());
  EXPECT_EQ(type_url::ShortName(type_url::kRoute), "RDS");
}

}  // namespace
}  // namespace mesh::xds
