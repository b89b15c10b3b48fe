// A real server and client over loopback: subscription, push on change only, NACK (with
// and without compressed responses), the compression negotiation and its size limit,
// reconnect after the control plane restarts, the REST form and the debug pages.

#include <condition_variable>
#include <mutex>

#include "gtest/gtest.h"
#include "mesh/common/strings.h"
#include "mesh/config/yaml_loader.h"
#include "mesh/xds/server.h"
#include "tests/common/test_util.h"

namespace mesh::xds {
namespace {

using mesh::testing::Eventually;

using config::Node;
using namespace std::chrono_literals;

class FakeSource : public ResourceSource {
 public:
  ResourceList Generate(const ProxyNode& proxy, const std::string& type_url) override {
    std::lock_guard<std::mutex> lock(mu_);
    generated_for_ = proxy.id;
    if (type_url != type_url::kCluster) {
      return MakeResourceList({});
    }
    std::vector<Node> out;
    for (const std::string& name : clusters_) {
      Node cluster = config::ParseYamlNode("{\"@type\": \"" + std::string(type_url::kCluster) + "\", \"name\": \"" +
                                               name + "\"}",
                                           "c")
                         .value();
      if (padding_ > 0) {
        cluster.Set("alt_stat_name", Node::Scalar(std::string(padding_, 'x'), true));
      }
      out.push_back(std::move(cluster));
    }
    return MakeResourceList(std::move(out));
  }
  void OnNack(const ProxyNode&, const std::string&, const std::string& error) override {
    std::lock_guard<std::mutex> lock(mu_);
    nacks_.push_back(error);
  }
  // Clusters get this much padding in a field (compresses to almost nothing).
  void SetPadding(size_t bytes) {
    std::lock_guard<std::mutex> lock(mu_);
    padding_ = bytes;
  }
  void Set(std::vector<std::string> clusters) {
    std::lock_guard<std::mutex> lock(mu_);
    clusters_ = std::move(clusters);
  }
  std::vector<std::string> nacks() {
    std::lock_guard<std::mutex> lock(mu_);
    return nacks_;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> clusters_ = {"outbound|80||a.default.svc.cluster.local"};
  std::vector<std::string> nacks_;
  std::string generated_for_;
  size_t padding_ = 0;
};

// Accepts cluster sets unless one is named "bad"; remembers what it accepted.
class RecordingCallbacks : public XdsClientCallbacks {
 public:
  absl::Status OnResources(const std::string& type_url, const std::string& version,
                           const std::vector<Node>& resources) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++responses_[type_url];
    for (const Node& r : resources) {
      if (r["name"].Str() == "bad") {
        return absl::InvalidArgumentError("cluster \"bad\": unsupported");
      }
    }
    if (type_url == type_url::kCluster) {
      accepted_.clear();
      for (const Node& r : resources) {
        accepted_.push_back(r["name"].Str());
      }
      version_ = version;
    }
    cv_.notify_all();
    return absl::OkStatus();
  }
  void OnConnectionChange(bool connected) override {
    std::lock_guard<std::mutex> lock(mu_);
    connected_ = connected;
    connects_ += connected ? 1 : 0;
    cv_.notify_all();
  }
  void OnStreamError(const absl::Status& error) override {
    std::lock_guard<std::mutex> lock(mu_);
    errors_.push_back(error);
    cv_.notify_all();
  }
  std::vector<absl::Status> errors_;
  bool WaitFor(std::function<bool()> pred) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, 5s, [&] { return pred(); });
  }
  std::vector<std::string> accepted_;
  std::string version_;
  std::map<std::string, int> responses_;
  bool connected_ = false;
  int connects_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
};

XdsClientOptions ClientFor(uint16_t port) {
  XdsClientOptions o;
  o.port = port;
  o.node.id = "sidecar~127.0.0.1~hello-1.default~default.svc.cluster.local";
  o.reconnect_base = 20ms;
  o.reconnect_max = 200ms;
  return o;
}

// The same protocol whether the proxy asks for compressed responses or not.
class XdsTransportEncoding : public ::testing::TestWithParam<bool> {};

