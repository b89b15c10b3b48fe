#include "mesh/controlplane/registry.h"

#include "gtest/gtest.h"
#include "mesh/config/yaml_loader.h"

namespace mesh::controlplane {
namespace {

using namespace std::chrono_literals;

xds::ProxyNode Node(const std::string& yaml) {
  xds::ProxyNode n;
  n.id = "sidecar~1";
  n.metadata = config::ParseYamlNode(yaml, "m").value();
  return n;
}

TEST(ProxyIdentity, ParsesMetadata) {
  auto id = ParseProxyIdentity(Node(
      "{PROXY_TYPE: sidecar, NAMESPACE: devops, SERVICE_ACCOUNT: hw, WORKLOAD_NAME: hw-1, "
      "LABELS: {app: helloworld, version: v1}, SERVICES: [helloworldsvc], INBOUND_PORT: 15006, "
      "OUTBOUND_PORT: 15001}"));
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->workload.ns, "devops");
  EXPECT_EQ(id->workload.service_account, "hw");
  EXPECT_EQ(id->workload.labels.at("version"), "v1");
  EXPECT_EQ(id->workload.default_endpoint_port, 15006u);
  EXPECT_EQ(id->outbound_port, 15001u);
  auto router = ParseProxyIdentity(Node(
      "{PROXY_TYPE: router, NAMESPACE: istio-system, WORKLOAD_NAME: gw, GATEWAY_PORTS: {\"443\": 8443}}"));
  ASSERT_TRUE(router.ok());
  EXPECT_EQ(router->gateway_ports.at(443), 8443u);
  EXPECT_FALSE(ParseProxyIdentity(Node("{NAMESPACE: a}")).ok());
  EXPECT_FALSE(ParseProxyIdentity(Node("{PROXY_TYPE: ztunnel, NAMESPACE: a, WORKLOAD_NAME: b}")).ok());
}

TEST(WorkloadRegistry, KeepsDisconnectedWorkloadsForTheGracePeriod) {
  WorkloadRegistry r(10s);
  auto id = ParseProxyIdentity(Node("{NAMESPACE: a, WORKLOAD_NAME: w, INBOUND_PORT: 1}")).value();
  WorkloadRegistry::Clock::time_point t0{};
  EXPECT_TRUE(r.Connect("p1", id));
  EXPECT_FALSE(r.Connect("p1", id));  // a reconnect of a live entry changes nothing
  EXPECT_EQ(r.Workloads().size(), 1u);
  EXPECT_FALSE(r.Disconnect("p1", t0));
  EXPECT_EQ(r.Workloads().size(), 1u);
  EXPECT_FALSE(r.Expire(t0 + 9s));
  EXPECT_TRUE(r.Connect("p1", id));  // back within the grace period
  EXPECT_FALSE(r.Disconnect("p1", t0 + 20s));
  EXPECT_TRUE(r.Expire(t0 + 30s));
  EXPECT_TRUE(r.Workloads().empty());
}

}  // namespace
}  // namespace mesh::controlplane
