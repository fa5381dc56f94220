#pragma once
// DockerConfig: a node's `docker:` block from the manifest, parsed and validated (see
// docs/manifest.md). Executing it is the docker module's job; this header only describes it.
//
// Guarantees: a DockerConfig that came out of Manifest::from_* is complete (defaults applied,
// both spellings folded into one), volume host paths are absolute and existed at validation
// time, and canonical_json() is a stable text for the same configuration (keys sorted, no
// whitespace, env sorted by name), so it can be hashed into an image tag.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace rm::runtime {

// The Pythons a local recipe can build when no registry provides python:<v>-slim (one per
// Debian release: bullseye 3.9, bookworm 3.11, trixie 3.13; scripts/base-images.sh --list).
inline constexpr std::string_view kBuildablePythonVersions[] = {"3.9", "3.11", "3.13"};

struct ResourceLimits {
  std::uint64_t memory_mb = 0;  // hard limit, no swap; >= 128
  double cpu_cores = 0.0;       // >= 0.1 and <= host cores
};

struct VolumeMount {
  std::string host_path;  // absolute (relative manifest paths resolve against its directory)
  std::string container_path;
  bool read_only = false;
};

// `gpus: all`, `gpus: 2` or `gpus: ["0", "1"]`; absent = no GPU.
struct GpuRequest {
  enum class Mode { none, all, count, devices };
  Mode mode = Mode::none;
  int count = 0;                        // Mode::count
  std::vector<std::string> device_ids;  // Mode::devices
};

struct DockerConfig {
  std::string python_version;                    // "3.9" .. "3.13"
  std::string base_image;                        // default "python:{python_version}-slim"
  std::vector<std::string> system_dependencies;  // apt packages (alias system_packages)
  std::vector<std::string> python_packages;      // pip requirement specs, pins allowed
  ResourceLimits resource_limits;
  std::map<std::string, std::string> env;  // alias env_vars
  std::vector<VolumeMount> volumes;
  std::uint64_t shm_size_mb = 2048;
  GpuRequest gpus;

  // Deterministic JSON text of every field (used for image tags and labels).
  std::string canonical_json() const;
};

}  // namespace rm::runtime
