#include "mesh/analyze/message.h"

#include <cstdio>
#include <cstdlib>
#include <unordered_map>

#include "mesh/analyze/messages_data.h"
#include "mesh/common/strings.h"
#include "mesh/config/yaml_loader.h"

namespace mesh::analyze {

std::string_view LevelName(Level level) {
  switch (level) {
    case Level::kError: return "Error";
    case Level::kWarning: return "Warning";
    case Level::kInfo: return "Info";
  }
  return "Unknown";
}

bool ParseLevel(std::string_view text, Level& level) {
  std::string t = common::ToLower(text);
  if (t == "error") {
    level = Level::kError;
  } else if (t == "warning") {
    level = Level::kWarning;
  } else if (t == "info") {
    level = Level::kInfo;
  } else {
    return false;
  }
  return true;
}

const std::vector<MessageType>& AllMessageTypes() {
  static const std::vector<MessageType>* kTypes = [] {
    auto root = config::ParseYamlNode(kMessageCatalog, "messages.yaml (built in)");
    auto* types = new std::vector<MessageType>();
    if (!root.ok()) {
      std::fprintf(stderr, "meshctl: bug: %s\n", std::string(root.status().message()).c_str());
      std::abort();
    }
    for (const config::Node& m : (*root)["messages"].items()) {
      MessageType t;
      t.code = m["code"].Str();
      t.name = m["name"].Str();
      if (!ParseLevel(m["level"].Str(), t.level)) {
        std::fprintf(stderr, "meshctl: bug: bad level for %s\n", t.code.c_str());
        std::abort();
      }
      t.tmpl = m["template"].Str();
      t.args = m["args"].StringList();
      types->push_back(std::move(t));
    }
    return types;
  }();
  return *kTypes;
}

const MessageType* FindMessageType(std::string_view name_or_code) {
  for (const MessageType& t : AllMessageTypes()) {
    if (t.name == name_or_code || t.code == name_or_code) {
      return &t;
    }
  }
  return nullptr;
}

const MessageType& MessageTypeNamed(std::string_view name) {
  const MessageType* t = FindMessageType(name);
  if (t == nullptr) {
    std::fprintf(stderr, "meshctl: bug: unknown message type %.*s\n", static_cast<int>(name.size()), name.data());
    std::abort();
  }
  return *t;
}

std::string Origin::FriendlyName() const {
  return ns.empty() ? common::StrCat(kind, " ", name) : common::StrCat(kind, " ", ns, "/", name);
}

std::string Origin::Reference() const {
  if (file.empty()) {
    return "";
  }
  bool json = file.size() >= 5 && file.substr(file.size() - 5) == ".json";
  if (line <= 0 || json) {
    return file;
  }
  return common::StrCat(file, ":", line);
}

Origin OriginOf(const config::Resource& resource, int line_override) {
  Origin o;
  o.kind = resource.kind();
  o.ns = resource.ns();
  o.name = resource.name();
  o.file = resource.source().file;
  o.line = line_override > 0 ? line_override : resource.source().line;
  return o;
}

std::string FormatTemplate(std::string_view tmpl, const std::vector<std::string>& args) {
  std::string out;
  size_t next = 0;
  for (size_t i = 0; i < tmpl.size(); ++i) {
    char c = tmpl[i];
    if (c != '%' || i + 1 >= tmpl.size()) {
      out += c;
      continue;
    }
    char verb = tmpl[i + 1];
    if (verb == '%') {
      out += '%';
      ++i;
      continue;
    }
    if (verb != 's' && verb != 'v' && verb != 'd' && verb != 'q') {
      out += c;
      continue;
    }
    ++i;
    if (next >= args.size()) {
      out += common::StrCat("%!", verb, "(MISSING)");
      continue;
    }
    const std::string& arg = args[next++];
    out += verb == 'q' ? common::GoQuote(arg) : arg;
  }
  return out;
}

std::string Message::Text() const { return FormatTemplate(type->tmpl, args); }

std::string Message::LogLine(bool color) const {
  std::string level(LevelName(type->level));
  if (color) {
    if (type->level == Level::kError) {
      level = "\033[1;31m" + level + "\033[0m";
    } else if (type->level == Level::kWarning) {
      level = "\033[33m" + level + "\033[0m";
    }
  }
  std::string line = common::StrCat(level, " [", type->code, "]");
  if (has_origin) {
    std::string ref = origin.Reference();
    line += common::StrCat(" (", origin.FriendlyName(), ref.empty() ? "" : " ", ref, ")");
  }
  line += " " + Text();
  return line;
}

}  // namespace mesh::analyze
