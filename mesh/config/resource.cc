#include "mesh/config/resource.h"
#include "mesh/common/strings.h"


namespace mesh::config {

GroupVersionKind GroupVersionKind::FromApiVersion(std::string_view api_version, std::string kind) {
  GroupVersionKind gvk;
  size_t slash = api_version.find('/');
  if (slash == std::string_view::npos) {
    gvk.version = std::string(api_version);
  } else {
    gvk.group = std::string(api_version.substr(0, slash));
    gvk.version = std::string(api_version.substr(slash + 1));
  }
  gvk.kind = std::move(kind);
  return gvk;
}

absl::StatusOr<Resource> Resource::FromNode(Node root, SourceRef source) {
  Resource r;
  const Node& api = root["apiVersion"];
  const Node& kind = root["kind"];
  if (api.Defined() && !api.IsScalar()) {
    return absl::InvalidArgumentError("apiVersion must be a string");
  }
  if (kind.Defined() && !kind.IsScalar()) {
    return absl::InvalidArgumentError("kind must be a string");
  }
  r.gvk_ = GroupVersionKind::FromApiVersion(api.Str(), kind.Str());
  const Node& meta = root["metadata"];
  if (meta.Defined() && !meta.IsMap()) {
    return absl::InvalidArgumentError("metadata must be a mapping");
  }
  const Node& name = meta["name"];
  if (name.Defined() && !name.IsScalar()) {
    return absl::InvalidArgumentError("metadata.name must be a string");
  }
  r.name_ = name.Str();
  if (r.name_.empty() && meta["generateName"].IsScalar()) {
    r.name_ = meta["generateName"].Str();
  }
  r.namespace_ = meta["namespace"].Str();
  for (auto& [k, v] : meta["labels"].StringMap()) {
    r.labels_[k] = v;
  }
  for (auto& [k, v] : meta["annotations"].StringMap()) {
    r.annotations_[k] = v;
  }
  r.source_ = std::move(source);
  r.root_ = std::move(root);
  return r;
}

void Resource::set_namespace(std::string ns) {
  namespace_ = std::move(ns);
  Node* meta = root_.FindMutable("metadata");
  if (meta == nullptr) {
    meta = &root_.Set("metadata", Node::Map());
  }
  if (namespace_.empty()) {
    meta->Erase("namespace");
  } else {
    meta->Set("namespace", Node::Scalar(namespace_));
  }
}

std::string Resource::FullName() const {
  return namespace_.empty() ? name_ : common::StrCat(namespace_, "/", name_);
}

std::string Resource::FriendlyName() const { return common::StrCat(gvk_.kind, " ", FullName()); }

}  // namespace mesh::config
