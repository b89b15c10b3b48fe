#include "mesh/analyze/analyzer.h"

namespace mesh::analyze {

void Context::Report(const MessageType& type, const config::Resource* resource, std::vector<std::string> args,
                     int line) {
  Message m;
  m.type = &type;
  m.args = std::move(args);
  if (resource != nullptr) {
    m.has_origin = true;
    m.origin = OriginOf(*resource, line);
  }
  messages_.push_back(std::move(m));
}

void Context::ReportWithOrigin(const MessageType& type, Origin origin, std::vector<std::string> args) {
  Message m;
  m.type = &type;
  m.args = std::move(args);
  m.has_origin = true;
  m.origin = std::move(origin);
  messages_.push_back(std::move(m));
}

}  // namespace mesh::analyze
