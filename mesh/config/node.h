#pragma once

// A parsed YAML/JSON value that remembers where it came from. Only the config edge
// (yaml_loader) builds Nodes from text; everything downstream reads them.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mesh::config {

// 1-based line and column; 0 means "unknown".
struct Mark {
  int line = 0;
  int column = 0;
};

class Node {
 public:
  enum class Type { kNull, kScalar, kSequence, kMap };
  using MapEntry = std::pair<std::string, Node>;

  Node() = default;
  static Node Scalar(std::string value, bool quoted = false, Mark mark = {});
  static Node Sequence(Mark mark = {});
  static Node Map(Mark mark = {});

  Type type() const { return type_; }
  bool IsNull() const { return type_ == Type::kNull; }
  bool IsScalar() const { return type_ == Type::kScalar; }
  bool IsSequence() const { return type_ == Type::kSequence; }
  bool IsMap() const { return type_ == Type::kMap; }
  // Whether the node is present and not null.
  bool Defined() const { return type_ != Type::kNull; }

  const Mark& mark() const { return mark_; }
  void set_mark(Mark m) { mark_ = m; }
  // For map values: where the key was written (the line users see).
  const Mark& key_mark() const { return key_mark_; }
  void set_key_mark(Mark m) { key_mark_ = m; }

  // Scalars. `Str()` of a non-scalar is empty. `quoted` is true for '...' and "..."
  // scalars, which are always strings whatever they look like.
  const std::string& Str() const { return scalar_; }
  bool quoted() const { return quoted_; }
  std::optional<int64_t> Int() const;
  std::optional<double> Double() const;
  std::optional<bool> Bool() const;
  // Plain scalar that YAML reads as a number / bool / null.
  bool LooksNumeric() const;
  bool LooksBool() const;
  bool LooksNull() const;

  // Sequences.
  const std::vector<Node>& items() const { return items_; }
  std::vector<Node>& mutable_items() { return items_; }
  void Append(Node n) { items_.push_back(std::move(n)); }

  // Maps keep insertion order; lookups are linear (maps are small).
  const std::vector<MapEntry>& entries() const { return entries_; }
  std::vector<MapEntry>& mutable_entries() { return entries_; }
  const Node* Find(std::string_view key) const;
  Node* FindMutable(std::string_view key);
  // Returns a null Node when the key is absent or this is not a map.
  const Node& operator[](std::string_view key) const;
  // Follows a path of keys; null when any step is missing.
  const Node& At(std::initializer_list<std::string_view> path) const;
  // Inserts or replaces.
  Node& Set(std::string key, Node value);
  bool Erase(std::string_view key);

  size_t size() const { return type_ == Type::kMap ? entries_.size() : items_.size(); }

  // Map of string -> string (labels, annotations); non-scalar values are skipped.
  std::vector<std::pair<std::string, std::string>> StringMap() const;
  // Sequence of scalars as strings.
  std::vector<std::string> StringList() const;

  bool operator==(const Node& other) const;

  static const Node& NullNode();

 private:
  Type type_ = Type::kNull;
  Mark mark_;
  Mark key_mark_;
  std::string scalar_;
  bool quoted_ = false;
  std::vector<Node> items_;
  std::vector<MapEntry> entries_;
};

}  // namespace mesh::config
