// Control-plane push benchmark (run by scripts/bench_push.sh, not a test).
//
// Starts a control plane in-process over a local store holding S services, connects P
// simulated sidecars (real discovery streams over loopback, authenticated with bootstrap
// tokens), then:
//   1. full push: time until every stream has received its first complete configuration;
//   2. change propagation: applies a VirtualService change R times and measures, per
//      change, the time until every proxy received the new route (p50/p99);
// and reports the control plane's resident memory.
//
// Usage: push_bench SERVICES PROXIES ROUNDS

#include <unistd.h>

#include <algorithm>
#include <set>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "mesh/ca/token.h"
#include "mesh/config/yaml_loader.h"
#include "mesh/controlplane/control_plane.h"
#include "mesh/pilot/generator.h"
#include "mesh/store/local_store.h"

using namespace std::chrono;
using mesh::config::Node;

namespace {

long RssKb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      return std::stol(line.substr(6));
    }
  }
  return 0;
}

mesh::xds::ResourceList Generate(const mesh::controlplane::ProxyIdentity& id, const mesh::pilot::PushContext& push,
                                 const std::string& type_url) {
  mesh::pilot::ProxyRole role;
  role.workload = id.workload;
  role.app_port = id.app_port;
  role.outbound_port = id.outbound_port;
  static mesh::pilot::GenerationCache cache;
  return cache.Get(role, push, type_url);
}

// Counts updates and remembers when the marker route (timeout of the probe VS) arrived.
class Probe : public mesh::xds::XdsClientCallbacks {
 public:
  absl::Status OnResources(const std::string& type_url, const std::string&, const std::vector<Node>& resources) override {
    std::lock_guard<std::mutex> lock(mu);
    seen_types.insert(type_url);
    if (type_url == mesh::xds::type_url::kRoute) {
      for (const Node& rc : resources) {
        for (const Node& vh : rc["virtual_hosts"].items()) {
          for (const Node& r : vh["routes"].items()) {
            if (r["name"].Str().rfind("probe-", 0) == 0) {
              last_marker = r["name"].Str();
              marker_at = steady_clock::now();
            }
          }
        }
      }
    }
    return absl::OkStatus();
  }
  std::mutex mu;
  std::set<std::string> seen_types;
  std::string last_marker;
  steady_clock::time_point marker_at;
};

Node Parse(const std::string& yaml) { return mesh::config::ParseYamlNode(yaml, "bench").value(); }

