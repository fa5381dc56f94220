#pragma once
#include "telemetry/ingest/collector.hpp"

namespace rm::telemetry {
// The collector in cluster mode (cfg.nats set); see nats_consumer.cpp. Same contract as
// run_collector: runs until SIGTERM/SIGINT, returns 0, or 1 when startup fails.
int run_nats_collector(const CollectorConfig& cfg);
}  // namespace rm::telemetry
