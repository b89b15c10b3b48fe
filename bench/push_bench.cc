// Control-plane push benchmark (run by scripts/bench_push.sh, not a test).
//
// Starts a control plane in-process over a local store holding S services; a forked
// child process opens P discovery streams to it (real authenticated WebSocket streams on
// loopback, all on one thread). The simulated proxies are lightweight: they read each
// response, ACK it by nonce and look for the probe route, without decoding the
// resources, so the figures are the control plane's. By default they negotiate compressed
// responses (mesh/xds/compression.h) and decompress every response they get, as a real
// proxy would; PUSH_BENCH_ENCODING=json makes them ask for plain JSON. Then:
//   1. full push: time until every stream has all five types and the probe route;
//   2. change propagation: applies a VirtualService change R times and measures, per
//      change, the time until every proxy received the new route (p50/p99);
// and reports the control plane's CPU time and resident memory (current and peak; the
// clients are in the other process).
//
// Usage: push_bench SERVICES PROXIES ROUNDS

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <algorithm>
#include <cstring>
#include <deque>
#include <map>
#include <set>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
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
#include "mesh/xds/compression.h"

using namespace std::chrono;
using mesh::config::Node;
namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;

namespace {

long StatusKb(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field, 0) == 0) {
      return std::stol(line.substr(std::strlen(field)));
    }
  }
  return 0;
}

double CpuSeconds(int who) {
  rusage u{};
  getrusage(who, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
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

Node Parse(const std::string& yaml) { return mesh::config::ParseYamlNode(yaml, "bench").value(); }

std::string ProbeVs(int round) {
  return "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: probe, namespace: bench}\n"
         "spec:\n  hosts: [svc-0.bench.svc.cluster.local]\n  http:\n  - name: probe-" +
         std::to_string(round) + "\n    route:\n    - destination: {host: svc-0.bench.svc.cluster.local}\n";
}

// The string value of "key":"..." in a JSON text (the envelope's fields need no unescaping).
std::string Field(std::string_view text, std::string_view key) {
  std::string needle = "\"" + std::string(key) + "\":\"";
  size_t at = text.find(needle);
  if (at == std::string_view::npos) {
    return "";
  }
  at += needle.size();
  size_t end = text.find('"', at);
  return end == std::string_view::npos ? "" : std::string(text.substr(at, end - at));
}

// ---- the simulated proxies (child process) ---------------------------------------------

class Fleet;

class LightProxy : public std::enable_shared_from_this<LightProxy> {
 public:
  LightProxy(net::io_context& ioc, Fleet* fleet, int index) : ws_(ioc), fleet_(fleet), index_(index) {}
  void Start(uint16_t port, mesh::xds::ProxyNode node);
  std::set<std::string> types;
  std::string marker;

 private:
  void Read();
  void Send(std::string text);
  void Write();

  websocket::stream<beast::tcp_stream> ws_;
  Fleet* fleet_;
  int index_;
  mesh::xds::ProxyNode node_;
  beast::flat_buffer buffer_;
  std::deque<std::string> out_;
};

// All proxies on one thread; tells the parent (over a pipe) when every proxy has the
// full configuration with a given probe route.
class Fleet {
 public:
  Fleet(int proxies, int report_fd, bool compressed)
      : compressed(compressed), proxies_(proxies), report_fd_(report_fd) {}
  const bool compressed;   // ask for zstd responses
  std::string scratch;     // decompressed responses (one at a time: one thread)
  uint64_t wire_bytes = 0;  // response bytes as received
  uint64_t json_bytes = 0;  // response bytes after decompression
  void OnUpdate(LightProxy& p, const std::string& old_marker, bool became_ready) {
    if (became_ready) {
      ++ready_;
    }
    if (old_marker != p.marker) {
      --at_marker_[old_marker];
      ++at_marker_[p.marker];
    }
    if (ready_ == proxies_ && at_marker_[p.marker] == proxies_ && reported_.insert(p.marker).second) {
      auto ns = duration_cast<nanoseconds>(steady_clock::now().time_since_epoch()).count();
      std::string line = p.marker + " " + std::to_string(ns) + "\n";
      if (write(report_fd_, line.data(), line.size()) < 0) {
        std::_Exit(1);
      }
    }
  }

 private:
  int proxies_;
  int report_fd_;
  int ready_ = 0;
  std::map<std::string, int> at_marker_;
  std::set<std::string> reported_;
};

void LightProxy::Start(uint16_t port, mesh::xds::ProxyNode node) {
  node_ = std::move(node);
  auto self = shared_from_this();
  beast::get_lowest_layer(ws_).async_connect(
      net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"), port), [self](beast::error_code ec) {
        if (ec) {
          std::fprintf(stderr, "proxy %d: connect: %s\n", self->index_, ec.message().c_str());
          return;
        }
        self->ws_.set_option(websocket::stream_base::decorator(
            [auth = self->node_.authorization, compress = self->fleet_->compressed](websocket::request_type& req) {
              req.set(beast::http::field::authorization, auth);
              if (compress) {
                req.set(mesh::xds::kAcceptEncodingHeader, mesh::xds::kZstdEncoding);
              }
            }));
        self->ws_.read_message_max(256 << 20);
        self->ws_.async_handshake("127.0.0.1", "/v3/discovery", [self](beast::error_code ec) {
          if (ec) {
            std::fprintf(stderr, "proxy %d: handshake: %s\n", self->index_, ec.message().c_str());
            return;
          }
          for (const std::string& type : mesh::xds::type_url::SubscriptionOrder()) {
            mesh::xds::DiscoveryRequest r;
            r.node = self->node_;
            r.type_url = type;
            self->Send(mesh::xds::SerializeRequest(r));
          }
          self->Read();
        });
      });
}

void LightProxy::Read() {
  ws_.async_read(buffer_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
    if (ec) {
      return;
    }
    std::string_view text(static_cast<const char*>(self->buffer_.data().data()), self->buffer_.size());
    Fleet& fleet = *self->fleet_;
    fleet.wire_bytes += text.size();
    if (self->ws_.got_binary()) {
      // Every compressed response is decompressed in full, as a proxy would.
      absl::Status st = mesh::xds::ZstdDecompressInto(text, 256 << 20, fleet.scratch);
      if (!st.ok()) {
        std::fprintf(stderr, "proxy %d: %s\n", self->index_, std::string(st.message()).c_str());
        return;
      }
      text = fleet.scratch;
    }
    fleet.json_bytes += text.size();
    // The envelope comes first: look only there for the type, version and nonce.
    std::string_view head = text.substr(0, text.find("\"resources\":"));
    mesh::xds::DiscoveryRequest ack;
    ack.node.id = self->node_.id;
    ack.type_url = Field(head, "typeUrl");
    ack.version_info = Field(head, "versionInfo");
    ack.response_nonce = Field(head, "nonce");
    bool was_ready = self->types.size() == 5;
    std::string old_marker = self->marker;
    self->types.insert(ack.type_url);
    if (ack.type_url == mesh::xds::type_url::kRoute) {
      size_t at = text.find("\"probe-");
      if (at != std::string_view::npos) {
        size_t end = text.find('"', at + 1);
        self->marker = std::string(text.substr(at + 1, end - at - 1));
      }
    }
    // Do not keep a buffer as large as the largest response per proxy.
    self->buffer_.clear();
    self->buffer_.shrink_to_fit();
    self->Send(mesh::xds::SerializeRequest(ack));
    self->fleet_->OnUpdate(*self, old_marker, !was_ready && self->types.size() == 5);
    self->Read();
  });
}

