#pragma once

// The schema table: one entry per kind (group, versions, plural, scope) with a typed
// field tree for its spec. It is the single source of truth for three things: validation
// (analyze's schema errors, `meshctl apply`), the CRDs `install` renders
// (openAPIV3Schema), and kind <-> REST path mapping.
//
// The table is data (schemas/*.yaml, compiled into the binary) written in a small type
// language:
//   string int32 uint32 int64 double bool duration any object
//   []T            list of T
//   map[string]T   map with string keys
//   enum(A,B,C)    string restricted to the values
//   Name           a named struct from `types:`
//   T!             required field

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "mesh/config/node.h"

namespace mesh::config {

enum class FieldType {
  kString, kInt32, kUInt32, kInt64, kDouble, kBool, kDuration,
  kAny,     // any value, not validated
  kObject,  // free-form mapping, not validated
  kStruct, kList, kMap, kEnum,
};

struct TypeSchema;
using TypeSchemaConstPtr = std::shared_ptr<const TypeSchema>;

struct FieldSchema {
  std::string name;  // JSON (camelCase) name
  TypeSchemaConstPtr type;
  bool required = false;
};

struct TypeSchema {
  FieldType type = FieldType::kAny;
  std::string struct_name;            // kStruct
  std::vector<FieldSchema> fields;    // kStruct, in declaration order
  TypeSchemaConstPtr element;         // kList / kMap values
  std::vector<std::string> enum_values;  // kEnum
  const FieldSchema* FindField(std::string_view json_or_proto_name) const;
  std::string Describe() const;  // "string", "[]Server", ...
};

struct KindSchema {
  std::string group;
  std::string kind;
  std::string plural;
  std::vector<std::string> versions;  // first one is the storage/served preferred version
  bool namespaced = true;
  bool istio = false;   // an Istio CRD that `install` renders and analyze schema-validates
  std::vector<std::string> short_names;
  std::string category;  // "networking", "security", "telemetry", "extensions", "gateway-api", "k8s"
  TypeSchemaConstPtr spec;  // null: spec not described (no validation)
  std::string ApiVersion() const { return group.empty() ? versions.front() : group + "/" + versions.front(); }
};

// All kinds meshctl knows, in a stable order.
const std::vector<KindSchema>& AllKinds();
// Lookup by group and kind (group "" is core). Null when unknown.
const KindSchema* FindKind(std::string_view group, std::string_view kind);
// Lookup by kind name alone, plural, or short name, case-insensitive (for `meshctl get svc`).
const KindSchema* FindKindByAnyName(std::string_view name);

struct FieldIssue {
  std::string path;  // e.g. "spec.servers[0].port.number"
  Mark mark;
  std::string message;
  bool is_warning = false;  // unknown fields are warnings, type errors are errors
};

struct ValidateOptions {
  bool unknown_fields_are_errors = false;
};

// Validates `value` against `type`; issues are appended in document order.
void ValidateNode(const Node& value, const TypeSchema& type, const std::string& path,
                  const ValidateOptions& options, std::vector<FieldIssue>& issues);

// Parses a schema document (used for the built-in table and in tests).
absl::StatusOr<std::vector<KindSchema>> ParseSchemaDocument(std::string_view yaml_text,
                                                            const std::string& file);

}  // namespace mesh::config
