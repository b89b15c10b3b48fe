#pragma once

// The config edge: turns YAML/JSON text, files, directories and stdin into Nodes and
// Resources that remember file, line and column. Nothing else touches the YAML parser.

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "mesh/config/node.h"
#include "mesh/config/resource.h"

namespace mesh::config {

// One problem with one document: printed as "file:line:col: message".
struct LoadError {
  std::string file;
  int document = 0;  // 0-based index of the document in the file
  Mark mark;
  std::string message;
  std::string ToString() const;
};

struct ParsedDocument {
  Node root;
  int index = 0;       // 0-based document index in the file
  int start_line = 0;  // 1-based line of the document's first content line
};

struct ParseResult {
  std::vector<ParsedDocument> documents;  // empty documents are dropped
  std::vector<LoadError> errors;          // one per document that failed to parse
};

// Splits on "---" lines and parses each document on its own, so one bad document does
// not hide the others (as kubectl and istioctl do). Never throws.
ParseResult ParseYamlDocuments(std::string_view text, const std::string& file);

// Parses a single YAML/JSON document (e.g. a config file); error has file:line:col.
absl::StatusOr<Node> ParseYamlNode(std::string_view text, const std::string& file);

struct LoadOptions {
  // Files in directories are only read with these extensions; files named explicitly
  // with another extension are reported in `skipped_files`.
  std::vector<std::string> extensions = {".yaml", ".yml", ".json"};
};

struct LoadResult {
  std::vector<Resource> resources;
  std::vector<LoadError> errors;
  std::vector<std::string> skipped_files;  // unrecognised extensions
  std::vector<std::string> files;          // files read, in order
};

// Converts parsed documents to resources. A document with neither apiVersion nor kind is
// an error; `kind: List` is expanded into its items.
void AppendResources(ParseResult parsed, const std::string& file, LoadResult& out);

// Loads files, directories (recursively, sorted) and "-" (stdin). A path that does not
// exist is a NotFound error; parse problems go to `errors` and loading continues.
absl::StatusOr<LoadResult> LoadPaths(const std::vector<std::string>& paths,
                                     const LoadOptions& options = {});

// Loads resources from text (tests, stdin).
LoadResult LoadText(std::string_view text, const std::string& file);

}  // namespace mesh::config
