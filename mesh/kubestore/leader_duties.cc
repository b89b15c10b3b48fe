#include "mesh/kubestore/leader_duties.h"

#include <cstdio>

#include "mesh/common/strings.h"

namespace mesh::kubestore {

LeaderDuties::LeaderDuties(LeaderDutiesOptions options) : options_(std::move(options)) {}

std::unique_ptr<LeaderDuties> LeaderDuties::Start(LeaderDutiesOptions options) {
  std::unique_ptr<LeaderDuties> d(new LeaderDuties(std::move(options)));
  LeaderDuties* self = d.get();
  kube::LeaderElectionOptions election = d->options_.election;
  election.on_started_leading = [self] {
    std::fprintf(stderr, "leader election: %s leads (lease %s/%s)\n", self->options_.election.identity.c_str(),
                 self->options_.election.ns.c_str(), self->options_.election.lease_name.c_str());
    self->Kick();
  };
  election.on_stopped_leading = [self] {
    std::fprintf(stderr, "leader election: %s no longer leads\n", self->options_.election.identity.c_str());
  };
  d->elector_ = std::make_unique<kube::LeaderElector>(std::move(election));
  d->thread_ = std::thread([self] { self->Loop(); });
  d->elector_->Start();
  return d;
}

LeaderDuties::~LeaderDuties() { Stop(); }

void LeaderDuties::Kick() {
  std::lock_guard<std::mutex> lock(mu_);
  kicked_ = true;
  cv_.notify_all();
}

bool LeaderDuties::IsLeader() const { return elector_ && elector_->IsLeader(); }

std::map<std::string, int> LeaderDuties::Runs() const {
  std::lock_guard<std::mutex> lock(mu_);
  return runs_;
}

void LeaderDuties::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, options_.resync, [this] { return stopping_ || kicked_; });
    if (stopping_) {
      break;
    }
    kicked_ = false;
    lock.unlock();
    // Checked before each duty: a replica that lost the Lease stops writing at once.
    for (const LeaderDuty& duty : options_.duties) {
      if (!IsLeader()) {
        break;
      }
      absl::Status st = duty.run();
      std::lock_guard<std::mutex> relock(mu_);
      std::string error = st.ok() ? "" : std::string(st.message());
      if (st.ok()) {
        ++runs_[duty.name];
      } else if (last_error_[duty.name] != error) {
        std::fprintf(stderr, "control-plane: %s: %s\n", duty.name.c_str(), error.c_str());
      }
      last_error_[duty.name] = error;
    }
    lock.lock();
  }
}

void LeaderDuties::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) {
    thread_.join();
  }
  if (elector_) {
    elector_->Stop();
  }
}

absl::Status PublishRootCertificate(kube::KubeClient& client, const std::string& root_cert_pem) {
  auto namespaces = client.ListAll({"v1", "Namespace", "", ""}, {});
  if (!namespaces.ok()) {
    return namespaces.status();
  }
  absl::Status first_error;
  for (const config::Node& ns : namespaces->items) {
    const std::string name = ns["metadata"]["name"].Str();
    if (name == "kube-system" || name == "kube-public" || name == "kube-node-lease" ||
        ns["status"]["phase"].Str() == "Terminating") {
      continue;  // Kubernetes' own, or going away (creating objects there is refused)
    }
    config::Node cm = config::Node::Map();
    cm.Set("apiVersion", config::Node::Scalar("v1", true));
    cm.Set("kind", config::Node::Scalar("ConfigMap", true));
    config::Node meta = config::Node::Map();
    meta.Set("name", config::Node::Scalar("istio-ca-root-cert", true));
    meta.Set("namespace", config::Node::Scalar(name, true));
    config::Node labels = config::Node::Map();
    labels.Set("istio.io/config", config::Node::Scalar("true", true));
    meta.Set("labels", std::move(labels));
    cm.Set("metadata", std::move(meta));
    config::Node data = config::Node::Map();
    data.Set("root-cert.pem", config::Node::Scalar(root_cert_pem, true));
    cm.Set("data", std::move(data));
    kube::ApplyOptions apply;
    apply.field_manager = "meshctl-control-plane";
    apply.force = true;  // ours to own, whoever wrote it before
    // One namespace's failure (e.g. deleted meanwhile) does not keep the others waiting.
    if (auto st = client.Apply(cm, apply); !st.ok() && first_error.ok()) {
      first_error = absl::Status(st.status().code(),
                                 common::StrCat("ConfigMap ", name, "/istio-ca-root-cert: ", st.status().message()));
    }
  }
  return first_error;
}

}  // namespace mesh::kubestore
