#pragma once
// The telemetry store as PromQL series: one series per GPU and metric, named as
// dcgm-exporter names them (DCGM_FI_DEV_GPU_UTIL{gpu, UUID, device, modelName, Hostname,
// instance, job, ...}), the same names /metrics/gpus exports (telemetry/prometheus_names.hpp).
// Sample times are the store's nanoseconds truncated to milliseconds (of two samples in the
// same millisecond the later one is kept, as Prometheus keeps one sample per timestamp).
#include <memory>

#include "promql/storage.hpp"
#include "telemetry/storage/query.hpp"

namespace rm::promql {

class ViewStorage final : public Storage {
 public:
  explicit ViewStorage(std::shared_ptr<const telemetry::TelemetryView> view);

  std::vector<SeriesData> select(const std::vector<Matcher>& matchers, std::int64_t mint,
                                 std::int64_t maxt) const override;
  std::vector<Labels> series(const std::vector<Matcher>& matchers, std::int64_t mint,
                             std::int64_t maxt) const override;

 private:
  std::vector<SeriesData> find(const std::vector<Matcher>& matchers, std::int64_t mint, std::int64_t maxt,
                               bool with_samples) const;
  std::shared_ptr<const telemetry::TelemetryView> view_;
};

}  // namespace rm::promql
