#pragma once

// Kubelet probes of an injected pod, rewritten by the injector to the sidecar's status
// port (15020, `/app-health/<container>/{readyz,livez,startupz}`), are answered here by
// probing the application on loopback, as Istio's pilot-agent does. The original
// probes travel in the ISTIO_KUBE_APP_PROBERS env (JSON map path -> probe). Without
// this, kubelet's plaintext probes would hit the sidecar's inbound mTLS listener.

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace mesh::inject {

struct AppProbe {
  bool tcp = false;  // tcpSocket: connect only
  std::string path = "/";
  int port = 0;
  std::map<std::string, std::string> headers;
  std::chrono::seconds timeout{1};
};

// Parses ISTIO_KUBE_APP_PROBERS: {"/app-health/app/readyz": {"httpGet": {"path": "/",
// "port": 8080, "scheme": "HTTP", "httpHeaders": [{name, value}]}, "timeoutSeconds": 1},
// "/app-health/app/livez": {"tcpSocket": {"port": 8080}}}. Only numeric ports and HTTP.
absl::StatusOr<std::map<std::string, AppProbe>> ParseAppProbers(std::string_view json);

struct AppProberOptions {
  std::string address = "0.0.0.0";
  uint16_t port = 15020;  // 0: pick one
  std::string app_host = "127.0.0.1";
  std::map<std::string, AppProbe> probes;
};

class AppProber {
 public:
  virtual ~AppProber() = default;
  virtual uint16_t port() const = 0;
  virtual void Stop() = 0;
};

// GET <probe path> answers 200 when the application answers 2xx/3xx (or accepts the
// connection, for TCP probes) within the probe's timeout, 503 otherwise; unknown paths
// 404. One io_context on one thread.
absl::StatusOr<std::unique_ptr<AppProber>> StartAppProber(AppProberOptions options);

}  // namespace mesh::inject
