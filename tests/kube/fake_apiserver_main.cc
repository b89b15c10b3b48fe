// A FakeCluster on loopback for trying Kubernetes mode without a cluster:
//   build/tests/fake_apiserver /tmp/fake.kubeconfig &
//   meshctl install --profile demo --kubeconfig /tmp/fake.kubeconfig --readiness-timeout 5s
// Writes a kubeconfig for it to argv[1] and serves until killed (SIGTERM/SIGINT).

#include <csignal>
#include <iostream>

#include "mesh/common/file_util.h"
#include "mesh/common/strings.h"
#include "tests/kube/fake_apiserver.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: fake_apiserver KUBECONFIG_OUT\n";
    return 64;
  }
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // before the server thread starts
  // Like a bare kube-apiserver with etcd: no nodes, no controller-manager.
  mesh::kube::fake::FakeCluster cluster(mesh::kube::fake::FakeClusterOptions{.namespace_controller = false});
  mesh::kube::fake::FakeApiServer server(cluster.Handler());
  std::string kubeconfig = mesh::common::StrCat(
      "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: http://127.0.0.1:", server.port(),
      "\nusers:\n- name: admin\n  user:\n    token: fake\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n"
      "    user: admin\n    namespace: default\ncurrent-context: fake\n");
  if (auto st = mesh::common::WriteFileAtomic(argv[1], kubeconfig); !st.ok()) {
    std::cerr << "fake_apiserver: " << st.message() << "\n";
    return 1;
  }
  std::cout << "fake_apiserver: serving http://127.0.0.1:" << server.port() << ", kubeconfig " << argv[1] << std::endl;
  int sig = 0;
  sigwait(&set, &sig);
  server.Stop();
  return 0;
}
