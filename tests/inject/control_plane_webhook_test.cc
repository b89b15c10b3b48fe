// `meshctl control-plane --webhook-port`: the webhooks served next to discovery, with a
// certificate from the control plane's CA in the state directory.

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "gtest/gtest.h"
#include "tests/common/test_util.h"
#include "tests/inject/test_binary.h"

namespace mesh::inject {
namespace {


TEST(ControlPlaneWebhook, ServesInjectAndValidateWithTheStateCa) {
  std::string bin = MeshctlForTest();
  if (bin.empty()) {
    GTEST_SKIP() << "meshctl binary not found (set MESHCTL_BIN)";
  }
  testing::TempDir dir;
  std::string state = dir.path() + "/state";
  std::string out = dir.path() + "/out";
  int webhook_port = testing::FreeLoopbackPort();
  ASSERT_NE(webhook_port, 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    FILE* f = freopen(out.c_str(), "w", stdout);
    (void)f;
    std::string port = std::to_string(webhook_port);
    execl(bin.c_str(), "meshctl", "control-plane", "--port", "0", "--webhook-port", port.c_str(), "--state-dir",
          state.c_str(), nullptr);
    _exit(127);
  }
  std::string printed;
  for (int i = 0; i < 500 && printed.find("admission webhooks") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    std::ifstream in(out);
    std::stringstream ss;
    ss << in.rdbuf();
    printed = ss.str();
  }
  ASSERT_NE(printed.find("admission webhooks /inject and /validate on https://127.0.0.1:" +
                         std::to_string(webhook_port)),
            std::string::npos)
      << printed;
  std::string port = std::to_string(webhook_port);
  std::string curl = "curl -sS --max-time 20 --cacert " + state + "/ca/root-cert.pem --resolve istiod.istio-system.svc:" +
                     port + ":127.0.0.1 -H 'Content-Type: application/json' ";
  auto inject = testing::RunCommand(curl + "--data-binary @" + testing::SourceDir() +
                                    "/tests/testdata/inject/admission-pod.json https://istiod.istio-system.svc:" + port +
                                    "/inject");
  EXPECT_EQ(inject.exit_code, 0) << inject.err;
  EXPECT_NE(inject.out.find(R"("patchType":"JSONPatch")"), std::string::npos) << inject.out;
  EXPECT_NE(inject.out.find(R"("uid":"705ab4f5-6393-11e8-b7cc-42010a800002")"), std::string::npos) << inject.out;

  std::string review =
      R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u1","operation":"CREATE",)"
      R"("kind":{"group":"networking.istio.io","version":"v1","kind":"VirtualService"},"object":)"
      R"({"apiVersion":"networking.istio.io/v1","kind":"VirtualService","metadata":{"name":"v","namespace":"a"},)"
      R"("spec":{"hosts":["reviews"]}}}})";
  auto validate = testing::RunCommand(curl + "--data-binary @" + dir.Write("vs.json", review) +
                                      " https://istiod.istio-system.svc:" + port + "/validate");
  EXPECT_EQ(validate.exit_code, 0) << validate.err;
  EXPECT_NE(validate.out.find(R"("allowed":false)"), std::string::npos) << validate.out;
  EXPECT_NE(validate.out.find("configuration is invalid: http, tcp or tls must be provided in virtual service"),
            std::string::npos)
      << validate.out;

  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

}  // namespace
}  // namespace mesh::inject
