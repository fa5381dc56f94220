// `remotemedia cleanup | doctor | images ls|prune`: the docker module's CLI subcommands, wired
// into runtime's CLI through its command registry (runtime/cli.hpp). Each prints what it did and
// returns 0 on success, 1 on failure (message on stderr), 2 on a usage error.
#include <dlfcn.h>
#include <filesystem>
#include <iostream>

#include <fmt/format.h>

#include "docker/container_manager.hpp"
#include "docker/doctor.hpp"
#include "docker/image_builder.hpp"
#include "ipc/channel_names.hpp"
#include "core/config.hpp"
#include "process/install_layout.hpp"
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

// What Python host-process nodes need from the installation: the SDK, a loadable IPC library
// and an interpreter (the same lookups ProcessNode uses).
void add_install_checks(DoctorReport& r) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (auto sdk = process::find_python_sdk()) {
    const bool ok = fs::exists(*sdk / "remotemedia" / "runner.py", ec);
    r.checks.push_back({"python sdk", ok,
                        ok ? sdk->string() : sdk->string() + " has no remotemedia/runner.py",
                        "reinstall the runtime or point RM_PYTHON_SDK_DIR at <prefix>/share/remotemedia/python"});
  } else {
    r.checks.push_back({"python sdk", false, sdk.error(), "install the runtime or set RM_PYTHON_SDK_DIR"});
  }
  if (auto lib = process::find_ipc_library()) {
    void* h = ::dlopen(lib->c_str(), RTLD_NOW | RTLD_LOCAL);
    const std::string why = h ? "" : ::dlerror();
    const bool has_api = h && ::dlsym(h, "rm_ipc_channel_create") != nullptr;
    if (h) ::dlclose(h);
    r.checks.push_back({"ipc library", has_api,
                        has_api ? lib->string() + " loads" :
                        h ? lib->string() + " lacks rm_ipc_channel_create" : lib->string() + ": " + why,
                        "reinstall the runtime or set RM_IPC_LIBRARY to a libremotemedia_ipc.so"});
  } else {
    r.checks.push_back({"ipc library", false, lib.error(), "install the runtime or set RM_IPC_LIBRARY"});
  }
  const auto python = core::env_string("REMOTEMEDIA_PYTHON", "python3");
  const auto found = process::find_program(python);
  r.checks.push_back({"python", !found.empty(), found.empty() ? python + " not found on PATH" : found,
                      "install python3 (apt-get install python3) or set REMOTEMEDIA_PYTHON"});
}

int cmd_doctor(const std::vector<std::string>& args) {
  if (!args.empty()) {
    std::cerr << "usage: remotemedia doctor\n";
    return 2;
  }
  DoctorOptions o;
  o.ipc_root = ipc::ipc_root().string();
  auto report = run_doctor(o);
  add_install_checks(report);
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