TEST_P(XdsTransportEncoding, PushesOnChangeAcksAndNacks) {
  const bool compressed = GetParam();
  auto source = std::make_shared<FakeSource>();
  auto server = StartXdsServer({"127.0.0.1", 0}, source);
  ASSERT_TRUE(server.ok()) << server.status();
  auto cb = std::make_shared<RecordingCallbacks>();
  XdsClientOptions options = ClientFor((*server)->port());
  options.accept_compression = compressed;
  auto client = StartXdsClient(options, cb);
  ASSERT_TRUE(cb->WaitFor([&] { return cb->accepted_.size() == 1; }));
  ASSERT_TRUE(Eventually([&] {
    auto snap = (*server)->Snapshot();
    return snap.size() == 1 && snap[0].types[type_url::kCluster].status == SyncStatus::kSynced;
  }));
  EXPECT_EQ((*server)->Snapshot()[0].encoding, compressed ? "zstd" : "json");

  // Same content: a push sends nothing.
  int before = 0;
  {
    std::lock_guard<std::mutex> lock(cb->mu_);
    before = cb->responses_[type_url::kCluster];
  }
  (*server)->PushAll();
  source->Set({"x", "y"});
  (*server)->PushAll();
  ASSERT_TRUE(cb->WaitFor([&] { return cb->accepted_.size() == 2; }));
  {
    std::lock_guard<std::mutex> lock(cb->mu_);
    EXPECT_EQ(cb->responses_[type_url::kCluster], before + 1);
  }

  // A bad config is NACKed: the proxy keeps x,y and the control plane sees the error.
  source->Set({"bad"});
  (*server)->PushAll();
  ASSERT_TRUE(Eventually([&] { return !source->nacks().empty(); }));
  EXPECT_EQ(source->nacks()[0], "cluster \"bad\": unsupported");
  ASSERT_TRUE(Eventually([&] {
    return (*server)->Snapshot()[0].types[type_url::kCluster].status == SyncStatus::kNacked;
  }));
  {
    std::lock_guard<std::mutex> lock(cb->mu_);
    EXPECT_EQ(cb->accepted_, (std::vector<std::string>{"x", "y"}));
  }
  client->Stop();
  ASSERT_TRUE(Eventually([&] { return (*server)->ConnectedProxies() == 0; }));
  (*server)->Stop();
}

INSTANTIATE_TEST_SUITE_P(JsonAndZstd, XdsTransportEncoding, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& info) { return info.param ? "Zstd" : "Json"; });

TEST(XdsTransport, ControlPlaneWithoutCompressionAnswersInJson) {
  auto source = std::make_shared<FakeSource>();
  XdsServerOptions so{"127.0.0.1", 0};
  so.compression = false;
  auto server = StartXdsServer(so, source);
  ASSERT_TRUE(server.ok()) << server.status();
  auto cb = std::make_shared<RecordingCallbacks>();
  auto client = StartXdsClient(ClientFor((*server)->port()), cb);  // asks for zstd
  ASSERT_TRUE(cb->WaitFor([&] { return cb->accepted_.size() == 1; }));
  ASSERT_TRUE(Eventually([&] { return (*server)->ConnectedProxies() == 1; }));
  EXPECT_EQ((*server)->Snapshot()[0].encoding, "json");
  client->Stop();
  (*server)->Stop();
}

// A compressed response that would decompress past the client's limit is refused with
// a clear error before it is expanded; the proxy keeps what it had and accepts the next
// configuration that fits.
TEST(XdsTransport, RefusesCompressedResponseOverTheLimit) {
  auto source = std::make_shared<FakeSource>();
  auto server = StartXdsServer({"127.0.0.1", 0}, source);
  ASSERT_TRUE(server.ok()) << server.status();
  auto cb = std::make_shared<RecordingCallbacks>();
  XdsClientOptions options = ClientFor((*server)->port());
  options.max_response_bytes = 64 << 10;
  auto client = StartXdsClient(options, cb);
  ASSERT_TRUE(cb->WaitFor([&] { return cb->accepted_.size() == 1; }));

  source->SetPadding(8 << 20);  // 8 MB of JSON, a few hundred bytes compressed
  source->Set({"huge"});
  (*server)->PushAll();
  ASSERT_TRUE(cb->WaitFor([&] { return !cb->errors_.empty(); }));
  {
    std::lock_guard<std::mutex> lock(cb->mu_);
    EXPECT_EQ(cb->errors_[0].code(), absl::StatusCode::kResourceExhausted) << cb->errors_[0];
    EXPECT_NE(cb->errors_[0].message().find("limit of 65536 bytes"), std::string_view::npos) << cb->errors_[0];
    EXPECT_EQ(cb->accepted_, (std::vector<std::string>{"outbound|80||a.default.svc.cluster.local"}));
  }
  source->SetPadding(0);
  source->Set({"small"});
  (*server)->PushAll();
  ASSERT_TRUE(cb->WaitFor([&] { return cb->accepted_ == std::vector<std::string>{"small"}; }));
  client->Stop();
  (*server)->Stop();
}

