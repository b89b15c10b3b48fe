#include "mesh/config/schema.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>

#include "mesh/config/schema_data.h"
#include "mesh/config/yaml_loader.h"
#include "mesh/common/strings.h"

namespace mesh::config {
namespace {

std::string SnakeToCamel(std::string_view s) {
  std::string out;
  bool upper = false;
  for (char c : s) {
    if (c == '_') {
      upper = true;
      continue;
    }
    out += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
    upper = false;
  }
  return out;
}

class TypeParser {
 public:
  explicit TypeParser(const Node& types) : types_(types) {}

  absl::StatusOr<TypeSchemaConstPtr> Parse(std::string_view expr) {
    expr = common::StripWhitespace(expr);
    auto t = std::make_shared<TypeSchema>();
    if (common::ConsumePrefix(expr, "[]")) {
      t->type = FieldType::kList;
      auto el = Parse(expr);
      if (!el.ok()) {
        return el.status();
      }
      t->element = *el;
      return t;
    }
    if (common::ConsumePrefix(expr, "map[string]")) {
      t->type = FieldType::kMap;
      auto el = Parse(expr);
      if (!el.ok()) {
        return el.status();
      }
      t->element = *el;
      return t;
    }
    if (common::ConsumePrefix(expr, "enum(")) {
      if (!common::ConsumeSuffix(expr, ")")) {
        return absl::InvalidArgumentError(common::StrCat("unterminated enum in ", expr));
      }
      t->type = FieldType::kEnum;
      for (const std::string& v : common::Split(expr, ',', true)) {
        t->enum_values.emplace_back(common::StripWhitespace(v));
      }
      return t;
    }
    static const std::map<std::string, FieldType, std::less<>> kScalars = {
        {"string", FieldType::kString}, {"int32", FieldType::kInt32},   {"uint32", FieldType::kUInt32},
        {"int64", FieldType::kInt64},   {"double", FieldType::kDouble}, {"bool", FieldType::kBool},
        {"duration", FieldType::kDuration}, {"any", FieldType::kAny},   {"object", FieldType::kObject},
    };
    if (auto it = kScalars.find(expr); it != kScalars.end()) {
      t->type = it->second;
      return t;
    }
    return Struct(std::string(expr));
  }

  absl::StatusOr<TypeSchemaConstPtr> Struct(const std::string& name) {
    if (auto it = done_.find(name); it != done_.end()) {
      return it->second;
    }
    const Node* def = types_.Find(name);
    if (def == nullptr) {
      return absl::InvalidArgumentError(common::StrCat("unknown type ", name));
    }
    // Register before filling so recursive types terminate.
    auto t = std::make_shared<TypeSchema>();
    t->type = FieldType::kStruct;
    t->struct_name = name;
    done_[name] = t;
    for (const auto& [field, type_expr] : def->entries()) {
      std::string expr = type_expr.Str();
      FieldSchema f;
      f.name = field;
      if (!expr.empty() && expr.back() == '!') {
        f.required = true;
        expr.pop_back();
      }
      auto ft = Parse(expr);
      if (!ft.ok()) {
        return absl::InvalidArgumentError(common::StrCat(name, ".", field, ": ", ft.status().message()));
      }
      f.type = *ft;
      t->fields.push_back(std::move(f));
    }
    return t;
  }

