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
  EXPECT_EQ(caller->totals.MtlsMode(), "unknown")
      << "the destination series do not name the gateway: no mark borrowed from other callers";
  const EdgeTraffic* unknown = FindEdge(edges, kUnknownCallerNodeId, "svc:" + kSvc);
  ASSERT_NE(unknown, nullptr) << "requests from an unnamed caller get their own edge";
  EXPECT_EQ(unknown->totals.requests, 40u);

  // Some plaintext arrives at a second replica (PERMISSIVE): the service is partly mTLS.
  m.Ingest(Sidecar("helloworld-2"), At(seconds(5)), Parse(DestinationSeries("helloworld-2", "devops", "none", 200, 0)));
  m.Ingest(Sidecar("helloworld-2"), At(seconds(10)), Parse(DestinationSeries("helloworld-2", "devops", "none", 200, 4)));
  EXPECT_EQ(m.ServiceTotals(kSvc, At(seconds(10)), seconds(60)).MtlsMode(), "partial");
  EXPECT_EQ(FindEdge(m.Edges(At(seconds(10)), seconds(60)), "svc:" + kSvc, "wl:devops/helloworld-2")->totals.MtlsMode(),
            "none");
}

// A PERMISSIVE service: the gateway calls it over mTLS, a sidecar-less client in plain
// text, and another meshed client whose DestinationRule disables TLS. Each caller's edge
// gets the mark of its own requests, from the serving side's series that name it.
TEST(TrafficMetricsTest, MtlsIsMarkedPerCallerEdge) {
  TrafficMetrics m(FiveSecondSlots());
  auto sidecar_text = [](double scale) {
    return DestinationSeries("helloworld-1", "devops", "mutual_tls", 200, 40 * scale, "istio-ingressgateway",
                             "istio-system") +
           DestinationSeries("helloworld-1", "devops", "none", 200, 7 * scale, "sleep", "devops") +
           DestinationSeries("helloworld-1", "devops", "none", 200, 3 * scale);  // no proxy: source unknown
  };
  auto sleep_text = [](double n) { return SourceSeries("sleep", "devops", kSvc, 200, n, {}); };
  m.Ingest(Gateway(), At(seconds(0)), Parse(GatewayText(0, 0)));
  m.Ingest(Sidecar("sleep"), At(seconds(0)), Parse(sleep_text(0)));
  m.Ingest(Sidecar("helloworld-1"), At(seconds(0)), Parse(sidecar_text(0)));
  m.Ingest(Gateway(), At(seconds(5)), Parse(GatewayText(40, 0)));
  m.Ingest(Sidecar("sleep"), At(seconds(5)), Parse(sleep_text(7)));
  m.Ingest(Sidecar("helloworld-1"), At(seconds(5)), Parse(sidecar_text(1)));

  auto edges = m.Edges(At(seconds(5)), seconds(60));
  const EdgeTraffic* gateway = FindEdge(edges, kGatewayToSvc, "svc:" + kSvc);
  const EdgeTraffic* sleep = FindEdge(edges, "wl:devops/sleep", "svc:" + kSvc);
  const EdgeTraffic* unknown = FindEdge(edges, kUnknownCallerNodeId, "svc:" + kSvc);
  const EdgeTraffic* inbound = FindEdge(edges, "svc:" + kSvc, "wl:devops/helloworld-1");
  ASSERT_NE(gateway, nullptr);
  ASSERT_NE(sleep, nullptr);
  ASSERT_NE(unknown, nullptr);
  ASSERT_NE(inbound, nullptr);
  EXPECT_EQ(gateway->totals.MtlsMode(), "mutual_tls");
  EXPECT_EQ(gateway->totals.requests, 40u) << "the caller's own report counts its requests";
  EXPECT_EQ(sleep->totals.MtlsMode(), "none");
  EXPECT_EQ(sleep->totals.requests, 7u);
  EXPECT_EQ(unknown->totals.MtlsMode(), "none");
  EXPECT_EQ(unknown->totals.requests, 3u);
  EXPECT_EQ(inbound->totals.MtlsMode(), "partial");
  EXPECT_EQ(inbound->totals.requests, 50u);
  EXPECT_EQ(m.ServiceTotals(kSvc, At(seconds(5)), seconds(60)).requests, 50u) << "the unknown edge is not counted twice";
}

