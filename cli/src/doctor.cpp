// `remotemedia doctor`: checks Docker (daemon, API version, /dev/shm, IPC dir, base image).
// 0 when every check passes, 1 otherwise, 2 on a usage error.
#include <iostream>

#include "command.hpp"
#include "docker/doctor.hpp"
#include "ipc/channel_names.hpp"

namespace rm::cli {
namespace {

using namespace docker;

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

}  // namespace

Command doctor_command() {
  return raw_args_command("doctor", "Check Docker: daemon, API version, /dev/shm, IPC dir, base image",
                          cmd_doctor);
}

}  // namespace rm::cli
