#pragma once
// `remotemedia doctor`: the seed's "Verify Docker Setup" as one function. Each check reports
// what it found and, when it fails, what to do. Never throws, never needs a daemon to run.
#include <cstdint>
#include <string>
#include <vector>

#include "docker/client.hpp"

namespace rm::docker {

struct DoctorOptions {
  std::optional<Endpoint> endpoint;  // default: DOCKER_HOST or /var/run/docker.sock
  std::string ipc_root = "/dev/shm/remotemedia";
  std::vector<std::string> base_images = {"python:3.11-slim"};
  std::uint64_t min_shm_mb = 1024;
};

struct DoctorCheck {
  std::string name;  // "daemon", "api version", "/dev/shm", "ipc dir", "base image <ref>"
  bool ok = false;
  std::string detail;  // what was found
  std::string fix;     // what to do when !ok
};

struct DoctorReport {
  std::vector<DoctorCheck> checks;
  bool ok() const;
  std::string text() const;  // one line per check: "[ok]  name: detail" / "[FAIL] ... -> fix"
};

DoctorReport run_doctor(const DoctorOptions& options = {});

}  // namespace rm::docker
