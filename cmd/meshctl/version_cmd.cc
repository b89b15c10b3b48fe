#include <iostream>

#include "cmd/meshctl/commands.h"
#include "cmd/meshctl/exit_codes.h"
#include "fmt/format.h"
#include "mesh/common/version.h"

namespace meshctl {

void RegisterVersionCommand(CLI::App& app, CliContext& ctx) {
  auto* cmd = app.add_subcommand("version", "Print the meshctl version");
  auto output = std::make_shared<std::string>();
  cmd->add_option("-o,--output", *output, "Output format: one of json|yaml|short")
      ->check(CLI::IsMember({"", "json", "yaml", "short"}));
  cmd->callback([output, &ctx] {
    const char* v = mesh::common::kMeshctlVersion;
    const char* istio = mesh::common::kIstioCompatVersion;
    if (*output == "json") {
      std::cout << fmt::format("{{\n  \"meshctlVersion\": \"{}\",\n  \"istioApiVersion\": \"{}\"\n}}\n", v, istio);
    } else if (*output == "yaml") {
      std::cout << fmt::format("meshctlVersion: {}\nistioApiVersion: \"{}\"\n", v, istio);
    } else if (*output == "short") {
      std::cout << v << "\n";
    } else {
      std::cout << fmt::format("meshctl version: {} (Istio API {})\n", v, istio);
    }
    ctx.exit_code = kExitOk;
  });
}

}  // namespace meshctl
