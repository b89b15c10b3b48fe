#pragma once

// Kubeconfig loading with kubectl's rules, turned into one plain validated RestConfig:
// where the API server is, how to trust it, and how to authenticate to it.

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "mesh/common/time_source.h"

namespace mesh::kube {

// users[].user.exec: a credential plugin (e.g. `aws eks get-token`).
struct ExecConfig {
  std::string api_version;  // client.authentication.k8s.io/v1 or v1beta1
  std::string command;      // resolved against the kubeconfig's directory if relative with '/'
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;
  std::string install_hint;
  std::string origin;  // "file: users[NAME].user.exec", for messages
};

struct RestConfig {
  std::string server;  // "https://host:port" (or http:// for proxies and tests)
  std::string tls_server_name;
  bool insecure_skip_tls_verify = false;
  std::string ca_pem;           // empty: system trust store
  std::string client_cert_pem;  // both or neither
  std::string client_key_pem;
  std::string bearer_token;
  std::string bearer_token_file;  // re-read on use (projected tokens rotate)
  std::optional<ExecConfig> exec;
  std::string namespace_name = "default";
  std::string context_name;  // empty for in-cluster
  std::string cluster_name;
  std::string user_name;
  bool in_cluster = false;
  // Per request (connect to last byte); a watch is bounded by its timeoutSeconds instead.
  std::chrono::milliseconds request_timeout{30000};
};

struct KubeconfigOptions {
  std::string kubeconfig_path;  // --kubeconfig: only this file
  std::string context;          // --context
  std::string namespace_override;  // -n/--namespace
  // KUBECONFIG value; nullopt reads the environment.
  std::optional<std::string> kubeconfig_env;
  // Home directory for ~/.kube/config; empty reads $HOME.
  std::string home;
  // In-cluster fallback (when no kubeconfig file exists at all).
  std::string in_cluster_root = "/";
  std::optional<std::string> service_host;  // nullopt: $KUBERNETES_SERVICE_HOST
  std::optional<std::string> service_port;  // nullopt: $KUBERNETES_SERVICE_PORT
};

// The files kubectl would read, in precedence order (missing KUBECONFIG entries dropped).
std::vector<std::string> KubeconfigFiles(const KubeconfigOptions& options);

// Loads and merges the kubeconfig files, picks the context and resolves every file
// reference. Errors name the file and field. Falls back to in-cluster config when no
// kubeconfig file exists and KUBERNETES_SERVICE_HOST is set.
absl::StatusOr<RestConfig> LoadRestConfig(const KubeconfigOptions& options);

// Service-account config from `root`/var/run/secrets/kubernetes.io/serviceaccount.
absl::StatusOr<RestConfig> LoadInClusterConfig(const std::string& root, const std::string& host,
                                               const std::string& port);

// Parses one ExecCredential printed by a plugin.
struct ExecCredential {
  std::string token;
  std::optional<std::chrono::system_clock::time_point> expiration;
  std::string client_cert_pem;
  std::string client_key_pem;
};
absl::StatusOr<ExecCredential> ParseExecCredential(const std::string& text,
                                                   const std::string& expected_api_version);

// RFC 3339 ("2026-11-27T01:02:03Z", fractional seconds and offsets allowed).
absl::StatusOr<std::chrono::system_clock::time_point> ParseRfc3339(const std::string& text);

// Bearer token for requests: static, from a file, or from an exec plugin (cached until
// its expirationTimestamp). Thread-safe.
class TokenSource {
 public:
  TokenSource(RestConfig config, std::shared_ptr<const common::TimeSource> clock);
  // Empty string: no bearer token configured.
  absl::StatusOr<std::string> Token();
  // Token plus, from an exec plugin, a client certificate (empty otherwise).
  absl::StatusOr<ExecCredential> Credential();
  // After a 401: forget the cached exec credential so the next Token() runs the plugin.
  void Invalidate();
  int exec_runs() const;

 private:
  absl::StatusOr<ExecCredential> RunPlugin();
  absl::StatusOr<std::string> StaticToken();

  const RestConfig config_;
  std::shared_ptr<const common::TimeSource> clock_;
  mutable std::mutex mu_;
  std::optional<ExecCredential> cached_;
  int exec_runs_ = 0;
};

}  // namespace mesh::kube
