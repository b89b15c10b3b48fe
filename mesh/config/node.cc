#include "mesh/config/node.h"

#include <charconv>
#include <cstdlib>

namespace mesh::config {

Node Node::Scalar(std::string value, bool quoted, Mark mark) {
  Node n;
  n.type_ = Type::kScalar;
  n.scalar_ = std::move(value);
  n.quoted_ = quoted;
  n.mark_ = mark;
  return n;
}

Node Node::Sequence(Mark mark) {
  Node n;
  n.type_ = Type::kSequence;
  n.mark_ = mark;
  return n;
}

Node Node::Map(Mark mark) {
  Node n;
  n.type_ = Type::kMap;
  n.mark_ = mark;
  return n;
}

const Node& Node::NullNode() {
  static const Node* kNull = new Node();
  return *kNull;
}

std::optional<int64_t> Node::Int() const {
  if (type_ != Type::kScalar || scalar_.empty()) {
    return std::nullopt;
  }
  std::string_view s = scalar_;
  int base = 10;
  bool neg = false;
  if (s[0] == '+' || s[0] == '-') {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    s.remove_prefix(2);
  } else if (s.size() > 2 && s[0] == '0' && s[1] == 'o') {
    base = 8;
    s.remove_prefix(2);
  }
  if (s.empty()) {
    return std::nullopt;
  }
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (ec != std::errc() || ptr != s.data() + s.size()) {
    return std::nullopt;
  }
  return neg ? -v : v;
}

std::optional<double> Node::Double() const {
  if (type_ != Type::kScalar || scalar_.empty()) {
    return std::nullopt;
  }
  if (auto i = Int()) {
    return static_cast<double>(*i);
  }
  const char* begin = scalar_.c_str();
  char* end = nullptr;
  double v = std::strtod(begin, &end);
  if (end != begin + scalar_.size()) {
    return std::nullopt;
  }
  return v;
}

std::optional<bool> Node::Bool() const {
  if (type_ != Type::kScalar) {
    return std::nullopt;
  }
  const std::string& s = scalar_;
  if (s == "true" || s == "True" || s == "TRUE") {
    return true;
  }
  if (s == "false" || s == "False" || s == "FALSE") {
    return false;
  }
  return std::nullopt;
}

bool Node::LooksNumeric() const { return !quoted_ && Double().has_value(); }
bool Node::LooksBool() const { return !quoted_ && Bool().has_value(); }
bool Node::LooksNull() const {
  return type_ == Type::kNull ||
         (!quoted_ && type_ == Type::kScalar && (scalar_ == "~" || scalar_ == "null" || scalar_ == "Null" || scalar_ == "NULL"));
}

const Node* Node::Find(std::string_view key) const {
  if (type_ != Type::kMap) {
    return nullptr;
  }
  for (const auto& [k, v] : entries_) {
    if (k == key) {
      return &v;
    }
  }
  return nullptr;
}

Node* Node::FindMutable(std::string_view key) {
  return const_cast<Node*>(static_cast<const Node*>(this)->Find(key));
}

const Node& Node::operator[](std::string_view key) const {
  const Node* n = Find(key);
  return n ? *n : NullNode();
}

const Node& Node::At(std::initializer_list<std::string_view> path) const {
  const Node* cur = this;
  for (std::string_view k : path) {
    cur = cur->Find(k);
    if (!cur) {
      return NullNode();
    }
  }
  return *cur;
}

Node& Node::Set(std::string key, Node value) {
  if (type_ != Type::kMap) {
    *this = Map(mark_);
  }
  for (auto& [k, v] : entries_) {
    if (k == key) {
      v = std::move(value);
      return v;
    }
  }
  entries_.emplace_back(std::move(key), std::move(value));
  return entries_.back().second;
}

bool Node::Erase(std::string_view key) {
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    if (it->first == key) {
      entries_.erase(it);
      return true;
    }
  }
  return false;
}

std::vector<std::pair<std::string, std::string>> Node::StringMap() const {
  std::vector<std::pair<std::string, std::string>> out;
  if (type_ != Type::kMap) {
    return out;
  }
  out.reserve(entries_.size());
  for (const auto& [k, v] : entries_) {
    if (v.IsScalar()) {
      out.emplace_back(k, v.Str());
    } else if (v.IsNull()) {
      out.emplace_back(k, "");
    }
  }
  return out;
}

std::vector<std::string> Node::StringList() const {
  std::vector<std::string> out;
  for (const auto& i : items_) {
    if (i.IsScalar()) {
      out.push_back(i.Str());
    }
  }
  return out;
}

bool Node::operator==(const Node& o) const {
  if (type_ != o.type_) {
    return false;
  }
  switch (type_) {
    case Type::kNull:
      return true;
    case Type::kScalar:
      return scalar_ == o.scalar_;
    case Type::kSequence:
      return items_ == o.items_;
    case Type::kMap:
      return entries_ == o.entries_;
  }
  return false;
}

}  // namespace mesh::config
