// The control plane with a real store, discovery server, client and CA endpoint.

#include "mesh/controlplane/control_plane.h"

#include <condition_variable>
#include <mutex>

#include "gtest/gtest.h"
#include "mesh/ca/token.h"
#include "mesh/config/yaml_loader.h"
#include "mesh/store/local_store.h"
#include "tests/common/test_util.h"

namespace mesh::controlplane {
namespace {

using namespace std::chrono_literals;
using config::Node;

// One "cluster" per Service in the snapshot, plus one per registered workload.
xds::ResourceList ListServices(const ProxyIdentity&, const pilot::PushContext& push, const std::string& type_url) {
  std::vector<Node> out;
  if (type_url != xds::type_url::kCluster) {
    return xds::MakeResourceList({});
  }
  for (const pilot::Service& s : push.services()) {
    Node n = Node::Map();
    n.Set("@type", Node::Scalar(type_url, true));
    n.Set("name", Node::Scalar(s.hostname, true));
    out.push_back(n);
  }
  for (const pilot::WorkloadInstance& w : push.workloads()) {
    Node n = Node::Map();
    n.Set("@type", Node::Scalar(type_url, true));
    n.Set("name", Node::Scalar("workload/" + w.name, true));
    out.push_back(n);
  }
  return xds::MakeResourceList(std::move(out));
}

class Recorder : public xds::XdsClientCallbacks {
 public:
  absl::Status OnResources(const std::string& type_url, const std::string&, const std::vector<Node>& resources) override {
    std::lock_guard<std::mutex> lock(mu);
    if (type_url == xds::type_url::kCluster) {
      names.clear();
      for (const Node& r : resources) {
        names.push_back(r["name"].Str());
      }
      ++updates;
    }
    cv.notify_all();
    return absl::OkStatus();
  }
  bool WaitFor(std::function<bool()> pred) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, 5s, pred);
  }
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> names;
  int updates = 0;
};

std::string ServiceYaml(const std::string& name) {
  return "apiVersion: v1\nkind: Service\nmetadata:\n  name: " + name +
         "\n  namespace: devops\nspec:\n  ports:\n  - {name: http, port: 80}\n";
}

class ControlPlaneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = store::LocalStore::Open(dir_.path() + "/state");
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    ASSERT_TRUE(store_->Apply(config::ParseYamlNode(ServiceYaml("helloworldsvc"), "s").value()).ok());
    ControlPlaneOptions o;
    o.store = store_;
    o.ca_dir = dir_.path() + "/state/ca";
    o.token_key_file = dir_.path() + "/state/token-key";
    o.port = 0;
    o.debounce_quiet = 20ms;
    o.debounce_max = 200ms;
    o.store_poll = 20ms;
    o.generator = ListServices;
    auto cp = StartControlPlane(o);
    ASSERT_TRUE(cp.ok()) << cp.status();
    cp_ = std::move(*cp);
    auto tokens = ca::TokenAuthority::Open(o.token_key_file);
    ASSERT_TRUE(tokens.ok());
    token_ = tokens->Issue({"devops", "helloworld", "hw-1", std::chrono::system_clock::now() + 1h});
  }
  void TearDown() override {
    if (cp_) {
      cp_->Stop();
    }
  }

  xds::XdsClientOptions Client(const std::string& token, const std::string& sa = "helloworld") {
    xds::XdsClientOptions o;
    o.port = cp_->port();
    o.node.id = "sidecar~127.0.0.1~hw-1.devops";
    o.node.metadata = config::ParseYamlNode("{NAMESPACE: devops, SERVICE_ACCOUNT: " + sa +
                                                ", WORKLOAD_NAME: hw-1, INBOUND_PORT: 15006, SERVICES: [helloworldsvc]}",
                                            "m")
                          .value();
    o.node.authorization = token.empty() ? "" : "Bearer " + token;
    o.type_urls = {xds::type_url::kCluster};
    o.reconnect_base = 20ms;
    return o;
  }

  mesh::testing::TempDir dir_;
  std::shared_ptr<store::LocalStore> store_;
  std::unique_ptr<ControlPlane> cp_;
  std::string token_;
};

TEST_F(ControlPlaneTest, AuthenticatedProxyGetsConfigAndStoreChangesArePushed) {
  auto rec = std::make_shared<Recorder>();
  auto client = xds::StartXdsClient(Client(token_), rec);
  // The proxy registers itself: its own workload shows up after the debounced rebuild.
  ASSERT_TRUE(rec->WaitFor([&] {
    return std::find(rec->names.begin(), rec->names.end(), "workload/hw-1") != rec->names.end();
  }));
  EXPECT_NE(std::find(rec->names.begin(), rec->names.end(), "helloworldsvc.devops.svc.cluster.local"),
            rec->names.end());
  ASSERT_TRUE(store_->Apply(config::ParseYamlNode(ServiceYaml("second"), "s").value()).ok());
  ASSERT_TRUE(rec->WaitFor([&] {
    return std::find(rec->names.begin(), rec->names.end(), "second.devops.svc.cluster.local") != rec->names.end();
  }));
  client->Stop();
}

