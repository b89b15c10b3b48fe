#include "mesh/config/yaml_loader.h"

#include <algorithm>
#include <filesystem>
#include <atomic>
#include <optional>
#include <thread>
#include <unordered_map>

#include "mesh/common/file_util.h"
#include "yaml.h"
#include "mesh/common/strings.h"

namespace mesh::config {
namespace {

// Guards against recursive aliases and alias bombs: nesting depth and the number of
// nodes produced are bounded (aliases may not expand a document beyond a multiple of
// its size).
constexpr int kMaxDepth = 256;

size_t CountNodes(const Node& n) {
  size_t count = 1;
  for (const Node& i : n.items()) {
    count += CountNodes(i);
  }
  for (const auto& [k, v] : n.entries()) {
    count += CountNodes(v);
  }
  return count;
}

struct ParseFailure {
  Mark mark;
  std::string message;
};

// libyaml's messages are those of go-yaml (a port of it), so they read like kubectl's
// and istioctl's; add the usual cause where it is not obvious.
std::string ExplainYamlError(const std::string& problem, const std::string& context) {
  if (problem == "mapping values are not allowed in this context") {
    return problem + " (is this key indented deeper than the keys above it, or is a value missing quotes?)";
  }
  if (problem == "did not find expected key") {
    return "bad indentation: this line does not line up with the keys of the mapping above it";
  }
  if (problem == "did not find expected '-' indicator") {
    return "bad indentation: this line does not line up with the list items above it";
  }
  if (problem == "found character that cannot start any token") {
    return problem + " (tabs are not allowed for indentation)";
  }
  if (!context.empty()) {
    return context + ": " + problem;
  }
  return problem;
}

// Builds Nodes straight from libyaml's parser events. (yaml-cpp's scanner was 80% of
// `meshctl analyze` time on large inputs; libyaml is several times faster.)
class NodeBuilder {
 public:
  NodeBuilder(int line_offset, size_t node_budget) : line_offset_(line_offset), budget_(node_budget) {}

  // Parses every document in `text`; on error returns the failure.
  std::optional<ParseFailure> Parse(std::string_view text, std::vector<Node>& documents) {
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
      return ParseFailure{{}, "out of memory"};
    }
    yaml_parser_set_input_string(&parser, reinterpret_cast<const unsigned char*>(text.data()), text.size());
    std::optional<ParseFailure> failure;
    bool done = false;
    while (!done && !failure) {
      yaml_event_t event;
      if (!yaml_parser_parse(&parser, &event)) {
        failure = ParseFailure{ToMark(parser.problem_mark),
                               ExplainYamlError(parser.problem ? parser.problem : "invalid YAML",
                                                parser.context ? parser.context : "")};
        break;
      }
      failure = Handle(event, documents, done);
      yaml_event_delete(&event);
    }
    yaml_parser_delete(&parser);
    return failure;
  }

 private:
  struct Frame {
    Node node;
    std::string anchor;
    bool have_key = false;
    std::string key;
    Mark key_mark;
  };
  struct Anchored {
    Node node;
    size_t size = 0;
  };

  Mark ToMark(const yaml_mark_t& m) const {
    return Mark{static_cast<int>(m.line) + 1 + line_offset_, static_cast<int>(m.column) + 1};
  }

  static std::string AnchorOf(const yaml_char_t* anchor) {
    return anchor ? reinterpret_cast<const char*>(anchor) : "";
  }

