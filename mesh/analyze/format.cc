#include "mesh/analyze/format.h"

#include <algorithm>
#include <map>
#include <tuple>

#include "mesh/common/strings.h"
#include "mesh/common/version.h"
#include "mesh/config/emit.h"

namespace mesh::analyze {
namespace {

using config::Node;

Node Str(const std::string& s) { return Node::Scalar(s, /*quoted=*/true); }

// The fields istioctl prints, keys in sorted order (Go maps marshal sorted).
Node MessageNode(const Message& m) {
  Node n = Node::Map();
  n.Set("code", Str(m.type->code));
  n.Set("documentationUrl", Str(DocumentationUrl(*m.type)));
  n.Set("level", Str(std::string(LevelName(m.type->level))));
  n.Set("message", Str(m.Text()));
  if (m.has_origin) {
    n.Set("origin", Str(m.origin.FriendlyName()));
    std::string ref = m.origin.Reference();
    if (!ref.empty()) {
      n.Set("reference", Str(ref));
    }
  }
  return n;
}

std::string SortKey(const Message& m) {
  if (!m.has_origin) {
    return "";
  }
  return common::StrCat(m.origin.kind, "/", m.origin.name, "/", m.origin.ns);
}

std::string SarifLevel(Level l) {
  switch (l) {
    case Level::kError: return "error";
    case Level::kWarning: return "warning";
    case Level::kInfo: return "note";
  }
  return "none";
}

}  // namespace

std::string DocumentationUrl(const MessageType& type) {
  return common::StrCat("https://istio.io/v", common::kIstioCompatVersion, "/docs/reference/config/analysis/",
                        common::ToLower(type.code), "/?ref=istioctl-analyze");
}

void SortAndDedup(std::vector<Message>& messages) {
  struct Keyed {
    int level;
    std::string code, key, line;
    Message msg;
  };
  std::vector<Keyed> keyed;
  keyed.reserve(messages.size());
  for (Message& m : messages) {
    std::string line = m.LogLine();
    keyed.push_back({static_cast<int>(m.type->level), m.type->code, SortKey(m), std::move(line), std::move(m)});
  }
  std::sort(keyed.begin(), keyed.end(), [](const Keyed& a, const Keyed& b) {
    return std::tie(a.level, a.code, a.key, a.line) < std::tie(b.level, b.code, b.key, b.line);
  });
  messages.clear();
  for (size_t i = 0; i < keyed.size(); ++i) {
    if (i > 0 && keyed[i].line == keyed[i - 1].line) {
      continue;
    }
    messages.push_back(std::move(keyed[i].msg));
  }
}

std::string FormatLog(const std::vector<Message>& messages, bool color) {
  std::string out;
  for (size_t i = 0; i < messages.size(); ++i) {
    if (i > 0) {
      out += '\n';
    }
    out += messages[i].LogLine(color);
  }
  out += '\n';
  return out;
}

std::string FormatJson(const std::vector<Message>& messages) {
  Node list = Node::Sequence();
  for (const Message& m : messages) {
    list.Append(MessageNode(m));
  }
  return config::EmitJson(list, {.indent = 0, .escape_html = true, .tab_indent = true});
}

std::string FormatYaml(const std::vector<Message>& messages) {
  if (messages.empty()) {
    return "[]\n";
  }
  Node list = Node::Sequence();
  for (const Message& m : messages) {
    list.Append(MessageNode(m));
  }
  return config::EmitYaml(list);
}

std::string FormatSarif(const std::vector<Message>& messages) {
  Node rules = Node::Sequence();
  std::map<std::string, int> rule_index;
  Node results = Node::Sequence();
  for (const Message& m : messages) {
    auto [it, inserted] = rule_index.emplace(m.type->code, static_cast<int>(rule_index.size()));
    if (inserted) {
      Node rule = Node::Map();
      rule.Set("id", Str(m.type->code));
      rule.Set("name", Str(m.type->name));
      Node desc = Node::Map();
      desc.Set("text", Str(m.type->name));
      rule.Set("shortDescription", desc);
      rule.Set("helpUri", Str(DocumentationUrl(*m.type)));
      Node cfg = Node::Map();
      cfg.Set("level", Str(SarifLevel(m.type->level)));
      rule.Set("defaultConfiguration", cfg);
      rules.Append(rule);
    }
    Node r = Node::Map();
    r.Set("ruleId", Str(m.type->code));
    r.Set("ruleIndex", Node::Scalar(std::to_string(it->second)));
    r.Set("level", Str(SarifLevel(m.type->level)));
    Node text = Node::Map();
    text.Set("text", Str(m.Text()));
    r.Set("message", text);
    if (m.has_origin) {
      Node locations = Node::Sequence();
      Node loc = Node::Map();
      if (!m.origin.file.empty()) {
        Node phys = Node::Map();
        Node artifact = Node::Map();
        artifact.Set("uri", Str(m.origin.file));
        phys.Set("artifactLocation", artifact);
        if (m.origin.line > 0) {
          Node region = Node::Map();
          region.Set("startLine", Node::Scalar(std::to_string(m.origin.line)));
          phys.Set("region", region);
        }
        loc.Set("physicalLocation", phys);
      }
      Node logical = Node::Sequence();
      Node ll = Node::Map();
      ll.Set("fullyQualifiedName", Str(m.origin.FriendlyName()));
      ll.Set("kind", Str("resource"));
      logical.Append(ll);
      loc.Set("logicalLocations", logical);
      locations.Append(loc);
      r.Set("locations", locations);
    }
    results.Append(r);
  }
  Node driver = Node::Map();
  driver.Set("name", Str("meshctl"));
  driver.Set("version", Str(common::kMeshctlVersion));
  driver.Set("informationUri", Str("https://istio.io/latest/docs/reference/config/analysis/"));
  driver.Set("rules", rules);
  Node tool = Node::Map();
  tool.Set("driver", driver);
  Node run = Node::Map();
  run.Set("tool", tool);
  run.Set("results", results);
  Node runs = Node::Sequence();
  runs.Append(run);
  Node root = Node::Map();
  root.Set("$schema", Str("https://json.schemastore.org/sarif-2.1.0.json"));
  root.Set("version", Str("2.1.0"));
  root.Set("runs", runs);
  return config::EmitJson(root, {.indent = 2}) + "\n";
}

}  // namespace mesh::analyze
