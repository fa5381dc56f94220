#pragma once
// api-gateway: the REST API over a collector's DATA_DIR (opened read-only), plus its own
// Prometheus metrics. Configuration (flag > environment > default):
//   PORT (8081), DATA_DIR (/data), COLLECTOR_HOST (localhost), COLLECTOR_PORT (8080),
//   METRICS_PORT (9092), HOST (0.0.0.0), THREADS (2), MAX_ENTRIES (10000),
//   STALE_AFTER_SECONDS (300): /metrics/gpus leaves out GPUs silent this long (0 = keep all).
//   RETENTION (0 = off; e.g. 24h): as the collector's, so both hold the same samples.
//   NATS_URL (unset): cluster mode, read the JetStream applied stream instead of DATA_DIR
//   (docs/cluster.md); RETENTION applies as well (within the stream's own limits), /health
//   reports the NATS connection instead of COLLECTOR_HOST, /ready is 503 until caught up.
// The dashboard (/), Swagger UI (/docs) and their libraries (/vendor) are served from
// share/remotemedia/web next to the executable, or RM_WEB_ROOT, after the API routes.
//
// A DATA_DIR that does not exist or cannot be read is a startup error naming it; an empty one
// is served, with /ready answering 503 "no store yet" until a collector's store appears.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "telemetry/cluster/nats.hpp"
#include "telemetry/gateway/gateway.hpp"
#include "telemetry/ingest/collector.hpp"

namespace rm::telemetry {

struct GatewayConfig {
  std::uint16_t port = 8081;
  std::uint16_t metrics_port = 9092;
  std::uint16_t collector_port = 8080;
  int threads = 2;
  std::size_t max_entries = 10000;
  long long stale_after_seconds = 300;
  std::int64_t retention_ns = 0;
  std::string host = "0.0.0.0";
  std::string data_dir = "/data";
  std::string collector_host = "localhost";
  std::optional<NatsConfig> nats;  // set from NATS_URL: cluster mode
  bool print_openapi = false;
};

[[nodiscard]] tl::expected<GatewayConfig, CliResult> parse_gateway_config(int argc, char** argv);

// Serves until SIGTERM/SIGINT; returns 0 after a clean stop, 1 when startup fails (the log
// names the cause), 70 when a thread failed. `route_groups` are routes of modules built on
// this one (the Prometheus query API, telemetry/promql), added to the table and the document.
int run_gateway(const GatewayConfig& cfg, const std::vector<GatewayRouteGroup>& route_groups = {});

}  // namespace rm::telemetry
