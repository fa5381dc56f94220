#pragma once
// The Prometheus HTTP API (query, query_range, series, labels, label values) over the
// telemetry store, as routes of the API gateway's table (see telemetry/gateway.hpp):
//
//   GatewayOptions opts;
//   opts.route_groups.push_back(rm::promql::add_routes);
//
// Responses use Prometheus' JSON envelope ({"status":"success","data":...}); errors are
// {"status":"error","errorType":"bad_data"|"execution","error":"..."} with 400 for a bad
// parameter, a parse error or an unsupported construct, 422 when evaluation fails. GET takes
// query parameters; POST also takes an application/x-www-form-urlencoded body.
#include <memory>
#include <vector>

#include "telemetry/gateway/gateway.hpp"

namespace rm::promql {

void add_routes(std::vector<telemetry::GatewayRoute>& routes,
                std::shared_ptr<const telemetry::TelemetryView> view);

}  // namespace rm::promql
