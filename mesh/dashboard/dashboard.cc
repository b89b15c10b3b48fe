#include "mesh/dashboard/dashboard.h"

#include <atomic>
#include <cinttypes>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "mesh/common/strings.h"
#include "mesh/config/emit.h"
#include "mesh/dashboard/assets.h"
#include "mesh/dashboard/config_view.h"
#include "mesh/dashboard/http_get.h"
#include "mesh/xds/stream_state.h"

namespace mesh::dashboard {

ScrapeTarget TargetFromNode(const xds::ProxyNode& node) {
  const config::Node& m = node.metadata;
  ScrapeTarget t;
  t.proxy_id = node.id;
  t.type = m["PROXY_TYPE"].Str().empty() ? "sidecar" : m["PROXY_TYPE"].Str();
  t.workload = m["WORKLOAD_NAME"].Str();
  t.ns = m["NAMESPACE"].Str();
  t.address = m["INSTANCE_IP"].Str().empty() ? "127.0.0.1" : m["INSTANCE_IP"].Str();
  int64_t port = m["STATS_PORT"].Int().value_or(0);
  t.stats_port = port > 0 && port < 65536 ? static_cast<uint16_t>(port) : 0;
  for (const std::string& s : m["SERVICES"].StringList()) {
    t.services.push_back(ResolveHost(s, t.ns));
  }
  return t;
}

namespace {

using std::chrono::milliseconds;
using std::chrono::system_clock;

int64_t EpochMs(system_clock::time_point t) {
  return std::chrono::duration_cast<milliseconds>(t.time_since_epoch()).count();
}

std::string Num(double v) {
  if (std::isnan(v) || std::isinf(v)) {
    return "null";
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.6g", v);
  return buf;
}

std::string Q(std::string_view s) { return config::JsonQuote(s); }

// protocol, rps, errorRate, p50, p99, TCP connections and bytes/s, and mtls of some
// traffic over `seconds`.
std::string TrafficFields(const TrafficTotals& t, double seconds) {
  double rps = seconds > 0 ? static_cast<double>(t.requests) / seconds : 0;
  double bps = seconds > 0 ? static_cast<double>(t.bytes) / seconds : 0;
  double error_rate = t.requests > 0 ? static_cast<double>(t.errors) / static_cast<double>(t.requests) : 0;
  return common::StrCat("\"protocol\": ", Q(t.Protocol()), ", \"rps\": ", Num(rps), ", \"errorRate\": ",
                        Num(error_rate), ", \"requests\": ", t.requests, ", \"p50\": ", Num(t.LatencyPercentile(0.5)),
                        ", \"p99\": ", Num(t.LatencyPercentile(0.99)), ", \"connections\": ", t.connections,
                        ", \"bytesPerSecond\": ", Num(bps), ", \"mtls\": ", Q(t.MtlsMode()));
}

struct ScrapeStatus {
  ScrapeTarget target;
  bool ok = false;
  std::string error;
  int64_t last_success_ms = 0;
  size_t samples = 0;
  // The last round could not read this proxy: what the page shows of it is older
  // (from last_success_ms, or nothing).
  bool Stale() const { return !ok && target.stats_port != 0; }
};

class DashboardImpl : public Dashboard {
 public:
  DashboardImpl(DashboardOptions options, DashboardSources sources)
      : options_(std::move(options)),
        sources_(std::move(sources)),
        traffic_(TrafficOptions{options_.scrape_interval, options_.history_slots, options_.max_edges}) {
    if (!sources_.clock) {
      sources_.clock = std::make_shared<common::RealTimeSource>();
    }
    if (!sources_.scrape) {
      milliseconds timeout = options_.scrape_timeout;
      sources_.scrape = [timeout](const ScrapeTarget& t) -> absl::StatusOr<std::string> {
        return HttpGet(t.address, t.stats_port, "/stats/prometheus", {timeout});
      };
    }
  }
  ~DashboardImpl() override { Stop(); }

  void Start() override {
    std::lock_guard<std::mutex> lock(loop_mu_);
    if (loop_.joinable() || stopping_) {
      return;
    }
    loop_ = std::thread([this] {
      std::unique_lock<std::mutex> lock(loop_mu_);
      while (!stopping_) {
        lock.unlock();
        Refresh();
        lock.lock();
        loop_cv_.wait_for(lock, UntilNextRound(), [this] { return stopping_; });
      }
    });
  }

  // Rounds run in the middle of each history slot, so every slot gets exactly one scrape
  // (a fixed sleep after each round would drift and now and then skip a slot, drawing a
  // dip and a spike in the charts).
  milliseconds UntilNextRound() const {
    const int64_t interval = options_.scrape_interval.count();
    const int64_t now = EpochMs(sources_.clock->SystemNow());
    int64_t delay = ((interval / 2 - now % interval) % interval + interval) % interval;
    return milliseconds(delay < interval / 10 ? delay + interval : delay);
  }

  void Stop() override {
    {
      std::lock_guard<std::mutex> lock(loop_mu_);
      stopping_ = true;
      loop_cv_.notify_all();
    }
    if (loop_.joinable()) {
      loop_.join();
    }
  }

  void Refresh() override {
    std::vector<xds::ProxySyncInfo> proxies = sources_.proxies ? sources_.proxies() : std::vector<xds::ProxySyncInfo>{};
    std::vector<ScrapeTarget> targets;
    targets.reserve(proxies.size());
    for (const xds::ProxySyncInfo& p : proxies) {
      targets.push_back(TargetFromNode(p.node));
    }
    RefreshConfig(targets);

    // Scrape in parallel: a few threads pulling from a shared index.
    std::vector<absl::StatusOr<std::string>> texts(targets.size(), absl::UnavailableError("no stats port"));
    std::atomic<size_t> next{0};
    auto work = [&] {
      for (size_t i = next++; i < targets.size(); i = next++) {
        if (targets[i].stats_port != 0) {
          texts[i] = sources_.scrape(targets[i]);
        }
      }
    };
    std::vector<std::thread> pool;
    size_t threads = std::min(options_.scrape_threads, targets.size());
    for (size_t i = 1; i < threads; ++i) {
      pool.emplace_back(work);
    }
    work();
    for (std::thread& t : pool) {
      t.join();
    }
    auto keep = [](std::string_view name) {
      return name.starts_with("istio_request") || name.starts_with("istio_tcp_");
    };
    std::vector<absl::StatusOr<std::vector<MetricSample>>> parsed;
    parsed.reserve(targets.size());
    for (auto& text : texts) {
      parsed.push_back(text.ok() ? ParsePrometheusText(*text, keep)
                                 : absl::StatusOr<std::vector<MetricSample>>(text.status()));
    }

    const system_clock::time_point now = sources_.clock->SystemNow();
    std::lock_guard<std::mutex> lock(mu_);
    std::map<std::string, ScrapeStatus> status;
    for (size_t i = 0; i < targets.size(); ++i) {
      ScrapeStatus s;
      if (auto prev = scrape_status_.find(targets[i].proxy_id); prev != scrape_status_.end()) {
        s.last_success_ms = prev->second.last_success_ms;
      }
      s.target = targets[i];
      if (parsed[i].ok()) {
        traffic_.Ingest(targets[i], now, *parsed[i]);
        s.ok = true;
        s.samples = parsed[i]->size();
        s.last_success_ms = EpochMs(now);
      } else {
        s.error = std::string(parsed[i].status().message());
      }
      status[targets[i].proxy_id] = std::move(s);
    }
    for (const auto& [id, s] : scrape_status_) {
      if (!status.contains(id)) {
        traffic_.ForgetProxy(id);
      }
    }
    scrape_status_ = std::move(status);
    last_round_ms_ = EpochMs(now);
    ++rounds_;
  }

  bool HandleHttp(xds::HttpExchange& ex) override {
    std::string_view target = ex.target;
    std::string_view path = target.substr(0, target.find('?'));
    std::string query = target.find('?') == std::string_view::npos ? "" : std::string(target.substr(target.find('?') + 1));
    if (path == "/metrics" && ex.method == "GET") {
      ex.status = 200;
      ex.content_type = "text/plain; version=0.0.4; charset=utf-8";
      ex.response = MetricsText();
      return true;
    }
    if (path != "/dashboard" && !path.starts_with("/dashboard/")) {
      return false;
    }
    if (ex.method != "GET" && ex.method != "HEAD") {
      ex.status = 405;
      ex.response = Q("method not allowed");
      return true;
    }
    std::string_view rest = path;
    common::ConsumePrefix(rest, "/dashboard");
    common::ConsumePrefix(rest, "/");
    if (common::ConsumePrefix(rest, "api/")) {
      ex.status = 200;
      ex.content_type = "application/json";
      if (rest == "graph") {
        ex.response = GraphJson(WindowFrom(query));
      } else if (rest == "services") {
        ex.response = ServicesJson(WindowFrom(query));
      } else if (common::ConsumePrefix(rest, "services/")) {
        auto parts = common::Split(rest, '/');
        std::string body = parts.size() == 2 ? ServiceJson(parts[0], parts[1], WindowFrom(query)) : "";
        if (body.empty()) {
          ex.status = 404;
          ex.response = common::StrCat("{\"error\": ", Q(common::StrCat("no service ", rest)), "}");
        } else {
          ex.response = std::move(body);
        }
      } else if (rest == "proxies") {
        ex.response = ProxiesJson();
      } else if (rest == "status") {
        ex.response = StatusJson();
      } else {
        ex.status = 404;
        ex.response = common::StrCat("{\"error\": ", Q(common::StrCat("unknown API ", path)), "}");
      }
      return true;
    }
    std::string asset = rest.empty() ? "index.html" : std::string(rest);
    for (const EmbeddedAsset& a : DashboardAssets()) {
      if (a.path == asset) {
        ex.status = 200;
        ex.content_type = std::string(a.content_type);
        ex.response = std::string(a.data);
        return true;
      }
    }
    ex.status = 404;
    ex.content_type = "text/plain";
    ex.response = common::StrCat("not found: ", path, "\n");
    return true;
  }

 private:
  milliseconds WindowFrom(const std::string& query) const {
    milliseconds window{60000};
    for (const std::string& kv : common::Split(query, '&')) {
      std::string_view v = kv;
      if (common::ConsumePrefix(v, "window=")) {
        window = milliseconds(std::atoll(std::string(v).c_str()) * 1000);
      }
    }
    milliseconds history = options_.scrape_interval * static_cast<int64_t>(options_.history_slots);
    return std::clamp(window, options_.scrape_interval, history);
  }

  static double Seconds(milliseconds window) { return static_cast<double>(window.count()) / 1000.0; }

  void RefreshConfig(const std::vector<ScrapeTarget>& targets) {
    std::string workload_key;
    std::vector<KnownWorkload> workloads;
    std::map<std::string, std::map<std::string, std::string>> labels_by_proxy;
    for (const ScrapeTarget& t : targets) {
      workload_key += t.proxy_id + "\n";
    }
    auto generation = sources_.config_generation ? sources_.config_generation() : absl::StatusOr<int64_t>(0);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (view_ && generation.ok() && *generation == config_generation_ && workload_key == workload_key_) {
        return;
      }
    }
    for (const xds::ProxySyncInfo& p : sources_.proxies ? sources_.proxies() : std::vector<xds::ProxySyncInfo>{}) {
      ScrapeTarget t = TargetFromNode(p.node);
      KnownWorkload w{t.ns, t.workload, {}, t.services};
      for (const auto& [k, v] : p.node.metadata["LABELS"].StringMap()) {
        w.labels[k] = v;
      }
      workloads.push_back(std::move(w));
    }
    absl::StatusOr<std::vector<config::Resource>> resources =
        sources_.config ? sources_.config() : absl::StatusOr<std::vector<config::Resource>>(std::vector<config::Resource>{});
    std::string error;
    std::shared_ptr<const ConfigView> view;
    if (!generation.ok()) {
      error = std::string(generation.status().message());
    } else if (!resources.ok()) {
      error = std::string(resources.status().message());
    } else {
      view = ConfigView::Build(std::move(*resources), workloads, options_.run_analyzers, options_.root_namespace);
    }
    std::lock_guard<std::mutex> lock(mu_);
    config_error_ = error;
    if (view) {
      view_ = std::move(view);
      config_generation_ = *generation;
      workload_key_ = workload_key;
    }
  }

  std::string NodeJson(const std::string& id, const std::string& kind, const std::string& name, const std::string& ns,
                       const std::string& proxy, bool stale = false) const {
    return common::StrCat("{\"id\": ", Q(id), ", \"kind\": ", Q(kind), ", \"name\": ", Q(name),
                          ", \"namespace\": ", Q(ns), ", \"proxy\": ", Q(proxy), ", \"stale\": ",
                          stale ? "true" : "false", "}");
  }

  std::string GraphJson(milliseconds window) const {
    std::lock_guard<std::mutex> lock(mu_);
    const system_clock::time_point now = sources_.clock->SystemNow();
    std::vector<EdgeTraffic> edges = traffic_.Edges(now, window);
    std::map<std::string, std::string> nodes;  // id -> JSON
    if (view_) {
      for (const ServiceInfo& s : view_->services()) {
        nodes[ServiceNodeId(s.fqdn)] = NodeJson(ServiceNodeId(s.fqdn), "service", s.name, s.ns, "");
      }
    }
    std::set<std::string> stale;  // workload nodes with a proxy the last round could not read
    for (const auto& [id, s] : scrape_status_) {
      if (s.Stale()) {
        stale.insert(WorkloadNodeId(s.target.ns, s.target.workload));
      }
    }
    for (const auto& [id, s] : scrape_status_) {
      std::string nid = WorkloadNodeId(s.target.ns, s.target.workload);
      nodes[nid] = NodeJson(nid, "workload", s.target.workload, s.target.ns, s.target.type, stale.contains(nid));
    }
    for (const EdgeTraffic& e : edges) {
      for (const std::string& id : {e.from, e.to}) {
        if (nodes.contains(id)) {
          continue;
        }
        if (id.starts_with("svc:")) {
          std::string fqdn = id.substr(4);
          auto parts = common::Split(fqdn, '.');
          nodes[id] = NodeJson(id, "service", parts[0], parts.size() > 1 ? parts[1] : "", "");
        } else {
          std::string_view rest = std::string_view(id).substr(3);
          size_t slash = rest.find('/');
          nodes[id] = NodeJson(id, "workload", std::string(rest.substr(slash + 1)), std::string(rest.substr(0, slash)), "");
        }
      }
    }
    std::vector<std::string> node_json, edge_json;
    for (auto& [id, json] : nodes) {
      node_json.push_back(std::move(json));
    }
    for (const EdgeTraffic& e : edges) {
      // Its numbers come from a proxy at one of its ends that the last round missed.
      const bool edge_stale = stale.contains(e.from) || stale.contains(e.to);
      edge_json.push_back(common::StrCat("{\"source\": ", Q(e.from), ", \"target\": ", Q(e.to), ", ",
                                         TrafficFields(e.totals, Seconds(window)), ", \"stale\": ",
                                         edge_stale ? "true" : "false", "}"));
    }
    return common::StrCat("{\"generatedAt\": ", EpochMs(now), ", \"windowSeconds\": ", Num(Seconds(window)),
                          ", \"nodes\": [", common::Join(node_json, ",\n"), "],\n\"edges\": [",
                          common::Join(edge_json, ",\n"), "]}\n");
  }

  std::string ServicesJson(milliseconds window) const {
    std::lock_guard<std::mutex> lock(mu_);
    const system_clock::time_point now = sources_.clock->SystemNow();
    std::vector<std::string> items;
    if (view_) {
      for (const ServiceInfo& s : view_->services()) {
        items.push_back(common::StrCat("{\"namespace\": ", Q(s.ns), ", \"name\": ", Q(s.name), ", \"fqdn\": ", Q(s.fqdn),
                                       ", \"source\": ", Q(s.source), ", \"findings\": ", view_->FindingCount(s), ", ",
                                       TrafficFields(traffic_.ServiceTotals(s.fqdn, now, window), Seconds(window)),
                                       "}"));
      }
    }
    return common::StrCat("{\"windowSeconds\": ", Num(Seconds(window)), ", \"services\": [",
                          common::Join(items, ",\n"), "]}\n");
  }

  std::string ServiceJson(const std::string& ns, const std::string& name, milliseconds window) const {
    std::lock_guard<std::mutex> lock(mu_);
    if (!view_) {
      return "";
    }
    const ServiceInfo* s = view_->FindService(ns, name);
    if (s == nullptr) {
      return "";
    }
    const system_clock::time_point now = sources_.clock->SystemNow();
    const double slot_seconds = Seconds(options_.scrape_interval);
    std::vector<std::string> history;
    // Rounds run mid-slot: until then the current slot is empty, so the chart ends at the
    // last slot that had its scrape instead of dropping to zero.
    for (const TrafficPoint& p : traffic_.ServiceHistory(s->fqdn, now - options_.scrape_interval / 2)) {
      history.push_back(common::StrCat("{\"t\": ", EpochMs(p.start), ", ", TrafficFields(p.totals, slot_seconds), "}"));
    }
    std::vector<std::string> config;
    for (const AppliedResource& a : view_->ForService(*s)) {
      std::vector<std::string> findings;
      for (const Finding& f : a.findings) {
        findings.push_back(common::StrCat("{\"level\": ", Q(f.level), ", \"code\": ", Q(f.code), ", \"text\": ",
                                          Q(f.text), "}"));
      }
      config.push_back(common::StrCat("{\"kind\": ", Q(a.resource->kind()), ", \"namespace\": ", Q(a.resource->ns()),
                                      ", \"name\": ", Q(a.resource->name()), ", \"relation\": ", Q(a.relation),
                                      ", \"yaml\": ", Q(config::EmitYaml(a.resource->root())), ", \"findings\": [",
                                      common::Join(findings, ", "), "]}"));
    }
    std::vector<std::string> workloads;
    for (const auto& [id, st] : scrape_status_) {
      const auto& svcs = st.target.services;
      if (std::find(svcs.begin(), svcs.end(), s->fqdn) != svcs.end()) {
        workloads.push_back(common::StrCat("{\"proxy\": ", Q(id), ", \"name\": ", Q(st.target.workload),
                                           ", \"namespace\": ", Q(st.target.ns), "}"));
      }
    }
    return common::StrCat("{\"service\": {\"namespace\": ", Q(s->ns), ", \"name\": ", Q(s->name), ", \"fqdn\": ",
                          Q(s->fqdn), ", \"source\": ", Q(s->source), "},\n\"totals\": {",
                          TrafficFields(traffic_.ServiceTotals(s->fqdn, now, window), Seconds(window)),
                          "},\n\"windowSeconds\": ", Num(Seconds(window)), ", \"slotSeconds\": ", Num(slot_seconds),
                          ",\n\"history\": [", common::Join(history, ",\n"), "],\n\"workloads\": [",
                          common::Join(workloads, ", "), "],\n\"config\": [", common::Join(config, ",\n"), "]}\n");
  }

  std::string ProxiesJson() const {
    std::vector<xds::ProxySyncInfo> proxies = sources_.proxies ? sources_.proxies() : std::vector<xds::ProxySyncInfo>{};
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> items;
    for (const xds::ProxySyncInfo& p : proxies) {
      ScrapeTarget t = TargetFromNode(p.node);
      std::vector<std::string> types;
      for (const auto& [type_url, info] : p.types) {
        types.push_back(common::StrCat(Q(xds::type_url::ShortName(type_url)), ": {\"status\": ",
                                       Q(xds::SyncStatusName(info.status)), ", \"resources\": ", info.resource_count,
                                       ", \"nack\": ", Q(info.nack_message), "}"));
      }
      std::string scrape = "null";
      if (auto it = scrape_status_.find(p.node.id); it != scrape_status_.end()) {
        scrape = common::StrCat("{\"ok\": ", it->second.ok ? "true" : "false", ", \"stale\": ",
                                it->second.Stale() ? "true" : "false", ", \"error\": ", Q(it->second.error),
                                ", \"lastSuccess\": ", it->second.last_success_ms, ", \"samples\": ",
                                it->second.samples, "}");
      }
      items.push_back(common::StrCat("{\"id\": ", Q(p.node.id), ", \"type\": ", Q(t.type), ", \"workload\": ",
                                     Q(t.workload), ", \"namespace\": ", Q(t.ns), ", \"statsPort\": ", t.stats_port,
                                     ", \"types\": {", common::Join(types, ", "), "}, \"scrape\": ", scrape, "}"));
    }
    return common::StrCat("{\"proxies\": [", common::Join(items, ",\n"), "]}\n");
  }

  // The control plane's own Prometheus metrics: connected proxies (Istio's pilot_xds),
  // their sync status per type, and how the dashboard's scraping goes.
  std::string MetricsText() const {
    std::vector<xds::ProxySyncInfo> proxies = sources_.proxies ? sources_.proxies() : std::vector<xds::ProxySyncInfo>{};
    std::map<std::pair<std::string, std::string>, int> sync;  // (type, status) -> proxies
    for (const xds::ProxySyncInfo& p : proxies) {
      for (const auto& [type_url, info] : p.types) {
        ++sync[{xds::type_url::ShortName(type_url), std::string(xds::SyncStatusName(info.status))}];
      }
    }
    std::string out = common::StrCat(
        "# HELP pilot_xds Number of endpoints connected to this pilot using XDS.\n# TYPE pilot_xds gauge\npilot_xds ",
        proxies.size(), "\n# HELP meshctl_proxy_sync Proxies per discovery type and sync status.\n",
        "# TYPE meshctl_proxy_sync gauge\n");
    for (const auto& [key, n] : sync) {
      out += common::StrCat("meshctl_proxy_sync{type=\"", key.first, "\",status=\"", key.second, "\"} ", n, "\n");
    }
    std::lock_guard<std::mutex> lock(mu_);
    size_t failed = 0;
    for (const auto& [id, s] : scrape_status_) {
      failed += s.ok || s.target.stats_port == 0 ? 0 : 1;
    }
    out += common::StrCat(
        "# HELP meshctl_dashboard_scrape_rounds_total Rounds of reading every proxy's metrics.\n",
        "# TYPE meshctl_dashboard_scrape_rounds_total counter\nmeshctl_dashboard_scrape_rounds_total ", rounds_, "\n",
        "# HELP meshctl_dashboard_scrape_failures Proxies whose metrics could not be read in the last round.\n",
        "# TYPE meshctl_dashboard_scrape_failures gauge\nmeshctl_dashboard_scrape_failures ", failed, "\n",
        "# HELP meshctl_dashboard_edges Graph edges whose history is kept.\n",
        "# TYPE meshctl_dashboard_edges gauge\nmeshctl_dashboard_edges ", traffic_.edge_count(), "\n");
    return out;
  }

  std::string StatusJson() const {
    std::lock_guard<std::mutex> lock(mu_);
    size_t failed = 0;
    for (const auto& [id, s] : scrape_status_) {
      failed += s.ok || s.target.stats_port == 0 ? 0 : 1;  // no stats port: nothing to scrape
    }
    return common::StrCat(
        "{\"scrapeIntervalSeconds\": ", Num(Seconds(options_.scrape_interval)), ", \"historySeconds\": ",
        Num(Seconds(options_.scrape_interval * static_cast<int64_t>(options_.history_slots))), ", \"rounds\": ",
        rounds_, ", \"lastRound\": ", last_round_ms_, ", \"proxies\": ", scrape_status_.size(),
        ", \"scrapeFailures\": ", failed, ", \"edges\": ", traffic_.edge_count(), ", \"configGeneration\": ",
        config_generation_, ", \"configError\": ", Q(config_error_), ", \"resources\": ",
        view_ ? view_->resource_count() : 0, ", \"analyzerMessages\": ", view_ ? view_->analyzer_messages() : 0, "}\n");
  }

  DashboardOptions options_;
  DashboardSources sources_;

  mutable std::mutex mu_;
  TrafficMetrics traffic_;
  std::map<std::string, ScrapeStatus> scrape_status_;  // by proxy id
  std::shared_ptr<const ConfigView> view_;
  int64_t config_generation_ = -1;
  std::string workload_key_;
  std::string config_error_;
  int64_t last_round_ms_ = 0;
  uint64_t rounds_ = 0;

  std::mutex loop_mu_;
  std::condition_variable loop_cv_;
  std::thread loop_;
  bool stopping_ = false;
};

}  // namespace

std::unique_ptr<Dashboard> CreateDashboard(DashboardOptions options, DashboardSources sources) {
  if (options.scrape_interval.count() <= 0) {
    options.scrape_interval = milliseconds(5000);
  }
  if (options.scrape_threads == 0) {
    options.scrape_threads = 1;
  }
  return std::make_unique<DashboardImpl>(std::move(options), std::move(sources));
}

}  // namespace mesh::dashboard
