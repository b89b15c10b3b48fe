#include "mesh/kube/kubeconfig.h"

#include <sys/stat.h>

#include "absl/strings/escaping.h"
#include "gtest/gtest.h"
#include "mesh/common/strings.h"
#include "tests/common/test_util.h"

namespace mesh::kube {
namespace {

using common::StrCat;

class FakeClock : public common::TimeSource {
 public:
  std::chrono::system_clock::time_point SystemNow() const override { return now; }
  std::chrono::steady_clock::time_point MonotonicNow() const override { return {}; }
  std::chrono::system_clock::time_point now;
};

KubeconfigOptions OnlyEnv(const std::string& kubeconfig_env) {
  KubeconfigOptions o;
  o.kubeconfig_env = kubeconfig_env;
  o.home = "/nonexistent";
  o.service_host = "";
  o.service_port = "";
  return o;
}

constexpr char kFirst[] = R"(apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: dev-cluster
  cluster:
    server: https://dev.example:6443/
    certificate-authority: ca.pem
    tls-server-name: api.dev
- name: shared
  cluster:
    server: https://first.example
contexts:
- name: dev
  context: {cluster: dev-cluster, user: dev-user, namespace: apps}
users:
- name: dev-user
  user:
    token: first-token
)";

constexpr char kSecond[] = R"(apiVersion: v1
kind: Config
current-context: prod
clusters:
- name: shared
  cluster:
    server: https://second.example
- name: prod-cluster
  cluster:
    server: https://prod.example
    insecure-skip-tls-verify: true
contexts:
- name: prod
  context: {cluster: prod-cluster, user: prod-user}
- name: other
  context: {cluster: shared, user: dev-user}
users:
- name: dev-user
  user: {token: second-token}
- name: prod-user
  user:
    client-certificate-data: CERTDATA
    client-key-data: KEYDATA
)";

TEST(KubeconfigTest, MergesKubeconfigFilesFirstWins) {
  testing::TempDir dir;
  dir.Write("ca.pem", "CA-PEM");
  std::string a = dir.Write("a.yaml", kFirst);
  std::string second = std::string(kSecond);
  auto pos = second.find("CERTDATA");
  second.replace(pos, 8, absl::Base64Escape("CERT-PEM"));
  pos = second.find("KEYDATA");
  second.replace(pos, 7, absl::Base64Escape("KEY-PEM"));
  std::string b = dir.Write("b.yaml", second);

  // current-context from the first file that sets it; relative CA path from its dir.
  auto rc = LoadRestConfig(OnlyEnv(StrCat(a, ":", dir.path(), "/missing.yaml:", b)));
  ASSERT_TRUE(rc.ok()) << rc.status();
  EXPECT_EQ(rc->context_name, "dev");
  EXPECT_EQ(rc->server, "https://dev.example:6443");
  EXPECT_EQ(rc->ca_pem, "CA-PEM");
  EXPECT_EQ(rc->tls_server_name, "api.dev");
  EXPECT_EQ(rc->bearer_token, "first-token");
  EXPECT_EQ(rc->namespace_name, "apps");

  // Map entries: the first file wins for "shared" and "dev-user".
  auto opts = OnlyEnv(StrCat(a, ":", b));
  opts.context = "other";
  rc = LoadRestConfig(opts);
  ASSERT_TRUE(rc.ok()) << rc.status();
  EXPECT_EQ(rc->server, "https://first.example");
  EXPECT_EQ(rc->bearer_token, "first-token");
  EXPECT_EQ(rc->namespace_name, "default");

  // Reversed order: the second file's current-context and entries win.
  opts = OnlyEnv(StrCat(b, ":", a));
  opts.namespace_override = "override";
  rc = LoadRestConfig(opts);
  ASSERT_TRUE(rc.ok()) << rc.status();
  EXPECT_EQ(rc->context_name, "prod");
  EXPECT_TRUE(rc->insecure_skip_tls_verify);
  EXPECT_EQ(rc->client_cert_pem, "CERT-PEM");
  EXPECT_EQ(rc->client_key_pem, "KEY-PEM");
  EXPECT_EQ(rc->namespace_name, "override");

  // --kubeconfig ignores KUBECONFIG.
  opts = OnlyEnv(a);
  opts.kubeconfig_path = b;
  rc = LoadRestConfig(opts);
  ASSERT_TRUE(rc.ok()) << rc.status();
  EXPECT_EQ(rc->context_name, "prod");
}

