#pragma once

// The analyzer framework (after Istio's pkg/config/analysis): each analyzer declares its
// name, description and input kinds, reads a const World and reports Messages.

#include <memory>
#include <string>
#include <vector>

#include "mesh/analyze/message.h"
#include "mesh/analyze/world.h"

namespace mesh::analyze {

struct AnalyzerMetadata {
  std::string name;         // "gateway.SecretAnalyzer": the --analyzer name
  std::string description;  // one line, shown by --list-analyzers
  std::vector<KindRef> inputs;
};

class Context {
 public:
  explicit Context(const World& world) : world_(world) {}
  const World& world() const { return world_; }

  // Reports a message about `resource` (null for none). `line` > 0 points at a field
  // instead of the document start. Arguments are in template order.
  void Report(const MessageType& type, const config::Resource* resource, std::vector<std::string> args,
              int line = 0);
  void ReportWithOrigin(const MessageType& type, Origin origin, std::vector<std::string> args);

  std::vector<Message>& messages() { return messages_; }

 private:
  const World& world_;
  std::vector<Message> messages_;
};

class Analyzer {
 public:
  virtual ~Analyzer() = default;
  virtual const AnalyzerMetadata& Metadata() const = 0;
  virtual void Analyze(Context& context) const = 0;
};
using AnalyzerPtr = std::unique_ptr<Analyzer>;

// Every registered analyzer, sorted by name (the set `meshctl analyze` runs by default).
const std::vector<AnalyzerPtr>& AllAnalyzers();
// Analyzers that are tested but not run by default (selectable with --analyzer).
const std::vector<AnalyzerPtr>& ExtraAnalyzers();
// Looks up a registered or extra analyzer by name; null when unknown.
const Analyzer* FindAnalyzer(std::string_view name);

}  // namespace mesh::analyze
