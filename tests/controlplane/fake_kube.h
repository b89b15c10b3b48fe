#pragma once

// An in-process Kubernetes API server for control-plane tests (plain HTTP on 127.0.0.1,
// port 0). It keeps objects and a resourceVersion counter, and follows the API
// conventions the reflectors depend on: discovery documents, paged lists with a
// list resourceVersion, watch streams (newline-delimited JSON events, chunked) that
// replay history after a resourceVersion and then stream live changes, bookmarks, a 410
// Expired ERROR event for versions older than the compaction point, and TokenReview.

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "mesh/config/node.h"

namespace mesh::testing {

struct FakeResourceType {
  std::string group;
  std::string version;
  std::string kind;
  std::string plural;
  bool namespaced = true;
};

// Namespace, Service, Pod, Secret, EndpointSlice, VirtualService, Gateway,
// DestinationRule (networking.istio.io/v1), PeerAuthentication (security.istio.io/v1),
// TokenReview.
std::vector<FakeResourceType> DefaultFakeTypes();

class FakeKube {
 public:
  explicit FakeKube(std::vector<FakeResourceType> types = DefaultFakeTypes());
  ~FakeKube();
  void Stop();

  std::string server() const;  // http://127.0.0.1:PORT

  // Creates or replaces an object (YAML or JSON text); returns its new resourceVersion.
  std::string Apply(const std::string& yaml);
  void Delete(const std::string& api_version, const std::string& kind, const std::string& ns, const std::string& name);
  // Forgets the history: watches from older versions get 410 Expired.
  void Compact();
  // Ends every open watch stream (as the server's timeout would).
  void EndWatches();
  // While true, new watch requests get 503 (an API server restarting).
  void SetWatchUnavailable(bool unavailable);
  // Sends a BOOKMARK with the current resourceVersion on every open watch.
  void Bookmark();
  // Tokens TokenReview accepts: token -> user name and audiences.
  void AddToken(const std::string& token, const std::string& username, std::vector<std::string> audiences);

  std::string resource_version() const;
  // Requests whose target contains `fragment` (e.g. "watch=1", "/pods?").
  int CountRequests(const std::string& fragment) const;

 private:
  struct Event {
    int64_t rv;
    std::string type_key;  // group/kind
    std::string type;      // ADDED, MODIFIED, DELETED, BOOKMARK
    config::Node object;
  };
  struct Target;
  void AcceptLoop();
  void Serve(int fd);
  std::string Handle(const std::string& method, const std::string& target, const std::string& body, int& code,
                     bool& is_watch);
  void StreamWatch(int fd, const Target& t, const std::map<std::string, std::string>& query);
  const FakeResourceType* FindType(const std::string& gv, const std::string& plural) const;
  void Record(const std::string& type_key, const std::string& type, const config::Node& object);

  std::vector<FakeResourceType> types_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::thread accept_thread_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  int64_t rv_ = 100;
  int64_t compacted_rv_ = 0;
  uint64_t watch_epoch_ = 0;  // EndWatches bumps it
  bool watch_unavailable_ = false;
  std::map<std::string, std::map<std::string, config::Node>> objects_;  // type_key -> ns/name -> object
  std::vector<Event> events_;
  std::map<std::string, std::pair<std::string, std::vector<std::string>>> tokens_;
  std::vector<std::string> requests_;
  std::vector<std::thread> connections_;
  std::vector<int> open_fds_;
};

}  // namespace mesh::testing