 private:
  const Node& types_;
  std::map<std::string, std::shared_ptr<TypeSchema>> done_;
};

std::string Lower(std::string_view s) { return common::ToLower(s); }

}  // namespace

const FieldSchema* TypeSchema::FindField(std::string_view name) const {
  for (const FieldSchema& f : fields) {
    if (f.name == name) {
      return &f;
    }
  }
  if (name.find('_') != std::string_view::npos) {
    std::string camel = SnakeToCamel(name);
    for (const FieldSchema& f : fields) {
      if (f.name == camel) {
        return &f;
      }
    }
  }
  return nullptr;
}

std::string TypeSchema::Describe() const {
  switch (type) {
    case FieldType::kString: return "string";
    case FieldType::kInt32: return "int32";
    case FieldType::kUInt32: return "uint32";
    case FieldType::kInt64: return "int64";
    case FieldType::kDouble: return "double";
    case FieldType::kBool: return "bool";
    case FieldType::kDuration: return "duration";
    case FieldType::kAny: return "any";
    case FieldType::kObject: return "object";
    case FieldType::kStruct: return struct_name;
    case FieldType::kList: return "[]" + element->Describe();
    case FieldType::kMap: return "map[string]" + element->Describe();
    case FieldType::kEnum: return "enum";
  }
  return "?";
}

absl::StatusOr<std::vector<KindSchema>> ParseSchemaDocument(std::string_view yaml_text,
                                                            const std::string& file) {
  // Several documents may each carry `kinds:` and `types:`; they are merged.
  ParseResult parsed = ParseYamlDocuments(yaml_text, file);
  if (!parsed.errors.empty()) {
    return absl::InvalidArgumentError(parsed.errors.front().ToString());
  }
  Node types = Node::Map();
  std::vector<const Node*> kind_lists;
  for (const ParsedDocument& doc : parsed.documents) {
    for (const auto& [name, def] : doc.root["types"].entries()) {
      if (types.Find(name) != nullptr) {
        return absl::InvalidArgumentError(common::StrCat(file, ": type ", name, " defined twice"));
      }
      types.Set(name, def);
    }
    kind_lists.push_back(&doc.root["kinds"]);
  }
  TypeParser parser(types);
  std::vector<KindSchema> kinds;
  for (const Node* list : kind_lists) {
    for (const Node& k : list->items()) {
      KindSchema ks;
      ks.kind = k["kind"].Str();
      ks.group = k["group"].Str();
      ks.plural = k["plural"].Str();
      if (ks.plural.empty()) {
        ks.plural = Lower(ks.kind) + "s";
      }
      ks.versions = k["versions"].StringList();
      if (ks.versions.empty()) {
        return absl::InvalidArgumentError(common::StrCat(file, ": kind ", ks.kind, " has no versions"));
      }
      ks.namespaced = k["namespaced"].Bool().value_or(true);
      ks.istio = k["istio"].Bool().value_or(false);
      ks.short_names = k["shortNames"].StringList();
      ks.category = k["category"].Str();
      if (k["spec"].IsScalar()) {
        auto t = parser.Parse(k["spec"].Str());
        if (!t.ok()) {
          return absl::InvalidArgumentError(common::StrCat(file, ": kind ", ks.kind, ": ", t.status().message()));
        }
        ks.spec = *t;
      }
      kinds.push_back(std::move(ks));
    }
  }
  return kinds;
}

const std::vector<KindSchema>& AllKinds() {
  static const std::vector<KindSchema>* kKinds = [] {
    auto parsed = ParseSchemaDocument(kBuiltinSchemas, "schemas (built in)");
    // The table is compiled in and covered by tests; a broken table is a build bug.
    if (!parsed.ok()) {
      std::fprintf(stderr, "meshctl: bug: %s\n", std::string(parsed.status().message()).c_str());
      std::abort();
    }
    return new std::vector<KindSchema>(std::move(parsed).value());
  }();
  return *kKinds;
}

const KindSchema* FindKind(std::string_view group, std::string_view kind) {
  for (const KindSchema& k : AllKinds()) {
    if (k.kind == kind && k.group == group) {
      return &k;
    }
  }
  return nullptr;
}

const KindSchema* FindKindByAnyName(std::string_view name) {
  std::string n = Lower(name);
  // "kind.group" form (e.g. gateways.networking.istio.io) narrows by group.
  std::string group;
  if (size_t dot = n.find('.'); dot != std::string::npos) {
    group = n.substr(dot + 1);
    n = n.substr(0, dot);
  }
  for (const KindSchema& k : AllKinds()) {
    if (!group.empty() && k.group != group) {
      continue;
    }
    if (Lower(k.kind) == n || k.plural == n ||
        std::find(k.short_names.begin(), k.short_names.end(), n) != k.short_names.end()) {
      return &k;
    }
  }
  return nullptr;
}

namespace {

bool IsDuration(std::string_view s) {
  // Go/protobuf durations: "1s", "1.5s", "100ms", "1h2m3s".
  if (s.empty()) {
    return false;
  }
  size_t i = 0;
  bool any = false;
  while (i < s.size()) {
    size_t start = i;
    while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) {
      ++i;
    }
    if (i == start) {
      return false;
    }
    size_t unit_start = i;
    while (i < s.size() && std::isalpha(static_cast<unsigned char>(s[i]))) {
      ++i;
    }
    std::string_view unit = s.substr(unit_start, i - unit_start);
    if (unit != "h" && unit != "m" && unit != "s" && unit != "ms" && unit != "us" && unit != "ns" &&
        unit != "µs") {
      return false;
    }
    any = true;
  }
  return any;
}

// Whether YAML reads this plain scalar as a number: [-+]digits[.digits][e[-+]digits].
bool PlainScalarIsNumber(std::string_view s) {
  size_t i = 0;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) {
    ++i;
  }
  size_t digits = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
    ++i;
    ++digits;
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
      ++i;
      ++digits;
    }
  }
  if (digits == 0) {
    return false;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) {
      ++i;
    }
    size_t exp = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
      ++i;
      ++exp;
    }
    if (exp == 0) {
      return false;
    }
  }
  return i == s.size();
}

std::string KindOf(const Node& n) {
  switch (n.type()) {
    case Node::Type::kNull: return "null";
    case Node::Type::kScalar: return "scalar";
    case Node::Type::kSequence: return "list";
    case Node::Type::kMap: return "object";
  }
  return "?";
}

}  // namespace