// Without serving-side series for a caller, its own connection_security_policy decides;
// Istio's source reporter says "unknown", which leaves the edge unmarked.
TEST(TrafficMetricsTest, MtlsFallsBackToTheSourceReporter) {
  TrafficMetrics m(FiveSecondSlots());
  auto text = [](double n) {
    return SourceSeries("istio-ingressgateway", "istio-system", kSvc, 200, n, {}, "mutual_tls") +
           SourceSeries("istio-ingressgateway", "istio-system", "plain.devops.svc.cluster.local", 200, n, {}, "none") +
           SourceSeries("istio-ingressgateway", "istio-system", "other.devops.svc.cluster.local", 200, n, {});
  };
  m.Ingest(Gateway(), At(seconds(0)), Parse(text(0)));
  m.Ingest(Gateway(), At(seconds(5)), Parse(text(9)));
  auto edges = m.Edges(At(seconds(5)), seconds(60));
  EXPECT_EQ(FindEdge(edges, kGatewayToSvc, "svc:" + kSvc)->totals.MtlsMode(), "mutual_tls");
  EXPECT_EQ(FindEdge(edges, kGatewayToSvc, "svc:plain.devops.svc.cluster.local")->totals.MtlsMode(), "none");
  EXPECT_EQ(FindEdge(edges, kGatewayToSvc, "svc:other.devops.svc.cluster.local")->totals.MtlsMode(), "unknown");
}

// istio_tcp_* as meshctl's proxies publish them (the full label set of mesh/proxy, a TCP
// route from the gateway to a database and the database's sidecar serving it).
std::string TcpText(const std::string& reporter, double opened, double sent, double received) {
  const bool dest = reporter == "destination";
  std::string labels = common::StrCat(
      "reporter=\"", reporter, "\",source_workload=\"", dest ? "unknown" : "istio-ingressgateway",
      "\",source_workload_namespace=\"", dest ? "unknown" : "istio-system",
      "\",source_principal=\"unknown\",source_app=\"unknown\",source_version=\"unknown\",source_cluster=\"unknown\","
      "destination_workload=\"", dest ? "db-1" : "unknown", "\",destination_workload_namespace=\"data\","
      "destination_principal=\"unknown\",destination_app=\"unknown\",destination_version=\"unknown\","
      "destination_service=\"", dest ? "" : "db.data.svc.cluster.local",
      "\",destination_service_name=\"db\",destination_service_namespace=\"data\",destination_cluster=\"unknown\","
      "request_protocol=\"tcp\",grpc_response_status=\"\",connection_security_policy=\"",
      dest ? "mutual_tls" : "unknown", "\"");
  return common::StrCat(
      "# HELP istio_tcp_connections_opened_total TCP connections opened.\n# TYPE istio_tcp_connections_opened_total counter\n",
      "istio_tcp_connections_opened_total{", labels, "} ", opened, "\n",
      "# HELP istio_tcp_connections_closed_total TCP connections closed.\n# TYPE istio_tcp_connections_closed_total counter\n",
      "istio_tcp_connections_closed_total{", labels, "} ", opened, "\n",
      "# HELP istio_tcp_sent_bytes_total Bytes sent to the downstream in TCP connections.\n",
      "# TYPE istio_tcp_sent_bytes_total counter\nistio_tcp_sent_bytes_total{", labels, "} ", sent, "\n",
      "# HELP istio_tcp_received_bytes_total Bytes received from the downstream in TCP connections.\n",
      "# TYPE istio_tcp_received_bytes_total counter\nistio_tcp_received_bytes_total{", labels, "} ", received, "\n");
}

TEST(TrafficMetricsTest, TcpEdgesCarryConnectionsAndBytes) {
  TrafficMetrics m(FiveSecondSlots());
  ScrapeTarget db{"sidecar~db-1", "sidecar", "db-1", "data", {"db.data.svc.cluster.local"}, "127.0.0.1", 3};
  m.Ingest(Gateway(), At(seconds(0)), Parse(TcpText("source", 2, 1000, 300)));
  m.Ingest(db, At(seconds(0)), Parse(TcpText("destination", 2, 1000, 300)));
  m.Ingest(Gateway(), At(seconds(5)), Parse(TcpText("source", 5, 61000, 3300)));
  m.Ingest(db, At(seconds(5)), Parse(TcpText("destination", 5, 61000, 3300)));
  auto edges = m.Edges(At(seconds(5)), seconds(60));
  const EdgeTraffic* caller = FindEdge(edges, kGatewayToSvc, "svc:db.data.svc.cluster.local");
  const EdgeTraffic* inbound = FindEdge(edges, "svc:db.data.svc.cluster.local", "wl:data/db-1");
  ASSERT_NE(caller, nullptr);
  ASSERT_NE(inbound, nullptr);
  EXPECT_EQ(edges.size(), 2u) << "TCP without a named source makes no unknown-caller edge";
  EXPECT_EQ(caller->totals.Protocol(), "tcp");
  EXPECT_EQ(caller->totals.requests, 0u);
  EXPECT_EQ(caller->totals.connections, 3u);
  EXPECT_EQ(caller->totals.bytes, 63000u) << "60000 sent + 3000 received";
  EXPECT_EQ(inbound->totals.connections, 3u);
  EXPECT_EQ(inbound->totals.MtlsMode(), "mutual_tls");
  EXPECT_EQ(caller->totals.MtlsMode(), "unknown");
  EXPECT_EQ(m.ServiceTotals("db.data.svc.cluster.local", At(seconds(5)), seconds(60)).bytes, 63000u);
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
