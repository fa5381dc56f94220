#pragma once
// telemetry-streamer: reads a telemetry CSV and streams it to the collector's broker.
//
// Configuration (flag > environment > default):
//   CSV_FILE (/data/telemetry.csv)  --csv-file
//   BROKER_HOST (localhost)         --broker-host
//   BROKER_PORT (9000)              --broker-port
//   RATE (10.0)                     --rate      rows per second per worker; 0 or negative =
//                                               unlimited (benchmarks)
//   WORKERS (2)                     --workers
//   INSTANCE_INDEX (0), INSTANCE_COUNT (1)      several streamers split the rows
//   HOST_FILTER ("")                --host-filter  only rows whose Hostname equals it (opt-in)
//   BATCH_SIZE (500; 10000 with NATS_URL)  --batch-size   samples per PUBLISH / JetStream message
//   LOOPS (0 = forever)             --loops
//   BROKER_TOKEN ("")                              shared token sent in HELLO
//   METRICS_PORT (unset = no metrics endpoint)     --metrics-port  Prometheus /metrics: rows
//                                               read, batches sent/acked/resent, ack latency,
//                                               workers connected, process_*
//   STATS_INTERVAL_SECONDS (30)     --stats-interval-seconds  totals logged this often (0 = only at exit)
//   NATS_URL (unset)                publish to JetStream instead of the broker (nats.hpp)
//
// Row i of the file (bad rows skipped) belongs to instance i % INSTANCE_COUNT; an instance's
// j-th row goes to worker j % WORKERS, so no two workers or instances send the same row.
// Every row is stamped with the time it is processed. Each worker is its own producer
// ("<prefix>-w<k>") with sequence numbers from 1, so the broker dedups resends after a lost ack.
#include <cstdint>
#include <string>

#include <tl/expected.hpp>

#include "telemetry/cluster/nats.hpp"
#include "telemetry/ingest/collector.hpp"

namespace rm::telemetry {

struct StreamerConfig {
  std::string csv_file = "/data/telemetry.csv";
  std::string broker_host = "localhost";
  std::uint16_t broker_port = 9000;
  double rate = 10.0;
  int workers = 2;
  int instance_index = 0;
  int instance_count = 1;
  std::string host_filter;
  std::size_t batch_size = 500;
  long long loops = 0;
  std::string producer_prefix;  // default "<hostname>-<pid>-<start time>"
  std::string broker_token;
  int metrics_port = -1;  // -1 = off, 0 = any free port
  long long stats_interval_seconds = 30;
  std::optional<NatsConfig> nats;  // set from NATS_URL: cluster mode
};

[[nodiscard]] tl::expected<StreamerConfig, CliResult> parse_streamer_config(int argc, char** argv);

// Streams until the loops are done or SIGTERM/SIGINT, then flushes (waits for every ack, up to
// 10 s). Prints a JSON summary line to stdout. Returns 0 when everything sent was acknowledged.
int run_streamer(const StreamerConfig& cfg);

}  // namespace rm::telemetry
