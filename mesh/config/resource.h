#pragma once

// A Kubernetes-style object as read from a file or a store: identity (group, version,
// kind, namespace, name), labels and annotations parsed once, the whole document kept
// as a Node (spec, status, ...) and where it came from.

#include <map>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "mesh/config/node.h"

namespace mesh::config {

struct SourceRef {
  std::string file;  // empty when the object did not come from a file
  int line = 0;      // 1-based line where the document starts
  int column = 0;
};

struct GroupVersionKind {
  std::string group;    // "" for the core group
  std::string version;  // "v1", "v1beta1", ...
  std::string kind;
  std::string ApiVersion() const { return group.empty() ? version : group + "/" + version; }
  static GroupVersionKind FromApiVersion(std::string_view api_version, std::string kind);
  bool operator==(const GroupVersionKind&) const = default;
};

using StringMap = std::map<std::string, std::string>;

class Resource {
 public:
  // Reads identity from a document; fails when metadata is not a mapping or the name is
  // not a string.
  static absl::StatusOr<Resource> FromNode(Node root, SourceRef source);

  const GroupVersionKind& gvk() const { return gvk_; }
  const std::string& kind() const { return gvk_.kind; }
  const std::string& name() const { return name_; }
  const std::string& ns() const { return namespace_; }
  void set_namespace(std::string ns);
  const StringMap& labels() const { return labels_; }
  const StringMap& annotations() const { return annotations_; }
  const SourceRef& source() const { return source_; }

  const Node& root() const { return root_; }
  Node& mutable_root() { return root_; }
  const Node& metadata() const { return root_["metadata"]; }
  const Node& spec() const { return root_["spec"]; }

  // "Kind ns/name" or "Kind name" (istioctl's FriendlyName()).
  std::string FriendlyName() const;
  // "ns/name" or "name".
  std::string FullName() const;

 private:
  GroupVersionKind gvk_;
  std::string name_;
  std::string namespace_;
  StringMap labels_;
  StringMap annotations_;
  SourceRef source_;
  Node root_;
};

}  // namespace mesh::config
