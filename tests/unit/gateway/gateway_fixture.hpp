#pragma once
// A real in-memory index populated through its public API, shared by the gateway tests.
#include <memory>
#include <string>

#include "telemetry/gateway/gateway.hpp"
#include "telemetry/storage/index.hpp"

namespace gateway_test {

inline constexpr std::int64_t kSec = 1'000'000'000;
inline constexpr std::int64_t kBase = 1752871354LL * kSec;  // 2025-07-18T20:42:34Z

inline rm::telemetry::GpuInfo dcgm_gpu(const std::string& uuid, const std::string& index,
                                       const std::string& host) {
  rm::telemetry::GpuInfo g;
  g.id = uuid;
  g.uuid = uuid;
  g.gpu_index = index;
  g.device = "nvidia" + index;
  g.model = "NVIDIA H100 80GB HBM3";
  g.hostname = host;
  g.labels = {{"DCGM_FI_DRIVER_VERSION", "535.129.03"}, {"job", "dgx_dcgm_exporter"}};
  return g;
}

// Gateway options whose collector never answers (nothing listens on port 1).
inline rm::telemetry::GatewayOptions no_collector() {
  rm::telemetry::GatewayOptions o;
  o.collector_host = "127.0.0.1";
  o.collector_port = 1;
  return o;
}

// Three GPUs on two hosts. GPU-a: 100 samples, one per second, alternating two metrics
// (even i: DCGM_FI_DEV_GPU_UTIL = i, odd i: DCGM_FI_DEV_GPU_TEMP = 40 + i).
inline std::shared_ptr<rm::telemetry::Index> sample_index() {
  auto index = std::make_shared<rm::telemetry::Index>(10000);
  auto* a = index->upsert_gpu(dcgm_gpu("GPU-a", "0", "host-1"));
  auto* b = index->upsert_gpu(dcgm_gpu("GPU-b", "1", "host-1"));
  auto* c = index->upsert_gpu(dcgm_gpu("GPU-c", "0", "host-2"));
  auto util = index->metric_id("DCGM_FI_DEV_GPU_UTIL");
  auto temp = index->metric_id("DCGM_FI_DEV_GPU_TEMP");
  for (int i = 0; i < 100; ++i) {
    index->append(a, i % 2 == 0 ? util : temp, kBase + i * kSec, i % 2 == 0 ? i : 40 + i);
  }
  index->append(b, util, kBase, 7);
  index->append(c, util, kBase + 5 * kSec, 9);
  return index;
}

}  // namespace gateway_test