TEST_F(ControlPlaneTest, ProxiesWithoutAValidTokenGetNothing) {
  auto rec = std::make_shared<Recorder>();
  auto client = xds::StartXdsClient(Client(""), rec);
  ASSERT_TRUE(rec->WaitFor([&] { return rec->updates > 0 || client->connected(); }));
  std::this_thread::sleep_for(200ms);
  {
    std::lock_guard<std::mutex> lock(rec->mu);
    EXPECT_TRUE(rec->names.empty());
  }
  client->Stop();
  // A token for another service account does not let a proxy claim this one.
  auto rec2 = std::make_shared<Recorder>();
  auto other = xds::StartXdsClient(Client(token_, "istiod"), rec2);
  std::this_thread::sleep_for(300ms);
  {
    std::lock_guard<std::mutex> lock(rec2->mu);
    EXPECT_TRUE(rec2->names.empty());
  }
  other->Stop();
}

TEST_F(ControlPlaneTest, SignsCertificatesForTheTokensIdentityOnly) {
  std::string base = "http://127.0.0.1:" + std::to_string(cp_->port());
  auto kc = ca::GenerateKeyAndCsr({"cluster.local", "devops", "helloworld"});
  ASSERT_TRUE(kc.ok());
  std::string body = dir_.Write("req.json", EncodeCertificateRequest({kc->csr_pem}));
  auto r = mesh::testing::RunCommand("curl -s -X POST -H 'Authorization: Bearer " + token_ + "' --data-binary @" +
                                     body + " " + base + "/v1/certificate");
  ASSERT_EQ(r.exit_code, 0);
  auto reply = config::ParseYamlNode(r.out, "reply");
  ASSERT_TRUE(reply.ok()) << r.out;
  auto info = ca::InspectCertificate((*reply)["certChain"].Str());
  ASSERT_TRUE(info.ok()) << r.out;
  EXPECT_EQ(info->uri_sans[0], "spiffe://cluster.local/ns/devops/sa/helloworld");
  std::string root = dir_.Write("root.pem", (*reply)["rootCert"].Str());
  std::string leaf = dir_.Write("leaf.pem", (*reply)["certChain"].Str());
  EXPECT_EQ(mesh::testing::RunCommand("openssl verify -CAfile " + root + " " + leaf).exit_code, 0);

  auto no_token = mesh::testing::RunCommand("curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary @" + body +
                                            " " + base + "/v1/certificate");
  EXPECT_EQ(no_token.out, "401");
  auto other = ca::GenerateKeyAndCsr({"cluster.local", "istio-system", "istiod"});
  std::string other_body = dir_.Write("other.json", EncodeCertificateRequest({other->csr_pem}));
  auto refused = mesh::testing::RunCommand("curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Authorization: Bearer " +
                                           token_ + "' --data-binary @" + other_body + " " + base + "/v1/certificate");
  EXPECT_EQ(refused.out, "403");
  EXPECT_EQ(cp_->Stats().certificates, 1u);
}

TEST_F(ControlPlaneTest, ServesTheDashboardAndMetricsOnItsPort) {
  std::string base = "http://127.0.0.1:" + std::to_string(cp_->port());
  auto rec = std::make_shared<Recorder>();
  auto client = xds::StartXdsClient(Client(token_), rec);
  ASSERT_TRUE(rec->WaitFor([&] { return rec->updates > 0; }));
  auto page = mesh::testing::RunCommand("curl -sf " + base + "/dashboard/");
  ASSERT_EQ(page.exit_code, 0);
  EXPECT_NE(page.out.find("<title>meshctl dashboard</title>"), std::string::npos);
  auto proxies = mesh::testing::RunCommand("curl -sf " + base + "/dashboard/api/proxies");
  EXPECT_NE(proxies.out.find("\"workload\": \"hw-1\""), std::string::npos) << proxies.out;
  auto services = mesh::testing::RunCommand("curl -sf " + base + "/dashboard/api/services");
  EXPECT_NE(services.out.find("\"fqdn\": \"helloworldsvc.devops.svc.cluster.local\""), std::string::npos)
      << services.out;
  auto metrics = mesh::testing::RunCommand("curl -sf " + base + "/metrics");
  EXPECT_NE(metrics.out.find("\npilot_xds 1\n"), std::string::npos) << metrics.out;
  // The control plane's other endpoints are still its own.
  EXPECT_EQ(mesh::testing::RunCommand("curl -sf " + base + "/debug/ca").exit_code, 0);
  client->Stop();
}

}  // namespace
}  // namespace mesh::controlplane