TEST(XdsTransport, ClientReconnectsAfterControlPlaneRestart) {
  auto source = std::make_shared<FakeSource>();
  auto server = StartXdsServer({"127.0.0.1", 0}, source);
  ASSERT_TRUE(server.ok());
  uint16_t port = (*server)->port();
  auto cb = std::make_shared<RecordingCallbacks>();
  auto client = StartXdsClient(ClientFor(port), cb);
  ASSERT_TRUE(cb->WaitFor([&] { return cb->accepted_.size() == 1 && cb->connected_; }));
  (*server)->Stop();
  ASSERT_TRUE(cb->WaitFor([&] { return !cb->connected_; }));
  EXPECT_FALSE(client->connected());
  // While the control plane is away the proxy keeps what it had.
  EXPECT_EQ(cb->accepted_.size(), 1u);

  source->Set({"after-restart"});
  auto again = StartXdsServer({"127.0.0.1", port}, source);
  ASSERT_TRUE(again.ok()) << again.status();
  ASSERT_TRUE(cb->WaitFor([&] { return cb->accepted_ == std::vector<std::string>{"after-restart"}; }));
  EXPECT_TRUE(client->connected());
  client->Stop();
  (*again)->Stop();
}

TEST(XdsTransport, RestFormAndDebugPages) {
  auto source = std::make_shared<FakeSource>();
  auto server = StartXdsServer({"127.0.0.1", 0}, source);
  ASSERT_TRUE(server.ok());
  std::string base = "http://127.0.0.1:" + std::to_string((*server)->port());
  auto r = testing::RunCommand("curl -s -X POST " + base + "/v3/discovery:clusters -d " +
                               "'{\"node\": {\"id\": \"rest-proxy\"}, \"typeUrl\": \"" + type_url::kCluster + "\"}'");
  ASSERT_EQ(r.exit_code, 0);
  auto resp = ParseResponse(r.out);
  ASSERT_TRUE(resp.ok()) << r.out;
  ASSERT_EQ(resp->resources->size(), 1u);
  EXPECT_EQ((*resp->resources)[0]["name"].Str(), "outbound|80||a.default.svc.cluster.local");
  auto bad = testing::RunCommand("curl -s -o /dev/null -w '%{http_code}' -X POST " + base +
                                 "/v3/discovery:nonsense -d '{}'");
  EXPECT_EQ(bad.out, "400");

  auto cb = std::make_shared<RecordingCallbacks>();
  auto client = StartXdsClient(ClientFor((*server)->port()), cb);
  ASSERT_TRUE(cb->WaitFor([&] { return cb->accepted_.size() == 1; }));
  ASSERT_TRUE(Eventually([&] {
    return testing::RunCommand("curl -s " + base + "/debug/syncz").out.find("SYNCED") != std::string::npos;
  }));
  auto dump = testing::RunCommand("curl -s '" + base +
                                  "/debug/config_dump?proxyID=sidecar~127.0.0.1~hello-1.default~default.svc.cluster.local'");
  EXPECT_NE(dump.out.find("outbound|80||a.default.svc.cluster.local"), std::string::npos) << dump.out;
  client->Stop();
  (*server)->Stop();
}

}  // namespace
// --keepalive-max-server-connection-age: the server closes old streams, the proxy
// reconnects at once and keeps (then re-receives) its configuration.
TEST(XdsTransport, StreamsOlderThanMaxAgeAreClosedAndProxiesReconnect) {
  auto source = std::make_shared<FakeSource>();
  XdsServerOptions o;
  o.address = "127.0.0.1";
  o.port = 0;
  o.max_connection_age = 200ms;
  auto server = StartXdsServer(o, source);
  ASSERT_TRUE(server.ok()) << server.status();
  auto cb = std::make_shared<RecordingCallbacks>();
  auto client = StartXdsClient(ClientFor((*server)->port()), cb);
  ASSERT_TRUE(cb->WaitFor([&] { return cb->accepted_.size() == 1 && cb->connects_ >= 1; }));
  ASSERT_TRUE(cb->WaitFor([&] { return cb->connects_ >= 3; }));  // closed twice, back twice
  {
    std::lock_guard<std::mutex> lock(cb->mu_);
    EXPECT_EQ(cb->accepted_.size(), 1u);
  }
  client->Stop();
  (*server)->Stop();
}

// A debug/monitoring listener (http_only) serves the HTTP pages but accepts no stream.
TEST(XdsTransport, HttpOnlyListenerRefusesStreams) {
  auto source = std::make_shared<FakeSource>();
  XdsServerOptions o;
  o.address = "127.0.0.1";
  o.port = 0;
  o.http_only = true;
  auto server = StartXdsServer(o, source);
  ASSERT_TRUE(server.ok()) << server.status();
  std::string port = std::to_string((*server)->port());
  auto page = mesh::testing::RunCommand("curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:" + port +
                                        "/debug/syncz");
  EXPECT_EQ(page.out, "200");
  auto upgrade = mesh::testing::RunCommand(
      "curl -s -o /dev/null -w '%{http_code}' -H 'Connection: Upgrade' -H 'Upgrade: websocket' "
      "-H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' http://127.0.0.1:" +
      port + "/v3/discovery");
  EXPECT_EQ(upgrade.out, "404");
  EXPECT_EQ((*server)->ConnectedProxies(), 0u);
  (*server)->Stop();
}

}  // namespace mesh::xds
