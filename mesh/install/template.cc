#include "mesh/install/template.h"

#include "mesh/common/strings.h"
#include "mesh/config/emit.h"
#include "mesh/install/tree.h"

namespace mesh::install {
namespace {

struct Expr {
  std::string path;
  std::string filter;  // "", "string", "json", "yaml"
};

absl::StatusOr<Expr> ParseExpr(std::string_view body) {
  Expr e;
  size_t bar = body.find('|');
  e.path = std::string(common::StripWhitespace(body.substr(0, bar)));
  if (bar != std::string_view::npos) {
    e.filter = std::string(common::StripWhitespace(body.substr(bar + 1)));
    if (e.filter != "string" && e.filter != "json" && e.filter != "yaml") {
      return absl::InvalidArgumentError(common::StrCat("unknown template filter \"", e.filter, "\""));
    }
  }
  if (e.path.empty()) {
    return absl::InvalidArgumentError("empty template expression");
  }
  return e;
}

std::string ScalarText(const Node& n) {
  if (n.IsScalar()) {
    return n.Str();
  }
  if (n.IsNull()) {
    return "";
  }
  return config::EmitJson(n, config::JsonOptions{.indent = 0});
}

std::string TrimTrailingNewline(std::string s) {
  while (!s.empty() && s.back() == '\n') {
    s.pop_back();
  }
  return s;
}

Node ApplyFilter(const Node& value, const std::string& filter) {
  if (filter.empty()) {
    return value;
  }
  if (filter == "string") {
    return value.IsNull() ? Node() : StringNode(ScalarText(value));
  }
  if (filter == "json") {
    return StringNode(config::EmitJson(SortedKeys(value), config::JsonOptions{.indent = 0}));
  }
  // yaml
  if (value.IsNull()) {
    return StringNode("{}");
  }
  return StringNode(TrimTrailingNewline(config::EmitYaml(SortedKeys(value))));
}

// Substitutes expressions in a scalar. `whole` receives the node when the scalar is
// exactly one expression.
absl::StatusOr<Node> RenderScalar(const Node& scalar, const Node& context) {
  const std::string& s = scalar.Str();
  size_t open = s.find("{{");
  if (open == std::string::npos) {
    return scalar;
  }
  size_t close = s.find("}}", open);
  if (open == 0 && close != std::string::npos && close + 2 == s.size()) {
    auto e = ParseExpr(std::string_view(s).substr(2, close - 2));
    if (!e.ok()) {
      return e.status();
    }
    return ApplyFilter(GetPath(context, e->path), e->filter);
  }
  std::string out;
  size_t pos = 0;
  while (open != std::string::npos) {
    close = s.find("}}", open);
    if (close == std::string::npos) {
      return absl::InvalidArgumentError(common::StrCat("unterminated {{ in \"", s, "\""));
    }
    out.append(s, pos, open - pos);
    auto e = ParseExpr(std::string_view(s).substr(open + 2, close - open - 2));
    if (!e.ok()) {
      return e.status();
    }
    out += ScalarText(ApplyFilter(GetPath(context, e->path), e->filter));
    pos = close + 2;
    open = s.find("{{", pos);
  }
  out.append(s, pos, std::string::npos);
  return StringNode(std::move(out));
}

// Renders a node; nullopt means "drop me".
absl::StatusOr<std::optional<Node>> RenderNode(const Node& n, const Node& context) {
  switch (n.type()) {
    case Node::Type::kNull:
      return std::optional<Node>(n);
    case Node::Type::kScalar: {
      auto r = RenderScalar(n, context);
      if (!r.ok()) {
        return r.status();
      }
      if (r->IsNull()) {
        return std::optional<Node>();
      }
      return std::optional<Node>(std::move(*r));
    }
    case Node::Type::kSequence: {
      Node out = Node::Sequence(n.mark());
      for (const Node& item : n.items()) {
        if (item.IsMap() && item.Find("_splice") != nullptr) {
          auto list = RenderScalar(item["_splice"], context);
          if (!list.ok()) {
            return list.status();
          }
          for (const Node& x : list->items()) {
            out.Append(x);
          }
          continue;
        }
        auto r = RenderNode(item, context);
        if (!r.ok()) {
          return r.status();
        }
        if (r->has_value()) {
          out.Append(std::move(**r));
        }
      }
      return std::optional<Node>(std::move(out));
    }
    case Node::Type::kMap: {
      if (const Node* cond = n.Find("_if")) {
        if (!Truthy(GetPath(context, cond->Str()))) {
          return std::optional<Node>();
        }
      }
      if (const Node* cond = n.Find("_unless")) {
        if (Truthy(GetPath(context, cond->Str()))) {
          return std::optional<Node>();
        }
      }
      Node out = Node::Map(n.mark());
      for (const auto& [key, value] : n.entries()) {
        if (key == "_if" || key == "_unless") {
          continue;
        }
        if (key == "_merge") {
          auto m = RenderScalar(value, context);
          if (!m.ok()) {
            return m.status();
          }
          for (const auto& [mk, mv] : m->entries()) {
            out.Set(mk, mv);
          }
          continue;
        }
        auto r = RenderNode(value, context);
        if (!r.ok()) {
          return r.status();
        }
        if (r->has_value()) {
          out.Set(key, std::move(**r));
        }
      }
      return std::optional<Node>(std::move(out));
    }
  }
  return std::optional<Node>(n);
}

}  // namespace

absl::StatusOr<std::optional<Node>> RenderTemplate(const Node& tmpl, const Node& context) {
  return RenderNode(tmpl, context);
}

}  // namespace mesh::install
