#include "mesh/config/yaml_loader.h"

#include <algorithm>
#include <filesystem>
#include <stdexcept>

#include "mesh/common/file_util.h"
#include "yaml-cpp/yaml.h"
#include "mesh/common/strings.h"

namespace mesh::config {
namespace {

Mark ToMark(const YAML::Mark& m, int line_offset) {
  if (m.line < 0) {
    return {};
  }
  return Mark{m.line + 1 + line_offset, m.column + 1};
}

// Guards against recursive aliases ("&a [*a]") and alias bombs: conversion depth and the
// number of nodes produced are bounded (aliases may not expand a document beyond a
// multiple of its size).
struct ConvertBudget {
  int depth = 0;
  size_t nodes_left = 0;
};
constexpr int kMaxDepth = 256;

class LimitExceeded : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

Node Convert(const YAML::Node& y, int line_offset, Mark parent, ConvertBudget& budget) {
  if (budget.depth > kMaxDepth) {
    throw LimitExceeded("document nests more than 256 levels deep (or has a recursive alias)");
  }
  if (budget.nodes_left == 0) {
    throw LimitExceeded("document expands to too many nodes (alias expansion)");
  }
  --budget.nodes_left;
  struct DepthGuard {
    int& d;
    explicit DepthGuard(int& depth) : d(depth) { ++d; }
    ~DepthGuard() { --d; }
  } guard(budget.depth);
  Mark mark = ToMark(y.Mark(), line_offset);
  if (mark.line == 0) {
    mark = parent;
  }
  switch (y.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      {
        Node n;
        n.set_mark(mark);
        return n;
      }
    case YAML::NodeType::Scalar:
      return Node::Scalar(y.Scalar(), y.Tag() == "!", mark);
    case YAML::NodeType::Sequence: {
      Node n = Node::Sequence(mark);
      n.mutable_items().reserve(y.size());
      for (const auto& item : y) {
        n.Append(Convert(item, line_offset, mark, budget));
      }
      return n;
    }
    case YAML::NodeType::Map: {
      Node n = Node::Map(mark);
      n.mutable_entries().reserve(y.size());
      for (const auto& kv : y) {
        Mark key_mark = ToMark(kv.first.Mark(), line_offset);
        Node value = Convert(kv.second, line_offset, key_mark, budget);
        value.set_key_mark(key_mark);
        std::string key = kv.first.IsScalar() ? kv.first.Scalar() : std::string();
        // Duplicate keys: the last one wins, as in Kubernetes' decoders.
        n.Set(std::move(key), std::move(value));
      }
      return n;
    }
  }
  return Node();
}

bool IsSeparator(std::string_view line) {
  if (line.size() < 3 || line.substr(0, 3) != "---") {
    return false;
  }
  return line.size() == 3 || line[3] == ' ' || line[3] == '\t' || line[3] == '\r';
}

bool IsBlank(std::string_view chunk) {
  // Only whitespace, comments and document markers.
  size_t pos = 0;
  while (pos < chunk.size()) {
    size_t eol = chunk.find('\n', pos);
    std::string_view line = chunk.substr(pos, eol == std::string_view::npos ? chunk.npos : eol - pos);
    size_t first = line.find_first_not_of(" \t\r");
    if (first != std::string_view::npos && line[first] != '#' && !IsSeparator(line.substr(first)) &&
        line.substr(first) != "...") {
      return false;
    }
    if (eol == std::string_view::npos) {
      break;
    }
    pos = eol + 1;
  }
  return true;
}

// yaml-cpp's messages are terse; say what usually causes them.
std::string ExplainYamlError(const std::string& msg) {
  if (msg == YAML::ErrorMsg::MAP_VALUE) {
    return "mapping values are not allowed here (is this key indented deeper than the keys above it, "
           "or is a value missing quotes?)";
  }
  if (msg == YAML::ErrorMsg::END_OF_MAP) {
    return "bad indentation: this line does not line up with the keys of the mapping above it";
  }
  if (msg == YAML::ErrorMsg::END_OF_SEQ) {
    return "bad indentation: this line does not line up with the list items above it";
  }
  if (msg == YAML::ErrorMsg::BLOCK_ENTRY) {
    return "a list item ('- ') is not allowed here (check the indentation of this line)";
  }
  if (msg == YAML::ErrorMsg::END_OF_MAP_FLOW) {
    return "unterminated '{' mapping";
  }
  if (msg == YAML::ErrorMsg::END_OF_SEQ_FLOW) {
    return "unterminated '[' list";
  }
  if (msg.rfind("tabs", 0) == 0 || msg == YAML::ErrorMsg::TAB_IN_INDENTATION) {
    return "tab characters are not allowed in indentation";
  }
  return msg;
}

}  // namespace

std::string LoadError::ToString() const {
  if (mark.line > 0) {
    return common::StrCat(file, ":", mark.line, ":", mark.column, ": ", message);
  }
  return common::StrCat(file, ": ", message);
}

ParseResult ParseYamlDocuments(std::string_view text, const std::string& file) {
  ParseResult result;
  if (text.size() >= 3 && text.substr(0, 3) == "\xEF\xBB\xBF") {
    text.remove_prefix(3);
  }
  // Split into chunks at separator lines, remembering each chunk's first line.
  struct Chunk {
    std::string_view text;
    int first_line;  // 0-based
  };
  std::vector<Chunk> chunks;
  size_t chunk_start = 0;
  int chunk_line = 0;
  int line_no = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t eol = text.find('\n', pos);
    size_t end = eol == std::string_view::npos ? text.size() : eol;
    std::string_view line = text.substr(pos, end - pos);
    if (IsSeparator(line) && pos != chunk_start) {
      chunks.push_back({text.substr(chunk_start, pos - chunk_start), chunk_line});
      chunk_start = pos;
      chunk_line = line_no;
    }
    if (eol == std::string_view::npos) {
      break;
    }
    pos = eol + 1;
    ++line_no;
  }
  chunks.push_back({text.substr(chunk_start), chunk_line});

