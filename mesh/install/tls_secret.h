#pragma once

// `meshctl create secret tls`: a kubernetes.io/tls Secret (what a Gateway's
// credentialName refers to), after checking that the certificate and key parse and
// belong together, as kubectl does.

#include <string>

#include "absl/status/statusor.h"
#include "mesh/config/node.h"

namespace mesh::install {

absl::StatusOr<config::Node> BuildTlsSecret(const std::string& name, const std::string& ns,
                                            const std::string& cert_pem, const std::string& key_pem);

std::string Base64Encode(const std::string& data);

}  // namespace mesh::install
