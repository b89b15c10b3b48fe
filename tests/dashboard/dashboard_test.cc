#include "mesh/dashboard/dashboard.h"

#include <map>
#include <mutex>
#include <thread>

#include "gtest/gtest.h"
#include "mesh/common/strings.h"
#include "mesh/config/yaml_loader.h"
#include "mesh/dashboard/assets.h"
#include "mesh/dashboard/prometheus_text.h"
#include "tests/common/test_util.h"
#include "tests/dashboard/metric_texts.h"
#include "tests/dashboard/tiny_server.h"

namespace mesh::dashboard {
namespace {

using std::chrono::seconds;
using testdata::DestinationSeries;
using testdata::SourceSeries;

const std::string kSvc = "helloworldsvc.devops.svc.cluster.local";

class FakeClock : public common::TimeSource {
 public:
  std::chrono::system_clock::time_point SystemNow() const override { return now; }
  std::chrono::steady_clock::time_point MonotonicNow() const override { return {}; }
  // Mid-slot, where the dashboard's own loop runs its rounds.
  std::chrono::system_clock::time_point now{seconds(1'700'000'000) + std::chrono::milliseconds(2500)};
};

xds::ProxySyncInfo Proxy(const std::string& id, const std::string& type, const std::string& workload,
                         const std::string& ns, int stats_port, const std::vector<std::string>& services = {}) {
  xds::ProxySyncInfo p;
  p.node.id = id;
  config::Node m = config::Node::Map();
  m.Set("PROXY_TYPE", config::Node::Scalar(type, true));
  m.Set("WORKLOAD_NAME", config::Node::Scalar(workload, true));
  m.Set("NAMESPACE", config::Node::Scalar(ns, true));
  config::Node labels = config::Node::Map();
  labels.Set("app", config::Node::Scalar(type == "router" ? "istio-ingressgateway" : "helloworld", true));
  m.Set("LABELS", labels);
  config::Node svcs = config::Node::Sequence();
  for (const std::string& s : services) {
    svcs.Append(config::Node::Scalar(s, true));
  }
  m.Set("SERVICES", svcs);
  if (stats_port != 0) {
    m.Set("STATS_PORT", config::Node::Scalar(std::to_string(stats_port)));
  }
  p.node.metadata = m;
  p.types[xds::type_url::kCluster].status = xds::SyncStatus::kSynced;
  p.types[xds::type_url::kCluster].resource_count = 3;
  p.types[xds::type_url::kListener].status = xds::SyncStatus::kNacked;
  p.types[xds::type_url::kListener].nack_message = "bad listener";
  return p;
}

constexpr const char* kConfig = R"(
apiVersion: v1
kind: Service
metadata: {name: helloworldsvc, namespace: devops}
spec:
  ports: [{name: http, port: 80}]
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: helloworldvs, namespace: devops}
spec:
  hosts: [helloworld.example.com]
  gateways: [missing]
  http:
  - route:
    - destination: {host: helloworldsvc}
)";

class DashboardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    proxies_ = {Proxy("router~gw", "router", "istio-ingressgateway", "istio-system", 15090),
                Proxy("sidecar~hw1", "sidecar", "helloworld-1", "devops", 15091, {"helloworldsvc"}),
                Proxy("sidecar~nostats", "sidecar", "helloworld-2", "devops", 0, {"helloworldsvc"})};
    DashboardSources sources;
    sources.proxies = [this] { return proxies_; };
    sources.config_generation = [this]() -> absl::StatusOr<int64_t> { return generation_; };
    sources.config = [this]() -> absl::StatusOr<std::vector<config::Resource>> {
      ++config_reads_;
      return config::LoadText(kConfig, "state").resources;
    };
    sources.scrape = [this](const ScrapeTarget& t) -> absl::StatusOr<std::string> {
      std::lock_guard<std::mutex> lock(mu_);  // called from the scrape threads
      ++scrapes_[t.proxy_id];
      auto it = texts_.find(t.proxy_id);
      if (it == texts_.end()) {
        return absl::UnavailableError("connection refused");
      }
      return it->second;
    };
    sources.clock = clock_;
    DashboardOptions options;
    options.scrape_interval = std::chrono::milliseconds(5000);
    options.history_slots = 12;
    dashboard_ = CreateDashboard(options, sources);
  }

