// api-gateway: thin main; the logic is rm::telemetry::run_gateway (telemetry/src/gateway/gateway_app.cpp),
// with the Prometheus query API (telemetry/promql) as a route group.
#include <cstdio>

#include "core/log.hpp"
#include "core/shutdown.hpp"
#include "promql/http_api.hpp"
#include "telemetry/gateway/gateway_app.hpp"

int main(int argc, char** argv) {
  rm::core::Shutdown::install();
  rm::core::init_logging("api-gateway");
  auto cfg = rm::telemetry::parse_gateway_config(argc, argv);
  if (!cfg) {
    std::fprintf(cfg.error().help ? stdout : stderr, "%s\n", cfg.error().message.c_str());
    return cfg.error().help ? 0 : 2;
  }
  return rm::telemetry::run_gateway(*cfg, {rm::promql::add_routes});
}
