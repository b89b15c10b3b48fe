#include "mesh/store/local_store.h"

#include <csignal>
#include <filesystem>
#include <sys/wait.h>
#include <unistd.h>

#include "gtest/gtest.h"
#include "mesh/common/file_util.h"
#include "mesh/config/yaml_loader.h"
#include "tests/common/test_util.h"

namespace mesh::store {
namespace {

namespace fs = std::filesystem;

config::Node Parse(const std::string& yaml) {
  auto n = config::ParseYamlNode(yaml, "test");
  EXPECT_TRUE(n.ok()) << n.status();
  return *n;
}

config::Node Gateway(const std::string& name, int port) {
  return Parse("apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata:\n  name: " + name +
               "\n  namespace: default\nspec:\n  servers:\n  - port: {number: " + std::to_string(port) +
               ", name: http, protocol: HTTP}\n    hosts: ['*']\n");
}

const ObjectKey kGw{"networking.istio.io", "Gateway", "default", "gw"};

TEST(LocalStore, ApplyGetListDelete) {
  testing::TempDir dir;
  auto store = LocalStore::Open(dir.path() + "/state");
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ(*(*store)->Generation(), 0);

  auto r = (*store)->Apply(Gateway("gw", 80));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->outcome, ApplyOutcome::kCreated);
  EXPECT_EQ(r->resource_version, 1);
  EXPECT_TRUE(fs::exists((*store)->PathFor(kGw)));

  auto got = (*store)->Get(kGw);
  ASSERT_TRUE(got.ok());
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->resource_version, 1);
  EXPECT_EQ((*got)->object["spec"]["servers"].items()[0]["port"]["number"].Str(), "80");
  EXPECT_FALSE((*got)->object["metadata"]["creationTimestamp"].Str().empty());

  // Same content again: no write, no new version.
  r = (*store)->Apply(Gateway("gw", 80));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->outcome, ApplyOutcome::kUnchanged);
  EXPECT_EQ(*(*store)->Generation(), 1);

  r = (*store)->Apply(Gateway("gw", 8080));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->outcome, ApplyOutcome::kConfigured);
  EXPECT_EQ(r->resource_version, 2);

  ASSERT_TRUE((*store)->Apply(Gateway("other", 81)).ok());
  auto list = (*store)->List({"networking.istio.io", "Gateway", "default"});
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].key.name, "gw");
  EXPECT_EQ((*list)[1].key.name, "other");
  EXPECT_EQ((*(*store)->List({"networking.istio.io", "Gateway", "elsewhere"})).size(), 0u);

  auto deleted = (*store)->Delete(kGw);
  ASSERT_TRUE(deleted.ok());
  EXPECT_TRUE(*deleted);
  EXPECT_FALSE(*(*store)->Delete(kGw));
  EXPECT_FALSE((*(*store)->Get(kGw)).has_value());
  EXPECT_EQ(*(*store)->Generation(), 4);
}

int GatewayPort(const std::vector<StoredObject>& objects, const std::string& name) {
  for (const StoredObject& o : objects) {
    if (o.key.name == name) {
      const auto& servers = o.object["spec"]["servers"].items();
      return servers.empty() ? -1 : static_cast<int>(servers[0]["port"]["number"].Int().value_or(-1));
    }
  }
  return 0;  // not listed
}