void ValidateNode(const Node& value, const TypeSchema& type, const std::string& path,
                  const ValidateOptions& options, std::vector<FieldIssue>& issues) {
  auto error = [&](std::string msg) {
    issues.push_back(FieldIssue{path, value.key_mark().line ? value.key_mark() : value.mark(), std::move(msg), false});
  };
  if (value.IsNull()) {
    return;  // null is "unset" for every field
  }
  switch (type.type) {
    case FieldType::kAny:
      return;
    case FieldType::kObject:
      if (!value.IsMap()) {
        error(common::StrCat(path, ": expected an object, got ", KindOf(value)));
      }
      return;
    case FieldType::kString:
      if (!value.IsScalar()) {
        error(common::StrCat(path, ": expected a string, got ", KindOf(value)));
      } else if (!value.quoted() && (PlainScalarIsNumber(value.Str()) || value.Bool().has_value())) {
        // YAML reads `version: 1` or `value: true` as a number / boolean, which Kubernetes
        // and Istio reject for string fields.
        error(common::StrCat(path, ": expected a string, got ", value.Bool().has_value() ? "boolean " : "number ",
                             value.Str(), " (quote it: \"", value.Str(), "\")"));
      }
      return;
    case FieldType::kBool:
      if (!value.IsScalar() || !value.Bool().has_value()) {
        error(common::StrCat(path, ": expected a boolean, got ", value.IsScalar() ? "\"" + value.Str() + "\"" : KindOf(value)));
      }
      return;
    case FieldType::kInt32:
    case FieldType::kUInt32:
    case FieldType::kInt64: {
      auto v = value.Int();
      if (!value.IsScalar() || !v.has_value()) {
        error(common::StrCat(path, ": expected an integer, got ", value.IsScalar() ? "\"" + value.Str() + "\"" : KindOf(value)));
        return;
      }
      if (type.type == FieldType::kUInt32 && (*v < 0 || *v > 4294967295LL)) {
        error(common::StrCat(path, ": value ", *v, " out of range for uint32"));
      } else if (type.type == FieldType::kInt32 && (*v < -2147483648LL || *v > 2147483647LL)) {
        error(common::StrCat(path, ": value ", *v, " out of range for int32"));
      }
      return;
    }
    case FieldType::kDouble:
      if (!value.IsScalar() || !value.Double().has_value()) {
        error(common::StrCat(path, ": expected a number, got ", value.IsScalar() ? "\"" + value.Str() + "\"" : KindOf(value)));
      }
      return;
    case FieldType::kDuration:
      if (!value.IsScalar() || !IsDuration(value.Str())) {
        error(common::StrCat(path, ": expected a duration such as \"5s\" or \"100ms\", got ",
                           value.IsScalar() ? "\"" + value.Str() + "\"" : KindOf(value)));
      }
      return;
    case FieldType::kEnum:
      if (!value.IsScalar()) {
        error(common::StrCat(path, ": expected one of ", common::Join(type.enum_values, ", "), ", got ", KindOf(value)));
      } else if (std::find(type.enum_values.begin(), type.enum_values.end(), value.Str()) == type.enum_values.end()) {
        error(common::StrCat(path, ": unsupported value \"", value.Str(), "\" (supported: ",
                           common::Join(type.enum_values, ", "), ")"));
      }
      return;
    case FieldType::kList:
      if (!value.IsSequence()) {
        error(common::StrCat(path, ": expected a list, got ", KindOf(value)));
        return;
      }
      for (size_t i = 0; i < value.items().size(); ++i) {
        ValidateNode(value.items()[i], *type.element, common::StrCat(path, "[", i, "]"), options, issues);
      }
      return;
    case FieldType::kMap:
      if (!value.IsMap()) {
        error(common::StrCat(path, ": expected a map, got ", KindOf(value)));
        return;
      }
      for (const auto& [k, v] : value.entries()) {
        ValidateNode(v, *type.element, common::StrCat(path, ".", k), options, issues);
      }
      return;
    case FieldType::kStruct: {
      if (!value.IsMap()) {
        error(common::StrCat(path, ": expected an object (", type.struct_name, "), got ", KindOf(value)));
        return;
      }
      for (const auto& [k, v] : value.entries()) {
        const FieldSchema* f = type.FindField(k);
        std::string child = path.empty() ? k : common::StrCat(path, ".", k);
        if (f == nullptr) {
          issues.push_back(FieldIssue{child, v.key_mark(), common::StrCat("unknown field \"", child, "\""),
                                      !options.unknown_fields_are_errors});
          continue;
        }
        ValidateNode(v, *f->type, child, options, issues);
      }
      for (const FieldSchema& f : type.fields) {
        if (f.required && value[f.name].IsNull()) {
          issues.push_back(FieldIssue{path.empty() ? f.name : common::StrCat(path, ".", f.name), value.mark(),
                                      common::StrCat(path.empty() ? f.name : common::StrCat(path, ".", f.name),
                                                   " is required"),
                                      false});
        }
      }
      return;
    }
  }
}

}  // namespace mesh::config
