// services.MultiClusterServiceAnalyzer compares a Service across clusters. meshctl
// analyzes one cluster's resources at a time, so there is nothing to compare yet: the
// analyzer is registered (so --list-analyzers and --analyzer know it) and reports nothing.

#include "mesh/analyze/analyzers/networking/analyzers.h"
#include "mesh/analyze/analyzers/networking/common.h"

namespace mesh::analyze::networking {
namespace {

class MultiClusterServiceAnalyzer : public AnalyzerBase {
 public:
  MultiClusterServiceAnalyzer()
      : AnalyzerBase({"services.MultiClusterServiceAnalyzer",
                      "Check the validity of services in the multi-cluster environment",
                      {kinds::kService}}) {}

  void Analyze(Context& ctx) const override { (void)ctx; }
};

}  // namespace

AnalyzerPtr NewMultiClusterServiceAnalyzer() { return std::make_unique<MultiClusterServiceAnalyzer>(); }

}  // namespace mesh::analyze::networking
