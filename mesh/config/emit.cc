#include "mesh/config/emit.h"

#include <cstdio>

namespace mesh::config {
namespace {

bool IsJsonNumber(std::string_view s) {
  size_t i = 0;
  if (i < s.size() && s[i] == '-') {
    ++i;
  }
  if (i >= s.size() || !isdigit(static_cast<unsigned char>(s[i]))) {
    return false;
  }
  if (s[i] == '0' && i + 1 < s.size() && isdigit(static_cast<unsigned char>(s[i + 1]))) {
    return false;
  }
  while (i < s.size() && isdigit(static_cast<unsigned char>(s[i]))) {
    ++i;
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (i >= s.size() || !isdigit(static_cast<unsigned char>(s[i]))) {
      return false;
    }
    while (i < s.size() && isdigit(static_cast<unsigned char>(s[i]))) {
      ++i;
    }
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
      ++i;
    }
    if (i >= s.size() || !isdigit(static_cast<unsigned char>(s[i]))) {
      return false;
    }
    while (i < s.size() && isdigit(static_cast<unsigned char>(s[i]))) {
      ++i;
    }
  }
  return i == s.size();
}

void EmitJsonInto(const Node& n, const JsonOptions& o, int depth, std::string& out) {
  auto newline = [&](int d) {
    if (o.indent == 0 && !o.tab_indent) {
      return;
    }
    out += '\n';
    if (o.tab_indent) {
      out.append(static_cast<size_t>(d), '\t');
    } else {
      out.append(static_cast<size_t>(d * o.indent), ' ');
    }
  };
  switch (n.type()) {
    case Node::Type::kNull:
      out += "null";
      return;
    case Node::Type::kScalar: {
      const std::string& s = n.Str();
      if (!n.quoted()) {
        if (s == "true" || s == "false") {
          out += s;
          return;
        }
        if (s == "null" || s == "~") {
          out += "null";
          return;
        }
        if (IsJsonNumber(s)) {
          out += s;
          return;
        }
      }
      out += JsonQuote(s, o.escape_html);
      return;
    }
    case Node::Type::kSequence: {
      if (n.items().empty()) {
        out += "[]";
        return;
      }
      out += '[';
      bool first = true;
      for (const Node& i : n.items()) {
        if (!first) {
          out += ',';
        }
        first = false;
        newline(depth + 1);
        EmitJsonInto(i, o, depth + 1, out);
      }
      newline(depth);
      out += ']';
      return;
    }
    case Node::Type::kMap: {
      if (n.entries().empty()) {
        out += "{}";
        return;
      }
      out += '{';
      bool first = true;
      for (const auto& [k, v] : n.entries()) {
        if (!first) {
          out += ',';
        }
        first = false;
        newline(depth + 1);
        out += JsonQuote(k, o.escape_html);
        out += (o.indent == 0 && !o.tab_indent) ? ":" : ": ";
        EmitJsonInto(v, o, depth + 1, out);
      }
      newline(depth);
      out += '}';
      return;
    }
  }
}

// YAML (our parser for JSON too) reads NEL, LINE SEPARATOR and PARAGRAPH SEPARATOR as line
// breaks and DEL as non-printable, so text holding them must be escaped to read back the
// same. Returns the escape for the character starting at s[i] and its length in bytes.
std::pair<std::string_view, size_t> YamlBreakingCharacter(std::string_view s, size_t i) {
  auto at = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  if (at(i) == 0x7f) {
    return {"\\u007f", 1};
  }
  if (at(i) == 0xc2 && i + 1 < s.size() && at(i + 1) == 0x85) {
    return {"\\u0085", 2};
  }
  if (at(i) == 0xe2 && i + 2 < s.size() && at(i + 1) == 0x80 && (at(i + 2) == 0xa8 || at(i + 2) == 0xa9)) {
    return {at(i + 2) == 0xa8 ? "\\u2028" : "\\u2029", 3};
  }
  return {"", 0};
}

// Text that single quotes cannot carry: control characters, backslashes (kept as they are
// in our double-quoted form), and what YAML reads as a line break.
bool NeedsEscapes(std::string_view s) {
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == '\\' || YamlBreakingCharacter(s, i).second > 0) {
      return true;
    }
  }
  return false;
}

std::string YamlScalar(const Node& n) {
  const std::string& s = n.Str();
  bool needs = YamlNeedsQuotes(s) || (n.quoted() && (n.LooksNumeric() || n.LooksBool() || n.LooksNull()));
  if (n.quoted()) {
    // A quoted scalar that YAML would read as another type must stay quoted.
    Node plain = Node::Scalar(s, false);
    needs = needs || plain.LooksNumeric() || plain.LooksBool() || plain.LooksNull() ||
            s == "yes" || s == "no" || s == "on" || s == "off" || s == "y" || s == "n";
  }
  if (!needs) {
    return s;
  }
  if (NeedsEscapes(s)) {
    return JsonQuote(s);  // single quotes cannot escape anything but the quote itself
  }
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "''";
    } else {
      out += c;
    }
  }
  out += '\'';
  return out;
}

std::string YamlKey(const std::string& k) {
  if (YamlNeedsQuotes(k)) {
    return YamlScalar(Node::Scalar(k, true));
  }
  Node plain = Node::Scalar(k, false);
  if (plain.LooksBool() || plain.LooksNull() || plain.LooksNumeric()) {
    return "'" + k + "'";
  }
  return k;
}

