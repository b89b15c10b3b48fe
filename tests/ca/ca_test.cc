// The CA and workload identity, checked with the openssl command-line tool as a real
// independent verifier.

#include "mesh/ca/ca.h"

#include <sys/stat.h>

#include <filesystem>

#include "gtest/gtest.h"
#include "mesh/ca/token.h"
#include "mesh/common/file_util.h"
#include "tests/common/test_util.h"

namespace mesh::ca {
namespace {

using std::chrono::hours;
using std::chrono::seconds;

class FakeTime : public common::TimeSource {
 public:
  std::chrono::system_clock::time_point now = std::chrono::system_clock::from_time_t(1'800'000'000);
  std::chrono::system_clock::time_point SystemNow() const override { return now; }
  std::chrono::steady_clock::time_point MonotonicNow() const override { return {}; }
};

SpiffeId Helloworld() { return SpiffeId{"cluster.local", "devops", "helloworld"}; }

TEST(Spiffe, ParsesAndRejects) {
  auto id = ParseSpiffeId("spiffe://cluster.local/ns/devops/sa/helloworld");
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(id->ns, "devops");
  EXPECT_EQ(id->service_account, "helloworld");
  EXPECT_EQ(id->ToString(), "spiffe://cluster.local/ns/devops/sa/helloworld");
  EXPECT_FALSE(ParseSpiffeId("https://cluster.local/ns/a/sa/b").ok());
  EXPECT_FALSE(ParseSpiffeId("spiffe://cluster.local/ns/a").ok());
  EXPECT_FALSE(ParseSpiffeId("spiffe://cluster.local/ns//sa/b").ok());
}

TEST(LocalCa, SelfSignedRootIsCreatedOnceWithPrivateKey) {
  testing::TempDir dir;
  LocalCaOptions o{dir.path() + "/ca"};
  auto ca = OpenLocalCa(o);
  ASSERT_TRUE(ca.ok()) << ca.status();
  struct stat st {};
  ASSERT_EQ(::stat((o.dir + "/root-key.pem").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::string root = (*ca)->RootCertPem();
  auto again = OpenLocalCa(o);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->RootCertPem(), root);
  auto info = InspectCertificate(root);
  ASSERT_TRUE(info.ok());
  EXPECT_TRUE(info->is_ca);
}

TEST(LocalCa, SignsCsrWithSpiffeSanThatOpensslVerifies) {
  testing::TempDir dir;
  auto ca = OpenLocalCa({dir.path() + "/ca"});
  ASSERT_TRUE(ca.ok());
  auto kc = GenerateKeyAndCsr(Helloworld());
  ASSERT_TRUE(kc.ok());
  auto signed_cert = (*ca)->Sign(kc->csr_pem, Helloworld(), hours(24));
  ASSERT_TRUE(signed_cert.ok()) << signed_cert.status();
  std::string root = dir.Write("root.pem", signed_cert->root_cert_pem);
  std::string leaf = dir.Write("leaf.pem", signed_cert->cert_pem);
  testing::CommandResult v = testing::RunCommand("openssl verify -CAfile " + root + " " + leaf);
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  testing::CommandResult text = testing::RunCommand("openssl x509 -noout -ext subjectAltName -in " + leaf);
  EXPECT_NE(text.out.find("URI:spiffe://cluster.local/ns/devops/sa/helloworld"), std::string::npos) << text.out;
  auto info = InspectCertificate(signed_cert->cert_pem);
  ASSERT_TRUE(info.ok());
  ASSERT_EQ(info->uri_sans.size(), 1u);
  EXPECT_FALSE(info->is_ca);
  // The key pairs with the certificate.
  std::string key = dir.Write("key.pem", kc->key_pem);
  auto m1 = testing::RunCommand("openssl x509 -noout -pubkey -in " + leaf);
  auto m2 = testing::RunCommand("openssl pkey -pubout -in " + key);
  EXPECT_EQ(m1.out, m2.out);
}

TEST(LocalCa, RefusesCsrForAnotherIdentityAndGarbage) {
  testing::TempDir dir;
  auto ca = OpenLocalCa({dir.path() + "/ca"});
  ASSERT_TRUE(ca.ok());
  auto kc = GenerateKeyAndCsr(SpiffeId{"cluster.local", "istio-system", "istiod"});
  ASSERT_TRUE(kc.ok());
  auto s = (*ca)->Sign(kc->csr_pem, Helloworld(), hours(1));
  EXPECT_EQ(s.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ((*ca)->Sign("not a csr", Helloworld(), hours(1)).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(LocalCa, TtlAndRotationTimeFollowTheInjectedClock) {
  testing::TempDir dir;
  auto time = std::make_shared<FakeTime>();
  LocalCaOptions o{dir.path() + "/ca"};
  o.time_source = time;
  auto ca = OpenLocalCa(o);
  ASSERT_TRUE(ca.ok());
  auto kc = GenerateKeyAndCsr(Helloworld());
  auto s = (*ca)->Sign(kc->csr_pem, Helloworld(), hours(24));
  ASSERT_TRUE(s.ok());
  auto info = InspectCertificate(s->cert_pem);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->not_after, time->now + hours(24));
  EXPECT_EQ(info->not_before, time->now - seconds(60));
  // 80 % of (24 h + 60 s of backdating) after not_before.
  EXPECT_EQ(RotationTime(*info), info->not_before + seconds((24 * 3600 + 60) * 8 / 10));
}

TEST(LocalCa, PluggedInIntermediateIsUsedAndChains) {
  testing::TempDir dir;
  std::string d = dir.path();
  // A user root and an intermediate made with the openssl tool, in Istio's cacerts layout.
  std::string script =
      "set -e; cd " + d + "; mkdir ca;"
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout root-key.pem "
      "-out ca/root-cert.pem -days 30 -subj /O=user/CN=root 2>/dev/null;"
      "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca/ca-key.pem -out int.csr "
      "-subj /O=user/CN=intermediate 2>/dev/null;"
      "printf 'basicConstraints=critical,CA:TRUE\\nkeyUsage=critical,keyCertSign,cRLSign\\n' > ext.cnf;"
      "openssl x509 -req -in int.csr -CA ca/root-cert.pem -CAkey root-key.pem -CAcreateserial "
      "-out ca/ca-cert.pem -days 30 -extfile ext.cnf 2>/dev/null;"
      "cat ca/ca-cert.pem ca/root-cert.pem > ca/cert-chain.pem";
  ASSERT_EQ(testing::RunCommand(script).exit_code, 0);
  auto ca = OpenLocalCa({d + "/ca"});
  ASSERT_TRUE(ca.ok()) << ca.status();
  auto kc = GenerateKeyAndCsr(Helloworld());
  auto s = (*ca)->Sign(kc->csr_pem, Helloworld(), hours(1));
  ASSERT_TRUE(s.ok());
  std::string chain = dir.Write("chain.pem", s->chain_pem);
  std::string leaf = dir.Write("leaf.pem", s->cert_pem);
  auto v = testing::RunCommand("openssl verify -CAfile " + d + "/ca/root-cert.pem -untrusted " + chain + " " + leaf);
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  EXPECT_FALSE(std::filesystem::exists(d + "/ca/root-key.pem"));  // no self-signed root was made
}

TEST(LocalCa, MismatchedPluggedInKeyIsRefused) {
  testing::TempDir dir;
  std::string d = dir.path();
  ASSERT_EQ(testing::RunCommand("set -e; cd " + d + "; mkdir ca; for n in a b; do openssl req -x509 -newkey ec "
                                "-pkeyopt ec_paramgen_curve:P-256 -nodes -keyout $n.key -out $n.pem -days 1 "
                                "-subj /CN=$n 2>/dev/null; done; cp a.pem ca/ca-cert.pem; cp a.pem ca/root-cert.pem;"
                                "cp b.key ca/ca-key.pem")
                .exit_code,
            0);
  auto ca = OpenLocalCa({d + "/ca"});
  EXPECT_EQ(ca.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(TokenAuthority, IssuesVerifiesAndRejectsTampering) {
  testing::TempDir dir;
  auto ta = TokenAuthority::Open(dir.path() + "/token-key");
  ASSERT_TRUE(ta.ok());
  auto now = std::chrono::system_clock::from_time_t(1'800'000'000);
  std::string token = ta->Issue({"devops", "helloworld", "helloworld-1", now + hours(1)});
  auto claims = ta->Verify(token, now);
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_EQ(claims->service_account, "helloworld");
  EXPECT_EQ(ta->Verify(token, now + hours(2)).status().code(), absl::StatusCode::kUnauthenticated);
  std::string tampered = token;
  tampered[8] = tampered[8] == 'A' ? 'B' : 'A';
  EXPECT_EQ(ta->Verify(tampered, now).status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_FALSE(ta->Verify("garbage", now).ok());
  // Another key (another state dir) does not accept it.
  testing::TempDir other;
  auto ta2 = TokenAuthority::Open(other.path() + "/token-key");
  EXPECT_FALSE(ta2->Verify(token, now).ok());
  // Reopening keeps the key.
  auto ta3 = TokenAuthority::Open(dir.path() + "/token-key");
  EXPECT_TRUE(ta3->Verify(token, now).ok());
}

}  // namespace
}  // namespace mesh::ca

namespace mesh::ca {
namespace {

TEST(LocalCaServing, IssuesDnsNamedServerCertificatesThatChainToTheRoot) {
  testing::TempDir dir;
  auto ca = OpenLocalCa({dir.path() + "/ca"});
  ASSERT_TRUE(ca.ok()) << ca.status();
  auto cert = (*ca)->IssueServingCertificate({"istiod.istio-system.svc", "localhost"}, std::chrono::hours(1));
  ASSERT_TRUE(cert.ok()) << cert.status();
  auto info = InspectCertificate(cert->chain_pem);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->dns_sans, (std::vector<std::string>{"istiod.istio-system.svc", "localhost"}));
  EXPECT_TRUE(info->uri_sans.empty());
  EXPECT_NE(cert->key_pem.find("PRIVATE KEY"), std::string::npos);
  std::string chain_file = dir.Write("chain.pem", cert->chain_pem);
  std::string root_file = dir.Write("root.pem", cert->root_cert_pem);
  auto verify = testing::RunCommand("openssl verify -CAfile " + root_file + " " + chain_file);
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  EXPECT_FALSE((*ca)->IssueServingCertificate({}, std::chrono::hours(1)).ok());
  EXPECT_FALSE((*ca)->IssueServingCertificate({"a,URI:spiffe://x"}, std::chrono::hours(1)).ok());
}

}  // namespace
}  // namespace mesh::ca
