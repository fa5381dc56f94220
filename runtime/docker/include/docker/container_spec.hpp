#pragma once
// What a node container looks like, independent of the API's JSON: the container manager
// fills a ContainerSpec, create_body_json() turns it into the body of POST /containers/create.
// Pure functions, unit-tested without a daemon.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "runtime/docker_config.hpp"

namespace rm::docker {

struct BindMount {
  std::string host_path;       // absolute
  std::string container_path;  // absolute
  bool read_only = false;
};

struct ContainerSpec {
  std::string name;  // optional; the daemon picks one when empty
  std::string image;
  std::vector<std::string> cmd;
  std::optional<std::vector<std::string>> entrypoint;  // nullopt: the image's
  std::map<std::string, std::string> env;
  std::map<std::string, std::string> labels;
  std::string working_dir;
  std::string user;

  // Limits. memory is a hard limit with swap disabled (MemorySwap == Memory); 0 = unlimited.
  std::uint64_t memory_bytes = 0;
  double cpu_cores = 0.0;        // NanoCpus = cpu_cores * 1e9; 0 = unlimited
  std::uint64_t shm_bytes = 0;   // /dev/shm size inside; 0 = daemon default (64 MB)
  std::uint64_t pids_limit = 0;  // 0 = unlimited

  std::vector<BindMount> mounts;
  bool init = true;  // tini as PID 1: reaps zombies and forwards SIGTERM to the runner
  std::string network_mode = "none";
  runtime::GpuRequest gpus;
  // `remotemedia shell`: stdin kept open and attached (OpenStdin, StdinOnce, AttachStd*), and a
  // terminal (Tty) when the caller has one.
  bool interactive = false;
  bool tty = false;
};

// The JSON body of POST /containers/create for `spec` (HostConfig with Memory, MemorySwap,
// NanoCpus, ShmSize, Mounts, Init, NetworkMode, DeviceRequests for GPUs, ...).
std::string create_body_json(const ContainerSpec& spec);

// The HostConfig.DeviceRequests array for a GPU request ("[]" when none): `all` is Count -1,
// a count is Count n, device ids go to DeviceIDs; always driver "nvidia", capabilities [["gpu"]].
std::string device_requests_json(const runtime::GpuRequest& gpus);

}  // namespace rm::docker
