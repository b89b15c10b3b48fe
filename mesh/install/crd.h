#pragma once

// CustomResourceDefinitions for the Istio kinds, generated from the schema table
// (mesh/config/schemas) so that what install registers is what analyze validates.

#include <string>
#include <vector>

#include "mesh/config/node.h"
#include "mesh/config/schema.h"

namespace mesh::install {

// Extra `kubectl get` columns of an Istio kind (its CRD's additionalPrinterColumns); AGE
// is implied and printed last.
struct PrinterColumn {
  std::string name;       // "Hosts"
  std::string json_path;  // ".spec.hosts"
  std::string type;       // "string"
  std::string description;
};
const std::vector<PrinterColumn>& PrinterColumns(const std::string& kind);

// The text kubectl prints for a column value (lists as JSON arrays).
std::string PrinterColumnValue(const config::Node& object, const PrinterColumn& column);

// One apiextensions.k8s.io/v1 CRD per `istio: true` kind, with a structural
// openAPIV3Schema for every served version (the first version is the storage one).
config::Node BuildCrd(const config::KindSchema& kind);
std::vector<config::Node> BuildIstioCrds();

// The structural schema of one type (exposed for tests).
config::Node OpenApiSchema(const config::TypeSchema& type, int depth = 0);

}  // namespace mesh::install
