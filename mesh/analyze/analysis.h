#pragma once

// `meshctl analyze` as a library call: load inputs, build the World, run analyzers,
// suppress, filter, sort and render. cmd/ only maps flags to an AnalyzeRequest and prints.

#include <string>
#include <vector>

#include "mesh/analyze/analyzer.h"
#include "mesh/analyze/message.h"

namespace mesh::analyze {

struct AnalyzeRequest {
  std::vector<std::string> paths;           // files, directories, "-"
  std::vector<std::string> analyzer_names;  // empty: all registered analyzers
  bool all_namespaces = false;
  std::string ns;                 // -n; "" means "default" unless all_namespaces
  std::string output = "log";     // log | json | yaml | sarif
  Level failure_threshold = Level::kError;
  Level output_threshold = Level::kInfo;
  std::vector<std::string> suppress;  // "CODE=Kind ns/name" with globs
  std::string mesh_config_file;
  std::string mesh_networks_file;
  bool ignore_unknown = false;
  bool color = false;
  bool verbose = false;
  // Add the ingress gateway Pod and Service that `meshctl install` deploys in
  // istio-system, as Istio's analyzer tests do.
  bool add_default_resources = true;
  // --use-kube: the live objects (cluster or local mesh state), analyzed together with
  // the files; an object also given in a file is taken from the file.
  bool use_live = false;
  std::vector<config::Node> live_objects;
  std::string live_description;  // "cluster context \"x\"", for messages
};

enum class AnalyzeResult {
  kOk,           // exit 0
  kIssuesFound,  // exit 79: messages at or above the failure threshold (every format)
  kParseError,   // exit 65: some input could not be parsed
  kUsageError,   // exit 64: bad flag values
  kFailure,      // exit 1: missing file, malformed --suppress, ...
};

struct AnalyzeOutcome {
  AnalyzeResult result = AnalyzeResult::kOk;
  std::string out;  // for stdout
  std::string err;  // for stderr
  std::vector<Message> messages;  // what was printed
};

AnalyzeOutcome RunAnalyze(const AnalyzeRequest& request);

// Runs analyzers over a world and returns the sorted, de-duplicated messages.
std::vector<Message> RunAnalyzers(const World& world, const std::vector<const Analyzer*>& analyzers);

// --list-analyzers text: "* name:\n    description\n" sorted by name.
std::string ListAnalyzers();

}  // namespace mesh::analyze
