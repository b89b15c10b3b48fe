#pragma once

// The dashboard served by the control plane: a scraper that reads every connected
// proxy's /stats/prometheus (the port each proxy announces as STATS_PORT in its node
// metadata) into TrafficMetrics, a ConfigView rebuilt when the store changes, and the
// HTTP side: the page (embedded static assets) at /dashboard/ and its JSON API at
// /dashboard/api/{graph,services,services/<ns>/<name>,proxies,status}.
//
// Why scraping rather than proxies pushing summaries over the discovery stream: the
// proxies already publish exactly these series for Prometheus, so nothing changes on the
// data plane or in the discovery protocol, the dashboard sees what a real Prometheus
// would see, and a slow or dead proxy only costs a bounded scrape timeout.

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "mesh/common/time_source.h"
#include "mesh/config/resource.h"
#include "mesh/dashboard/traffic.h"
#include "mesh/xds/server.h"

namespace mesh::dashboard {

struct DashboardOptions {
  std::chrono::milliseconds scrape_interval{5000};
  std::chrono::milliseconds scrape_timeout{1000};
  size_t history_slots = 60;  // history = scrape_interval * history_slots
  size_t max_edges = 4000;
  size_t scrape_threads = 16;  // concurrent scrapes: a dead proxy holds one for scrape_timeout
  bool run_analyzers = true;
  std::string root_namespace = "istio-system";
};

// Where the dashboard's data comes from; the control plane fills these in, tests fake them.
struct DashboardSources {
  std::function<std::vector<xds::ProxySyncInfo>()> proxies;
  std::function<absl::StatusOr<int64_t>()> config_generation;
  std::function<absl::StatusOr<std::vector<config::Resource>>()> config;
  // Reads one proxy's metrics text; default: HTTP GET http://address:stats_port/stats/prometheus.
  std::function<absl::StatusOr<std::string>(const ScrapeTarget&)> scrape;
  std::shared_ptr<const common::TimeSource> clock;  // default: the real clock
};

class Dashboard {
 public:
  virtual ~Dashboard() = default;
  // Serves GET /dashboard... and returns true; false for any other path.
  virtual bool HandleHttp(xds::HttpExchange& ex) = 0;
  // One scrape round and a config refresh if the store moved (the background loop calls
  // this every scrape_interval; tests call it directly).
  virtual void Refresh() = 0;
  // Starts the background loop.
  virtual void Start() = 0;
  virtual void Stop() = 0;
};

std::unique_ptr<Dashboard> CreateDashboard(DashboardOptions options, DashboardSources sources);

// The scrape target a proxy announces in its node metadata (STATS_PORT, INSTANCE_IP,
// PROXY_TYPE, WORKLOAD_NAME, NAMESPACE, SERVICES).
ScrapeTarget TargetFromNode(const xds::ProxyNode& node);

}  // namespace mesh::dashboard
