#pragma once

// Helpers shared by the commands that work on the local mesh state (install_cmd.cc,
// state_cmd.cc): where the state lives, opening it, confirmation prompts.

#include <cstdlib>
#include <stdlib.h>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "cmd/meshctl/commands.h"
#include "mesh/common/strings.h"
#include "mesh/store/local_store.h"

namespace meshctl {

// --state-dir, else MESHCTL_STATE_DIR, else ".meshctl".
inline std::string ResolveStateDir(const CliContext& ctx) {
  if (!ctx.state_dir.empty()) {
    return ctx.state_dir;
  }
  const char* env = std::getenv("MESHCTL_STATE_DIR");
  if (env != nullptr && *env != '\0') {
    return env;
  }
  return ".meshctl";
}

// Read-only commands do not create a state directory as a side effect.
inline bool StateExists(const CliContext& ctx) {
  std::error_code ec;
  return std::filesystem::is_directory(ResolveStateDir(ctx) + "/objects", ec);
}

inline absl::StatusOr<std::unique_ptr<mesh::store::LocalStore>> OpenState(const CliContext& ctx) {
  return mesh::store::LocalStore::Open(ResolveStateDir(ctx));
}

// The state for commands that only read (or change existing objects): when no state
// directory exists, an empty throw-away store stands in, so that `get` on a fresh
// checkout does not create .meshctl as a side effect.
struct ReadState {
  explicit ReadState(const CliContext& ctx) {
    if (StateExists(ctx)) {
      store = OpenState(ctx);
      return;
    }
    std::string tmpl = (std::filesystem::temp_directory_path() / "meshctl-empty-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) {
      store = absl::InternalError("cannot create a temporary directory");
      return;
    }
    empty_dir = tmpl;
    store = mesh::store::LocalStore::Open(empty_dir);
  }
  ~ReadState() {
    store = absl::CancelledError();  // close before removing
    if (!empty_dir.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(empty_dir, ec);
    }
  }
  ReadState(const ReadState&) = delete;
  ReadState& operator=(const ReadState&) = delete;

  absl::StatusOr<std::unique_ptr<mesh::store::LocalStore>> store;
  std::string empty_dir;
};

// Adds --state-dir to a subcommand (it binds to the shared CliContext).
inline void AddStateDirFlag(CLI::App* cmd, CliContext& ctx) {
  cmd->add_option("--state-dir", ctx.state_dir,
                  "Directory of the local mesh state (default: $MESHCTL_STATE_DIR or .meshctl)");
}

// Asks "<prompt> Proceed? (y/N)"; y/yes (any case) proceeds. EOF or anything else cancels.
inline bool Confirm(const std::string& prompt) {
  std::cout << prompt << " Proceed? (y/N) " << std::flush;
  std::string line;
  if (!std::getline(std::cin, line)) {
    std::cout << "\nCancelled.\n";
    return false;
  }
  std::string answer = mesh::common::ToLower(mesh::common::StripWhitespace(line));
  if (answer == "y" || answer == "yes") {
    return true;
  }
  std::cout << "Cancelled.\n";
  return false;
}

inline void PrintError(const absl::Status& status) {
  std::cerr << "Error: " << std::string(status.message()) << "\n";
}

// Finds or creates a subcommand group shared by several files ("x").
inline CLI::App* SubcommandGroup(CLI::App& app, const std::string& name, const std::string& description) {
  for (CLI::App* sub : app.get_subcommands([&](CLI::App* a) { return a->get_name() == name; })) {
    return sub;
  }
  CLI::App* sub = app.add_subcommand(name, description);
  sub->require_subcommand(1);
  return sub;
}

}  // namespace meshctl