TEST(KubeconfigTest, ErrorsNameFileAndField) {
  testing::TempDir dir;
  std::string f = dir.Write("bad.yaml", R"(current-context: x
contexts:
- name: x
  context: {cluster: c}
clusters:
- name: c
  cluster:
    server: https://h
    certificate-authority: nope.pem
)");
  auto rc = LoadRestConfig(OnlyEnv(f));
  ASSERT_FALSE(rc.ok());
  std::string msg(rc.status().message());
  EXPECT_NE(msg.find(f), std::string::npos) << msg;
  EXPECT_NE(msg.find("clusters[c].cluster.certificate-authority"), std::string::npos) << msg;

  auto opts = OnlyEnv(f);
  opts.context = "missing";
  rc = LoadRestConfig(opts);
  EXPECT_EQ(rc.status().code(), absl::StatusCode::kNotFound);

  std::string g = dir.Write("noserver.yaml", "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c}\nclusters:\n- name: c\n  cluster: {}\n");
  rc = LoadRestConfig(OnlyEnv(g));
  ASSERT_FALSE(rc.ok());
  EXPECT_NE(std::string(rc.status().message()).find("clusters[c].cluster.server is required"),
            std::string::npos)
      << rc.status();
}

TEST(KubeconfigTest, InClusterWithInjectedRoot) {
  testing::TempDir dir;
  const std::string sa = "var/run/secrets/kubernetes.io/serviceaccount";
  ASSERT_TRUE(testing::RunCommand(StrCat("mkdir -p ", dir.path(), "/", sa)).exit_code == 0);
  dir.Write(StrCat(sa, "/token"), "sa-token\n");
  dir.Write(StrCat(sa, "/ca.crt"), "CLUSTER-CA");
  dir.Write(StrCat(sa, "/namespace"), "mesh-system\n");
  KubeconfigOptions o = OnlyEnv("");
  o.in_cluster_root = dir.path();
  o.service_host = "10.96.0.1";
  o.service_port = "443";
  auto rc = LoadRestConfig(o);
  ASSERT_TRUE(rc.ok()) << rc.status();
  EXPECT_TRUE(rc->in_cluster);
  EXPECT_EQ(rc->server, "https://10.96.0.1:443");
  EXPECT_EQ(rc->ca_pem, "CLUSTER-CA");
  EXPECT_EQ(rc->namespace_name, "mesh-system");
  TokenSource tokens(*rc, nullptr);
  EXPECT_EQ(*tokens.Token(), "sa-token");
  // Rotated token files are re-read.
  dir.Write(StrCat(sa, "/token"), "rotated\n");
  EXPECT_EQ(*tokens.Token(), "rotated");

  // Without the service env there is nothing to load.
  o.service_host = "";
  EXPECT_EQ(LoadRestConfig(o).status().code(), absl::StatusCode::kNotFound);
}

