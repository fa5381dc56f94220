// `remotemedia cleanup [--all]`: removes node containers and IPC directories whose owner
// process is dead, and containers kept on purpose after their session (RM_DOCKER_KEEP). 0 on success, 1 on
// failure (message on stderr), 2 on a usage error.
#include <iostream>

#include <fmt/format.h>

#include "command.hpp"
#include "docker/container_manager.hpp"
#include "ipc/channel_names.hpp"
#include "process/session_dir.hpp"

namespace rm::cli {
namespace {

using namespace docker;

int cmd_cleanup(const std::vector<std::string>& args) {
  bool all = false;
  for (const auto& a : args) {
    if (a == "--all") {
      all = true;
    } else {
      std::cerr << "usage: remotemedia cleanup [--all]\n"
                   "  removes node containers and IPC directories whose owner process is dead,\n"
                   "  and containers kept after their session (RM_DOCKER_KEEP, run --keep-containers)\n"
                   "  (--all: also containers of other live remotemedia processes)\n";
      return 2;
    }
  }
  const auto root = ipc::ipc_root();
  auto dirs = process::sweep_stale_sessions(root);
  std::cout << fmt::format("ipc: removed {} stale session director{} under {} ({} kept)\n", dirs.removed,
                           dirs.removed == 1 ? "y" : "ies", root.string(), dirs.kept);
  auto c = DockerClient::connect_from_env();
  if (!c) {
    std::cerr << c.error().message << "\n";
    return 1;
  }
  auto r = sweep_orphans(*c, all, true);
  if (!r) {
    std::cerr << r.error().message << "\n";
    return 1;
  }
  std::cout << fmt::format("containers: removed {}, kept {} (owner alive)\n", r->removed.size(),
                           r->kept.size());
  for (const auto& n : r->removed) std::cout << "  removed " << n << "\n";
  for (const auto& e : r->errors) std::cerr << "  " << e << "\n";
  return r->errors.empty() ? 0 : 1;
}

}  // namespace

Command cleanup_command() {
  return raw_args_command("cleanup", "Remove node containers and IPC directories left by dead processes",
                          cmd_cleanup);
}

}  // namespace rm::cli
