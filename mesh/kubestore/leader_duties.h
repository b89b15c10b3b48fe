#pragma once

// The control plane's writes to the cluster, done by one replica at a time: the one
// holding the Lease (mesh/kube/leader_election.h). Each duty is an idempotent
// reconcile (patch the webhooks' caBundle, publish the root certificate, ...) run when
// leadership is gained, every `resync` while leading, and at once after Kick().

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "mesh/kube/client.h"
#include "mesh/kube/leader_election.h"

namespace mesh::kubestore {

struct LeaderDuty {
  std::string name;  // for logs: "webhook caBundle"
  std::function<absl::Status()> run;
};

struct LeaderDutiesOptions {
  kube::LeaderElectionOptions election;  // its callbacks are taken over
  std::vector<LeaderDuty> duties;
  std::chrono::milliseconds resync{60000};
};

class LeaderDuties {
 public:
  static std::unique_ptr<LeaderDuties> Start(LeaderDutiesOptions options);
  ~LeaderDuties();
  // Run the duties now if leading (e.g. the webhook certificate was rotated).
  void Kick();
  bool IsLeader() const;
  // Successful runs per duty name (tests, debug).
  std::map<std::string, int> Runs() const;
  // Stops the duties, then the election (releasing the Lease when held).
  void Stop();

 private:
  explicit LeaderDuties(LeaderDutiesOptions options);
  void Loop();

  LeaderDutiesOptions options_;
  std::unique_ptr<kube::LeaderElector> elector_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool kicked_ = false;
  bool stopping_ = false;
  std::map<std::string, int> runs_;
  std::map<std::string, std::string> last_error_;  // logged once per distinct error
  std::thread thread_;
};

// Server-side applies ConfigMap `istio-ca-root-cert` (key root-cert.pem, label
// istio.io/config=true) into every namespace but Kubernetes' own, as istiod does:
// pods (gateways, sidecars) mount it to verify the control plane's TLS certificate.
absl::Status PublishRootCertificate(kube::KubeClient& client, const std::string& root_cert_pem);

}  // namespace mesh::kubestore