// List() re-parses only files that changed: unchanged ones come from what it parsed
// before; updates, atomic replacements by another writer and deletes are all seen.
TEST(LocalStore, ListReparsesOnlyChangedFiles) {
  testing::TempDir dir;
  auto store = LocalStore::Open(dir.path() + "/state");
  ASSERT_TRUE(store.ok()) << store.status();
  LocalStore& s = **store;
  for (const char* name : {"a", "b", "c"}) {
    ASSERT_TRUE(s.Apply(Gateway(name, 80)).ok());
  }
  auto listed = s.List({});
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_EQ(listed->size(), 3u);
  EXPECT_EQ(s.ListParses(), 3u);
  listed = s.List({});
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->size(), 3u);
  EXPECT_EQ(s.ListParses(), 3u);  // nothing changed, nothing parsed

  ASSERT_TRUE(s.Apply(Gateway("b", 81)).ok());
  listed = s.List({});
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(GatewayPort(*listed, "b"), 81);
  EXPECT_EQ(GatewayPort(*listed, "a"), 80);
  EXPECT_EQ(s.ListParses(), 4u);

  // Another process replaces a file atomically with content of the same size.
  const std::string path_a = s.PathFor({"networking.istio.io", "Gateway", "default", "a"});
  auto text = common::ReadFile(path_a);
  ASSERT_TRUE(text.ok());
  std::string edited = *text;
  size_t at = edited.find("number: 80");
  ASSERT_NE(at, std::string::npos) << edited;
  edited.replace(at, 10, "number: 90");
  ASSERT_TRUE(common::WriteFileAtomic(path_a, edited).ok());
  listed = s.List({});
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(GatewayPort(*listed, "a"), 90);
  EXPECT_EQ(s.ListParses(), 5u);

  ASSERT_TRUE(*s.Delete({"networking.istio.io", "Gateway", "default", "c"}));
  listed = s.List({});
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->size(), 2u);
  EXPECT_EQ(GatewayPort(*listed, "c"), 0);
  EXPECT_EQ(s.ListParses(), 5u);
  // Re-created under the same name: parsed again, not served from before the delete.
  ASSERT_TRUE(s.Apply(Gateway("c", 82)).ok());
  listed = s.List({});
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(GatewayPort(*listed, "c"), 82);
  EXPECT_EQ(s.ListParses(), 6u);

  // A file that no longer parses is an error, and is read again once fixed.
  ASSERT_TRUE(common::WriteFileAtomic(path_a, "kind: [unterminated\n").ok());
  EXPECT_FALSE(s.List({}).ok());
  ASSERT_TRUE(common::WriteFileAtomic(path_a, *text).ok());
  listed = s.List({});
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_EQ(GatewayPort(*listed, "a"), 80);
}

TEST(LocalStore, TransactionHandsOutDistinctVersionsAndMovesGenerationOnce) {
  testing::TempDir dir;
  auto store = LocalStore::Open(dir.path());
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->Apply(Gateway("first", 80)).ok());
  std::vector<int64_t> versions;
  int64_t generation_inside = -1;
  auto st = (*store)->Transaction([&]() -> absl::Status {
    for (const char* name : {"a", "b", "c"}) {
      auto r = (*store)->Apply(Gateway(name, 80));
      if (!r.ok()) {
        return r.status();
      }
      versions.push_back(r->resource_version);
    }
    generation_inside = *(*store)->Generation();
    return absl::OkStatus();
  });
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_EQ(versions, (std::vector<int64_t>{2, 3, 4}));
  EXPECT_EQ(generation_inside, 2);  // moved before the first write of the transaction
  EXPECT_EQ(*(*store)->Generation(), 4);
  auto r = (*store)->Apply(Gateway("d", 80));
  EXPECT_EQ(r->resource_version, 5);
}

TEST(LocalStore, RejectsUnsafeNames) {
  testing::TempDir dir;
  auto store = LocalStore::Open(dir.path());
  ASSERT_TRUE(store.ok());
  auto r = (*store)->Apply(Parse("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ../../etc\n  namespace: x\n"));
  EXPECT_FALSE(r.ok());
  r = (*store)->Apply(Parse("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  namespace: x\n"));
  EXPECT_FALSE(r.ok());
}

// Kills the process between writing the temporary file and renaming it.
void KillBeforeRename(const std::string& /*temp*/, const std::string& target) {
  if (target.find("/gw.yaml") != std::string::npos) {
    ::raise(SIGKILL);
  }
}

TEST(LocalStore, KillBetweenWriteAndRenameKeepsOldObject) {
  testing::TempDir dir;
  std::string root = dir.path() + "/state";
  {
    auto store = LocalStore::Open(root);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->Apply(Gateway("gw", 80)).ok());
  }
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    common::SetAtomicWriteHookForTesting(&KillBeforeRename);
    auto store = LocalStore::Open(root);
    if (store.ok()) {
      (void)(*store)->Apply(Gateway("gw", 9999));
    }
    ::_exit(0);  // not reached when the hook fires
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status)) << "child was not killed before the rename";
  EXPECT_EQ(WTERMSIG(status), SIGKILL);

  // The temporary file is left behind, the object is the old one, and listing works.
  bool temp_left = false;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    std::string name = e.path().filename().string();
    if (name.rfind(".gw.yaml.tmp", 0) == 0) {
      temp_left = true;
    }
  }
  EXPECT_TRUE(temp_left);
  auto store = LocalStore::Open(root);
  ASSERT_TRUE(store.ok());
  auto got = (*store)->Get(kGw);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->object["spec"]["servers"].items()[0]["port"]["number"].Str(), "80");
  auto list = (*store)->List({});
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ(list->size(), 1u);
  // And the store keeps working.
  auto r = (*store)->Apply(Gateway("gw", 9999));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->outcome, ApplyOutcome::kConfigured);
}

