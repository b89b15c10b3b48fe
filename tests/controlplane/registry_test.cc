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

// A restarted control plane reads the saved registry back as just-disconnected proxies:
// their endpoints stay while they reconnect and go after the grace period if they do not.
TEST(WorkloadRegistry, SavedRegistryRestoresAsDisconnectedForTheGracePeriod) {
  WorkloadRegistry before(10s);
  xds::ProxyNode m1 = Node("{NAMESPACE: devops, WORKLOAD_NAME: hw-1, INBOUND_PORT: 15006, SERVICES: [helloworldsvc]}");
  xds::ProxyNode m2 = Node("{NAMESPACE: devops, WORKLOAD_NAME: hw-2, INBOUND_PORT: 15007}");
  xds::ProxyNode gw = Node("{PROXY_TYPE: router, NAMESPACE: istio-system, WORKLOAD_NAME: gw}");
  EXPECT_TRUE(before.Connect("p1", ParseProxyIdentity(m1).value(), m1.metadata));
  EXPECT_TRUE(before.Connect("p2", ParseProxyIdentity(m2).value(), m2.metadata));
  EXPECT_TRUE(before.Connect("gw", ParseProxyIdentity(gw).value(), gw.metadata));
  uint64_t v = before.version();
  EXPECT_FALSE(before.Connect("p1", ParseProxyIdentity(m1).value(), m1.metadata));
  EXPECT_EQ(before.version(), v);  // the same proxy again: nothing to save
  std::string saved = before.Save();

  WorkloadRegistry after(10s);
  WorkloadRegistry::Clock::time_point t0{};
  ASSERT_TRUE(after.RestoreDisconnected(saved, t0).ok()) << saved;
  ASSERT_EQ(after.Workloads().size(), 2u);  // the two sidecars (the router has no endpoint)
  EXPECT_EQ(after.Workloads()[0].name, "hw-1");
  EXPECT_EQ(after.Workloads()[0].services, std::vector<std::string>{"helloworldsvc"});
  EXPECT_EQ(after.Workloads()[0].default_endpoint_port, 15006u);
  ASSERT_NE(after.Find("gw"), nullptr);
  EXPECT_TRUE(after.Connect("p1", ParseProxyIdentity(m1).value(), m1.metadata));  // reconnects in time
  EXPECT_FALSE(after.Expire(t0 + 9s));
  EXPECT_TRUE(after.Expire(t0 + 10s));  // p2 and gw never came back
  ASSERT_EQ(after.Workloads().size(), 1u);
  EXPECT_EQ(after.Workloads()[0].name, "hw-1");
  EXPECT_EQ(after.Find("gw"), nullptr);

  // Unreadable or invalid saved text is an error and adds nothing.
  WorkloadRegistry fresh(10s);
  EXPECT_FALSE(fresh.RestoreDisconnected("{proxies: [", t0).ok());
  EXPECT_FALSE(fresh.RestoreDisconnected("{proxies: {}}", t0).ok());
  EXPECT_FALSE(fresh.RestoreDisconnected(
                       "{proxies: [{id: a, metadata: {NAMESPACE: x, WORKLOAD_NAME: y}}, {id: b, metadata: {}}]}", t0)
                   .ok());
  EXPECT_TRUE(fresh.Workloads().empty());
  EXPECT_EQ(fresh.Find("a"), nullptr);
}

}  // namespace
}  // namespace mesh::controlplane
