// Default implementations of TelemetryView in terms of its primitive queries.
#include "telemetry/storage/query.hpp"

#include <algorithm>
#include <limits>

namespace rm::telemetry {

std::vector<std::vector<SeriesSample>> TelemetryView::samples(const std::string& gpu_id,
                                                              const std::vector<std::string>& metrics,
                                                              std::int64_t start_ns,
                                                              std::int64_t end_ns) const {
  std::vector<std::vector<SeriesSample>> out(metrics.size());
  TelemetryQuery q;
  q.gpu_id = gpu_id;
  q.start_ns = start_ns;
  q.end_ns = end_ns;
  q.metrics = metrics;
  q.limit = std::numeric_limits<std::size_t>::max();
  auto page = query(q);
  if (!page) return out;
  for (const auto& p : page->points) {
    auto it = std::find(metrics.begin(), metrics.end(), p.metric);
    if (it != metrics.end()) {
      out[static_cast<std::size_t>(it - metrics.begin())].push_back({p.timestamp_ns, p.value});
    }
  }
  return out;
}

}  // namespace rm::telemetry