std::string ProbeVs(int round) {
  return "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: probe, namespace: bench}\n"
         "spec:\n  hosts: [svc-0.bench.svc.cluster.local]\n  http:\n  - name: probe-" +
         std::to_string(round) + "\n    route:\n    - destination: {host: svc-0.bench.svc.cluster.local}\n";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s SERVICES PROXIES ROUNDS\n", argv[0]);
    return 64;
  }
  int services = std::atoi(argv[1]);
  int proxies = std::atoi(argv[2]);
  int rounds = std::atoi(argv[3]);
  char tmpl[] = "/tmp/push-bench-XXXXXX";
  std::string dir = mkdtemp(tmpl);

  auto store = mesh::store::LocalStore::Open(dir + "/state");
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", std::string(store.status().message()).c_str());
    return 1;
  }
  std::shared_ptr<mesh::store::ConfigStore> shared(std::move(*store));
  auto st = shared->Transaction([&]() -> absl::Status {
    for (int i = 0; i < services; ++i) {
      auto r = shared->Apply(Parse("apiVersion: v1\nkind: Service\nmetadata: {name: svc-" + std::to_string(i) +
                                   ", namespace: bench}\nspec:\n  selector: {app: svc-" + std::to_string(i) +
                                   "}\n  ports:\n  - {name: http, port: 80, targetPort: 8080}\n"));
      if (!r.ok()) {
        return r.status();
      }
    }
    return shared->Apply(Parse(ProbeVs(0))).status();
  });
  if (!st.ok()) {
    std::fprintf(stderr, "%s\n", std::string(st.message()).c_str());
    return 1;
  }
  long rss_before = RssKb();

  mesh::controlplane::ControlPlaneOptions o;
  o.store = shared;
  o.ca_dir = dir + "/state/ca";
  o.token_key_file = dir + "/state/token-key";
  o.port = 0;
  o.generator = Generate;
  o.store_poll = milliseconds(20);
  auto cp = mesh::controlplane::StartControlPlane(o);
  if (!cp.ok()) {
    std::fprintf(stderr, "%s\n", std::string(cp.status().message()).c_str());
    return 1;
  }
  auto tokens = mesh::ca::TokenAuthority::Open(o.token_key_file).value();

  std::vector<std::shared_ptr<Probe>> probes;
  std::vector<std::unique_ptr<mesh::xds::XdsClient>> clients;
  auto start = steady_clock::now();
  for (int i = 0; i < proxies; ++i) {
    auto probe = std::make_shared<Probe>();
    mesh::xds::XdsClientOptions co;
    co.port = (*cp)->port();
    std::string name = "proxy-" + std::to_string(i);
    co.node.id = "sidecar~127.0.0.1~" + name + ".bench";
    co.node.metadata = Parse("{NAMESPACE: bench, SERVICE_ACCOUNT: default, WORKLOAD_NAME: " + name +
                             ", APP_PORT: 8080, INBOUND_PORT: " + std::to_string(20000 + i) +
                             ", OUTBOUND_PORT: 15001, LABELS: {app: svc-" + std::to_string(i % services) + "}}");
    co.node.authorization = "Bearer " + tokens.Issue({"bench", "default", name, system_clock::now() + hours(1)});
    probes.push_back(probe);
    clients.push_back(mesh::xds::StartXdsClient(co, probe));
  }
  auto all_have = [&](const std::string& marker) {
    for (auto& p : probes) {
      std::lock_guard<std::mutex> lock(p->mu);
      if (p->seen_types.size() < 5 || p->last_marker != marker) {
        return false;
      }
    }
    return true;
  };
  while (!all_have("probe-0")) {
    if (steady_clock::now() - start > minutes(5)) {
      std::fprintf(stderr, "timeout waiting for the full push\n");
      return 1;
    }
    std::this_thread::sleep_for(milliseconds(5));
  }
  double full_push_ms = duration<double, std::milli>(steady_clock::now() - start).count();

  std::vector<double> latencies;
  for (int round = 1; round <= rounds; ++round) {
    std::string marker = "probe-" + std::to_string(round);
    auto t0 = steady_clock::now();
    auto applied = shared->Apply(Parse(ProbeVs(round)));
    if (!applied.ok()) {
      return 1;
    }
    while (!all_have(marker)) {
      if (steady_clock::now() - t0 > minutes(2)) {
        std::fprintf(stderr, "timeout waiting for round %d\n", round);
        return 1;
      }
      std::this_thread::sleep_for(milliseconds(1));
    }
    double last = 0;
    for (auto& p : probes) {
      std::lock_guard<std::mutex> lock(p->mu);
      last = std::max(last, duration<double, std::milli>(p->marker_at - t0).count());
    }
    latencies.push_back(last);
  }
  std::sort(latencies.begin(), latencies.end());
  auto pct = [&](double q) { return latencies[std::min(latencies.size() - 1, size_t(q * latencies.size()))]; };
  long rss = RssKb();
  std::printf("services=%d proxies=%d full_push_ms=%.0f change_to_all_p50_ms=%.0f change_to_all_p99_ms=%.0f "
              "process_rss_mb=%.0f (store+clients before control plane: %.0f MB)\n",
              services, proxies, full_push_ms, pct(0.5), pct(0.99), rss / 1024.0, rss_before / 1024.0);
  for (auto& c : clients) {
    c->Stop();
  }
  (*cp)->Stop();
  std::string cleanup = "rm -rf " + dir;
  return std::system(cleanup.c_str()) == 0 ? 0 : 1;
}