  std::optional<ParseFailure> Handle(const yaml_event_t& e, std::vector<Node>& documents, bool& done) {
    Mark mark = ToMark(e.start_mark);
    switch (e.type) {
      case YAML_STREAM_END_EVENT:
        done = true;
        return std::nullopt;
      case YAML_DOCUMENT_END_EVENT:
        if (has_root_) {
          documents.push_back(std::move(root_));
          root_ = Node();
          has_root_ = false;
        }
        anchors_.clear();
        return std::nullopt;
      case YAML_ALIAS_EVENT: {
        auto it = anchors_.find(AnchorOf(e.data.alias.anchor));
        if (it == anchors_.end()) {
          return ParseFailure{mark, "alias refers to an unknown anchor (or to its own, which is recursive)"};
        }
        if (it->second.size > budget_) {
          return ParseFailure{mark, "document expands to too many nodes (alias expansion)"};
        }
        budget_ -= it->second.size;
        Node n = it->second.node;
        n.set_mark(mark);
        return Complete(std::move(n), "");
      }
      case YAML_SCALAR_EVENT: {
        std::string value(reinterpret_cast<const char*>(e.data.scalar.value), e.data.scalar.length);
        bool plain = e.data.scalar.style == YAML_PLAIN_SCALAR_STYLE || e.data.scalar.style == YAML_ANY_SCALAR_STYLE;
        bool tagged_str = e.data.scalar.tag != nullptr &&
                          std::string_view(reinterpret_cast<const char*>(e.data.scalar.tag)) == "tag:yaml.org,2002:str";
        if (plain && !tagged_str &&
            (value.empty() || value == "~" || value == "null" || value == "Null" || value == "NULL")) {
          Node null;
          null.set_mark(mark);
          return Complete(std::move(null), AnchorOf(e.data.scalar.anchor));
        }
        return Complete(Node::Scalar(std::move(value), !plain || tagged_str, mark), AnchorOf(e.data.scalar.anchor));
      }
      case YAML_SEQUENCE_START_EVENT:
        return Push(Node::Sequence(mark), AnchorOf(e.data.sequence_start.anchor));
      case YAML_MAPPING_START_EVENT:
        return Push(Node::Map(mark), AnchorOf(e.data.mapping_start.anchor));
      case YAML_SEQUENCE_END_EVENT:
      case YAML_MAPPING_END_EVENT:
        return Pop();
      default:
        return std::nullopt;
    }
  }

  std::optional<ParseFailure> Push(Node n, std::string anchor) {
    if (static_cast<int>(stack_.size()) >= kMaxDepth) {
      return ParseFailure{n.mark(), "document nests more than 256 levels deep"};
    }
    if (budget_ == 0) {
      return ParseFailure{n.mark(), "document expands to too many nodes"};
    }
    --budget_;
    stack_.push_back(Frame{std::move(n), std::move(anchor)});
    return std::nullopt;
  }

  std::optional<ParseFailure> Pop() {
    Frame f = std::move(stack_.back());
    stack_.pop_back();
    ++budget_;  // Complete() charges it again
    return Complete(std::move(f.node), f.anchor);
  }

  std::optional<ParseFailure> Complete(Node n, const std::string& anchor) {
    if (budget_ == 0) {
      return ParseFailure{n.mark(), "document expands to too many nodes"};
    }
    --budget_;
    if (!anchor.empty()) {
      anchors_[anchor] = Anchored{n, CountNodes(n)};
    }
    if (stack_.empty()) {
      root_ = std::move(n);
      has_root_ = true;
      return std::nullopt;
    }
    Frame& top = stack_.back();
    if (top.node.IsSequence()) {
      top.node.Append(std::move(n));
      return std::nullopt;
    }
    if (!top.have_key) {
      // Keys are scalars in Kubernetes objects; complex keys are kept as "".
      top.key = n.IsScalar() ? n.Str() : std::string();
      top.key_mark = n.mark();
      top.have_key = true;
      return std::nullopt;
    }
    n.set_key_mark(top.key_mark);
    if (n.IsNull()) {
      n.set_mark(top.key_mark);
    }
    // Duplicate keys: the last one wins, as in Kubernetes' decoders.
    top.node.Set(std::move(top.key), std::move(n));
    top.have_key = false;
    top.key.clear();
    return std::nullopt;
  }

  int line_offset_;
  size_t budget_;
  std::vector<Frame> stack_;
  std::unordered_map<std::string, Anchored> anchors_;
  Node root_;
  bool has_root_ = false;
};

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
    NodeBuilder builder(chunk.first_line, 64 * chunk.text.size() + 10000);
    std::vector<Node> roots;
    if (auto failure = builder.Parse(chunk.text, roots)) {
      result.errors.push_back(LoadError{file, doc_index, failure->mark, failure->message});
      continue;
    }
    for (Node& root : roots) {
      if (root.IsNull()) {
        continue;
      }
      ParsedDocument doc;
      doc.start_line = root.mark().line;
      doc.index = doc_index;
      doc.root = std::move(root);
      result.documents.push_back(std::move(doc));
    }
  }
  return result;
}

