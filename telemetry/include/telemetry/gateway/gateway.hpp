#pragma once
// The API gateway: a table of routes, each with its documentation and a handler that is a
// pure function of the request and a TelemetryView. The HTTP router and the OpenAPI 3
// document are both generated from this one table, so the document cannot drift from the
// code (tests/unit/gateway checks every route is documented and answers as documented).
//
// Threading: handlers only read the view (thread-safe by contract) and the options, so they
// run concurrently on every io thread. Everything answers from memory: /health reports the
// collector's health as last seen by a background probe (CollectorProbe).
//
// Query parameters a route does not document are rejected with 400 naming the parameter,
// except on routes marked ignores_unknown_params (the PromQL routes, as Prometheus does).
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "core/http.hpp"
#include "core/metrics.hpp"
#include "telemetry/ingest/collector_probe.hpp"
#include "telemetry/storage/query.hpp"

namespace rm::telemetry {

struct GatewayRoute;
// Adds a module's routes (e.g. rm::promql::add_routes) to the gateway's table.
using GatewayRouteGroup =
    std::function<void(std::vector<GatewayRoute>&, std::shared_ptr<const TelemetryView>)>;

struct GatewayOptions {
  std::string collector_host = "localhost";
  std::uint16_t collector_port = 8080;
  std::chrono::milliseconds collector_timeout{300};
  std::chrono::milliseconds collector_probe_interval{1000};
  bool probe_collector = true;  // false: /health reports the collector as "unknown"
  // /metrics/gpus leaves out GPUs whose newest sample is this much older than the newest
  // sample of any GPU (as dcgm-exporter drops GPUs that are gone); 0 = keep all.
  std::chrono::seconds stale_after{300};
  // Why the gateway is not ready (for /ready), or nullopt when it is; unset = always ready.
  std::function<std::optional<std::string>()> not_ready;
  // Cluster mode: fills /health's "collector" (ok | unreachable) and details from the data
  // source (the NATS connection) instead of probing COLLECTOR_HOST; set probe_collector = false.
  std::function<void(boost::json::object&)> health_source;
  std::size_t default_limit = 1000;
  std::size_t max_limit = 10000;
  std::string version = "0.1.0";
  // Route groups that live in their own modules (the Prometheus query API in telemetry/promql)
  // append their routes to the table; they are documented and measured like every other route.
  std::vector<GatewayRouteGroup> route_groups;
};

// Documentation of one parameter, rendered into the OpenAPI document.
struct ParamDoc {
  std::string name;
  std::string in;      // "path", "query" or "form" (an application/x-www-form-urlencoded body)
  std::string type;    // "string" or "integer"
  std::string format;  // "date-time", "int32", ... (may be empty)
  bool required = false;
  bool repeatable = false;  // a query parameter that may be given more than once
  std::string description;
  std::optional<std::int64_t> minimum;
  std::optional<std::int64_t> maximum;
  std::optional<std::int64_t> default_value;
};

struct ResponseDoc {
  int status = 200;
  std::string description;
  std::string content_type = "application/json";
  std::string schema_ref;  // name under components/schemas, empty for none
};

struct GatewayRoute {
  std::string method;
  std::string path;  // "/api/v1/gpus/{id}/telemetry"
  std::string operation_id;
  std::string summary;
  std::vector<ParamDoc> params;
  std::vector<ResponseDoc> responses;
  std::function<core::http::Response(const core::http::Request&)> handler;
  // Query parameters the route does not document are passed through instead of being a 400
  // (the Prometheus query API ignores unknown parameters, and Grafana sends some).
  bool ignores_unknown_params = false;
};

class Gateway {
 public:
  // `view` must stay valid and thread-safe for the gateway's lifetime. `metrics` (optional)
  // receives per-route request counts and latencies (api_gateway_http_*).
  Gateway(std::shared_ptr<const TelemetryView> view, GatewayOptions options,
          core::metrics::Registry* metrics = nullptr);
  // Handlers refer to the gateway itself, so it stays where it was built.
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  const std::vector<GatewayRoute>& routes() const { return routes_; }
  // Router over routes(); each handler is wrapped with request metrics when enabled.
  core::http::Router router() const;
  // OpenAPI 3.0.3 document generated from routes().
  boost::json::value openapi() const;
  // The newest sample of every GPU and metric in Prometheus text format 0.0.4 (DCGM names,
  // labels gpu, UUID, device, modelName, Hostname). Metrics are gauges.
  std::string prometheus_exposition() const;

 private:
  void build_routes();
  std::shared_ptr<const TelemetryView> view_;
  GatewayOptions options_;
  core::metrics::Registry* metrics_;
  std::vector<GatewayRoute> routes_;
  std::shared_ptr<CollectorProbe> probe_;
};

}  // namespace rm::telemetry
