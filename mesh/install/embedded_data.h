#pragma once

// The install data files (profiles/, manifests/) compiled into the binary, looked up by
// their path relative to the repository root ("profiles/demo.yaml").

#include <string>
#include <string_view>
#include <vector>

namespace mesh::install {

// Text of an embedded file, or "" when there is no such file.
std::string_view EmbeddedFile(std::string_view relative_path);

// Names of the built-in IstioOperator profiles, sorted.
const std::vector<std::string>& BuiltinProfileNames();

}  // namespace mesh::install