void LightProxy::Send(std::string text) {
  out_.push_back(std::move(text));
  if (out_.size() == 1) {
    Write();
  }
}

void LightProxy::Write() {
  ws_.text(true);
  ws_.async_write(net::buffer(out_.front()), [self = shared_from_this()](beast::error_code ec, std::size_t) {
    if (ec) {
      return;
    }
    self->out_.pop_front();
    if (!self->out_.empty()) {
      self->Write();
    }
  });
}

// The child: reads the port from `in_fd`, runs the proxies, reports on `report_fd`.
int RunProxies(int services, int proxies, const std::string& token_key_file, int in_fd, int report_fd) {
  uint16_t port = 0;
  if (read(in_fd, &port, sizeof(port)) != sizeof(port)) {
    return 1;
  }
  auto tokens = mesh::ca::TokenAuthority::Open(token_key_file);
  if (!tokens.ok()) {
    std::fprintf(stderr, "%s\n", std::string(tokens.status().message()).c_str());
    return 1;
  }
  net::io_context ioc;
  const char* encoding = std::getenv("PUSH_BENCH_ENCODING");
  Fleet fleet(proxies, report_fd, encoding == nullptr || std::string(encoding) != "json");
  std::vector<std::shared_ptr<LightProxy>> all;
  for (int i = 0; i < proxies; ++i) {
    std::string name = "proxy-" + std::to_string(i);
    mesh::xds::ProxyNode node;
    node.id = "sidecar~127.0.0.1~" + name + ".bench";
    node.metadata = Parse("{NAMESPACE: bench, SERVICE_ACCOUNT: default, WORKLOAD_NAME: " + name +
                          ", APP_PORT: 8080, INBOUND_PORT: " + std::to_string(20000 + i) +
                          ", OUTBOUND_PORT: 15001, LABELS: {app: svc-" + std::to_string(i % services) + "}}");
    node.authorization = "Bearer " + tokens->Issue({"bench", "default", name, system_clock::now() + hours(1)});
    auto p = std::make_shared<LightProxy>(ioc, &fleet, i);
    p->Start(port, std::move(node));
    all.push_back(std::move(p));
  }
  // Runs until the parent closes the pipe (then the first read below fails) or kills us.
  std::thread watchdog([&] {
    char c;
    while (read(in_fd, &c, 1) > 0) {
    }
    ioc.stop();
  });
  ioc.run();
  watchdog.join();
  std::fprintf(stderr, "  proxies (%s): received %.0f MB on the wire, %.0f MB of JSON\n",
               fleet.compressed ? "zstd" : "json", static_cast<double>(fleet.wire_bytes) / 1e6,
               static_cast<double>(fleet.json_bytes) / 1e6);
  return 0;
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
  // Two sockets per proxy across the two processes, one in each.
  rlimit nofile{};
  getrlimit(RLIMIT_NOFILE, &nofile);
  nofile.rlim_cur = nofile.rlim_max;
  setrlimit(RLIMIT_NOFILE, &nofile);
  if (nofile.rlim_cur < static_cast<rlim_t>(proxies) + 64) {
    std::fprintf(stderr, "open file limit %lu is too low for %d proxies\n", static_cast<unsigned long>(nofile.rlim_cur),
                 proxies);
    return 1;
  }
  char tmpl[] = "/tmp/push-bench-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  std::string token_key_file = dir + "/state/token-key";

  int to_child[2];
  int from_child[2];
  if (pipe(to_child) != 0 || pipe(from_child) != 0) {
    return 1;
  }
  pid_t child = fork();
  if (child == 0) {
    close(to_child[1]);
    close(from_child[0]);
    std::_Exit(RunProxies(services, proxies, token_key_file, to_child[0], from_child[1]));
  }
  close(to_child[0]);
  close(from_child[1]);

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
  long rss_before = StatusKb("VmRSS:");
  std::string load_before = LoadAverage();

  mesh::controlplane::ControlPlaneOptions o;
  o.store = shared;
  o.ca_dir = dir + "/state/ca";
  o.token_key_file = token_key_file;
  o.port = 0;
  o.generator = Generate;
  o.store_poll = milliseconds(20);
  auto cp = mesh::controlplane::StartControlPlane(o);
  if (!cp.ok()) {
    std::fprintf(stderr, "%s\n", std::string(cp.status().message()).c_str());
    return 1;
  }
  double cpu_start = CpuSeconds(RUSAGE_SELF);
  auto start = steady_clock::now();
  uint16_t port = (*cp)->port();
  if (write(to_child[1], &port, sizeof(port)) != sizeof(port)) {
    return 1;
  }
  // Lines "probe-N <steady_clock ns>" from the child, each when every proxy has probe-N.
  FILE* reports = fdopen(from_child[0], "r");
  auto wait_for = [&](const std::string& marker, steady_clock::time_point* at) {
    char line[256];
    while (std::fgets(line, sizeof(line), reports) != nullptr) {
      std::string text(line);
      size_t space = text.find(' ');
      if (text.substr(0, space) == marker) {
        *at = steady_clock::time_point(nanoseconds(std::stoll(text.substr(space + 1))));
        return true;
      }
    }
    return false;
  };
  steady_clock::time_point done;
  if (!wait_for("probe-0", &done)) {
    std::fprintf(stderr, "the simulated proxies stopped before the full push completed\n");
    return 1;
  }
  double full_push_ms = duration<double, std::milli>(done - start).count();
  double full_push_cpu = CpuSeconds(RUSAGE_SELF) - cpu_start;
  long rss_after_full = StatusKb("VmRSS:");

  std::vector<double> latencies;
  for (int round = 1; round <= rounds; ++round) {
    std::string marker = "probe-" + std::to_string(round);
    auto t0 = steady_clock::now();
    if (!shared->Apply(Parse(ProbeVs(round))).ok()) {
      return 1;
    }
    if (!wait_for(marker, &done)) {
      std::fprintf(stderr, "the simulated proxies stopped in round %d\n", round);
      return 1;
    }
    latencies.push_back(duration<double, std::milli>(done - t0).count());
  }
  std::sort(latencies.begin(), latencies.end());
  auto pct = [&](double q) {
    return latencies.empty() ? 0.0 : latencies[std::min(latencies.size() - 1, size_t(q * latencies.size()))];
  };
  double cpu_total = CpuSeconds(RUSAGE_SELF) - cpu_start;
  close(to_child[1]);
  int status = 0;
  waitpid(child, &status, 0);
  std::printf("services=%d proxies=%d full_push_ms=%.0f full_push_cp_cpu_s=%.1f change_to_all_p50_ms=%.0f "
              "change_to_all_p99_ms=%.0f cp_cpu_s=%.1f proxies_cpu_s=%.1f cp_rss_mb=%.0f (after full push %.0f, "
              "peak %.0f; store before control plane %.0f) load=[%s]->[%s]\n",
              services, proxies, full_push_ms, full_push_cpu, pct(0.5), pct(0.99), cpu_total,
              CpuSeconds(RUSAGE_CHILDREN), StatusKb("VmRSS:") / 1024.0, rss_after_full / 1024.0,
              StatusKb("VmHWM:") / 1024.0, rss_before / 1024.0, load_before.c_str(), LoadAverage().c_str());
  (*cp)->Stop();
  std::string cleanup = "rm -rf " + dir;
  return std::system(cleanup.c_str()) == 0 ? 0 : 1;
}
