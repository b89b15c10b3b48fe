#include "mesh/store/store.h"

#include "mesh/common/strings.h"

namespace mesh::store {

std::string ObjectKey::ToString() const {
  return ns.empty() ? common::StrCat(kind, " ", name) : common::StrCat(kind, " ", ns, "/", name);
}

const char* ApplyOutcomeVerb(ApplyOutcome outcome) {
  switch (outcome) {
    case ApplyOutcome::kCreated:
      return "created";
    case ApplyOutcome::kConfigured:
      return "configured";
    case ApplyOutcome::kUnchanged:
      return "unchanged";
  }
  return "unchanged";
}

absl::StatusOr<ObjectKey> KeyOf(const Node& object) {
  ObjectKey key;
  const std::string& api_version = object["apiVersion"].Str();
  key.kind = object["kind"].Str();
  key.name = object["metadata"]["name"].Str();
  key.ns = object["metadata"]["namespace"].Str();
  if (api_version.empty() || key.kind.empty()) {
    return absl::InvalidArgumentError("object has no apiVersion or kind");
  }
  if (key.name.empty()) {
    return absl::InvalidArgumentError(common::StrCat(key.kind, ": metadata.name is required"));
  }
  size_t slash = api_version.find('/');
  key.group = slash == std::string::npos ? "" : api_version.substr(0, slash);
  return key;
}

}  // namespace mesh::store

namespace mesh::store {

namespace {
config::Node StripStoreFields(const config::Node& object) {
  config::Node copy = object;
  if (config::Node* meta = copy.FindMutable("metadata")) {
    meta->Erase("resourceVersion");
    meta->Erase("creationTimestamp");
    meta->Erase("generation");
  }
  return copy;
}
}  // namespace

// Map key order does not matter for equality (the store writes keys sorted).
bool EqualIgnoringKeyOrder(const config::Node& a, const config::Node& b) {
  if (a.type() != b.type()) {
    return false;
  }
  switch (a.type()) {
    case config::Node::Type::kNull:
      return true;
    case config::Node::Type::kScalar:
      return a.Str() == b.Str();
    case config::Node::Type::kSequence:
      if (a.items().size() != b.items().size()) {
        return false;
      }
      for (size_t i = 0; i < a.items().size(); ++i) {
        if (!EqualIgnoringKeyOrder(a.items()[i], b.items()[i])) {
          return false;
        }
      }
      return true;
    case config::Node::Type::kMap:
      if (a.entries().size() != b.entries().size()) {
        return false;
      }
      for (const auto& [k, v] : a.entries()) {
        const config::Node* other = b.Find(k);
        if (other == nullptr || !EqualIgnoringKeyOrder(v, *other)) {
          return false;
        }
      }
      return true;
  }
  return false;
}

bool SameContent(const config::Node& a, const config::Node& b) {
  return EqualIgnoringKeyOrder(StripStoreFields(a), StripStoreFields(b));
}

}  // namespace mesh::store
