#include "mesh/dashboard/prometheus_text.h"

#include <cmath>
#include <cstdlib>

#include "mesh/common/strings.h"

namespace mesh::dashboard {

const std::string& MetricSample::Label(std::string_view key) const {
  static const std::string kEmpty;
  for (const auto& [k, v] : labels) {
    if (k == key) {
      return v;
    }
  }
  return kEmpty;
}

namespace {

bool IsNameChar(char c, bool first) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' || (!first && c >= '0' && c <= '9');
}

absl::Status LineError(size_t line, std::string_view what) {
  return absl::InvalidArgumentError(common::StrCat("metrics line ", line, ": ", what));
}

// Parses `{a="x",b="y"}` starting at s[pos] == '{'; leaves pos after '}'.
absl::Status ParseLabels(std::string_view s, size_t& pos, size_t line,
                         std::vector<std::pair<std::string, std::string>>& out) {
  ++pos;  // '{'
  while (true) {
    while (pos < s.size() && (s[pos] == ' ' || s[pos] == ',')) {
      ++pos;
    }
    if (pos >= s.size()) {
      return LineError(line, "unterminated label set");
    }
    if (s[pos] == '}') {
      ++pos;
      return absl::OkStatus();
    }
    size_t start = pos;
    while (pos < s.size() && IsNameChar(s[pos], pos == start)) {
      ++pos;
    }
    if (pos == start || pos + 1 >= s.size() || s[pos] != '=' || s[pos + 1] != '"') {
      return LineError(line, "expected label=\"value\"");
    }
    std::string key(s.substr(start, pos - start));
    pos += 2;
    std::string value;
    while (true) {
      if (pos >= s.size()) {
        return LineError(line, "unterminated label value");
      }
      char c = s[pos++];
      if (c == '"') {
        break;
      }
      if (c == '\\') {
        if (pos >= s.size()) {
          return LineError(line, "unterminated escape");
        }
        char e = s[pos++];
        value.push_back(e == 'n' ? '\n' : e);
      } else {
        value.push_back(c);
      }
    }
    out.emplace_back(std::move(key), std::move(value));
  }
}

absl::StatusOr<double> ParseValue(std::string_view v, size_t line) {
  if (v == "+Inf" || v == "Inf") {
    return HUGE_VAL;
  }
  if (v == "-Inf") {
    return -HUGE_VAL;
  }
  if (v == "NaN") {
    return std::nan("");
  }
  std::string copy(v);
  char* end = nullptr;
  double d = std::strtod(copy.c_str(), &end);
  if (copy.empty() || end != copy.c_str() + copy.size()) {
    return LineError(line, common::StrCat("bad value \"", copy, "\""));
  }
  return d;
}

}  // namespace

absl::StatusOr<std::vector<MetricSample>> ParsePrometheusText(
    std::string_view text, const std::function<bool(std::string_view name)>& keep) {
  std::vector<MetricSample> out;
  size_t line_no = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = common::StripWhitespace(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++line_no;
    if (line.empty() || line[0] == '#') {
      continue;
    }
    size_t pos = 0;
    while (pos < line.size() && IsNameChar(line[pos], pos == 0)) {
      ++pos;
    }
    if (pos == 0) {
      return LineError(line_no, "expected a metric name");
    }
    std::string_view name = line.substr(0, pos);
    if (!keep(name)) {
      continue;
    }
    MetricSample sample;
    sample.name = std::string(name);
    if (pos < line.size() && line[pos] == '{') {
      if (auto st = ParseLabels(line, pos, line_no, sample.labels); !st.ok()) {
        return st;
      }
    }
    std::string_view rest = common::StripWhitespace(line.substr(pos));
    std::string_view value = rest.substr(0, rest.find(' '));  // a timestamp may follow
    auto v = ParseValue(value, line_no);
    if (!v.ok()) {
      return v.status();
    }
    sample.value = *v;
    out.push_back(std::move(sample));
  }
  return out;
}

}  // namespace mesh::dashboard
