#include "mesh/analyze/analyzers/schema/reporting.h"
#include "mesh/analyze/analyzers/schema/schema_analyzers.h"
#include "mesh/common/strings.h"

namespace mesh::analyze::schema {
namespace {

class ResourceValidationAnalyzer : public Analyzer {
 public:
  explicit ResourceValidationAnalyzer(const KindRef& kind)
      : kind_(kind),
        metadata_{common::StrCat("schema.ValidationAnalyzer.", kind.display),
                  common::StrCat("Runs schema validation as an analyzer on '", kind.display, "' resources"),
                  {kind}} {}

  const AnalyzerMetadata& Metadata() const override { return metadata_; }

  void Analyze(Context& context) const override {
    for (const config::Resource* r : context.world().Of(kind_)) {
      config::ValidationResult result = config::ValidateIstioResource(*r);
      ReportValidation(result, [&](const MessageType& type, std::vector<std::string> args, int line) {
        context.Report(type, r, std::move(args), line);
      });
    }
  }

 private:
  KindRef kind_;
  AnalyzerMetadata metadata_;
};

}  // namespace

AnalyzerPtr NewResourceValidationAnalyzer(const KindRef& kind) {
  return std::make_unique<ResourceValidationAnalyzer>(kind);
}

}  // namespace mesh::analyze::schema
