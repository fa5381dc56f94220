#pragma once
// Gateway routes that let the dashboard (web/dashboard/) draw a view with one request each.
// Everything they answer is also reachable through the paginated REST API; these exist for
// speed:
//   GET /api/v1/fleet                 every GPU with the newest value of each of its metrics
//   GET /api/v1/gpus/{id}/series      a GPU's samples in a time window as columns per metric
//                                     (unix seconds and values), not paginated
//   GET /api/v1/pipeline              state of streamers, collector and gateway: the collector's
//                                     /stats counters, the gateway's own metrics, data freshness
// They are documented in the OpenAPI document like every other route (dashboard_schemas()).
#include <memory>
#include <vector>

#include <boost/json/object.hpp>

#include "core/metrics.hpp"
#include "telemetry/gateway/gateway.hpp"

namespace rm::telemetry {

// Most points one /series response carries; a wider window is a 400 naming the limit.
inline constexpr std::size_t kMaxSeriesPoints = 2'000'000;

// Appends the routes above. `metrics` (optional) is the gateway's own registry, reported by
// /api/v1/pipeline; `max_series_points` bounds one /series response.
void add_dashboard_routes(std::vector<GatewayRoute>& routes, std::shared_ptr<const TelemetryView> view,
                          const GatewayOptions& options, const core::metrics::Registry* metrics,
                          std::size_t max_series_points = kMaxSeriesPoints);

// Schemas of the responses above, merged into components/schemas of the OpenAPI document.
boost::json::object dashboard_schemas();

}  // namespace rm::telemetry
