// Discovery and the CA over TLS (the control plane's --tls-port, Istio's 15012): the
// serving certificate verifies for istiod.istio-system.svc against the mesh root with
// openssl and curl, plaintext is refused on that port, a real agent gets its certificate
// and configuration through it, and an agent trusting another root gets nothing.

#include <thread>

#include "gtest/gtest.h"
#include "mesh/agent/agent.h"
#include "mesh/ca/ca.h"
#include "mesh/ca/token.h"
#include "mesh/common/file_util.h"
#include "mesh/common/strings.h"
#include "mesh/config/yaml_loader.h"
#include "mesh/controlplane/control_plane.h"
#include "mesh/store/local_store.h"
#include "tests/common/test_util.h"

namespace mesh::agent {
namespace {

using mesh::testing::Eventually;

using common::StrCat;
using namespace std::chrono_literals;

// Every proxy gets one listener on `port` answering "over-tls".
controlplane::Generator ListenerOn(int port) {
  return [port](const controlplane::ProxyIdentity&, const pilot::PushContext&, const std::string& type_url) {
    if (type_url != xds::type_url::kListener) {
      return xds::MakeResourceList({});
    }
    std::string yaml = StrCat(
        "'@type': ", xds::type_url::kListener, "\nname: test\naddress:\n  socket_address: {address: 127.0.0.1, "
        "port_value: ", port, "}\nfilter_chains:\n- filters:\n  - name: envoy.filters.network.http_connection_manager\n"
        "    typed_config:\n      '@type': type.googleapis.com/envoy.extensions.filters.network."
        "http_connection_manager.v3.HttpConnectionManager\n      stat_prefix: test\n      route_config:\n"
        "        virtual_hosts:\n        - name: all\n          domains: ['*']\n          routes:\n"
        "          - match: {prefix: /}\n            direct_response: {status: 200, body: {inline_string: over-tls}}\n");
    return xds::MakeResourceList({config::ParseYamlNode(yaml, "listener").value()});
  };
}

TEST(DiscoveryTls, ProxySyncsOverTlsAndVerifiesTheControlPlane) {
  testing::TempDir dir;
  auto store = store::LocalStore::Open(dir.path() + "/state");
  ASSERT_TRUE(store.ok()) << store.status();
  int app_port = testing::FreeLoopbackPort();
  controlplane::ControlPlaneOptions o;
  o.store = std::move(*store);
  o.ca_dir = dir.path() + "/state/ca";
  o.token_key_file = dir.path() + "/state/token-key";
  o.port = 0;
  o.tls_port = 0;
  o.debounce_quiet = 20ms;
  o.store_poll = 20ms;
  o.generator = ListenerOn(app_port);
  auto cp = controlplane::StartControlPlane(o);
  ASSERT_TRUE(cp.ok()) << cp.status();
  uint16_t tls_port = (*cp)->tls_port();
  ASSERT_NE(tls_port, 0);
  std::string root_file = dir.path() + "/state/ca/root-cert.pem";
  auto root = common::ReadFile(root_file);
  ASSERT_TRUE(root.ok());

  // openssl: the chain verifies against the mesh root, for Istio's control plane name.
  auto s_client = testing::RunCommand(
      StrCat("openssl s_client -connect 127.0.0.1:", tls_port, " -servername istiod.istio-system.svc ",
             "-verify_hostname istiod.istio-system.svc -verify_return_error -CAfile ", root_file, " </dev/null 2>&1"));
  EXPECT_EQ(s_client.exit_code, 0) << s_client.out;
  EXPECT_NE(s_client.out.find("Verify return code: 0 (ok)"), std::string::npos) << s_client.out;
  auto wrong_name = testing::RunCommand(
      StrCat("openssl s_client -connect 127.0.0.1:", tls_port, " -verify_hostname evil.example.com ",
             "-verify_return_error -CAfile ", root_file, " </dev/null 2>&1"));
  EXPECT_NE(wrong_name.exit_code, 0) << wrong_name.out;
  // The discovery server's pages answer through TLS; plaintext on the TLS port does not.
  std::string https = StrCat("curl -s -o /dev/null -w '%{http_code}' --max-time 5 --cacert ", root_file,
                             " --resolve istiod.istio-system.svc:", tls_port, ":127.0.0.1 https://istiod.istio-system.svc:",
                             tls_port, "/debug/syncz");
  EXPECT_EQ(testing::RunCommand(https).out, "200");
  EXPECT_EQ(testing::RunCommand(StrCat("curl -s -o /dev/null -w '%{http_code}' --max-time 5 http://127.0.0.1:", tls_port,
                                       "/debug/syncz"))
                .out,
            "000");

  auto tokens = ca::TokenAuthority::Open(o.token_key_file);
  ASSERT_TRUE(tokens.ok());
  proxy::ProxyOptions po;
  po.admin_port = 0;
  po.health_port = 0;
  po.stats_port = 0;
  auto created = proxy::CreateProxy(po);
  ASSERT_TRUE(created.ok());
  std::shared_ptr<proxy::Proxy> proxy(std::move(*created));
  ASSERT_TRUE(proxy->Start().ok());
  AgentOptions ao;
  ao.control_plane_port = tls_port;
  ao.node.id = "sidecar~127.0.0.1~hw-1.devops~devops.svc.cluster.local";
  ao.node.metadata = config::ParseYamlNode("{PROXY_TYPE: sidecar, NAMESPACE: devops, SERVICE_ACCOUNT: helloworld, "
                                           "WORKLOAD_NAME: hw-1, INBOUND_PORT: 15006}",
                                           "m")
                         .value();
  ao.identity = {"cluster.local", "devops", "helloworld"};
  ao.token = tokens->Issue({"devops", "helloworld", "hw-1", std::chrono::system_clock::now() + 1h});

  // An agent that trusts another root refuses the control plane: no certificate, no config.
  testing::TempDir other;
  auto other_ca = ca::OpenLocalCa({other.path() + "/ca"});
  ASSERT_TRUE(other_ca.ok());
  AgentOptions distrustful = ao;
  distrustful.control_plane_root_pem = (*other_ca)->RootCertPem();
  auto refused = StartProxyAgent(distrustful, proxy, {}, 1s);
  EXPECT_FALSE(refused.ok());
  EXPECT_EQ((*cp)->Stats().certificates, 0u);

  ao.control_plane_root_pem = *root;
  auto agent = StartProxyAgent(ao, proxy, {}, 10s);
  ASSERT_TRUE(agent.ok()) << agent.status();
  std::string url = StrCat("curl -s --max-time 5 http://127.0.0.1:", app_port, "/");
  EXPECT_TRUE(Eventually([&] { return testing::RunCommand(url).out == "over-tls"; }));
  EXPECT_TRUE((*agent)->Status().connected);
  EXPECT_EQ((*cp)->Stats().certificates, 1u);
  // The ACK came back through the tunnel too.
  EXPECT_TRUE(Eventually([&] {
    auto synced = (*cp)->xds().Snapshot();
    return synced.size() == 1 && synced[0].types[xds::type_url::kListener].status == xds::SyncStatus::kSynced;
  }));

  (*agent)->Stop();
  proxy->Stop();
  (*cp)->Stop();
}

}  // namespace
}  // namespace mesh::agent
