#include "mesh/kube/kubeconfig.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <ctime>

#include "absl/strings/escaping.h"
#include "mesh/common/file_util.h"
#include "mesh/common/status_macros.h"
#include "mesh/common/strings.h"
#include "mesh/config/emit.h"
#include "mesh/config/node.h"
#include "mesh/config/yaml_loader.h"

extern char** environ;

namespace mesh::kube {
namespace {

using common::StrCat;
using config::Node;

constexpr char kServiceAccountDir[] = "var/run/secrets/kubernetes.io/serviceaccount";

bool FileExists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string DirName(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) {
    return ".";
  }
  return slash == 0 ? "/" : path.substr(0, slash);
}

// kubectl resolves relative paths in a kubeconfig against the file's directory.
std::string ResolvePath(const std::string& file, const std::string& path) {
  if (path.empty() || path[0] == '/') {
    return path;
  }
  return StrCat(DirName(file), "/", path);
}

std::string Where(const std::string& file, const Node& node) {
  if (node.mark().line > 0) {
    return StrCat(file, ":", node.mark().line, ":", node.mark().column);
  }
  return file;
}

// One named entry of clusters/users/contexts, remembering its file.
struct NamedEntry {
  std::string file;
  Node body;  // the "cluster"/"user"/"context" map
};

struct Merged {
  std::map<std::string, NamedEntry> clusters, users, contexts;
  std::string current_context;
  std::string current_context_file;
};

absl::Status MergeList(const std::string& file, const Node& root, const char* list_key,
                       const char* body_key, std::map<std::string, NamedEntry>& out) {
  const Node& list = root[list_key];
  if (!list.Defined()) {
    return absl::OkStatus();
  }
  if (!list.IsSequence()) {
    return absl::InvalidArgumentError(
        StrCat(Where(file, list), ": ", list_key, ": expected a list"));
  }
  for (const Node& item : list.items()) {
    const std::string& name = item["name"].Str();
    if (name.empty()) {
      return absl::InvalidArgumentError(
          StrCat(Where(file, item), ": ", list_key, "[]: name is required"));
    }
    const Node& body = item[body_key];
    if (body.Defined() && !body.IsMap()) {
      return absl::InvalidArgumentError(
          StrCat(Where(file, body), ": ", list_key, "[", name, "].", body_key, ": expected a map"));
    }
    // First file (and first entry) wins, as in kubectl.
    out.try_emplace(name, NamedEntry{file, body});
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> DataOrFile(const NamedEntry& entry, const std::string& what,
                                       const std::string& data_key, const std::string& file_key) {
  const Node& data = entry.body[data_key];
  if (data.Defined() && !data.Str().empty()) {
    std::string decoded;
    if (!absl::Base64Unescape(data.Str(), &decoded)) {
      return absl::InvalidArgumentError(
          StrCat(Where(entry.file, data), ": ", what, ".", data_key, ": invalid base64"));
    }
    return decoded;
  }
  const Node& path = entry.body[file_key];
  if (path.Defined() && !path.Str().empty()) {
    std::string resolved = ResolvePath(entry.file, path.Str());
    auto content = common::ReadFile(resolved);
    if (!content.ok()) {
      return absl::InvalidArgumentError(StrCat(Where(entry.file, path), ": ", what, ".", file_key,
                                               ": cannot read ", resolved, ": ",
                                               std::string(content.status().message())));
    }
    return *content;
  }
  return std::string();
}

std::string EnvOr(const std::optional<std::string>& injected, const char* name) {
  if (injected) {
    return *injected;
  }
  const char* v = std::getenv(name);
  return v ? v : "";
}

absl::StatusOr<RestConfig> BuildFromMerged(const Merged& m, const KubeconfigOptions& options) {
  std::string context_name = options.context.empty() ? m.current_context : options.context;
  if (context_name.empty()) {
    return absl::FailedPreconditionError(
        "kubeconfig: no current-context is set and no --context was given");
  }
  auto ctx_it = m.contexts.find(context_name);
  if (ctx_it == m.contexts.end()) {
    return absl::NotFoundError(StrCat("kubeconfig: context \"", context_name, "\" not found",
                                      options.context.empty()
                                          ? StrCat(" (current-context in ", m.current_context_file, ")")
                                          : std::string()));
  }
  const NamedEntry& ctx = ctx_it->second;
  RestConfig rc;
  rc.context_name = context_name;
  rc.cluster_name = ctx.body["cluster"].Str();
  rc.user_name = ctx.body["user"].Str();
  if (!ctx.body["namespace"].Str().empty()) {
    rc.namespace_name = ctx.body["namespace"].Str();
  }
  if (!options.namespace_override.empty()) {
    rc.namespace_name = options.namespace_override;
  }
  if (rc.cluster_name.empty()) {
    return absl::InvalidArgumentError(
        StrCat(Where(ctx.file, ctx.body), ": contexts[", context_name, "].context.cluster is required"));
  }
  auto cl_it = m.clusters.find(rc.cluster_name);
  if (cl_it == m.clusters.end()) {
    return absl::NotFoundError(StrCat(Where(ctx.file, ctx.body["cluster"]), ": contexts[", context_name,
                                      "].context.cluster: cluster \"", rc.cluster_name,
                                      "\" not found"));
  }
  const NamedEntry& cluster = cl_it->second;
  const std::string cluster_what = StrCat("clusters[", rc.cluster_name, "].cluster");
  rc.server = cluster.body["server"].Str();
  if (rc.server.empty()) {
    return absl::InvalidArgumentError(
        StrCat(Where(cluster.file, cluster.body), ": ", cluster_what, ".server is required"));
  }
  if (rc.server.rfind("https://", 0) != 0 && rc.server.rfind("http://", 0) != 0) {
    return absl::InvalidArgumentError(StrCat(Where(cluster.file, cluster.body["server"]), ": ",
                                             cluster_what, ".server: expected an http(s):// URL, got \"",
                                             rc.server, "\""));
  }
  while (!rc.server.empty() && rc.server.back() == '/') {
    rc.server.pop_back();
  }
  rc.tls_server_name = cluster.body["tls-server-name"].Str();
  if (cluster.body["insecure-skip-tls-verify"].Defined()) {
    auto b = cluster.body["insecure-skip-tls-verify"].Bool();
    if (!b) {
      return absl::InvalidArgumentError(StrCat(Where(cluster.file, cluster.body["insecure-skip-tls-verify"]),
                                               ": ", cluster_what,
                                               ".insecure-skip-tls-verify: expected true or false"));
    }
    rc.insecure_skip_tls_verify = *b;
  }
  MESH_ASSIGN_OR_RETURN(rc.ca_pem, DataOrFile(cluster, cluster_what, "certificate-authority-data",
                                              "certificate-authority"));
  if (rc.insecure_skip_tls_verify && !rc.ca_pem.empty()) {
    // Same rule as client-go: the two contradict each other.
    return absl::InvalidArgumentError(
        StrCat(Where(cluster.file, cluster.body), ": ", cluster_what,
               ": specifying a root certificates file with the insecure flag is not allowed"));
  }

  if (!rc.user_name.empty()) {
    auto us_it = m.users.find(rc.user_name);
    if (us_it == m.users.end()) {
      return absl::NotFoundError(StrCat(Where(ctx.file, ctx.body["user"]), ": contexts[", context_name,
                                        "].context.user: user \"", rc.user_name, "\" not found"));
    }
    const NamedEntry& user = us_it->second;
    const std::string user_what = StrCat("users[", rc.user_name, "].user");
    MESH_ASSIGN_OR_RETURN(rc.client_cert_pem, DataOrFile(user, user_what, "client-certificate-data",
                                                         "client-certificate"));
    MESH_ASSIGN_OR_RETURN(rc.client_key_pem,
                          DataOrFile(user, user_what, "client-key-data", "client-key"));
    if (rc.client_cert_pem.empty() != rc.client_key_pem.empty()) {
      return absl::InvalidArgumentError(StrCat(Where(user.file, user.body), ": ", user_what,
                                               ": client certificate and key must be set together"));
    }
    rc.bearer_token = user.body["token"].Str();
    if (!user.body["tokenFile"].Str().empty()) {
      rc.bearer_token_file = ResolvePath(user.file, user.body["tokenFile"].Str());
      if (rc.bearer_token.empty() && !FileExists(rc.bearer_token_file)) {
        return absl::InvalidArgumentError(StrCat(Where(user.file, user.body["tokenFile"]), ": ", user_what,
                                                 ".tokenFile: cannot read ", rc.bearer_token_file));
      }
    }
    if (user.body["username"].Defined() || user.body["auth-provider"].Defined()) {
      return absl::UnimplementedError(
          StrCat(Where(user.file, user.body), ": ", user_what,
                 ": basic auth and auth-provider are not supported (use exec or a token)"));
    }
    const Node& exec = user.body["exec"];
    if (exec.Defined()) {
      ExecConfig e;
      e.origin = StrCat(Where(user.file, exec), ": ", user_what, ".exec");
      e.api_version = exec["apiVersion"].Str();
      if (e.api_version != "client.authentication.k8s.io/v1" &&
          e.api_version != "client.authentication.k8s.io/v1beta1") {
        return absl::InvalidArgumentError(StrCat(e.origin, ".apiVersion: unsupported \"", e.api_version,
                                                 "\" (want client.authentication.k8s.io/v1 or v1beta1)"));
      }
      e.command = exec["command"].Str();
      if (e.command.empty()) {
        return absl::InvalidArgumentError(StrCat(e.origin, ".command is required"));
      }
      if (e.command.find('/') != std::string::npos) {
        e.command = ResolvePath(user.file, e.command);
      }
      if (exec["args"].Defined() && !exec["args"].IsSequence()) {
        return absl::InvalidArgumentError(StrCat(e.origin, ".args: expected a list"));
      }
      e.args = exec["args"].StringList();
      for (const Node& env : exec["env"].items()) {
        if (env["name"].Str().empty()) {
          return absl::InvalidArgumentError(StrCat(e.origin, ".env[].name is required"));
        }
        e.env.emplace_back(env["name"].Str(), env["value"].Str());
      }
      e.install_hint = exec["installHint"].Str();
      rc.exec = std::move(e);
    }
  }
  return rc;
}

}  // namespace

std::vector<std::string> KubeconfigFiles(const KubeconfigOptions& options) {
  if (!options.kubeconfig_path.empty()) {
    return {options.kubeconfig_path};
  }
  std::string env = options.kubeconfig_env ? *options.kubeconfig_env
                                           : (std::getenv("KUBECONFIG") ? std::getenv("KUBECONFIG") : "");
  std::vector<std::string> files;
  if (!env.empty()) {
    for (const std::string& f : common::Split(env, ':', /*skip_empty=*/true)) {
      bool dup = false;
      for (const auto& seen : files) {
        dup = dup || seen == f;
      }
      if (!dup && FileExists(f)) {
        files.push_back(f);
      }
    }
    return files;
  }
  std::string home = options.home.empty() ? (std::getenv("HOME") ? std::getenv("HOME") : "") : options.home;
  std::string def = StrCat(home, "/.kube/config");
  if (!home.empty() && FileExists(def)) {
    files.push_back(def);
  }
  return files;
}

absl::StatusOr<RestConfig> LoadRestConfig(const KubeconfigOptions& options) {
  std::vector<std::string> files = KubeconfigFiles(options);
  if (files.empty()) {
    std::string host = EnvOr(options.service_host, "KUBERNETES_SERVICE_HOST");
    std::string port = EnvOr(options.service_port, "KUBERNETES_SERVICE_PORT");
    if (!host.empty() && !port.empty()) {
      auto rc = LoadInClusterConfig(options.in_cluster_root, host, port);
      if (rc.ok() && !options.namespace_override.empty()) {
        rc->namespace_name = options.namespace_override;
      }
      return rc;
    }
    return absl::NotFoundError(
        "no kubeconfig found: set --kubeconfig or KUBECONFIG, create ~/.kube/config, or run "
        "in a pod (KUBERNETES_SERVICE_HOST)");
  }
  Merged merged;
  for (const std::string& file : files) {
    auto text = common::ReadFile(file);
    if (!text.ok()) {
      return absl::NotFoundError(StrCat(file, ": ", std::string(text.status().message())));
    }
    if (common::StripWhitespace(*text).empty()) {
      continue;  // kubectl accepts empty files
    }
    MESH_ASSIGN_OR_RETURN(Node root, config::ParseYamlNode(*text, file));
    if (!root.IsMap()) {
      return absl::InvalidArgumentError(StrCat(Where(file, root), ": expected a kubeconfig map"));
    }
    const std::string& kind = root["kind"].Str();
    if (!kind.empty() && kind != "Config") {
      return absl::InvalidArgumentError(
          StrCat(Where(file, root["kind"]), ": kind: expected Config, got ", kind));
    }
    MESH_RETURN_IF_ERROR(MergeList(file, root, "clusters", "cluster", merged.clusters));
    MESH_RETURN_IF_ERROR(MergeList(file, root, "users", "user", merged.users));
    MESH_RETURN_IF_ERROR(MergeList(file, root, "contexts", "context", merged.contexts));
    if (merged.current_context.empty() && !root["current-context"].Str().empty()) {
      merged.current_context = root["current-context"].Str();
      merged.current_context_file = file;
    }
  }
  return BuildFromMerged(merged, options);
}

absl::StatusOr<RestConfig> LoadInClusterConfig(const std::string& root, const std::string& host,
                                               const std::string& port) {
  if (host.empty() || port.empty()) {
    return absl::FailedPreconditionError(
        "in-cluster config: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set");
  }
  std::string dir = root.empty() || root == "/" ? StrCat("/", kServiceAccountDir)
                                                : StrCat(root, "/", kServiceAccountDir);
  RestConfig rc;
  rc.in_cluster = true;
  // IPv6 service hosts need brackets in the URL.
  std::string h = host.find(':') != std::string::npos ? StrCat("[", host, "]") : host;
  rc.server = StrCat("https://", h, ":", port);
  rc.bearer_token_file = StrCat(dir, "/token");
  auto token = common::ReadFile(rc.bearer_token_file);
  if (!token.ok()) {
    return absl::FailedPreconditionError(
        StrCat("in-cluster config: cannot read ", rc.bearer_token_file, ": ",
               std::string(token.status().message())));
  }
  auto ca = common::ReadFile(StrCat(dir, "/ca.crt"));
  if (!ca.ok()) {
    return absl::FailedPreconditionError(StrCat("in-cluster config: cannot read ", dir, "/ca.crt: ",
                                                std::string(ca.status().message())));
  }
  rc.ca_pem = *ca;
  auto ns = common::ReadFile(StrCat(dir, "/namespace"));
  if (ns.ok() && !common::StripWhitespace(*ns).empty()) {
    rc.namespace_name = std::string(common::StripWhitespace(*ns));
  }
  return rc;
}

absl::StatusOr<std::chrono::system_clock::time_point> ParseRfc3339(const std::string& text) {
  struct tm tm {};
  const char* rest = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (rest == nullptr) {
    return absl::InvalidArgumentError(StrCat("invalid RFC 3339 time \"", text, "\""));
  }
  if (*rest == '.') {
    ++rest;
    while (*rest >= '0' && *rest <= '9') {
      ++rest;
    }
  }
  long offset_seconds = 0;
  if (*rest == 'Z' || *rest == 'z') {
    ++rest;
  } else if (*rest == '+' || *rest == '-') {
    // Exactly "+hh:mm": a shorter offset ("+1:2") must not move `rest` past the end.
    auto digit = [](char c) { return c >= '0' && c <= '9'; };
    if (!digit(rest[1]) || !digit(rest[2]) || rest[3] != ':' || !digit(rest[4]) || !digit(rest[5])) {
      return absl::InvalidArgumentError(StrCat("invalid RFC 3339 offset in \"", text, "\""));
    }
    int hh = (rest[1] - '0') * 10 + (rest[2] - '0');
    int mm = (rest[4] - '0') * 10 + (rest[5] - '0');
    offset_seconds = (hh * 3600L + mm * 60L) * (*rest == '+' ? 1 : -1);
    rest += 6;
  } else {
    return absl::InvalidArgumentError(StrCat("RFC 3339 time without zone: \"", text, "\""));
  }
  if (*rest != '\0') {
    return absl::InvalidArgumentError(StrCat("trailing text in RFC 3339 time \"", text, "\""));
  }
  time_t t = timegm(&tm) - offset_seconds;
  // system_clock counts nanoseconds in 64 bits: years 1678 to 2261 only (converting a
  // time outside that overflows).
  using Seconds = std::chrono::seconds;
  constexpr auto kMin = std::chrono::duration_cast<Seconds>(std::chrono::system_clock::duration::min()).count() + 1;
  constexpr auto kMax = std::chrono::duration_cast<Seconds>(std::chrono::system_clock::duration::max()).count() - 1;
  if (t < kMin || t > kMax) {
    return absl::InvalidArgumentError(StrCat("RFC 3339 time out of range (years 1678 to 2261): \"", text, "\""));
  }
  return std::chrono::system_clock::from_time_t(t);
}

absl::StatusOr<ExecCredential> ParseExecCredential(const std::string& text,
                                                   const std::string& expected_api_version) {
  MESH_ASSIGN_OR_RETURN(Node root, config::ParseYamlNode(text, "exec plugin output"));
  if (root["kind"].Str() != "ExecCredential") {
    return absl::InvalidArgumentError(
        StrCat("exec plugin output: kind: expected ExecCredential, got \"", root["kind"].Str(), "\""));
  }
  if (root["apiVersion"].Str() != expected_api_version) {
    return absl::InvalidArgumentError(StrCat("exec plugin output: apiVersion \"", root["apiVersion"].Str(),
                                             "\" does not match the configured \"",
                                             expected_api_version, "\""));
  }
  const Node& status = root["status"];
  ExecCredential cred;
  cred.token = status["token"].Str();
  cred.client_cert_pem = status["clientCertificateData"].Str();
  cred.client_key_pem = status["clientKeyData"].Str();
  if (cred.token.empty() && cred.client_cert_pem.empty()) {
    return absl::InvalidArgumentError("exec plugin output: status has neither token nor clientCertificateData");
  }
  if (cred.client_cert_pem.empty() != cred.client_key_pem.empty()) {
    return absl::InvalidArgumentError(
        "exec plugin output: clientCertificateData and clientKeyData must be set together");
  }
  if (!status["expirationTimestamp"].Str().empty()) {
    MESH_ASSIGN_OR_RETURN(cred.expiration, ParseRfc3339(status["expirationTimestamp"].Str()));
  }
  return cred;
}

TokenSource::TokenSource(RestConfig config, std::shared_ptr<const common::TimeSource> clock)
    : config_(std::move(config)), clock_(std::move(clock)) {
  if (!clock_) {
    clock_ = std::make_shared<common::RealTimeSource>();
  }
}

int TokenSource::exec_runs() const {
  std::lock_guard<std::mutex> lock(mu_);
  return exec_runs_;
}

void TokenSource::Invalidate() {
  std::lock_guard<std::mutex> lock(mu_);
  cached_.reset();
}

absl::StatusOr<std::string> TokenSource::Token() {
  MESH_ASSIGN_OR_RETURN(ExecCredential cred, Credential());
  return cred.token;
}

absl::StatusOr<ExecCredential> TokenSource::Credential() {
  if (config_.exec) {
    std::lock_guard<std::mutex> lock(mu_);
    // A credential without expiry is kept until a 401 invalidates it (client-go does too).
    if (cached_ && (!cached_->expiration || clock_->SystemNow() < *cached_->expiration)) {
      return *cached_;
    }
    MESH_ASSIGN_OR_RETURN(ExecCredential cred, RunPlugin());
    ++exec_runs_;
    cached_ = cred;
    return cred;
  }
  ExecCredential out;
  MESH_ASSIGN_OR_RETURN(out.token, StaticToken());
  return out;
}

absl::StatusOr<std::string> TokenSource::StaticToken() {
  if (!config_.bearer_token.empty()) {
    return config_.bearer_token;
  }
  if (!config_.bearer_token_file.empty()) {
    auto token = common::ReadFile(config_.bearer_token_file);
    if (!token.ok()) {
      return absl::UnauthenticatedError(StrCat("cannot read token file ", config_.bearer_token_file, ": ",
                                               std::string(token.status().message())));
    }
    return std::string(common::StripWhitespace(*token));
  }
  return std::string();
}

absl::StatusOr<ExecCredential> TokenSource::RunPlugin() {
  const ExecConfig& e = *config_.exec;
  Node info = Node::Map();
  info.Set("kind", Node::Scalar("ExecCredential"));
  info.Set("apiVersion", Node::Scalar(e.api_version));
  Node spec = Node::Map();
  spec.Set("interactive", Node::Scalar("false"));
  info.Set("spec", std::move(spec));
  std::string exec_info = config::EmitJson(info, {.indent = 0});

  // Build argv/envp before fork: only async-signal-safe calls in the child.
  std::vector<std::string> argv_s = {e.command};
  argv_s.insert(argv_s.end(), e.args.begin(), e.args.end());
  std::vector<std::string> env_s;
  for (char** p = environ; *p != nullptr; ++p) {
    env_s.emplace_back(*p);
  }
  for (const auto& [k, v] : e.env) {
    env_s.push_back(StrCat(k, "=", v));
  }
  env_s.push_back(StrCat("KUBERNETES_EXEC_INFO=", exec_info));
  std::vector<char*> argv, envp;
  for (auto& s : argv_s) {
    argv.push_back(s.data());
  }
  argv.push_back(nullptr);
  for (auto& s : env_s) {
    envp.push_back(s.data());
  }
  envp.push_back(nullptr);

  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0) {
    return absl::InternalError(StrCat("exec plugin: pipe: ", std::strerror(errno)));
  }
  pid_t pid = ::fork();
  if (pid < 0) {
    return absl::InternalError(StrCat("exec plugin: fork: ", std::strerror(errno)));
  }
  if (pid == 0) {
    int devnull = ::open("/dev/null", O_RDONLY);
    ::dup2(devnull, 0);
    ::dup2(out_pipe[1], 1);
    ::dup2(err_pipe[1], 2);
    ::execvpe(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  std::string out, err;
  struct pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  int open_fds = 2;
  char buf[4096];
  while (open_fds > 0) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) {
        continue;
      }
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd >= 0 && (fds[i].revents & (POLLIN | POLLHUP | POLLERR))) {
        ssize_t n = ::read(fds[i].fd, buf, sizeof(buf));
        if (n > 0) {
          (i == 0 ? out : err).append(buf, n);
        } else if (n == 0 || errno != EINTR) {
          ::close(fds[i].fd);
          fds[i].fd = -1;
          --open_fds;
        }
      }
    }
  }
  int wstatus = 0;
  while (::waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
    std::string msg = StrCat(e.origin, ": plugin \"", e.command, "\" failed");
    if (WIFEXITED(wstatus)) {
      msg += StrCat(" with exit code ", WEXITSTATUS(wstatus));
      if (WEXITSTATUS(wstatus) == 127 && !e.install_hint.empty()) {
        msg += StrCat("\n", e.install_hint);
      }
    }
    if (!common::StripWhitespace(err).empty()) {
      msg += StrCat(": ", common::StripWhitespace(err));
    }
    return absl::UnauthenticatedError(msg);
  }
  auto cred = ParseExecCredential(out, e.api_version);
  if (!cred.ok()) {
    return absl::UnauthenticatedError(StrCat(e.origin, ": ", std::string(cred.status().message())));
  }
  return cred;
}

}  // namespace mesh::kube
