// telemetry-streamer: thin main; the logic is rm::telemetry::run_streamer
// (telemetry/src/ingest/streamer.cpp).
#include <cstdio>

#include "core/log.hpp"
#include "core/shutdown.hpp"
#include "telemetry/ingest/streamer.hpp"

int main(int argc, char** argv) {
  rm::core::Shutdown::install();
  rm::core::init_logging("telemetry-streamer");
  auto cfg = rm::telemetry::parse_streamer_config(argc, argv);
  if (!cfg) {
    std::fprintf(cfg.error().help ? stdout : stderr, "%s\n", cfg.error().message.c_str());
    return cfg.error().help ? 0 : 2;
  }
  return rm::telemetry::run_streamer(*cfg);
}