  void Traffic(double gateway_requests, double gateway_errors, double inbound) {
    texts_["router~gw"] =
        SourceSeries("istio-ingressgateway", "istio-system", kSvc, 200, gateway_requests,
                     {{"1", gateway_requests}, {"5", gateway_requests}, {"+Inf", gateway_requests}}) +
        SourceSeries("istio-ingressgateway", "istio-system", kSvc, 503, gateway_errors,
                     {{"1", 0}, {"5", gateway_errors}, {"+Inf", gateway_errors}});
    texts_["sidecar~hw1"] = DestinationSeries("helloworld-1", "devops", "mutual_tls", 200, inbound,
                                              "istio-ingressgateway", "istio-system");
  }

  xds::HttpExchange Get(const std::string& target) {
    xds::HttpExchange ex;
    ex.method = "GET";
    ex.target = target;
    EXPECT_TRUE(dashboard_->HandleHttp(ex)) << target;
    return ex;
  }

  std::shared_ptr<FakeClock> clock_ = std::make_shared<FakeClock>();
  std::vector<xds::ProxySyncInfo> proxies_;
  std::map<std::string, std::string> texts_;
  std::mutex mu_;
  std::map<std::string, int> scrapes_;
  int64_t generation_ = 1;
  int config_reads_ = 0;
  std::unique_ptr<Dashboard> dashboard_;
};

