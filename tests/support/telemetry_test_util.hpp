#pragma once
// Helpers shared by the telemetry unit and integration tests: temp directories and batches with
// known contents.
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <sstream>
#include <string>

#include <fmt/format.h>

#include "support/temp_dir.hpp"
#include "telemetry/wire/protocol.hpp"

namespace rm::telemetry::test {

using rm::test::TempDir;

inline std::shared_ptr<const GpuInfo> gpu(const std::string& id, const std::string& host = "host-a") {
  auto g = std::make_shared<GpuInfo>();
  g->id = id;
  g->uuid = id;
  g->gpu_index = "0";
  g->device = "nvidia0";
  g->model = "NVIDIA H100 80GB HBM3";
  g->hostname = host;
  g->labels["DCGM_FI_DRIVER_VERSION"] = "535.129.03";
  return g;
}

// A batch of `n` samples of one GPU; sample k has timestamp base+k and value base+k.
inline Batch make_batch(const std::string& producer, std::uint64_t seq, const std::string& gpu_id,
                        std::size_t n, std::int64_t base) {
  Batch b;
  b.producer = producer;
  b.seq = seq;
  b.gpus.push_back(gpu(gpu_id));
  b.metrics.push_back("DCGM_FI_DEV_GPU_UTIL");
  for (std::size_t k = 0; k < n; ++k) {
    b.samples.push_back(
        {0, 0, base + static_cast<std::int64_t>(k), static_cast<double>(base) + static_cast<double>(k)});
  }
  return b;
}

// The line of metric `name` (with or without labels) in a Prometheus text exposition, or empty.
inline std::string metric_line(const std::string& exposition, const std::string& name) {
  std::istringstream in(exposition);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(name + " ", 0) == 0 || line.rfind(name + "{", 0) == 0) return line;
  }
  return {};
}
inline double metric_value(const std::string& exposition, const std::string& name) {
  const auto line = metric_line(exposition, name);
  if (line.empty()) return -1;
  return std::strtod(line.substr(line.rfind(' ') + 1).c_str(), nullptr);
}

}  // namespace rm::telemetry::test
