// `remotemedia cleanup | doctor | images ls|prune`: the docker module's CLI subcommands, wired
// into runtime's CLI through its command registry (runtime/cli.hpp). Each prints what it did and
// returns 0 on success, 1 on failure (message on stderr), 2 on a usage error.
#include <iostream>

#include <fmt/format.h>

#include "docker/container_manager.hpp"
#include "docker/doctor.hpp"
#include "docker/image_builder.hpp"
#include "ipc/channel_names.hpp"
#include "process/session_dir.hpp"
#include "runtime/cli.hpp"

namespace rm::docker {
namespace {

int cmd_cleanup(const std::vector<std::string>& args) {
  bool all = false;
  for (const auto& a : args) {
    if (a == "--all") {
      all = true;
    } else {
      std::cerr << "usage: remotemedia cleanup [--all]\n"
                   "  removes node containers and IPC directories whose owner process is dead\n"
                   "  (--all: also containers of other live remotemedia processes)\n";
      return 2;
    }
  }
  const auto root = ipc::ipc_root();
  auto dirs = process::sweep_stale_sessions(root);
  std::cout << fmt::format("ipc: removed {} stale session director{} under {} ({} kept)\n",
                           dirs.removed, dirs.removed == 1 ? "y" : "ies", root.string(), dirs.kept);
  auto c = DockerClient::connect_from_env();
  if (!c) {
    std::cerr << c.error().message << "\n";
    return 1;
  }
  auto r = sweep_orphans(*c, all);
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

int cmd_doctor(const std::vector<std::string>& args) {
  if (!args.empty()) {
    std::cerr << "usage: remotemedia doctor\n";
    return 2;
  }
  DoctorOptions o;
  o.ipc_root = ipc::ipc_root().string();
  auto report = run_doctor(o);
  std::cout << report.text();
  return report.ok() ? 0 : 1;
}

int cmd_images(const std::vector<std::string>& args) {
  if (args.size() != 1 || (args[0] != "ls" && args[0] != "prune")) {
    std::cerr << "usage: remotemedia images ls|prune\n";
    return 2;
  }
  auto c = DockerClient::connect_from_env();
  if (!c) {
    std::cerr << c.error().message << "\n";
    return 1;
  }
  if (args[0] == "ls") {
    auto l = list_node_images(*c);
    if (!l) {
      std::cerr << l.error().message << "\n";
      return 1;
    }
    std::cout << fmt::format("{:<36} {:<20} {:>10}  {}\n", "TAG", "ID", "SIZE MB", "CREATED");
    for (const auto& i : *l)
      std::cout << fmt::format("{:<36} {:<20} {:>10.1f}  {}\n",
                               i.tags.empty() ? "<none>" : i.tags.front(), i.id.substr(0, 19),
                               static_cast<double>(i.size) / 1e6, i.created);
    return 0;
  }
  auto p = prune_node_images(*c);
  if (!p) {
    std::cerr << p.error().message << "\n";
    return 1;
  }
  for (const auto& t : p->removed) std::cout << "removed " << t << "\n";
  for (const auto& t : p->in_use) std::cout << "kept (in use) " << t << "\n";
  std::cout << fmt::format("{} removed, {} in use\n", p->removed.size(), p->in_use.size());
  return 0;
}

}  // namespace
}  // namespace rm::docker

RM_REGISTER_CLI_COMMAND("cleanup", "Remove node containers and IPC directories left by dead processes",
                        ::rm::docker::cmd_cleanup);
RM_REGISTER_CLI_COMMAND("doctor", "Check Docker: daemon, API version, /dev/shm, IPC dir, base image",
                        ::rm::docker::cmd_doctor);
RM_REGISTER_CLI_COMMAND("images", "Node images: `images ls` lists them, `images prune` removes unused ones",
                        ::rm::docker::cmd_images);
