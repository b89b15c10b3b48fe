// A real server and client over loopback: subscription, push on change only, NACK,
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
      out.push_back(config::ParseYamlNode("{\"@type\": \"" + std::string(type_url::kCluster) + "\", \"name\": \"" +
                                              name + "\"}",
                                          "c")
                        .value());
    }
    return MakeResourceList(std::move(out));
  }
  void OnNack(const ProxyNode&, const std::string&, const std::string& error) override {
    std::lock_guard<std::mutex> lock(mu_);
    nacks_.push_back(error);
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
    cv_.notify_all();
  }
  bool WaitFor(std::function<bool()> pred) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, 5s, [&] { return pred(); });
  }
  std::vector<std::string> accepted_;
  std::string version_;
  std::map<std::string, int> responses_;
  bool connected_ = false;
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

TEST(XdsTransport, PushesOnChangeAcksAndNacks) {
  auto source = std::make_shared<FakeSource>();
  auto server = StartXdsServer({"127.0.0.1", 0}, source);
  ASSERT_TRUE(server.ok()) << server.status();
  auto cb = std::make_shared<RecordingCallbacks>();
  auto client = StartXdsClient(ClientFor((*server)->port()), cb);
  ASSERT_TRUE(cb->WaitFor([&] { return cb->accepted_.size() == 1; }));
  ASSERT_TRUE(Eventually([&] {
    auto snap = (*server)->Snapshot();
    return snap.size() == 1 && snap[0].types[type_url::kCluster].status == SyncStatus::kSynced;
  }));

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
}  // namespace mesh::xds
