#pragma once
// Helpers shared by the telemetry unit and integration tests: temp directories and batches with
// known contents.
#include <filesystem>
#include <memory>
#include <random>
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

}  // namespace rm::telemetry::test
