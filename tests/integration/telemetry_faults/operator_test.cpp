// What an operator sees: the streamer's metrics port and periodic totals, process_* metrics
// and the connections-open gauge on the collector.
#include <signal.h>

#include "fault_util.hpp"
#include "integration/ingest/process.hpp"

namespace rm::telemetry::faults {
namespace {

const fs::path kCsv = RM_SOURCE_DIR "/tests/data/dcgm_metrics_20250718_134233.csv";

TEST(TelemetryFaults, the_streamer_serves_metrics_and_logs_its_totals_while_it_runs) {
  ScratchDir scratch("operator");
  test::CollectorPorts ports;
  const auto clog = (scratch.path() / "collector.log").string();
  auto collector = test::start_collector(scratch.path(), ports, {}, clog);
  ASSERT_TRUE(collector) << slurp(clog);
  const auto smetrics = test::free_port();
  const auto slog = (scratch.path() / "streamer.log").string();
  test::Process streamer(test::bin("telemetry-streamer"), {},
                         {{"CSV_FILE", kCsv.string()},
                          {"BROKER_HOST", "127.0.0.1"},
                          {"BROKER_PORT", std::to_string(ports.broker)},
                          {"METRICS_PORT", std::to_string(smetrics)},
                          {"RATE", "200"},
                          {"BATCH_SIZE", "100"},
                          {"STATS_INTERVAL_SECONDS", "1"}},
                         (scratch.path() / "streamer.out").string(), slog);
  std::string body;
  ASSERT_TRUE(wait_until(
      [&] {
        auto m = core::http::get("127.0.0.1", smetrics, "/metrics", 2s);
        if (!m) return false;
        body = m->body;
        return metric_value(body, "telemetry_streamer_batches_acked_total") >= 3 &&
               metric_value(body, "telemetry_streamer_workers_connected") >= 1;
      },
      20s))
      << body << slurp(slog);
  EXPECT_GT(metric_value(body, "telemetry_streamer_rows_read_total"), 0);
  EXPECT_GT(metric_value(body, "telemetry_streamer_ack_latency_seconds_count"), 0);
  EXPECT_GT(metric_value(body, "process_resident_memory_bytes"), 0);
  EXPECT_TRUE(wait_until([&] { return slurp(slog).find("totals: ") != std::string::npos; }, 10s))
      << slurp(slog);

  auto cm = core::http::get("127.0.0.1", ports.metrics, "/metrics", 2s);
  ASSERT_TRUE(cm);
  EXPECT_EQ(metric_value(cm->body, "telemetry_collector_connections_open"), 2.0) << "two streamer workers";
  EXPECT_GT(metric_value(cm->body, "process_open_fds"), 0);
  EXPECT_GT(metric_value(cm->body, "process_start_time_seconds"), 1.7e9);
  EXPECT_GE(metric_value(cm->body, "process_cpu_seconds_total"), 0);

  streamer.signal(SIGTERM);
  EXPECT_EQ(streamer.wait(30s), std::optional<int>(0)) << slurp(slog);
  collector->signal(SIGTERM);
  EXPECT_EQ(collector->wait(30s), std::optional<int>(0));
}

}  // namespace
}  // namespace rm::telemetry::faults
