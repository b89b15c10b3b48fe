#include "mesh/store/labels.h"

#include "mesh/common/strings.h"

namespace mesh::store {
namespace {

bool IsAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

// A "qualified name" part: alphanumerics, '-', '_', '.', starting and ending alphanumeric.
bool IsQualifiedNamePart(const std::string& s) {
  if (s.empty() || s.size() > 63 || !IsAlnum(s.front()) || !IsAlnum(s.back())) {
    return false;
  }
  for (char c : s) {
    if (!IsAlnum(c) && c != '-' && c != '_' && c != '.') {
      return false;
    }
  }
  return true;
}

}  // namespace

bool IsDns1123Label(const std::string& s) {
  if (s.empty() || s.size() > 63) {
    return false;
  }
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
      return false;
    }
  }
  return s.front() != '-' && s.back() != '-';
}

bool IsDns1123Subdomain(const std::string& s) {
  if (s.empty() || s.size() > 253) {
    return false;
  }
  for (const std::string& part : common::Split(s, '.')) {
    if (!IsDns1123Label(part)) {
      return false;
    }
  }
  return true;
}

absl::Status ValidateLabelKey(const std::string& key) {
  std::string name = key;
  size_t slash = key.find('/');
  if (slash != std::string::npos) {
    std::string prefix = key.substr(0, slash);
    name = key.substr(slash + 1);
    if (!IsDns1123Subdomain(prefix)) {
      return absl::InvalidArgumentError(
          common::StrCat("invalid label key \"", key, "\": prefix part must be a DNS-1123 subdomain"));
    }
  }
  if (!IsQualifiedNamePart(name)) {
    return absl::InvalidArgumentError(common::StrCat(
        "invalid label key \"", key,
        "\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
        "alphanumeric character (max 63 characters)"));
  }
  return absl::OkStatus();
}

absl::Status ValidateLabelValue(const std::string& value) {
  if (value.empty()) {
    return absl::OkStatus();
  }
  if (!IsQualifiedNamePart(value)) {
    return absl::InvalidArgumentError(common::StrCat(
        "invalid label value: \"", value,
        "\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and "
        "must start and end with an alphanumeric character (max 63 characters)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<LabelChange>> ParseLabelArgs(const std::vector<std::string>& args) {
  std::vector<LabelChange> out;
  for (const std::string& arg : args) {
    LabelChange c;
    size_t eq = arg.find('=');
    if (eq != std::string::npos) {
      c.key = arg.substr(0, eq);
      c.value = arg.substr(eq + 1);
      if (auto st = ValidateLabelValue(c.value); !st.ok()) {
        return st;
      }
    } else if (!arg.empty() && arg.back() == '-') {
      c.key = arg.substr(0, arg.size() - 1);
      c.remove = true;
    } else {
      return absl::InvalidArgumentError(common::StrCat("invalid label spec: ", arg, " (use key=value or key-)"));
    }
    if (auto st = ValidateLabelKey(c.key); !st.ok()) {
      return st;
    }
    for (const LabelChange& prev : out) {
      if (prev.key == c.key) {
        return absl::InvalidArgumentError(common::StrCat("can not both modify and remove a label in the same command: ", c.key));
      }
    }
    out.push_back(std::move(c));
  }
  if (out.empty()) {
    return absl::InvalidArgumentError("at least one label update is required");
  }
  return out;
}

absl::StatusOr<bool> ApplyLabelChanges(config::Node& object, const std::vector<LabelChange>& changes,
                                       bool overwrite) {
  config::Node* meta = object.FindMutable("metadata");
  if (meta == nullptr) {
    return absl::InvalidArgumentError("object has no metadata");
  }
  config::Node* labels = meta->FindMutable("labels");
  // Check everything first so a refused change leaves the object untouched.
  if (!overwrite && labels != nullptr) {
    for (const LabelChange& c : changes) {
      const config::Node* existing = labels->Find(c.key);
      if (!c.remove && existing != nullptr && existing->Str() != c.value) {
        return absl::FailedPreconditionError(common::StrCat(
            "'", c.key, "' already has a value (", existing->Str(), "), and --overwrite is false"));
      }
    }
  }
  bool changed = false;
  for (const LabelChange& c : changes) {
    if (c.remove) {
      if (labels != nullptr && labels->Erase(c.key)) {
        changed = true;
      }
      continue;
    }
    if (labels == nullptr || !labels->IsMap()) {
      labels = &meta->Set("labels", config::Node::Map());
    }
    const config::Node* existing = labels->Find(c.key);
    if (existing == nullptr || existing->Str() != c.value) {
      labels->Set(c.key, config::Node::Scalar(c.value, true));
      changed = true;
    }
  }
  if (labels != nullptr && labels->size() == 0) {
    meta->Erase("labels");
  }
  return changed;
}

}  // namespace mesh::store
