// `remotemedia doctor`: checks Docker (daemon, API version, /dev/shm, IPC dir, base image) and
// what Python nodes need from the installation (SDK, IPC library, interpreter).
// 0 when every check passes, 1 otherwise, 2 on a usage error.
#include <dlfcn.h>

#include <filesystem>
#include <iostream>

#include "command.hpp"
#include "core/config.hpp"
#include "docker/doctor.hpp"
#include "ipc/channel_names.hpp"
#include "process/install_layout.hpp"

namespace rm::cli {
namespace {

using namespace docker;

// What Python host-process nodes need from the installation: the SDK, a loadable IPC library
// and an interpreter (the same lookups ProcessNode uses).
void add_install_checks(DoctorReport& r) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (auto sdk = process::find_python_sdk()) {
    const bool ok = fs::exists(*sdk / "remotemedia" / "runner.py", ec);
    r.checks.push_back(
        {"python sdk", ok, ok ? sdk->string() : sdk->string() + " has no remotemedia/runner.py",
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
                        has_api ? lib->string() + " loads"
                        : h     ? lib->string() + " lacks rm_ipc_channel_create"
                                : lib->string() + ": " + why,
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

}  // namespace

Command doctor_command() {
  return raw_args_command("doctor",
                          "Check Docker (daemon, API version, /dev/shm, IPC dir, base image) and the Python "
                          "SDK, IPC library, python3",
                          cmd_doctor);
}

}  // namespace rm::cli