bool IsMultiline(const Node& n) {
  return n.IsScalar() && n.Str().find('\n') != std::string::npos;
}

void EmitBlock(const std::string& s, int indent, std::string& out) {
  bool trailing = !s.empty() && s.back() == '\n';
  out += trailing ? "|" : "|-";
  size_t pos = 0;
  std::string_view view = s;
  if (trailing) {
    view.remove_suffix(1);
  }
  while (pos <= view.size()) {
    size_t eol = view.find('\n', pos);
    std::string_view line = view.substr(pos, eol == std::string_view::npos ? view.npos : eol - pos);
    out += '\n';
    if (!line.empty()) {
      out.append(static_cast<size_t>(indent), ' ');
      out.append(line);
    }
    if (eol == std::string_view::npos) {
      break;
    }
    pos = eol + 1;
  }
}

bool BlockSafe(const std::string& s) {
  // Literal blocks cannot carry leading spaces on the first line or trailing spaces.
  if (s.empty() || s[0] == ' ' || s[0] == '\n') {
    return false;
  }
  for (size_t i = 0; i + 1 < s.size(); ++i) {
    if (s[i] == ' ' && s[i + 1] == '\n') {
      return false;
    }
  }
  return s.find('\t') == std::string::npos && s.find('\r') == std::string::npos;
}

void EmitYamlInto(const Node& n, int indent, std::string& out);

// Emits a value that follows "key:" on the same line.
void EmitYamlValue(const Node& v, int indent, std::string& out) {
  if (v.IsMap() && !v.entries().empty()) {
    out += '\n';
    EmitYamlInto(v, indent + 2, out);
  } else if (v.IsSequence() && !v.items().empty()) {
    out += '\n';
    EmitYamlInto(v, indent, out);
  } else if (v.IsMap()) {
    out += " {}\n";
  } else if (v.IsSequence()) {
    out += " []\n";
  } else if (v.IsNull()) {
    out += " null\n";
  } else if (IsMultiline(v) && BlockSafe(v.Str())) {
    out += ' ';
    EmitBlock(v.Str(), indent + 2, out);
    out += '\n';
  } else {
    out += ' ';
    out += YamlScalar(v);
    out += '\n';
  }
}

void EmitYamlInto(const Node& n, int indent, std::string& out) {
  std::string pad(static_cast<size_t>(indent), ' ');
  if (n.IsMap()) {
    for (const auto& [k, v] : n.entries()) {
      out += pad;
      out += YamlKey(k);
      out += ':';
      EmitYamlValue(v, indent, out);
    }
  } else if (n.IsSequence()) {
    for (const Node& item : n.items()) {
      out += pad;
      out += "- ";
      if (item.IsMap() && !item.entries().empty()) {
        // First entry on the dash line, the rest aligned under it.
        std::string nested;
        EmitYamlInto(item, indent + 2, nested);
        out.append(nested, static_cast<size_t>(indent + 2), std::string::npos);
      } else if (item.IsSequence() && !item.items().empty()) {
        std::string nested;
        EmitYamlInto(item, indent + 2, nested);
        out.append(nested, static_cast<size_t>(indent + 2), std::string::npos);
      } else if (item.IsMap()) {
        out += "{}\n";
      } else if (item.IsSequence()) {
        out += "[]\n";
      } else if (item.IsNull()) {
        out += "null\n";
      } else if (IsMultiline(item) && BlockSafe(item.Str())) {
        EmitBlock(item.Str(), indent + 2, out);
        out += '\n';
      } else {
        out += YamlScalar(item);
        out += '\n';
      }
    }
  } else if (n.IsScalar()) {
    out += pad + YamlScalar(n) + "\n";
  } else {
    out += pad + "null\n";
  }
}

}  // namespace

std::string JsonQuote(std::string_view s, bool escape_html) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size(); ++i) {
    auto [escape, length] = YamlBreakingCharacter(s, i);
    if (length > 0) {
      out += escape;
      i += length - 1;
      continue;
    }
    unsigned char c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || (escape_html && (c == '<' || c == '>' || c == '&'))) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
  return out;
}

bool YamlNeedsQuotes(std::string_view s) {
  if (s.empty()) {
    return true;
  }
  static constexpr std::string_view kLeading = "-?:,[]{}#&*!|>'\"%@`~ ";
  if (kLeading.find(s[0]) != std::string_view::npos) {
    // "-" alone or "- x" starts a sequence; "-1" and "-foo" are fine as plain scalars.
    if (!(s[0] == '-' && s.size() > 1 && s[1] != ' ')) {
      return true;
    }
  }
  if (s.back() == ' ' || s.back() == ':') {
    return true;
  }
  if (s.find(": ") != std::string_view::npos || s.find(" #") != std::string_view::npos) {
    return true;
  }
  for (size_t i = 0; i < s.size(); ++i) {
    if (static_cast<unsigned char>(s[i]) < 0x20 || YamlBreakingCharacter(s, i).second > 0) {
      return true;
    }
  }
  return false;
}

std::string EmitYaml(const Node& node) {
  std::string out;
  EmitYamlInto(node, 0, out);
  return out;
}

std::string EmitJson(const Node& node, const JsonOptions& options) {
  std::string out;
  EmitJsonInto(node, options, 0, out);
  return out;
}

}  // namespace mesh::config
