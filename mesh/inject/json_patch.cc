#include "mesh/inject/json_patch.h"

#include <string>
#include <vector>

#include "mesh/common/strings.h"

namespace mesh::inject {
namespace {

using config::Node;

std::string EscapePointer(const std::string& key) {
  std::string out;
  for (char c : key) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

Node Op(const char* op, const std::string& path, const Node* value) {
  Node o = Node::Map();
  o.Set("op", Node::Scalar(op, true));
  o.Set("path", Node::Scalar(path, true));
  if (value != nullptr) {
    o.Set("value", *value);
  }
  return o;
}

void Diff(const Node& a, const Node& b, const std::string& path, Node& ops) {
  if (a.IsMap() && b.IsMap()) {
    for (const auto& [k, v] : a.entries()) {
      if (b.Find(k) == nullptr) {
        ops.Append(Op("remove", path + "/" + EscapePointer(k), nullptr));
      }
    }
    for (const auto& [k, v] : b.entries()) {
      const Node* old = a.Find(k);
      if (old == nullptr) {
        ops.Append(Op("add", path + "/" + EscapePointer(k), &v));
      } else {
        Diff(*old, v, path + "/" + EscapePointer(k), ops);
      }
    }
    return;
  }
  if (!(a == b)) {
    ops.Append(Op("replace", path, &b));
  }
}

absl::StatusOr<std::vector<std::string>> ParsePointer(const std::string& pointer) {
  std::vector<std::string> out;
  if (pointer.empty()) {
    return out;
  }
  if (pointer[0] != '/') {
    return absl::InvalidArgumentError(common::StrCat("JSON pointer must start with /: ", pointer));
  }
  for (const std::string& raw : common::Split(pointer.substr(1), '/')) {
    std::string token;
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '~' && i + 1 < raw.size() && (raw[i + 1] == '0' || raw[i + 1] == '1')) {
        token += raw[i + 1] == '0' ? '~' : '/';
        ++i;
      } else {
        token += raw[i];
      }
    }
    out.push_back(token);
  }
  return out;
}

absl::StatusOr<size_t> Index(const std::string& token, size_t size, bool allow_end) {
  if (allow_end && token == "-") {
    return size;
  }
  if (token.empty() || token.find_first_not_of("0123456789") != std::string::npos) {
    return absl::InvalidArgumentError(common::StrCat("bad array index \"", token, "\""));
  }
  size_t i = std::stoul(token);
  if (i > size || (!allow_end && i == size)) {
    return absl::OutOfRangeError(common::StrCat("array index ", i, " out of range (size ", size, ")"));
  }
  return i;
}

absl::Status ApplyOne(Node& doc, const Node& op) {
  std::string kind = op["op"].Str();
  auto tokens = ParsePointer(op["path"].Str());
  if (!tokens.ok()) {
    return tokens.status();
  }
  if (kind != "add" && kind != "remove" && kind != "replace") {
    return absl::UnimplementedError(common::StrCat("unsupported op \"", kind, "\""));
  }
  if ((kind == "add" || kind == "replace") && op.Find("value") == nullptr) {
    return absl::InvalidArgumentError(common::StrCat(kind, " without a value"));
  }
  if (tokens->empty()) {
    if (kind == "remove") {
      return absl::InvalidArgumentError("cannot remove the whole document");
    }
    doc = op["value"];
    return absl::OkStatus();
  }
  Node* parent = &doc;
  for (size_t i = 0; i + 1 < tokens->size(); ++i) {
    const std::string& t = (*tokens)[i];
    if (parent->IsMap()) {
      parent = parent->FindMutable(t);
    } else if (parent->IsSequence()) {
      auto idx = Index(t, parent->size(), false);
      if (!idx.ok()) {
        return idx.status();
      }
      parent = &parent->mutable_items()[*idx];
    } else {
      parent = nullptr;
    }
    if (parent == nullptr) {
      return absl::NotFoundError(common::StrCat("path ", op["path"].Str(), " does not exist"));
    }
  }
  const std::string& last = tokens->back();
  if (parent->IsMap()) {
    bool exists = parent->Find(last) != nullptr;
    if (kind == "remove") {
      return parent->Erase(last) ? absl::OkStatus()
                                 : absl::NotFoundError(common::StrCat("path ", op["path"].Str(), " does not exist"));
    }
    if (kind == "replace" && !exists) {
      return absl::NotFoundError(common::StrCat("path ", op["path"].Str(), " does not exist"));
    }
    parent->Set(last, op["value"]);
    return absl::OkStatus();
  }
  if (parent->IsSequence()) {
    auto& items = parent->mutable_items();
    auto idx = Index(last, items.size(), kind == "add");
    if (!idx.ok()) {
      return idx.status();
    }
    if (kind == "add") {
      items.insert(items.begin() + static_cast<std::ptrdiff_t>(*idx), op["value"]);
    } else if (kind == "remove") {
      items.erase(items.begin() + static_cast<std::ptrdiff_t>(*idx));
    } else {
      items[*idx] = op["value"];
    }
    return absl::OkStatus();
  }
  return absl::NotFoundError(common::StrCat("parent of ", op["path"].Str(), " is not a map or list"));
}

}  // namespace

Node CreateJsonPatch(const Node& before, const Node& after) {
  Node ops = Node::Sequence();
  Diff(before, after, "", ops);
  return ops;
}

absl::StatusOr<Node> ApplyJsonPatch(Node document, const Node& patch) {
  if (!patch.IsSequence()) {
    return absl::InvalidArgumentError("a JSON patch is a list of operations");
  }
  for (size_t i = 0; i < patch.size(); ++i) {
    if (auto st = ApplyOne(document, patch.items()[i]); !st.ok()) {
      return absl::Status(st.code(), common::StrCat("patch operation ", i, ": ", st.message()));
    }
  }
  return document;
}

}  // namespace mesh::inject
