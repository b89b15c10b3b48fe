#pragma once

// Analysis messages: a catalog entry (code, level, template) plus the arguments and the
// resource it is about. Formatting follows istioctl's Go templates (%s %v %d %q).

#include <string>
#include <string_view>
#include <vector>

#include "mesh/config/resource.h"

namespace mesh::analyze {

enum class Level { kError = 0, kWarning = 1, kInfo = 2 };  // sort order: most severe first

std::string_view LevelName(Level level);
// Case-insensitive "Error" / "Warning" / "Info"; false when unknown.
bool ParseLevel(std::string_view text, Level& level);

struct MessageType {
  std::string code;  // "IST0101"
  std::string name;  // "ReferencedResourceNotFound"
  Level level = Level::kError;
  std::string tmpl;  // "Referenced %s not found: %q"
  std::vector<std::string> args;
};

// The compiled-in catalog, in code order.
const std::vector<MessageType>& AllMessageTypes();
// By name ("ReferencedResourceNotFound") or code ("IST0101"); null when unknown.
const MessageType* FindMessageType(std::string_view name_or_code);
// By name; aborts on an unknown name (a programming error caught by tests).
const MessageType& MessageTypeNamed(std::string_view name);

// Where a message points: the resource (identity + file) and an optional field line.
struct Origin {
  std::string kind;
  std::string ns;
  std::string name;
  std::string file;
  int line = 0;  // 0: no position
  // "Kind ns/name" or "Kind name".
  std::string FriendlyName() const;
  // "file:line", "file" (JSON inputs carry no line), or "" when not from a file.
  std::string Reference() const;
};

Origin OriginOf(const config::Resource& resource, int line_override = 0);

struct Message {
  const MessageType* type = nullptr;
  std::vector<std::string> args;  // in template order; %q args are quoted when formatted
  bool has_origin = false;
  Origin origin;

  // The template filled in.
  std::string Text() const;
  // istioctl's log line (without colour): "Error [IST0101] (Kind ns/name file:line) text".
  std::string LogLine(bool color = false) const;
};

// Go-style formatting of a template: %s %v %d print the arg, %q quotes it, %% is '%'.
std::string FormatTemplate(std::string_view tmpl, const std::vector<std::string>& args);

}  // namespace mesh::analyze
