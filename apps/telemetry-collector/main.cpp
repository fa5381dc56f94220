// telemetry-collector: thin main; the logic is rm::telemetry::run_collector
// (telemetry/src/ingest/collector.cpp).
#include <cstdio>

#include "core/log.hpp"
#include "core/shutdown.hpp"
#include "telemetry/ingest/collector.hpp"

int main(int argc, char** argv) {
  rm::core::Shutdown::install();
  rm::core::init_logging("telemetry-collector");
  auto cfg = rm::telemetry::parse_collector_config(argc, argv);
  if (!cfg) {
    std::fprintf(cfg.error().help ? stdout : stderr, "%s\n", cfg.error().message.c_str());
    return cfg.error().help ? 0 : 2;
  }
  return rm::telemetry::run_collector(*cfg);
}
