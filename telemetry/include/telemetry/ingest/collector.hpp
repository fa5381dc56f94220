#pragma once
// telemetry-collector: broker + durable store + health and metrics endpoints.
//
// Configuration (flag > environment > default):
//   WORKERS (4)            broker I/O threads          --workers
//   DATA_DIR (/data)       data root                   --data-dir
//   MAX_ENTRIES (10000)    samples kept per GPU        --max-entries
//   HEALTH_PORT (8080)     /health /ready /stats       --health-port
//   BROKER_PORT (9000)     broker                      --broker-port
//   CHECKPOINT_ENABLED (true)                          --checkpoint-enabled
//   METRICS_PORT (9091)    Prometheus /metrics         --metrics-port
//   COLLECTOR_ID (hostname, else collector-0): the subdirectory of DATA_DIR it owns
//   SEGMENT_BYTES (64 MiB), CHECKPOINT_INTERVAL_MS (60000), BROKER_CREDITS (16), BIND (0.0.0.0)
//   RETENTION (0 = off; e.g. 24h): also drop samples that much older than a GPU's newest
//   NATS_URL (unset): cluster mode, a stateless worker of the JetStream work queue (nats.hpp,
//   docs/cluster.md); no broker port, no DATA_DIR
//   BROKER_TOKEN ("" = none): shared token a publisher must send in HELLO
//   BROKER_HELLO_TIMEOUT_MS (5000), BROKER_FRAME_TIMEOUT_MS (10000), BROKER_IDLE_TIMEOUT_MS
//   (30000), BROKER_WRITE_TIMEOUT_MS (10000: a producer that does not read its ACKs),
//   BROKER_MAX_CONNECTIONS (0 = open-file limit - 128)
//
// The collector holds an exclusive lock on DATA_DIR/COLLECTOR_ID (a second one refuses to
// start). /health is liveness (200 while the process serves); /ready is 503 while recovering
// or while the store is read-only after a write error, with the reason.
#include <cstdint>
#include <string>

#include <tl/expected.hpp>

#include "telemetry/cluster/nats.hpp"

namespace rm::telemetry {

struct CollectorConfig {
  int workers = 4;
  std::string data_dir = "/data";
  std::size_t max_entries = 10000;
  std::uint16_t health_port = 8080;
  std::uint16_t broker_port = 9000;
  std::uint16_t metrics_port = 9091;
  bool checkpoint_enabled = true;
  std::string collector_id;
  std::string bind = "0.0.0.0";
  std::size_t segment_bytes = 64U << 20;
  long long checkpoint_interval_ms = 60000;
  std::uint32_t credits = 16;
  std::optional<NatsConfig> nats;  // set from NATS_URL: cluster mode
  std::string broker_token;
  long long hello_timeout_ms = 5000;
  long long frame_timeout_ms = 10000;
  long long idle_timeout_ms = 30000;
  long long write_timeout_ms = 10000;
  std::size_t max_connections = 0;
  std::int64_t retention_ns = 0;
};

// Parses environment and flags. On --help returns an error whose message is the help text and
// `help` is set; on a bad value the message names the variable/flag and the value.
struct CliResult {
  std::string message;
  bool help = false;
};
[[nodiscard]] tl::expected<CollectorConfig, CliResult> parse_collector_config(int argc, char** argv);

// Runs until SIGTERM/SIGINT (core::Shutdown), then stops accepting, finishes in-flight batches,
// writes a final checkpoint and returns 0; returns 1 when startup fails.
int run_collector(const CollectorConfig& cfg);

}  // namespace rm::telemetry