// Read-modify-write of one counter from two processes: without the lock updates get lost.
TEST(LocalStore, TransactionsSerialiseAcrossProcesses) {
  testing::TempDir dir;
  std::string root = dir.path() + "/state";
  {
    auto store = LocalStore::Open(root);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->Apply(Parse("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: counter\n  namespace: "
                                      "default\ndata:\n  n: '0'\n"))
                    .ok());
  }
  constexpr int kWorkers = 2;
  constexpr int kIncrements = 40;
  std::vector<pid_t> pids;
  for (int w = 0; w < kWorkers; ++w) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      auto store = LocalStore::Open(root);
      if (!store.ok()) {
        ::_exit(2);
      }
      ObjectKey key{"", "ConfigMap", "default", "counter"};
      for (int i = 0; i < kIncrements; ++i) {
        auto st = (*store)->Transaction([&]() -> absl::Status {
          auto obj = (*store)->Get(key);
          if (!obj.ok() || !obj->has_value()) {
            return absl::InternalError("missing");
          }
          config::Node updated = (*obj)->object;
          int n = std::stoi(updated["data"]["n"].Str());
          updated.FindMutable("data")->Set("n", config::Node::Scalar(std::to_string(n + 1), true));
          return (*store)->Apply(updated).status();
        });
        if (!st.ok()) {
          ::_exit(3);
        }
      }
      ::_exit(0);
    }
    pids.push_back(pid);
  }
  for (pid_t pid : pids) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
  }
  auto store = LocalStore::Open(root);
  ASSERT_TRUE(store.ok());
  auto obj = (*store)->Get(ObjectKey{"", "ConfigMap", "default", "counter"});
  ASSERT_TRUE(obj.ok() && obj->has_value());
  EXPECT_EQ((*obj)->object["data"]["n"].Str(), std::to_string(kWorkers * kIncrements));
}

TEST(LocalStore, SameContentIgnoresKeyOrderAndStoreFields) {
  config::Node a = Parse("kind: X\nmetadata: {name: a, resourceVersion: '3'}\nspec: {x: 1, y: 2}\n");
  config::Node b = Parse("spec: {y: 2, x: 1}\nmetadata: {name: a}\nkind: X\n");
  EXPECT_TRUE(SameContent(a, b));
  config::Node c = Parse("spec: {y: 2, x: 3}\nmetadata: {name: a}\nkind: X\n");
  EXPECT_FALSE(SameContent(a, c));
}

}  // namespace
}  // namespace mesh::store

#include "mesh/store/change_tracker.h"

namespace mesh::store {
namespace {

TEST(ChangeTracker, ReportsUpsertsAndDeletesBetweenPolls) {
  testing::TempDir dir;
  auto store = LocalStore::Open(dir.path());
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->Apply(Gateway("a", 80)).ok());
  ASSERT_TRUE((*store)->Apply(Gateway("b", 80)).ok());
  ChangeTracker tracker(**store);
  auto first = tracker.Poll();
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->upserted.size(), 2u);
  EXPECT_TRUE(first->deleted.empty());
  EXPECT_TRUE(tracker.Poll()->empty());

  ASSERT_TRUE((*store)->Apply(Gateway("a", 81)).ok());  // modified
  ASSERT_TRUE((*store)->Apply(Gateway("b", 80)).ok());  // unchanged: no new version
  ASSERT_TRUE((*store)->Apply(Gateway("c", 80)).ok());  // created
  ASSERT_TRUE(*(*store)->Delete({"networking.istio.io", "Gateway", "default", "b"}));
  auto next = tracker.Poll();
  ASSERT_TRUE(next.ok());
  std::vector<std::string> upserted;
  for (const auto& o : next->upserted) {
    upserted.push_back(o.key.name);
  }
  EXPECT_EQ(upserted, (std::vector<std::string>{"a", "c"}));
  ASSERT_EQ(next->deleted.size(), 1u);
  EXPECT_EQ(next->deleted[0].name, "b");
  EXPECT_TRUE(tracker.Poll()->empty());
}

}  // namespace
}  // namespace mesh::store