TEST(KubeconfigTest, ExecPluginTokenCachedUntilExpiry) {
  for (const std::string version : {"client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1"}) {
    testing::TempDir dir;
    std::string counter = StrCat(dir.path(), "/count");
    std::string script = dir.Write("plugin.sh", StrCat(R"(#!/bin/sh
echo run >> )", counter, R"(
n=$(wc -l < )", counter, R"( | tr -d ' ')
case "$KUBERNETES_EXEC_INFO" in *'"apiVersion":"'"$EXPECT_VERSION"'"'*) ;; *) echo "bad exec info: $KUBERNETES_EXEC_INFO" >&2; exit 3;; esac
echo "{\"kind\":\"ExecCredential\",\"apiVersion\":\"$EXPECT_VERSION\",\"status\":{\"token\":\"tok-$1-$n\",\"expirationTimestamp\":\"2030-01-01T00:10:00Z\"}}"
)"));
    ::chmod(script.c_str(), 0755);
    std::string kc = dir.Write("kc.yaml", StrCat(R"(current-context: eks
contexts:
- name: eks
  context: {cluster: c, user: u}
clusters:
- name: c
  cluster: {server: "https://h"}
users:
- name: u
  user:
    exec:
      apiVersion: )", version, R"(
      command: ./plugin.sh
      args: [arg]
      env:
      - name: EXPECT_VERSION
        value: )", version, "\n"));
    auto rc = LoadRestConfig(OnlyEnv(kc));
    ASSERT_TRUE(rc.ok()) << rc.status();
    ASSERT_TRUE(rc->exec.has_value());
    auto clock = std::make_shared<FakeClock>();
    clock->now = *ParseRfc3339("2030-01-01T00:00:00Z");
    TokenSource tokens(*rc, clock);
    auto t = tokens.Token();
    ASSERT_TRUE(t.ok()) << t.status();
    EXPECT_EQ(*t, "tok-arg-1");
    EXPECT_EQ(*tokens.Token(), "tok-arg-1");  // cached
    EXPECT_EQ(tokens.exec_runs(), 1);
    clock->now = *ParseRfc3339("2030-01-01T00:10:01Z");  // expired
    EXPECT_EQ(*tokens.Token(), "tok-arg-2");
    tokens.Invalidate();  // after a 401
    EXPECT_EQ(*tokens.Token(), "tok-arg-3");
    auto count = testing::RunCommand(StrCat("wc -l < ", counter));
    EXPECT_EQ(std::string(common::StripWhitespace(count.out)), "3");
  }
}

TEST(KubeconfigTest, ExecPluginFailureAndBadOutput) {
  EXPECT_FALSE(ParseExecCredential(R"({"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1beta1","status":{"token":"x"}})",
                                   "client.authentication.k8s.io/v1")
                   .ok());
  auto ok = ParseExecCredential(
      R"({"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","status":{"token":"x","expirationTimestamp":"2030-01-01T01:00:00+01:00"}})",
      "client.authentication.k8s.io/v1");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(*ok->expiration, *ParseRfc3339("2030-01-01T00:00:00Z"));

  RestConfig rc;
  rc.exec = ExecConfig{.api_version = "client.authentication.k8s.io/v1",
                       .command = "/bin/sh",
                       .args = {"-c", "echo denied >&2; exit 2"},
                       .origin = "kc: users[u].user.exec"};
  TokenSource tokens(rc, nullptr);
  auto t = tokens.Token();
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(std::string(t.status().message()).find("exit code 2: denied"), std::string::npos)
      << t.status();
}

TEST(Rfc3339Test, OffsetsAndRange) {
  EXPECT_EQ(*ParseRfc3339("2030-01-01T01:30:00+01:30"), *ParseRfc3339("2030-01-01T00:00:00Z"));
  EXPECT_EQ(*ParseRfc3339("2029-12-31T23:00:00.25-01:00"), *ParseRfc3339("2030-01-01T00:00:00Z"));
  EXPECT_FALSE(ParseRfc3339("2030-01-01T00:00:00+1:2").ok());  // short offset: no read past the end
  EXPECT_FALSE(ParseRfc3339("2030-01-01T00:00:00+01").ok());
  // Fuzz finding: a year outside system_clock's range overflowed the conversion (UB).
  auto old = ParseRfc3339("1013-11-27T01:02:03.5+01:00");
  ASSERT_FALSE(old.ok());
  EXPECT_NE(old.status().message().find("out of range"), std::string_view::npos);
  EXPECT_FALSE(ParseRfc3339("9999-12-31T23:59:59Z").ok());
}

}  // namespace
}  // namespace mesh::kube
