#pragma once

// A reader for the Prometheus text exposition format (0.0.4), enough for what the
// proxies publish on /stats/prometheus: `name{label="value",...} number` lines, with
// comments and blank lines ignored. Timestamps after the value are accepted and dropped.

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace mesh::dashboard {

struct MetricSample {
  std::string name;
  std::vector<std::pair<std::string, std::string>> labels;  // in the order written
  double value = 0;
  // The label's value, or "" when absent.
  const std::string& Label(std::string_view key) const;
};

// Parses `text`, keeping only the samples whose metric name `keep` accepts (parsing the
// labels of the others is skipped). A malformed line is an error naming its number.
absl::StatusOr<std::vector<MetricSample>> ParsePrometheusText(
    std::string_view text, const std::function<bool(std::string_view name)>& keep);

}  // namespace mesh::dashboard
