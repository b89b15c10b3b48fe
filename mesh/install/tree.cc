#include "mesh/install/tree.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>

#include "mesh/common/strings.h"

namespace mesh::install {

void MergeFrom(Node& base, const Node& overlay) {
  if (overlay.IsNull()) {
    return;
  }
  if (!base.IsMap() || !overlay.IsMap()) {
    base = overlay;
    return;
  }
  for (const auto& [key, value] : overlay.entries()) {
    Node* existing = base.FindMutable(key);
    if (existing == nullptr) {
      if (!value.IsNull()) {
        base.Set(key, value);
      }
      continue;
    }
    MergeFrom(*existing, value);
  }
}

absl::StatusOr<std::vector<PathElement>> SplitPath(std::string_view path) {
  // First split on unescaped dots, turning "\." into ".".
  std::vector<std::string> raw;
  std::string cur;
  for (size_t i = 0; i < path.size(); ++i) {
    char c = path[i];
    if (c == '\\' && i + 1 < path.size() && path[i + 1] == '.') {
      cur.push_back('.');
      ++i;
    } else if (c == '.') {
      raw.push_back(std::move(cur));
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  raw.push_back(std::move(cur));

  std::vector<PathElement> out;
  for (std::string& piece : raw) {
    if (piece.empty()) {
      continue;  // "a..b" and a leading/trailing dot, as filepath.Clean does
    }
    // "key[0]" is "key" then "[0]"; several brackets may follow.
    std::string_view rest = piece;
    size_t bracket = rest.find('[');
    if (bracket != 0) {
      PathElement key;
      key.key = std::string(rest.substr(0, bracket == std::string_view::npos ? rest.size() : bracket));
      out.push_back(std::move(key));
      if (bracket == std::string_view::npos) {
        continue;
      }
      rest.remove_prefix(bracket);
    }
    while (!rest.empty()) {
      if (rest.front() != '[') {
        return absl::InvalidArgumentError(common::StrCat("invalid path element \"", piece, "\" in ", path));
      }
      size_t close = rest.find(']');
      if (close == std::string_view::npos) {
        return absl::InvalidArgumentError(common::StrCat("unterminated [ in path ", path));
      }
      std::string_view inner = rest.substr(1, close - 1);
      rest.remove_prefix(close + 1);
      PathElement el;
      size_t colon = inner.find(':');
      if (colon != std::string_view::npos) {
        el.kind = PathElement::Kind::kSelector;
        el.key = std::string(inner.substr(0, colon));
        el.value = std::string(inner.substr(colon + 1));
      } else if (!inner.empty()) {
        // A whole (signed) integer is an index; anything else ("[30m]", "[--foo]") selects
        // the scalar element with that value.
        std::string_view digits = inner;
        bool negative = digits[0] == '-';
        if (digits[0] == '-' || digits[0] == '+') {
          digits.remove_prefix(1);
        }
        bool numeric = !digits.empty() && std::all_of(digits.begin(), digits.end(),
                                                      [](char c) { return c >= '0' && c <= '9'; });
        if (numeric && negative) {
          return absl::InvalidArgumentError(common::StrCat("invalid list index [", inner, "] in path ", path));
        }
        if (numeric) {
          el.kind = PathElement::Kind::kIndex;
          // An index too large for size_t would otherwise be read as 0.
          if (std::from_chars(digits.data(), digits.data() + digits.size(), el.index).ec != std::errc()) {
            return absl::InvalidArgumentError(common::StrCat("invalid list index [", inner, "] in path ", path));
          }
        } else {
          el.kind = PathElement::Kind::kValue;
          el.value = std::string(inner);
        }
      } else {
        return absl::InvalidArgumentError(common::StrCat("empty [] in path ", path));
      }
      out.push_back(std::move(el));
    }
  }
  if (out.empty()) {
    return absl::InvalidArgumentError(common::StrCat("empty path \"", path, "\""));
  }
  return out;
}

std::string JoinPath(const std::vector<PathElement>& path) {
  std::string out;
  for (const PathElement& el : path) {
    switch (el.kind) {
      case PathElement::Kind::kKey: {
        if (!out.empty()) {
          out.push_back('.');
        }
        out += el.key;
        break;
      }
      case PathElement::Kind::kIndex:
        out += common::StrCat("[", el.index, "]");
        break;
      case PathElement::Kind::kSelector:
        out += common::StrCat("[", el.key, ":", el.value, "]");
        break;
      case PathElement::Kind::kValue:
        out += common::StrCat("[", el.value, "]");
        break;
    }
  }
  return out;
}

namespace {

absl::Status SetRecurse(Node& node, const std::vector<PathElement>& path, size_t i, Node& value) {
  const PathElement& el = path[i];
  bool last = i + 1 == path.size();
  auto next_container = [&]() {
    // What to create for a missing element: a list if the next step indexes one.
    if (last) {
      return Node();
    }
    return path[i + 1].kind == PathElement::Kind::kKey ? Node::Map() : Node::Sequence();
  };
  std::string where = JoinPath(std::vector<PathElement>(path.begin(), path.begin() + static_cast<long>(i) + 1));
  switch (el.kind) {
    case PathElement::Kind::kKey: {
      if (node.IsNull()) {
        node = Node::Map();
      }
      if (!node.IsMap()) {
        return absl::InvalidArgumentError(common::StrCat("cannot set ", where, ": parent is not a map"));
      }
      Node* child = node.FindMutable(el.key);
      if (last) {
        node.Set(el.key, std::move(value));
        return absl::OkStatus();
      }
      if (child == nullptr || child->IsNull()) {
        child = &node.Set(el.key, next_container());
      }
      return SetRecurse(*child, path, i + 1, value);
    }
    case PathElement::Kind::kIndex: {
      if (node.IsNull()) {
        node = Node::Sequence();
      }
      if (!node.IsSequence()) {
        return absl::InvalidArgumentError(common::StrCat("cannot set ", where, ": parent is not a list"));
      }
      auto& items = node.mutable_items();
      if (el.index >= items.size()) {
        items.push_back(last ? Node() : next_container());
        if (last) {
          items.back() = std::move(value);
          return absl::OkStatus();
        }
        return SetRecurse(items.back(), path, i + 1, value);
      }
      if (last) {
        items[el.index] = std::move(value);
        return absl::OkStatus();
      }
      return SetRecurse(items[el.index], path, i + 1, value);
    }
    case PathElement::Kind::kSelector: {
      if (!node.IsSequence()) {
        return absl::InvalidArgumentError(common::StrCat("element [", el.key, ":", el.value, "] not found"));
      }
      for (Node& item : node.mutable_items()) {
        const Node& k = item[el.key];
        if (k.IsScalar() && k.Str() == el.value) {
          if (last) {
            item = std::move(value);
            return absl::OkStatus();
          }
          return SetRecurse(item, path, i + 1, value);
        }
      }
      return absl::InvalidArgumentError(common::StrCat("element [", el.key, ":", el.value, "] not found"));
    }
    case PathElement::Kind::kValue: {
      if (node.IsSequence()) {
        for (Node& item : node.mutable_items()) {
          if (item.IsScalar() && item.Str() == el.value) {
            if (last) {
              item = std::move(value);
              return absl::OkStatus();
            }
            return SetRecurse(item, path, i + 1, value);
          }
        }
      }
      return absl::InvalidArgumentError(common::StrCat("element [", el.value, "] not found"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status SetPath(Node& root, std::string_view path, Node value) {
  auto elements = SplitPath(path);
  if (!elements.ok()) {
    return elements.status();
  }
  return SetRecurse(root, *elements, 0, value);
}

absl::StatusOr<bool> DeletePath(Node& root, std::string_view path) {
  auto elements = SplitPath(path);
  if (!elements.ok()) {
    return elements.status();
  }
  Node* cur = &root;
  for (size_t i = 0; i < elements->size(); ++i) {
    const PathElement& el = (*elements)[i];
    bool last = i + 1 == elements->size();
    if (el.kind == PathElement::Kind::kKey) {
      if (!cur->IsMap()) {
        return false;
      }
      if (last) {
        return cur->Erase(el.key);
      }
      cur = cur->FindMutable(el.key);
      if (cur == nullptr) {
        return false;
      }
      continue;
    }
    if (!cur->IsSequence()) {
      return false;
    }
    auto& items = cur->mutable_items();
    size_t index = items.size();
    if (el.kind == PathElement::Kind::kIndex) {
      index = el.index;
    } else {
      for (size_t j = 0; j < items.size(); ++j) {
        const Node& candidate = el.kind == PathElement::Kind::kValue ? items[j] : items[j][el.key];
        if (candidate.IsScalar() && candidate.Str() == el.value) {
          index = j;
          break;
        }
      }
    }
    if (index >= items.size()) {
      return false;
    }
    if (last) {
      items.erase(items.begin() + static_cast<long>(index));
      return true;
    }
    cur = &items[index];
  }
  return false;
}

const Node& GetPath(const Node& root, std::string_view path) {
  auto elements = SplitPath(path);
  if (!elements.ok()) {
    return Node::NullNode();
  }
  const Node* cur = &root;
  for (const PathElement& el : *elements) {
    switch (el.kind) {
      case PathElement::Kind::kKey:
        cur = &(*cur)[el.key];
        break;
      case PathElement::Kind::kIndex:
        if (!cur->IsSequence() || el.index >= cur->items().size()) {
          return Node::NullNode();
        }
        cur = &cur->items()[el.index];
        break;
      case PathElement::Kind::kSelector:
      case PathElement::Kind::kValue: {
        const Node* found = &Node::NullNode();
        for (const Node& item : cur->items()) {
          const Node& candidate = el.kind == PathElement::Kind::kValue ? item : item[el.key];
          if (candidate.IsScalar() && candidate.Str() == el.value) {
            found = &item;
            break;
          }
        }
        cur = found;
        break;
      }
    }
    if (cur->IsNull()) {
      return Node::NullNode();
    }
  }
  return *cur;
}

namespace {

bool AlwaysString(std::string_view spec_path) {
  if (spec_path == "tag" || spec_path == "values.global.tag" || spec_path == "compatibilityVersion" ||
      spec_path == "values.compatibilityVersion") {
    return true;
  }
  return spec_path.find("meshConfig.defaultConfig.proxyMetadata.") != std::string_view::npos;
}

bool IsGoInt(std::string_view s) {
  // strconv.Atoi: optional sign, decimal digits only.
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    s.remove_prefix(1);
  }
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool IsGoFloat(std::string_view s) {
  if (s.empty()) {
    return false;
  }
  std::string lower = common::ToLower(s);
  std::string_view l = lower;
  if (!l.empty() && (l[0] == '+' || l[0] == '-')) {
    l.remove_prefix(1);
  }
  if (l == "inf" || l == "infinity" || l == "nan") {
    return true;
  }
  std::string copy(s);
  char* end = nullptr;
  std::strtod(copy.c_str(), &end);
  // strtod also accepts hex floats and leading spaces, which ParseFloat mostly does too.
  return end == copy.c_str() + copy.size() && !std::isspace(static_cast<unsigned char>(copy[0]));
}

std::optional<bool> GoParseBool(std::string_view s) {
  if (s == "1" || s == "t" || s == "T" || s == "true" || s == "TRUE" || s == "True") {
    return true;
  }
  if (s == "0" || s == "f" || s == "F" || s == "false" || s == "FALSE" || s == "False") {
    return false;
  }
  return std::nullopt;
}

}  // namespace

Node ParseSetValue(std::string_view spec_path, std::string_view value) {
  if (AlwaysString(spec_path)) {
    return StringNode(std::string(value));
  }
  if (IsGoInt(value)) {
    return Node::Scalar(std::string(value), false);
  }
  if (IsGoFloat(value)) {
    return Node::Scalar(std::string(value), false);
  }
  if (auto b = GoParseBool(value)) {
    return BoolNode(*b);
  }
  std::string s;
  for (size_t i = 0; i < value.size(); ++i) {
    if (value[i] == '\\' && i + 1 < value.size() && value[i + 1] == ',') {
      continue;
    }
    s.push_back(value[i]);
  }
  return StringNode(std::move(s));
}

absl::StatusOr<SetFlag> ParseSetFlag(std::string_view flag) {
  size_t eq = flag.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    return absl::InvalidArgumentError(
        common::StrCat("--set ", flag, ": expected path=value (for example values.global.hub=docker.io/istio)"));
  }
  std::string path(common::StripWhitespace(flag.substr(0, eq)));
  std::string_view value = flag.substr(eq + 1);
  std::string_view p = path;
  common::ConsumePrefix(p, "spec.");
  auto elements = SplitPath(p);
  if (!elements.ok()) {
    return elements.status();
  }
  return SetFlag{std::string(p), ParseSetValue(p, value)};
}

bool Truthy(const Node& n) {
  switch (n.type()) {
    case Node::Type::kNull:
      return false;
    case Node::Type::kMap:
    case Node::Type::kSequence:
      return n.size() > 0;
    case Node::Type::kScalar: {
      if (n.quoted()) {
        return !n.Str().empty();
      }
      if (auto b = n.Bool()) {
        return *b;
      }
      if (auto d = n.Double()) {
        return *d != 0;
      }
      return !n.Str().empty() && !n.LooksNull();
    }
  }
  return false;
}

Node SortedKeys(const Node& n) {
  if (n.IsMap()) {
    Node out = Node::Map(n.mark());
    std::vector<const Node::MapEntry*> entries;
    for (const auto& e : n.entries()) {
      entries.push_back(&e);
    }
    std::sort(entries.begin(), entries.end(), [](auto* a, auto* b) { return a->first < b->first; });
    for (const auto* e : entries) {
      out.mutable_entries().emplace_back(e->first, SortedKeys(e->second));
    }
    return out;
  }
  if (n.IsSequence()) {
    Node out = Node::Sequence(n.mark());
    for (const Node& item : n.items()) {
      out.Append(SortedKeys(item));
    }
    return out;
  }
  return n;
}

Node StringNode(std::string s) { return Node::Scalar(std::move(s), true); }
Node IntNode(int64_t v) { return Node::Scalar(std::to_string(v), false); }
Node BoolNode(bool v) { return Node::Scalar(v ? "true" : "false", false); }

}  // namespace mesh::install