TEST_F(DashboardTest, GraphServicesAndProxiesFromTwoScrapes) {
  Traffic(100, 0, 100);
  dashboard_->Refresh();
  clock_->now += seconds(5);
  Traffic(160, 6, 166);
  dashboard_->Refresh();
  EXPECT_EQ(scrapes_["router~gw"], 2);
  EXPECT_EQ(scrapes_.count("sidecar~nostats"), 0u) << "a proxy without a stats port is not scraped";

  xds::HttpExchange graph = Get("/dashboard/api/graph?window=60");
  EXPECT_EQ(graph.status, 200);
  EXPECT_EQ(graph.content_type, "application/json");
  EXPECT_EQ(testing::CompareGolden("dashboard/graph.golden.json", graph.response), "");
  auto parsed = config::ParseYamlNode(graph.response, "graph");
  ASSERT_TRUE(parsed.ok()) << parsed.status() << graph.response;

  xds::HttpExchange services = Get("/dashboard/api/services");
  EXPECT_EQ(testing::CompareGolden("dashboard/services.golden.json", services.response), "");

  xds::HttpExchange service = Get("/dashboard/api/services/devops/helloworldsvc?window=60");
  EXPECT_EQ(service.status, 200);
  EXPECT_EQ(testing::CompareGolden("dashboard/service.golden.json", service.response), "");
  ASSERT_TRUE(config::ParseYamlNode(service.response, "service").ok());

  xds::HttpExchange proxies = Get("/dashboard/api/proxies");
  EXPECT_EQ(testing::CompareGolden("dashboard/proxies.golden.json", proxies.response), "");

  xds::HttpExchange metrics = Get("/metrics");
  EXPECT_EQ(metrics.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(testing::CompareGolden("dashboard/metrics.golden.txt", metrics.response), "");
  auto samples = ParsePrometheusText(metrics.response, [](std::string_view) { return true; });
  ASSERT_TRUE(samples.ok()) << samples.status();
}

TEST_F(DashboardTest, ScrapeFailuresAndConfigErrorsAreReported) {
  dashboard_->Refresh();  // no texts: every scrape fails
  xds::HttpExchange proxies = Get("/dashboard/api/proxies");
  EXPECT_NE(proxies.response.find("connection refused"), std::string::npos) << proxies.response;
  xds::HttpExchange status = Get("/dashboard/api/status");
  EXPECT_NE(status.response.find("\"scrapeFailures\": 2"), std::string::npos) << status.response;

  generation_ = 2;
  DashboardSources broken;
  broken.config_generation = []() -> absl::StatusOr<int64_t> { return absl::UnavailableError("store is locked"); };
  auto d = CreateDashboard({}, broken);
  d->Refresh();
  xds::HttpExchange ex;
  ex.method = "GET";
  ex.target = "/dashboard/api/status";
  ASSERT_TRUE(d->HandleHttp(ex));
  EXPECT_NE(ex.response.find("store is locked"), std::string::npos) << ex.response;
}

TEST_F(DashboardTest, TheBackgroundLoopScrapesUntilStopped) {
  Traffic(1, 0, 1);
  dashboard_->Start();
  for (int i = 0; i < 500; ++i) {  // the first round runs at once; wait for it (bounded)
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (scrapes_["router~gw"] > 0) {
        break;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  dashboard_->Stop();
  std::lock_guard<std::mutex> lock(mu_);
  EXPECT_EQ(scrapes_["router~gw"], 1) << "one round, then waiting the 5 s interval until Stop";
}

TEST_F(DashboardTest, ConfigIsReadAgainOnlyWhenTheStoreOrTheProxiesChange) {
  dashboard_->Refresh();
  dashboard_->Refresh();
  EXPECT_EQ(config_reads_, 1);
  generation_ = 2;
  dashboard_->Refresh();
  EXPECT_EQ(config_reads_, 2);
  proxies_.pop_back();
  dashboard_->Refresh();
  EXPECT_EQ(config_reads_, 3);
}

TEST_F(DashboardTest, ServesThePageAndRefusesTheRest) {
  xds::HttpExchange index = Get("/dashboard/");
  EXPECT_EQ(index.status, 200);
  EXPECT_EQ(index.content_type, "text/html; charset=utf-8");
  EXPECT_NE(index.response.find("/dashboard/assets/app.js"), std::string::npos);
  EXPECT_EQ(Get("/dashboard").response, index.response);
  xds::HttpExchange js = Get("/dashboard/assets/app.js");
  EXPECT_EQ(js.status, 200);
  EXPECT_EQ(js.content_type, "text/javascript; charset=utf-8");
  EXPECT_GT(js.response.size(), 1000u);

  EXPECT_EQ(Get("/dashboard/assets/nope.js").status, 404);
  EXPECT_EQ(Get("/dashboard/api/nope").status, 404);
  EXPECT_EQ(Get("/dashboard/api/services/devops/missing").status, 404);
  EXPECT_EQ(Get("/dashboard/api/services/too/many/parts").status, 404);
  xds::HttpExchange post;
  post.method = "POST";
  post.target = "/dashboard/api/graph";
  ASSERT_TRUE(dashboard_->HandleHttp(post));
  EXPECT_EQ(post.status, 405);
  xds::HttpExchange other;
  other.method = "GET";
  other.target = "/debug/syncz";
  EXPECT_FALSE(dashboard_->HandleHttp(other));
  other.target = "/dashboardx";
  EXPECT_FALSE(dashboard_->HandleHttp(other));
}

TEST(DashboardScaleTest, FiveHundredServicesStayWithinTheEdgeBound) {
  // A gateway calling 500 services, each served by two sidecars.
  std::vector<xds::ProxySyncInfo> proxies = {Proxy("router~gw", "router", "istio-ingressgateway", "istio-system", 1)};
  std::string config_text;
  for (int i = 0; i < 500; ++i) {
    std::string svc = common::StrCat("svc-", i);
    std::string ns = common::StrCat("ns-", i % 20);
    config_text += common::StrCat("---\napiVersion: v1\nkind: Service\nmetadata: {name: ", svc, ", namespace: ", ns,
                                  "}\nspec:\n  ports: [{port: 80}]\n");
    for (int r = 1; r <= 2; ++r) {
      proxies.push_back(Proxy(common::StrCat("sidecar~", svc, "-", r), "sidecar", common::StrCat(svc, "-", r), ns, 2, {svc}));
    }
  }
  int round = 0;
  DashboardSources sources;
  sources.proxies = [&] { return proxies; };
  sources.config_generation = []() -> absl::StatusOr<int64_t> { return 1; };
  sources.config = [&]() -> absl::StatusOr<std::vector<config::Resource>> {
    return config::LoadText(config_text, "state").resources;
  };
  sources.scrape = [&](const ScrapeTarget& t) -> absl::StatusOr<std::string> {
    if (t.type == "router") {
      std::string text;
      for (int i = 0; i < 500; ++i) {
        text += SourceSeries("istio-ingressgateway", "istio-system",
                             common::StrCat("svc-", i, ".ns-", i % 20, ".svc.cluster.local"), 200, round * 10,
                             {{"5", round * 10}, {"+Inf", round * 10}});
      }
      return text;
    }
    return DestinationSeries(t.workload, t.ns, "mutual_tls", 200, round * 5, "istio-ingressgateway", "istio-system");
  };
  auto clock = std::make_shared<FakeClock>();
  sources.clock = clock;
  DashboardOptions options;
  options.max_edges = 1200;  // below the 1500 edges of this mesh
  options.run_analyzers = false;
  auto d = CreateDashboard(options, sources);
  for (round = 0; round < 3; ++round) {
    d->Refresh();
    clock->now += seconds(5);
  }
  xds::HttpExchange ex;
  ex.method = "GET";
  ex.target = "/dashboard/api/status";
  ASSERT_TRUE(d->HandleHttp(ex));
  EXPECT_NE(ex.response.find("\"proxies\": 1001"), std::string::npos) << ex.response;
  EXPECT_NE(ex.response.find("\"edges\": 1200"), std::string::npos) << ex.response;
  ex.target = "/dashboard/api/services";
  ASSERT_TRUE(d->HandleHttp(ex));
  auto services = config::ParseYamlNode(ex.response, "services");
  ASSERT_TRUE(services.ok());
  EXPECT_EQ((*services)["services"].size(), 500u);
  // The graph the page draws: every service and workload, and the kept edges.
  ex.target = "/dashboard/api/graph?window=60";
  ASSERT_TRUE(d->HandleHttp(ex));
  auto graph = config::ParseYamlNode(ex.response, "graph");
  ASSERT_TRUE(graph.ok()) << graph.status();
  size_t service_nodes = 0;
  for (const config::Node& n : (*graph)["nodes"].items()) {
    service_nodes += n["kind"].Str() == "service" ? 1 : 0;
  }
  EXPECT_EQ(service_nodes, 500u);
  EXPECT_EQ((*graph)["nodes"].size(), 1501u) << "500 services, 1000 sidecars, the gateway";
  EXPECT_EQ((*graph)["edges"].size(), 1200u) << "the edge bound";
}

// Dead proxies among live ones, all real sockets on loopback and the real HTTP client:
// the dead ones (listening, never answering) are flagged stale with the timeout, and
// the live ones' traffic arrives in the same round, which is not held much beyond one
// timeout because proxies are scraped concurrently.
TEST(DashboardScrapeTest, BlackholedProxiesAreFlaggedStaleAndDoNotHoldTheOthers) {
  testdata::TinyServer gateway("");
  testdata::TinyServer sidecar("");
  constexpr int kDead = 12;
  std::vector<std::unique_ptr<testdata::Blackhole>> dead;
  // The dead first: a serial scraper would wait for every one of them before the live.
  std::vector<xds::ProxySyncInfo> proxies;
  for (int i = 0; i < kDead; ++i) {
    dead.push_back(std::make_unique<testdata::Blackhole>());
    proxies.push_back(Proxy(common::StrCat("sidecar~dead-", i), "sidecar", common::StrCat("dead-", i), "devops",
                            dead.back()->port(), {"helloworldsvc"}));
  }
  proxies.push_back(Proxy("router~gw", "router", "istio-ingressgateway", "istio-system", gateway.port()));
  proxies.push_back(Proxy("sidecar~hw1", "sidecar", "helloworld-1", "devops", sidecar.port(), {"helloworldsvc"}));
  auto serve = [&](double n) {
    const std::string head = "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n";
    gateway.SetAnswer(head + SourceSeries("istio-ingressgateway", "istio-system", kSvc, 200, n, {}));
    sidecar.SetAnswer(head + DestinationSeries("helloworld-1", "devops", "mutual_tls", 200, n, "istio-ingressgateway",
                                               "istio-system"));
  };
  DashboardSources sources;
  sources.proxies = [&] { return proxies; };
  auto clock = std::make_shared<FakeClock>();
  sources.clock = clock;
  DashboardOptions options;
  options.scrape_timeout = std::chrono::milliseconds(1000);
  options.run_analyzers = false;
  auto d = CreateDashboard(options, sources);
  auto get = [&](const std::string& target) {
    xds::HttpExchange ex;
    ex.method = "GET";
    ex.target = target;
    EXPECT_TRUE(d->HandleHttp(ex));
    return ex.response;
  };

  serve(10);
  d->Refresh();
  clock->now += seconds(5);
  serve(30);
  auto start = std::chrono::steady_clock::now();
  d->Refresh();
  auto round = std::chrono::steady_clock::now() - start;

  auto graph = config::ParseYamlNode(get("/dashboard/api/graph?window=60"), "graph");
  ASSERT_TRUE(graph.ok()) << graph.status();
  bool gateway_edge = false;
  for (const config::Node& e : (*graph)["edges"].items()) {
    if (e["source"].Str() == "wl:istio-system/istio-ingressgateway") {
      gateway_edge = true;
      EXPECT_EQ(e["requests"].Int().value_or(0), 20) << "the live gateway's data arrived";
      EXPECT_EQ(e["mtls"].Str(), "mutual_tls");
      EXPECT_EQ(e["stale"].Str(), "false");
    }
  }
  EXPECT_TRUE(gateway_edge);
  int stale_nodes = 0;
  for (const config::Node& n : (*graph)["nodes"].items()) {
    if (n["name"].Str().starts_with("dead-")) {
      stale_nodes += n["stale"].Str() == "true" ? 1 : 0;
    } else {
      EXPECT_EQ(n["stale"].Str(), "false") << n["id"].Str();
    }
  }
  EXPECT_EQ(stale_nodes, kDead);

  auto listed = config::ParseYamlNode(get("/dashboard/api/proxies"), "proxies");
  ASSERT_TRUE(listed.ok());
  int stale = 0;
  for (const config::Node& p : (*listed)["proxies"].items()) {
    const config::Node& scrape = p["scrape"];
    if (p["workload"].Str().starts_with("dead-")) {
      EXPECT_EQ(scrape["stale"].Str(), "true");
      EXPECT_NE(scrape["error"].Str().find("timed out"), std::string::npos) << scrape["error"].Str();
      ++stale;
    } else {
      EXPECT_EQ(scrape["stale"].Str(), "false") << p["id"].Str();
      EXPECT_EQ(scrape["ok"].Str(), "true");
    }
  }
  EXPECT_EQ(stale, kDead);
  EXPECT_NE(get("/dashboard/api/status").find(common::StrCat("\"scrapeFailures\": ", kDead)), std::string::npos);
  // Generous: 12 dead proxies scraped one after another would take 12 s; concurrently
  // (16 at a time) about one 1 s timeout. 6 s leaves room for a loaded machine.
  EXPECT_LT(round, std::chrono::seconds(6)) << "dead proxies held the round";
}

TEST(DashboardAssetsTest, EmbedsTheBuiltFrontEnd) {
  std::vector<std::string> paths;
  for (const EmbeddedAsset& a : DashboardAssets()) {
    paths.push_back(std::string(a.path));
    EXPECT_FALSE(a.data.empty()) << a.path;
  }
  EXPECT_EQ(paths, (std::vector<std::string>{"index.html", "assets/app.js", "assets/app.css"}));
}

TEST(TargetFromNodeTest, ReadsTheNodeMetadata) {
  ScrapeTarget t = TargetFromNode(Proxy("sidecar~x", "sidecar", "hw", "devops", 15090, {"helloworldsvc", "a.b"}).node);
  EXPECT_EQ(t.proxy_id, "sidecar~x");
  EXPECT_EQ(t.type, "sidecar");
  EXPECT_EQ(t.address, "127.0.0.1");
  EXPECT_EQ(t.stats_port, 15090);
  EXPECT_EQ(t.services, (std::vector<std::string>{kSvc, "a.b.svc.cluster.local"}));
  EXPECT_EQ(TargetFromNode(Proxy("r", "router", "gw", "istio-system", 0).node).stats_port, 0);
}

}  // namespace
}  // namespace mesh::dashboard
