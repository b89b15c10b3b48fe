// ServiceEntry analyzers: TCP ports without addresses, and hosts/ports declared with
// different protocols by several ServiceEntries.

#include <algorithm>
#include <map>
#include <set>
#include <unordered_set>

#include "mesh/analyze/analyzers/networking/analyzers.h"
#include "mesh/analyze/analyzers/networking/common.h"
#include "mesh/analyze/util.h"
#include "mesh/common/strings.h"

namespace mesh::analyze::networking {
namespace {

std::string ToUpper(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::toupper(c); });
  return out;
}

class AddressesAnalyzer : public AnalyzerBase {
 public:
  AddressesAnalyzer()
      : AnalyzerBase({"serviceentry.Analyzer",
                      "Checks the validity of ServiceEntry",
                      {kinds::kServiceEntry, kinds::kMeshConfig}}) {}

  void Analyze(Context& ctx) const override {
    // With DNS capture plus auto allocation, proxies give such entries an address.
    const config::Node& metadata = ctx.world().mesh_config().At({"defaultConfig", "proxyMetadata"});
    bool auto_allocated = metadata["ISTIO_META_DNS_CAPTURE"].Str() == "true" &&
                          (metadata["ISTIO_META_DNS_AUTO_ALLOCATE"].Str() == "true" ||
                           metadata["PILOT_ENABLE_IP_AUTOALLOCATE"].Str() == "true");
    if (auto_allocated) {
      return;
    }
    const MessageType& type = MessageTypeNamed("ServiceEntryAddressesRequired");
    for (const config::Resource* se : ctx.world().Of(kinds::kServiceEntry)) {
      if (se->spec()["addresses"].size() > 0 || se->root().At({"status", "addresses"}).size() > 0) {
        continue;
      }
      for (const config::Node& port : se->spec()["ports"].items()) {
        const std::string& protocol = port["protocol"].Str();
        if (protocol.empty() || ToUpper(protocol) == "TCP") {
          int line = util::LineOf(port["protocol"]);
          ctx.Report(type, se, {}, line > 0 ? line : util::LineOf(port));
        }
      }
    }
  }
};

class ConflictingProtocolAnalyzer : public AnalyzerBase {
 public:
  ConflictingProtocolAnalyzer()
      : AnalyzerBase({"serviceentry.ConflictingServiceEntryProtocolAnalyzer",
                      "Checks if multiple ServiceEntries define the same host and port with different protocols",
                      {kinds::kServiceEntry}}) {}

  struct Entry {
    std::string protocol;
    const config::Resource* se = nullptr;
  };
  // (scope, host, port)
  using Key = std::tuple<std::string, std::string, int64_t>;

  void Analyze(Context& ctx) const override {
    std::vector<Key> order;
    std::map<Key, std::vector<Entry>> index;
    for (const config::Resource* se : ctx.world().Of(kinds::kServiceEntry)) {
      std::vector<std::string> export_to = se->spec()["exportTo"].StringList();
      std::set<std::string> scopes;
      if (ExportsToAll(export_to)) {
        scopes.insert(std::string(kExportToAll));
      } else {
        for (const std::string& e : export_to) {
          scopes.insert(e == kExportToLocal ? se->ns() : e);
        }
      }
      for (const std::string& scope : scopes) {
        for (const std::string& host : se->spec()["hosts"].StringList()) {
          for (const config::Node& port : se->spec()["ports"].items()) {
            Key key{scope, host, port["number"].Int().value_or(0)};
            auto [it, inserted] = index.try_emplace(key);
            if (inserted) {
              order.push_back(key);
            }
            it->second.push_back(Entry{port["protocol"].Str(), se});
          }
        }
      }
    }

    const MessageType& type = MessageTypeNamed("ConflictingServiceEntryProtocol");
    std::unordered_set<const config::Resource*> reported;
    for (const Key& key : order) {
      std::vector<Entry> entries = index[key];
      const auto& [scope, host, port] = key;
      if (scope != kExportToAll) {
        auto star = index.find(Key{std::string(kExportToAll), host, port});
        if (star != index.end()) {
          entries.insert(entries.end(), star->second.begin(), star->second.end());
        }
      }
      std::set<std::string> protocols;
      for (const Entry& e : entries) {
        protocols.insert(ToUpper(e.protocol));
      }
      if (protocols.size() < 2) {
        continue;
      }
      std::set<std::string> names;
      for (const Entry& e : entries) {
        names.insert(e.se->FullName());
      }
      std::string names_text = common::Join(std::vector<std::string>(names.begin(), names.end()), ", ");
      std::string protocols_text = common::Join(std::vector<std::string>(protocols.begin(), protocols.end()), ", ");
      for (const Entry& e : entries) {
        if (!reported.insert(e.se).second) {
          continue;
        }
        ctx.Report(type, e.se, {names_text, host, std::to_string(port), protocols_text},
                   util::LineOf(e.se->metadata()["name"]));
      }
    }
  }
};

}  // namespace

AnalyzerPtr NewServiceEntryAddressesAnalyzer() { return std::make_unique<AddressesAnalyzer>(); }
AnalyzerPtr NewConflictingServiceEntryProtocolAnalyzer() { return std::make_unique<ConflictingProtocolAnalyzer>(); }

}  // namespace mesh::analyze::networking
