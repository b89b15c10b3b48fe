#include "mesh/install/crd.h"

#include <algorithm>
#include <map>

#include "mesh/config/emit.h"

#include "mesh/common/strings.h"
#include "mesh/install/tree.h"

namespace mesh::install {

using config::FieldType;
using config::Node;

namespace {

Node PreserveUnknown(bool with_type) {
  Node n = Node::Map();
  if (with_type) {
    n.Set("type", Node::Scalar("object"));
  }
  n.Set("x-kubernetes-preserve-unknown-fields", BoolNode(true));
  return n;
}

Node Typed(const char* type) {
  Node n = Node::Map();
  n.Set("type", Node::Scalar(type));
  return n;
}

Node StringList(const std::vector<std::string>& items) {
  Node n = Node::Sequence();
  for (const std::string& s : items) {
    n.Append(StringNode(s));
  }
  return n;
}

// Deep recursive types would make the schema unbounded; past this depth they are kept
// as free-form objects.
constexpr int kMaxDepth = 16;

}  // namespace

namespace {
Node SchemaOf(const config::TypeSchema& type, int depth, std::vector<const config::TypeSchema*>& stack);
}  // namespace

Node OpenApiSchema(const config::TypeSchema& type, int depth) {
  std::vector<const config::TypeSchema*> stack;
  return SchemaOf(type, depth, stack);
}

namespace {
Node SchemaOf(const config::TypeSchema& type, int depth, std::vector<const config::TypeSchema*>& stack) {
  if (depth > kMaxDepth) {
    return PreserveUnknown(true);
  }
  switch (type.type) {
    case FieldType::kString:
      return Typed("string");
    case FieldType::kDuration: {
      Node n = Typed("string");
      n.Set("description", StringNode("Duration such as 1s, 100ms or 1h."));
      return n;
    }
    case FieldType::kInt32: {
      Node n = Typed("integer");
      n.Set("format", Node::Scalar("int32"));
      return n;
    }
    case FieldType::kUInt32: {
      Node n = Typed("integer");
      n.Set("maximum", IntNode(4294967295LL));
      n.Set("minimum", IntNode(0));
      return n;
    }
    case FieldType::kInt64: {
      Node n = Typed("integer");
      n.Set("format", Node::Scalar("int64"));
      return n;
    }
    case FieldType::kDouble: {
      Node n = Typed("number");
      n.Set("format", Node::Scalar("double"));
      return n;
    }
    case FieldType::kBool:
      return Typed("boolean");
    case FieldType::kAny:
      return PreserveUnknown(false);
    case FieldType::kObject:
      return PreserveUnknown(true);
    case FieldType::kEnum: {
      Node n = Typed("string");
      n.Set("enum", StringList(type.enum_values));
      return n;
    }
    case FieldType::kList: {
      Node n = Typed("array");
      n.Set("items", SchemaOf(*type.element, depth + 1, stack));
      return n;
    }
    case FieldType::kMap: {
      Node n = Typed("object");
      n.Set("additionalProperties", SchemaOf(*type.element, depth + 1, stack));
      return n;
    }
    case FieldType::kStruct: {
      // A struct without fields is "described elsewhere": keep whatever it holds. A
      // recursive reference is cut off the same way (structural schemas are finite).
      if (type.fields.empty() || std::find(stack.begin(), stack.end(), &type) != stack.end()) {
        return PreserveUnknown(true);
      }
      stack.push_back(&type);
      Node n = Typed("object");
      Node props = Node::Map();
      std::vector<std::string> required;
      for (const config::FieldSchema& f : type.fields) {
        props.Set(f.name, SchemaOf(*f.type, depth + 1, stack));
        if (f.required) {
          required.push_back(f.name);
        }
      }
      if (props.size() > 0) {
        n.Set("properties", std::move(props));
      }
      if (!required.empty()) {
        n.Set("required", StringList(required));
      }
      stack.pop_back();
      return n;
    }
  }
  return PreserveUnknown(true);
}
}  // namespace

const std::vector<PrinterColumn>& PrinterColumns(const std::string& kind) {
  static const auto* kColumns = new std::map<std::string, std::vector<PrinterColumn>>{
      {"VirtualService",
       {{"Gateways", ".spec.gateways", "string", "The names of gateways and sidecars that should apply these routes"},
        {"Hosts", ".spec.hosts", "string", "The destination hosts to which traffic is being sent"}}},
      {"DestinationRule", {{"Host", ".spec.host", "string", "The name of a service from the service registry"}}},
      {"ServiceEntry",
       {{"Hosts", ".spec.hosts", "string", "The hosts associated with the ServiceEntry"},
        {"Location", ".spec.location", "string", "Whether the service is external to the mesh or part of the mesh (MESH_EXTERNAL or MESH_INTERNAL)"},
        {"Resolution", ".spec.resolution", "string", "Service resolution mode for the hosts (NONE, STATIC, or DNS)"}}},
      {"PeerAuthentication", {{"Mode", ".spec.mtls.mode", "string", "Defines the mTLS mode used for peer authentication"}}},
      {"AuthorizationPolicy", {{"Action", ".spec.action", "string", "The operation to take"}}},
      {"WorkloadEntry", {{"Address", ".spec.address", "string", "Address associated with the network endpoint"}}},
  };
  static const std::vector<PrinterColumn> kNone;
  auto it = kColumns->find(kind);
  return it == kColumns->end() ? kNone : it->second;
}

std::string PrinterColumnValue(const Node& object, const PrinterColumn& column) {
  const Node* cur = &object;
  for (const std::string& part : common::Split(column.json_path, '.', true)) {
    cur = &(*cur)[part];
  }
  if (cur->IsNull()) {
    return "";
  }
  if (cur->IsScalar()) {
    return cur->Str();
  }
  return config::EmitJson(*cur, {.indent = 0});
}

Node BuildCrd(const config::KindSchema& kind) {
  Node crd = Node::Map();
  crd.Set("apiVersion", Node::Scalar("apiextensions.k8s.io/v1"));
  crd.Set("kind", Node::Scalar("CustomResourceDefinition"));
  Node meta = Node::Map();
  meta.Set("name", StringNode(kind.plural + "." + kind.group));
  Node labels = Node::Map();
  labels.Set("app", Node::Scalar("istio-pilot"));
  labels.Set("chart", Node::Scalar("istio"));
  labels.Set("release", Node::Scalar("istio"));
  meta.Set("labels", std::move(labels));
  crd.Set("metadata", std::move(meta));

  Node spec = Node::Map();
  spec.Set("group", StringNode(kind.group));
  Node names = Node::Map();
  names.Set("categories", StringList({"istio-io", common::StrCat(kind.category, "-istio-io")}));
  names.Set("kind", StringNode(kind.kind));
  names.Set("listKind", StringNode(kind.kind + "List"));
  names.Set("plural", StringNode(kind.plural));
  if (!kind.short_names.empty()) {
    names.Set("shortNames", StringList(kind.short_names));
  }
  names.Set("singular", StringNode(common::ToLower(kind.kind)));
  spec.Set("names", std::move(names));
  spec.Set("scope", Node::Scalar(kind.namespaced ? "Namespaced" : "Cluster"));

  Node spec_schema = kind.spec ? OpenApiSchema(*kind.spec) : PreserveUnknown(true);
  Node versions = Node::Sequence();
  for (size_t i = 0; i < kind.versions.size(); ++i) {
    Node v = Node::Map();
    const auto& columns = PrinterColumns(kind.kind);
    if (!columns.empty()) {
      Node cols = Node::Sequence();
      for (const PrinterColumn& c : columns) {
        Node col = Node::Map();
        col.Set("description", StringNode(c.description));
        col.Set("jsonPath", StringNode(c.json_path));
        col.Set("name", StringNode(c.name));
        col.Set("type", StringNode(c.type));
        cols.Append(std::move(col));
      }
      Node age = Node::Map();
      age.Set("description", StringNode("CreationTimestamp is a timestamp representing the server time when this "
                                        "object was created."));
      age.Set("jsonPath", StringNode(".metadata.creationTimestamp"));
      age.Set("name", StringNode("Age"));
      age.Set("type", StringNode("date"));
      cols.Append(std::move(age));
      v.Set("additionalPrinterColumns", std::move(cols));
    }
    v.Set("name", StringNode(kind.versions[i]));
    Node root = Typed("object");
    Node props = Node::Map();
    props.Set("spec", spec_schema);
    props.Set("status", PreserveUnknown(true));
    root.Set("properties", std::move(props));
    Node schema = Node::Map();
    schema.Set("openAPIV3Schema", std::move(root));
    v.Set("schema", std::move(schema));
    v.Set("served", BoolNode(true));
    v.Set("storage", BoolNode(i == 0));
    Node sub = Node::Map();
    sub.Set("status", Node::Map());
    v.Set("subresources", std::move(sub));
    versions.Append(std::move(v));
  }
  spec.Set("versions", std::move(versions));
  crd.Set("spec", std::move(spec));
  return crd;
}

std::vector<Node> BuildIstioCrds() {
  std::vector<Node> out;
  for (const config::KindSchema& k : config::AllKinds()) {
    if (k.istio) {
      out.push_back(BuildCrd(k));
    }
  }
  return out;
}

}  // namespace mesh::install
