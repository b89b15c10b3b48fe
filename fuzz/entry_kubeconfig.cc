// Fuzz entry point: see fuzz/entry_points.h.
#include "fuzz/entry_points.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "mesh/kube/kubeconfig.h"

namespace mesh::fuzz {

namespace {
// One scratch file per process (libFuzzer runs inputs one after the other).
const std::string& ScratchKubeconfig() {
  static const std::string path = [] {
    const char* dir = std::getenv("TMPDIR");
    return std::string(dir != nullptr && *dir != '\0' ? dir : "/tmp") + "/meshctl-fuzz-kubeconfig-" +
           std::to_string(::getpid());
  }();
  return path;
}
}  // namespace

void FuzzKubeconfig(std::string_view data) {
  {
    std::ofstream f(ScratchKubeconfig(), std::ios::binary | std::ios::trunc);
    f.write(data.data(), static_cast<std::streamsize>(data.size()));
  }
  kube::KubeconfigOptions options;
  options.kubeconfig_path = ScratchKubeconfig();
  options.kubeconfig_env = "";
  options.home = "/nonexistent";
  options.in_cluster_root = "/nonexistent";
  options.service_host = "";
  options.service_port = "";
  (void)kube::LoadRestConfig(options);
  (void)kube::ParseExecCredential(std::string(data), "client.authentication.k8s.io/v1");
  if (data.size() < 64) {
    (void)kube::ParseRfc3339(std::string(data));
  }
}

}  // namespace mesh::fuzz