absl::StatusOr<Node> ParseYamlNode(std::string_view text, const std::string& file) {
  NodeBuilder builder(0, 64 * text.size() + 10000);
  std::vector<Node> roots;
  if (auto failure = builder.Parse(text, roots)) {
    return absl::InvalidArgumentError(LoadError{file, 0, failure->mark, failure->message}.ToString());
  }
  if (roots.empty()) {
    Node null;
    null.set_mark(Mark{1, 1});
    return null;
  }
  return std::move(roots.front());
}

void AppendResources(ParseResult parsed, const std::string& file, LoadResult& out) {
  for (const LoadError& e : parsed.errors) {
    out.errors.push_back(e);
  }
  for (ParsedDocument& doc : parsed.documents) {
    auto add = [&](Node&& root, int line) {
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
      Mark mark = root.mark();
      auto res = Resource::FromNode(std::move(root), SourceRef{file, line, 1});
      if (!res.ok()) {
        out.errors.push_back(LoadError{file, doc.index, mark, std::string(res.status().message())});
        return;
      }
      out.resources.push_back(std::move(res).value());
    };
    Node& root = doc.root;
    if (root.IsMap() && root["kind"].Str() == "List" && root["items"].IsSequence()) {
      for (Node& item : root.FindMutable("items")->mutable_items()) {
        int line = item.mark().line;
        add(std::move(item), line);
      }
      continue;
    }
    add(std::move(root), doc.start_line);
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
  // First the list of files, in order (directories sorted), then parse them in parallel:
  // parsing dominates large inputs and files are independent.
  std::vector<std::string> files;
  for (const std::string& path : paths) {
    if (path == "-") {
      files.push_back(path);
      continue;
    }
    std::error_code ec;
    fs::file_status st = fs::status(path, ec);
    if (ec || !fs::exists(st)) {
      return absl::NotFoundError(common::StrCat("stat ", path, ": no such file or directory"));
    }
    if (fs::is_directory(st)) {
      std::vector<std::string> found;
      for (auto it = fs::recursive_directory_iterator(path, fs::directory_options::skip_permission_denied, ec);
           !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (it->is_regular_file() && has_ext(it->path())) {
          found.push_back(it->path().string());
        }
      }
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
      continue;
    }
    if (!has_ext(fs::path(path))) {
      out.skipped_files.push_back(path);
      continue;
    }
    files.push_back(path);
  }

  std::vector<LoadResult> per_file(files.size());
  std::vector<absl::Status> status(files.size());
  auto load_one = [&](size_t i) {
    auto content = common::ReadFile(files[i]);
    if (!content.ok()) {
      status[i] = content.status();
      return;
    }
    AppendResources(ParseYamlDocuments(*content, files[i]), files[i], per_file[i]);
  };
  // Standard input is read on this thread, before any worker starts.
  for (size_t i = 0; i < files.size(); ++i) {
    if (files[i] == "-") {
      load_one(i);
    }
  }
  size_t workers = std::min<size_t>(std::max(1u, std::thread::hardware_concurrency()), files.size());
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next++; i < files.size(); i = next++) {
      if (files[i] != "-") {
        load_one(i);
      }
    }
  };
  std::vector<std::thread> threads;
  for (size_t w = 1; w < workers; ++w) {
    threads.emplace_back(work);
  }
  work();
  for (std::thread& t : threads) {
    t.join();
  }
  for (size_t i = 0; i < files.size(); ++i) {
    if (!status[i].ok()) {
      return status[i];
    }
    out.files.push_back(files[i]);
    for (Resource& r : per_file[i].resources) {
      out.resources.push_back(std::move(r));
    }
    for (LoadError& e : per_file[i].errors) {
      out.errors.push_back(std::move(e));
    }
  }
  return out;
}

}  // namespace mesh::config
