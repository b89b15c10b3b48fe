#pragma once

// Test fixtures for Kubernetes mode:
//  - FakeApiServer: an in-process HTTP(S) server on loopback (port 0) that hands each
//    request to a handler (one connection at a time, Connection: close).
//  - FakeCluster: a handler that behaves like a kube-apiserver with etcd and no nodes,
//    closely enough for meshctl: discovery (CRDs appear once Established, a short delay
//    after they are applied), GET/LIST (labelSelector, limit/continue, 410 for a stale
//    continue token), WATCH (replays events after a resourceVersion, then ends; 410 when
//    too old), server-side apply (create/update, resourceVersion, generation,
//    managedFields, 409 Conflict with another manager unless force=true), merge patch,
//    POST (409 AlreadyExists), DELETE (404, namespaces and CRDs take their objects),
//    Status objects for every error. Deployments get the status a cluster without nodes
//    reports: never ready.

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "mesh/config/node.h"

namespace mesh::kube::fake {

struct SeenRequest {
  std::string method, target, content_type, body, authorization;
};

struct FakeResponse {
  int code = 200;
  std::string body;
  std::vector<std::string> chunks;  // non-empty: chunked streaming response
  int hold_ms = 0;                  // keep the stream open this long before ending it
};

using FakeHandler = std::function<FakeResponse(const SeenRequest&)>;

// A Status object as the API server sends it.
std::string StatusJson(int code, const std::string& reason, const std::string& message);

class FakeApiServer {
 public:
  // With `tls_dir`, serves TLS with server.pem/server.key and requires a client
  // certificate signed by ca.pem.
  explicit FakeApiServer(FakeHandler handler, const std::string& tls_dir = "");
  ~FakeApiServer();
  FakeApiServer(const FakeApiServer&) = delete;
  FakeApiServer& operator=(const FakeApiServer&) = delete;

  void Stop();
  int port() const;
  std::vector<SeenRequest> requests();
  int handshake_failures() const;

 private:
  struct Impl;
  Impl* impl_;
};

struct FakeClusterOptions {
  // How long after a CRD is created its Established condition becomes True.
  std::chrono::milliseconds crd_established_delay{std::chrono::milliseconds(300)};
  // A cluster with nodes and working controllers: Deployments report every replica ready.
  bool deployments_ready = false;
  // kube-controller-manager's namespace controller: a deleted Namespace goes at once with
  // its objects. Without it (a bare kube-apiserver) it stays Terminating for ever, keeps
  // its objects, and creating objects in it is Forbidden.
  bool namespace_controller = true;
};

class FakeCluster {
 public:
  explicit FakeCluster(FakeClusterOptions options = {});
  // The FakeApiServer handler.
  FakeResponse Handle(const SeenRequest& request);
  FakeHandler Handler() {
    return [this](const SeenRequest& r) { return Handle(r); };
  }

  // Test access (thread-safe). `group` is "" for the core group.
  std::optional<config::Node> Find(const std::string& group, const std::string& kind, const std::string& ns,
                                   const std::string& name);
  std::vector<config::Node> ObjectsOfKind(const std::string& group, const std::string& kind);
  std::vector<config::Node> AllObjects();
  // "Kind ns/name" (or "Kind name") in the order objects were created.
  std::vector<std::string> CreationLog();
  // Propagation policies of DELETE requests, in order.
  std::vector<std::string> DeletePropagation();
  // Seeds an object directly (as if created by `manager`).
  void Put(const config::Node& object, const std::string& manager = "kubectl");

 private:
  struct Resource {
    std::string group, version, plural, singular, kind;
    bool namespaced = false;
    std::vector<std::string> short_names;
  };
  using Key = std::tuple<std::string, std::string, std::string, std::string>;  // group, plural, ns, name
  struct Stored {
    config::Node object;
    std::string manager;  // the field manager that applied it last (or created it)
    std::chrono::steady_clock::time_point created;
  };
  struct Event {
    int64_t rv;
    std::string type;
    Key key;
    config::Node object;
  };

  void EstablishCrdsLocked();
  std::vector<Resource> ResourcesLocked(const std::string& group, const std::string& version);
  std::optional<Resource> FindResourceLocked(const std::string& group, const std::string& version,
                                             const std::string& plural);
  std::optional<Resource> ResourceForKindLocked(const std::string& group, const std::string& kind);
  FakeResponse Discovery(const std::string& path);
  FakeResponse Collection(const SeenRequest& r, const Resource& res, const std::string& ns,
                          const std::map<std::string, std::string>& query);
  FakeResponse Object(const SeenRequest& r, const Resource& res, const std::string& ns, const std::string& name,
                      const std::map<std::string, std::string>& query);
  FakeResponse Create(const Resource& res, const std::string& ns, config::Node body, const std::string& manager,
                      bool via_apply);
  void StoreLocked(const Key& key, const Resource& res, config::Node object, const std::string& manager,
                   const std::string& event_type);
  void DeleteLocked(const Key& key);
  std::string NextRv();

  FakeClusterOptions options_;
  std::mutex mu_;
  std::vector<Resource> builtin_;
  std::map<Key, Stored> objects_;
  std::vector<Event> events_;
  std::vector<std::string> creation_log_;
  std::vector<std::string> delete_propagation_;
  int64_t rv_ = 1000;
  int64_t uid_ = 0;
};

}  // namespace mesh::kube::fake
