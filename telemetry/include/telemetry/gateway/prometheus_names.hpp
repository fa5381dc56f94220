#pragma once
// How GPU telemetry is named in Prometheus terms, shared by the /metrics/gpus exposition and
// the Prometheus query API (telemetry/promql), so both show the same series.
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "telemetry/model.hpp"

namespace rm::telemetry {

// The metric name with characters Prometheus does not allow replaced by '_'.
std::string prometheus_metric_name(std::string_view name);

// Source names that differ only in characters Prometheus does not allow ("a.b", "a_b") map to
// one Prometheus name. Returns the Prometheus names that more than one of `sources` maps to;
// series of those names carry a label kSourceMetricLabel with the source name so they stay
// distinct (/metrics/gpus over its whole scrape, the PromQL API per GPU).
inline constexpr const char* kSourceMetricLabel = "metric";
std::set<std::string> colliding_prometheus_names(const std::vector<std::string>& sources);

// A GPU's series labels, as dcgm-exporter names them: gpu, UUID, device, modelName,
// Hostname (empty ones left out; gpu falls back to the id, and gpu_id is added for a GPU known
// only by its index). With `source_labels`, every label of the source's labels_raw
// (instance, job, DCGM_FI_DRIVER_VERSION, ...) comes first, the fields above overriding.
// In exposition order, not sorted.
std::vector<std::pair<std::string, std::string>> prometheus_labels(const GpuInfo& info, bool source_labels);

}  // namespace rm::telemetry