  int index = 0;
  for (const Chunk& chunk : chunks) {
    if (IsBlank(chunk.text)) {
      continue;
    }
    int doc_index = index++;
    try {
      YAML::Node y = YAML::Load(std::string(chunk.text));
      ConvertBudget budget{0, 64 * chunk.text.size() + 10000};
      Node root = Convert(y, chunk.first_line, Mark{chunk.first_line + 1, 1}, budget);
      if (root.IsNull()) {
        continue;
      }
      ParsedDocument doc;
      doc.start_line = root.mark().line;
      doc.index = doc_index;
      doc.root = std::move(root);
      result.documents.push_back(std::move(doc));
    } catch (const YAML::Exception& e) {
      LoadError err;
      err.file = file;
      err.document = doc_index;
      err.mark = ToMark(e.mark, chunk.first_line);
      err.message = ExplainYamlError(e.msg);
      result.errors.push_back(std::move(err));
    } catch (const std::exception& e) {
      result.errors.push_back(LoadError{file, doc_index, {}, e.what()});
    }
  }
  return result;
}

absl::StatusOr<Node> ParseYamlNode(std::string_view text, const std::string& file) {
  try {
    YAML::Node y = YAML::Load(std::string(text));
    ConvertBudget budget{0, 64 * text.size() + 10000};
    return Convert(y, 0, Mark{1, 1}, budget);
  } catch (const YAML::Exception& e) {
    LoadError err{file, 0, ToMark(e.mark, 0), ExplainYamlError(e.msg)};
    return absl::InvalidArgumentError(err.ToString());
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(common::StrCat(file, ": ", e.what()));
  }
}

void AppendResources(const ParseResult& parsed, const std::string& file, LoadResult& out) {
  for (const LoadError& e : parsed.errors) {
    out.errors.push_back(e);
  }
  for (const ParsedDocument& doc : parsed.documents) {
    auto add = [&](const Node& root, int line) {
      if (!root.IsMap()) {
        out.errors.push_back(LoadError{file, doc.index, root.mark(),
                                       "document is not a mapping: expected a Kubernetes object"});
        return;
      }
      const Node& api = root["apiVersion"];
      const Node& kind = root["kind"];
      if (!api.Defined() && !kind.Defined()) {
        out.errors.push_back(LoadError{file, doc.index, root.mark(),
                                       "unable to parse resource with no group, version and kind"});
        return;
      }
      auto res = Resource::FromNode(root, SourceRef{file, line, 1});
      if (!res.ok()) {
        out.errors.push_back(LoadError{file, doc.index, root.mark(), std::string(res.status().message())});
        return;
      }
      out.resources.push_back(std::move(res).value());
    };
    const Node& root = doc.root;
    if (root.IsMap() && root["kind"].Str() == "List" && root["items"].IsSequence()) {
      for (const Node& item : root["items"].items()) {
        add(item, item.mark().line);
      }
      continue;
    }
    add(root, doc.start_line);
  }
}

LoadResult LoadText(std::string_view text, const std::string& file) {
  LoadResult out;
  out.files.push_back(file);
  AppendResources(ParseYamlDocuments(text, file), file, out);
  return out;
}

absl::StatusOr<LoadResult> LoadPaths(const std::vector<std::string>& paths, const LoadOptions& options) {
  namespace fs = std::filesystem;
  LoadResult out;
  auto has_ext = [&](const fs::path& p) {
    std::string ext = p.extension().string();
    return std::find(options.extensions.begin(), options.extensions.end(), ext) != options.extensions.end();
  };
  auto load_file = [&](const std::string& file) -> absl::Status {
    auto content = common::ReadFile(file);
    if (!content.ok()) {
      return content.status();
    }
    out.files.push_back(file);
    AppendResources(ParseYamlDocuments(*content, file), file, out);
    return absl::OkStatus();
  };
  for (const std::string& path : paths) {
    if (path == "-") {
      if (auto st = load_file("-"); !st.ok()) {
        return st;
      }
      continue;
    }
    std::error_code ec;
    fs::file_status st = fs::status(path, ec);
    if (ec || !fs::exists(st)) {
      return absl::NotFoundError(common::StrCat("stat ", path, ": no such file or directory"));
    }
    if (fs::is_directory(st)) {
      std::vector<std::string> files;
      for (auto it = fs::recursive_directory_iterator(path, fs::directory_options::skip_permission_denied, ec);
           !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (it->is_regular_file() && has_ext(it->path())) {
          files.push_back(it->path().string());
        }
      }
      std::sort(files.begin(), files.end());
      for (const std::string& f : files) {
        if (auto s = load_file(f); !s.ok()) {
          return s;
        }
      }
      continue;
    }
    if (!has_ext(fs::path(path))) {
      out.skipped_files.push_back(path);
      continue;
    }
    if (auto s = load_file(path); !s.ok()) {
      return s;
    }
  }
  return out;
}

}  // namespace mesh::config
