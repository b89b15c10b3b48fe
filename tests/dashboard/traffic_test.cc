#include "mesh/dashboard/traffic.h"

#include <cmath>

#include "gtest/gtest.h"
#include "tests/dashboard/metric_texts.h"

namespace mesh::dashboard {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testdata::DestinationSeries;
using testdata::SourceSeries;

const std::string kSvc = "helloworldsvc.devops.svc.cluster.local";
const std::string kGatewayToSvc = "wl:istio-system/istio-ingressgateway";

// The fake clock: a fixed epoch plus what the test says.
std::chrono::system_clock::time_point At(seconds s) {
  return std::chrono::system_clock::time_point(seconds(1'700'000'000) + s);
}

ScrapeTarget Gateway() { return {"router~gw", "router", "istio-ingressgateway", "istio-system", {}, "127.0.0.1", 1}; }
ScrapeTarget Sidecar(const std::string& name) {
  return {"sidecar~" + name, "sidecar", name, "devops", {kSvc}, "127.0.0.1", 2};
}

std::vector<MetricSample> Parse(const std::string& text) {
  auto s = ParsePrometheusText(text, [](std::string_view) { return true; });
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *s : std::vector<MetricSample>{};
}

std::string GatewayText(double ok, double failed) {
  return SourceSeries("istio-ingressgateway", "istio-system", kSvc, 200, ok, {}) +
         SourceSeries("istio-ingressgateway", "istio-system", kSvc, 503, failed, {});
}

const EdgeTraffic* FindEdge(const std::vector<EdgeTraffic>& edges, const std::string& from, const std::string& to) {
  for (const EdgeTraffic& e : edges) {
    if (e.from == from && e.to == to) {
      return &e;
    }
  }
  return nullptr;
}

TrafficOptions FiveSecondSlots() { return {milliseconds(5000), 12, 100}; }

TEST(TrafficMetricsTest, FirstScrapeIsABaselineThenDeltasCount) {
  TrafficMetrics m(FiveSecondSlots());
  m.Ingest(Gateway(), At(seconds(0)), Parse(GatewayText(1000, 10)));
  EXPECT_TRUE(m.Edges(At(seconds(0)), seconds(60)).empty()) << "old counters are not recent traffic";

  m.Ingest(Gateway(), At(seconds(5)), Parse(GatewayText(1090, 20)));
  auto edges = m.Edges(At(seconds(5)), seconds(60));
  ASSERT_EQ(edges.size(), 1u);
  EXPECT_EQ(edges[0].from, kGatewayToSvc);
  EXPECT_EQ(edges[0].to, "svc:" + kSvc);
  EXPECT_EQ(edges[0].totals.requests, 100u);
  EXPECT_EQ(edges[0].totals.errors, 10u);
  EXPECT_EQ(edges[0].totals.MtlsMode(), "unknown") << "no destination-side data yet";
}

TEST(TrafficMetricsTest, CounterResetCountsFromZero) {
  TrafficMetrics m(FiveSecondSlots());
  m.Ingest(Gateway(), At(seconds(0)), Parse(GatewayText(1000, 0)));
  m.Ingest(Gateway(), At(seconds(5)), Parse(GatewayText(7, 0)));  // the proxy restarted
  auto edges = m.Edges(At(seconds(5)), seconds(60));
  ASSERT_EQ(edges.size(), 1u);
  EXPECT_EQ(edges[0].totals.requests, 7u);
}

TEST(TrafficMetricsTest, NewSeriesOnAKnownProxyCountInFull) {
  TrafficMetrics m(FiveSecondSlots());
  m.Ingest(Gateway(), At(seconds(0)), Parse(SourceSeries("istio-ingressgateway", "istio-system", kSvc, 200, 5, {})));
  m.Ingest(Gateway(), At(seconds(5)), Parse(GatewayText(5, 3)));  // first 503s appear
  auto edges = m.Edges(At(seconds(5)), seconds(60));
  ASSERT_EQ(edges.size(), 1u);
  EXPECT_EQ(edges[0].totals.requests, 3u);
  EXPECT_EQ(edges[0].totals.errors, 3u);
}

TEST(TrafficMetricsTest, LatencyPercentilesFromBucketDeltas) {
  TrafficMetrics m(FiveSecondSlots());
  auto text = [](double scale) {
    return SourceSeries("istio-ingressgateway", "istio-system", kSvc, 200, 100 * scale,
                        {{"0.5", 0}, {"1", 50 * scale}, {"5", 99 * scale}, {"10", 99 * scale}, {"100", 100 * scale},
                         {"+Inf", 100 * scale}});
  };
  m.Ingest(Gateway(), At(seconds(0)), Parse(text(1)));
  m.Ingest(Gateway(), At(seconds(5)), Parse(text(2)));  // the same shape again: 100 more requests
  auto edges = m.Edges(At(seconds(5)), seconds(60));
  ASSERT_EQ(edges.size(), 1u);
  const TrafficTotals& t = edges[0].totals;
  EXPECT_EQ(t.buckets[1], 50u);  // (0.5, 1]
  EXPECT_EQ(t.buckets[2], 49u);  // (1, 5]
  EXPECT_EQ(t.buckets[6], 1u);   // (50, 100]
  EXPECT_DOUBLE_EQ(t.LatencyPercentile(0.5), 1.0);   // 0.5 + 0.5 * 50/50
  EXPECT_DOUBLE_EQ(t.LatencyPercentile(0.99), 5.0);  // 1 + 4 * 49/49
  EXPECT_TRUE(std::isnan(TrafficTotals{}.LatencyPercentile(0.5)));
}

TEST(TrafficMetricsTest, MtlsFromTheDestinationReporter) {
  TrafficMetrics m(FiveSecondSlots());
  m.Ingest(Gateway(), At(seconds(0)), Parse(GatewayText(0, 0)));
  m.Ingest(Sidecar("helloworld-1"), At(seconds(0)), Parse(DestinationSeries("helloworld-1", "devops", "mutual_tls", 200, 0)));
  m.Ingest(Gateway(), At(seconds(5)), Parse(GatewayText(40, 0)));
  m.Ingest(Sidecar("helloworld-1"), At(seconds(5)), Parse(DestinationSeries("helloworld-1", "devops", "mutual_tls", 200, 40)));
  auto edges = m.Edges(At(seconds(5)), seconds(60));
  const EdgeTraffic* inbound = FindEdge(edges, "svc:" + kSvc, "wl:devops/helloworld-1");
  const EdgeTraffic* caller = FindEdge(edges, kGatewayToSvc, "svc:" + kSvc);
  ASSERT_NE(inbound, nullptr) << "destination_service is empty: the proxy's SERVICES name it";
  ASSERT_NE(caller, nullptr);
  EXPECT_EQ(inbound->totals.mtls, 40u);
  EXPECT_EQ(inbound->totals.MtlsMode(), "mutual_tls");
  EXPECT_EQ(caller->totals.MtlsMode(), "mutual_tls") << "the caller edge takes the service's inbound mark";

  // Some plaintext arrives at a second replica (PERMISSIVE): the service is partly mTLS.
  m.Ingest(Sidecar("helloworld-2"), At(seconds(5)), Parse(DestinationSeries("helloworld-2", "devops", "none", 200, 0)));
  m.Ingest(Sidecar("helloworld-2"), At(seconds(10)), Parse(DestinationSeries("helloworld-2", "devops", "none", 200, 4)));
  EXPECT_EQ(m.ServiceTotals(kSvc, At(seconds(10)), seconds(60)).MtlsMode(), "partial");
  EXPECT_EQ(FindEdge(m.Edges(At(seconds(10)), seconds(60)), "svc:" + kSvc, "wl:devops/helloworld-2")->totals.MtlsMode(),
            "none");
}

TEST(TrafficMetricsTest, WindowAndHistoryFollowTheClock) {
  TrafficMetrics m(FiveSecondSlots());  // 12 slots of 5 s: one minute of history
  m.Ingest(Gateway(), At(seconds(0)), Parse(GatewayText(0, 0)));
  m.Ingest(Gateway(), At(seconds(5)), Parse(GatewayText(50, 0)));
  m.Ingest(Gateway(), At(seconds(30)), Parse(GatewayText(60, 0)));
  EXPECT_EQ(m.Edges(At(seconds(30)), seconds(60))[0].totals.requests, 60u);
  EXPECT_EQ(m.Edges(At(seconds(30)), seconds(10))[0].totals.requests, 10u) << "only the last two slots";

  auto history = m.ServiceHistory(kSvc, At(seconds(30)));
  ASSERT_EQ(history.size(), 12u);
  EXPECT_EQ(history.back().start, At(seconds(30)));
  EXPECT_EQ(history.back().totals.requests, 10u);
  EXPECT_EQ(history[history.size() - 6].totals.requests, 50u);  // the slot starting at 5 s
  uint64_t total = 0;
  for (const TrafficPoint& p : history) {
    total += p.totals.requests;
  }
  EXPECT_EQ(total, 60u);

  // A minute later the edge has no traffic in the window; past the history it is gone.
  EXPECT_TRUE(m.Edges(At(seconds(95)), seconds(60)).empty());
  m.Ingest(Gateway(), At(seconds(100)), Parse(GatewayText(60, 0)));
  EXPECT_EQ(m.edge_count(), 0u);
}

TEST(TrafficMetricsTest, MemoryIsBoundedByEvictingTheLeastRecentlyActiveEdges) {
  TrafficMetrics m({milliseconds(5000), 12, 10});
  std::string before, after;
  for (int i = 0; i < 50; ++i) {
    std::string svc = common::StrCat("svc-", i, ".ns.svc.cluster.local");
    before += SourceSeries("client", "ns", svc, 200, 0, {});
    after += SourceSeries("client", "ns", svc, 200, 1, {});
  }
  m.Ingest(Gateway(), At(seconds(0)), Parse(before));
  m.Ingest(Gateway(), At(seconds(5)), Parse(after));
  EXPECT_EQ(m.edge_count(), 10u);
  // Newer traffic to one service evicts an older edge, never the new one.
  m.Ingest(Gateway(), At(seconds(10)), Parse(after + SourceSeries("client", "ns", "late.ns.svc.cluster.local", 200, 3, {})));
  EXPECT_EQ(m.edge_count(), 10u);
  EXPECT_NE(FindEdge(m.Edges(At(seconds(10)), seconds(60)), "wl:ns/client", "svc:late.ns.svc.cluster.local"), nullptr);
}

TEST(TrafficMetricsTest, ForgettingAProxyMakesItsNextScrapeABaseline) {
  TrafficMetrics m(FiveSecondSlots());
  m.Ingest(Gateway(), At(seconds(0)), Parse(GatewayText(10, 0)));
  m.ForgetProxy(Gateway().proxy_id);
  m.Ingest(Gateway(), At(seconds(5)), Parse(GatewayText(500, 0)));
  EXPECT_TRUE(m.Edges(At(seconds(5)), seconds(60)).empty());
}

TEST(TrafficMetricsTest, SourceSeriesWithoutAServiceAreIgnored) {
  TrafficMetrics m(FiveSecondSlots());
  m.Ingest(Gateway(), At(seconds(0)), Parse(SourceSeries("gw", "istio-system", "unknown", 404, 0, {})));
  m.Ingest(Gateway(), At(seconds(5)), Parse(SourceSeries("gw", "istio-system", "unknown", 404, 9, {})));
  EXPECT_EQ(m.edge_count(), 0u);
}

}  // namespace
}  // namespace mesh::dashboard
