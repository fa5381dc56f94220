#pragma once
// The telemetry data model shared by the CSV reader, broker, store, collector and gateway.
#include <cstdint>
#include <map>
#include <string>

namespace rm::telemetry {

// Identity and metadata of one GPU. `id` is the UUID where the source has one (gpu index
// repeats on every host), else the gpu_id column.
struct GpuInfo {
  std::string id;
  std::string uuid;       // may be empty (wide format)
  std::string gpu_index;  // the "gpu_id" column of the DCGM export ("0".."7")
  std::string device;     // "nvidia0"
  std::string model;      // "NVIDIA H100 80GB HBM3"
  std::string hostname;
  std::map<std::string, std::string> labels;  // parsed labels_raw (stable, non-per-sample)

  bool operator==(const GpuInfo&) const = default;
};

// One datapoint: a metric value of a GPU at a time (the time the row was processed).
struct Sample {
  std::string gpu_id;             // GpuInfo::id
  std::string metric;             // "DCGM_FI_DEV_GPU_UTIL", or "utilization" etc. in the wide format
  std::int64_t timestamp_ns = 0;  // Unix epoch, nanoseconds
  double value = 0;
};

}  // namespace rm::telemetry
