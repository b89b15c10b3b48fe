#pragma once

#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "absl/strings/string_view.h"

namespace mesh::common {

// Note: Debian's abseil is built with its own absl::string_view (not std::string_view),
// so absl::StrCat/StrJoin/StrSplit do not accept std::string_view. Use these instead.
namespace internal {
inline void AppendPiece(std::string& out, std::string_view s) { out.append(s); }
inline void AppendPiece(std::string& out, const char* s) { out.append(s); }
inline void AppendPiece(std::string& out, const std::string& s) { out.append(s); }
inline void AppendPiece(std::string& out, char c) { out.push_back(c); }
inline void AppendPiece(std::string& out, absl::string_view s) { out.append(s.data(), s.size()); }
template <typename T>
  requires std::is_arithmetic_v<T>
inline void AppendPiece(std::string& out, T v) {
  out.append(std::to_string(v));
}
}  // namespace internal

template <typename... Args>
std::string StrCat(const Args&... args) {
  std::string out;
  (internal::AppendPiece(out, args), ...);
  return out;
}

// Splits on a character; empty pieces are kept unless skip_empty.
std::vector<std::string> Split(std::string_view s, char sep, bool skip_empty = false);
std::string_view StripWhitespace(std::string_view s);
bool ConsumePrefix(std::string_view& s, std::string_view prefix);
bool ConsumeSuffix(std::string_view& s, std::string_view suffix);
std::string ToLower(std::string_view s);

// Shell-style glob: '*' matches any run (including '/'), '?' one character.
bool GlobMatch(std::string_view pattern, std::string_view text);

// Joins with a separator.
std::string Join(const std::vector<std::string>& parts, std::string_view sep);

// Go's %q for a plain string: double quotes, with \" \\ and control escapes.
std::string GoQuote(std::string_view s);

// Go's %v of a []string: "[a b c]".
std::string GoList(const std::vector<std::string>& items);

}  // namespace mesh::common
