#include "telemetry/ingest/streamer.hpp"

#include <unistd.h>

#include <atomic>
#include <cmath>
#include <mutex>
#include <thread>
#include <unordered_map>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <boost/json.hpp>

#include "core/config.hpp"
#include "core/http.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "core/shutdown.hpp"
#include "telemetry/ingest/csv.hpp"
#include "telemetry/wire/client.hpp"
#include "telemetry/wire/publisher.hpp"

namespace rm::telemetry {

namespace {
auto log() {
  return core::logger("telemetry.streamer");
}
using Clock = std::chrono::steady_clock;

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
}  // namespace

tl::expected<StreamerConfig, CliResult> parse_streamer_config(int argc, char** argv) {
  StreamerConfig c;
  auto fail = [](const core::ConfigError& e) { return tl::unexpected(CliResult{e.message, false}); };
  c.csv_file = core::env_string("CSV_FILE", c.csv_file);
  c.broker_host = core::env_string("BROKER_HOST", c.broker_host);
  c.host_filter = core::env_string("HOST_FILTER", "");
  auto port = core::env_int("BROKER_PORT", 9000, 1, 65535);
  if (!port) return fail(port.error());
  auto rate = core::env_double("RATE", 10.0);
  if (!rate) return fail(rate.error());
  auto workers = core::env_int("WORKERS", 2, 1, 1024);
  if (!workers) return fail(workers.error());
  auto ii = core::env_int("INSTANCE_INDEX", 0, 0, 1 << 20);
  if (!ii) return fail(ii.error());
  auto ic = core::env_int("INSTANCE_COUNT", 1, 1, 1 << 20);
  if (!ic) return fail(ic.error());
  auto nats = nats_config_from_env();
  if (!nats) return tl::unexpected(CliResult{nats.error().message, false});
  c.nats = *nats;
  // JetStream pays per message (Raft, storage, delivery): larger batches in cluster mode.
  auto bs = core::env_int("BATCH_SIZE", c.nats ? kNatsDefaultBatchSize : 500, 1, 1 << 20);
  if (!bs) return fail(bs.error());
  auto loops = core::env_int("LOOPS", 0, 0, 1LL << 40);
  if (!loops) return fail(loops.error());
  c.broker_port = static_cast<std::uint16_t>(*port);
  c.rate = *rate;
  c.workers = static_cast<int>(*workers);
  c.instance_index = static_cast<int>(*ii);
  c.instance_count = static_cast<int>(*ic);
  c.batch_size = static_cast<std::size_t>(*bs);
  c.loops = *loops;
  c.producer_prefix = core::env_string("PRODUCER_ID", "");
  c.broker_token = core::env_string("BROKER_TOKEN", "");
  auto mport = core::env_int("METRICS_PORT", -1, -1, 65535);
  if (!mport) return fail(mport.error());
  c.metrics_port = static_cast<int>(*mport);
  auto interval = core::env_int("STATS_INTERVAL_SECONDS", 30, 0, 1LL << 31);
  if (!interval) return fail(interval.error());
  c.stats_interval_seconds = *interval;

  CLI::App app{"telemetry-streamer: streams a telemetry CSV to the collector's broker"};
  app.add_option("--csv-file", c.csv_file, "CSV file (CSV_FILE)");
  app.add_option("--broker-host", c.broker_host, "broker host (BROKER_HOST)");
  app.add_option("--broker-port", c.broker_port, "broker port (BROKER_PORT)")->check(CLI::Range(1, 65535));
  app.add_option("--rate", c.rate, "rows/s per worker, <= 0 = unlimited (RATE)");
  app.add_option("--workers", c.workers, "workers (WORKERS)")->check(CLI::Range(1, 1024));
  app.add_option("--instance-index", c.instance_index, "this instance (INSTANCE_INDEX)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--instance-count", c.instance_count, "instances (INSTANCE_COUNT)")
      ->check(CLI::PositiveNumber);
  app.add_option("--host-filter", c.host_filter, "only rows of this Hostname (HOST_FILTER)");
  app.add_option("--batch-size", c.batch_size, "samples per batch (BATCH_SIZE)")
      ->check(CLI::Range(1, 1 << 20));
  app.add_option("--loops", c.loops, "passes over the file, 0 = forever (LOOPS)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--producer-id", c.producer_prefix, "producer id prefix (PRODUCER_ID)");
  app.add_option("--metrics-port", c.metrics_port, "Prometheus port, -1 = off (METRICS_PORT)")
      ->check(CLI::Range(-1, 65535));
  app.add_option("--stats-interval-seconds", c.stats_interval_seconds,
                 "log totals this often, 0 = at exit only (STATS_INTERVAL_SECONDS)")
      ->check(CLI::NonNegativeNumber);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    return tl::unexpected(CliResult{app.help(), true});
  } catch (const CLI::ParseError& e) {
    return tl::unexpected(CliResult{e.what(), false});
  }
  if (!std::isfinite(c.rate)) return tl::unexpected(CliResult{"RATE must be a finite number"});
  if (c.instance_index >= c.instance_count) {
    return tl::unexpected(CliResult{fmt::format("INSTANCE_INDEX={} must be below INSTANCE_COUNT={}",
                                                c.instance_index, c.instance_count)});
  }
  if (c.producer_prefix.empty()) {
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    c.producer_prefix = fmt::format("{}-{}-{}", host, ::getpid(), now_ns());
  }
  return c;
}

int run_streamer(const StreamerConfig& cfg) {
  CsvStats csv_stats;
  auto rows = read_telemetry_csv(cfg.csv_file, &csv_stats);
  if (!rows) {
    log()->error("{}", rows.error().message);
    return 1;
  }
  std::vector<const CsvRow*> mine;
  std::size_t i = 0;
  for (const auto& r : *rows) {
    if (!cfg.host_filter.empty() && r.gpu.hostname != cfg.host_filter) continue;
    if (static_cast<int>(i++ % static_cast<std::size_t>(cfg.instance_count)) == cfg.instance_index) {
      mine.push_back(&r);
    }
  }
  log()->info("{}: {} rows ({} bad), {} for instance {}/{}; {} worker(s) at {} to {}:{}", cfg.csv_file,
              rows->size(), csv_stats.rows_bad, mine.size(), cfg.instance_index, cfg.instance_count,
              cfg.workers, cfg.rate > 0 ? fmt::format("{} rows/s each", cfg.rate) : std::string("full speed"),
              cfg.nats ? "NATS " + cfg.nats->urls() : cfg.broker_host,
              cfg.nats ? std::string("JetStream") : std::to_string(cfg.broker_port));

  // Live counters for /metrics and the periodic log line (the workers' own stats are merged
  // into `totals` at the end).
  core::metrics::Registry registry;
  core::metrics::register_process_metrics(registry);
  std::atomic<std::uint64_t> live_rows{0}, live_sent{0}, live_acked{0}, live_acked_samples{0};
  std::atomic<int> live_connected{0};
  auto& ack_latency = registry
                          .histogram("telemetry_streamer_ack_latency_seconds",
                                     "Time from handing a batch to the publisher to its ACK.", {},
                                     {0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5})
                          .labels({});
  auto counter = [&](const char* name, const char* help, const std::atomic<std::uint64_t>& v) {
    registry.counter_callback(name, help, [&v] { return static_cast<double>(v.load()); });
  };
  counter("telemetry_streamer_rows_read_total", "CSV rows turned into samples.", live_rows);
  counter("telemetry_streamer_batches_sent_total", "Batches handed to the publisher.", live_sent);
  counter("telemetry_streamer_batches_acked_total", "Batches acknowledged by the collector.", live_acked);
  counter("telemetry_streamer_samples_acked_total", "Samples acknowledged by the collector.",
          live_acked_samples);
  registry.gauge_callback("telemetry_streamer_workers_connected", "Workers connected to the broker now.",
                          [&] { return static_cast<double>(live_connected.load()); });
  std::unique_ptr<core::http::Server> metrics_server;
  if (cfg.metrics_port >= 0) {
    auto m = core::metrics::serve(registry, "0.0.0.0", static_cast<std::uint16_t>(cfg.metrics_port));
    if (!m) {
      log()->error("metrics server: {}; set METRICS_PORT to a free port", m.error());
      return 1;
    }
    metrics_server = std::move(*m);
    log()->info("metrics on :{}", metrics_server->port());
  }

  auto make_publisher = make_publisher_factory(cfg);
  if (!make_publisher) {
    log()->error("{}", make_publisher.error().message);
    return 1;
  }
  std::atomic<bool> stop_producing{false};
  std::atomic<bool> abort{false};
  core::Shutdown::on_shutdown([&] { stop_producing = true; });
  std::mutex totals_mu;
  PublisherStats totals;
  std::uint64_t rows_sent = 0, samples_sent = 0;
  std::atomic<int> failures{0};
  std::atomic<int> finished{0};

  std::vector<std::thread> threads;
  for (int w = 0; w < cfg.workers; ++w) {
    threads.emplace_back([&, w] {
      std::vector<const CsvRow*> rs;
      for (std::size_t j = static_cast<std::size_t>(w); j < mine.size();
           j += static_cast<std::size_t>(cfg.workers)) {
        rs.push_back(mine[j]);
      }
      // OnAck may run on the NATS library's thread (publisher.hpp): sent_at is shared with it.
      std::mutex sent_mu;
      std::unordered_map<std::uint64_t, Clock::time_point> sent_at;
      auto pub = (*make_publisher)(
          fmt::format("{}-w{}", cfg.producer_prefix, w), &abort,
          [&](std::uint64_t seq, const std::vector<OutSample>& s, bool) {
            live_acked++;
            live_acked_samples += s.size();
            std::lock_guard lk(sent_mu);
            if (auto it = sent_at.find(seq); it != sent_at.end()) {
              ack_latency.observe(std::chrono::duration<double>(Clock::now() - it->second).count());
              sent_at.erase(it);
            }
          });
      bool was_connected = false;
      auto track_connection = [&] {
        const bool now = pub->connected();
        if (now != was_connected) live_connected += now ? 1 : -1;
        was_connected = now;
      };
      std::vector<OutSample> batch;
      std::uint64_t my_rows = 0, my_samples = 0;
      const auto start = Clock::now();
      auto batch_start = Clock::now();
      bool ok = true;
      auto send = [&] {
        if (batch.empty()) return;
        my_samples += batch.size();
        {
          // The seq publish() assigns; asked before taking sent_mu, which OnAck takes while the
          // NATS publisher holds its own lock.
          const std::uint64_t seq = pub->stats().batches + 1;
          std::lock_guard lk(sent_mu);
          sent_at[seq] = Clock::now();
        }
        live_sent++;
        auto r = pub->publish(std::move(batch));
        track_connection();
        if (!r) {
          log()->error("worker {}: {}", w, r.error().message);
          ok = false;
        }
        batch.clear();
        batch_start = Clock::now();
      };
      for (long long loop = 0; ok && !rs.empty() && (cfg.loops == 0 || loop < cfg.loops) && !stop_producing;
           ++loop) {
        for (const CsvRow* r : rs) {
          if (stop_producing || !ok) break;
          if (cfg.rate > 0) {
            const auto due =
                start + std::chrono::duration_cast<Clock::duration>(
                            std::chrono::duration<double>(static_cast<double>(my_rows) / cfg.rate));
            while (Clock::now() < due && !stop_producing) {
              if (!batch.empty() && Clock::now() - batch_start > std::chrono::milliseconds(200)) send();
              std::this_thread::sleep_for(
                  std::min<Clock::duration>(due - Clock::now(), std::chrono::milliseconds(20)));
            }
            if (stop_producing) break;
          }
          const std::int64_t ts = now_ns();
          for (const auto& [metric, value] : r->metrics)
            batch.push_back(OutSample{&r->gpu, metric, ts, value});
          ++my_rows;
          live_rows++;
          if (batch.size() >= cfg.batch_size) send();
        }
      }
      if (ok) send();
      if (ok) {
        if (auto r = pub->flush(std::chrono::seconds(30)); !r) {
          log()->error("worker {}: flush: {}", w, r.error().message);
          ok = false;
        }
      }
      if (!ok) failures++;
      if (was_connected) live_connected--;
      std::lock_guard lk(totals_mu);
      const auto s = pub->stats();
      totals.batches += s.batches;
      totals.acked += s.acked;
      totals.duplicates += s.duplicates;
      totals.samples_acked += s.samples_acked;
      totals.reconnects += s.reconnects;
      totals.resent += s.resent;
      rows_sent += my_rows;
      samples_sent += my_samples;
      finished++;
    });
  }
  // After a shutdown request, give the workers 10 s to flush, then abort waits.
  auto last_stats = Clock::now();
  while (finished.load() < cfg.workers) {
    if (cfg.stats_interval_seconds > 0 &&
        Clock::now() - last_stats >= std::chrono::seconds(cfg.stats_interval_seconds)) {
      last_stats = Clock::now();
      log()->info("totals: {} rows read, {} batches sent, {} acked ({} samples), {} worker(s) connected",
                  live_rows.load(), live_sent.load(), live_acked.load(), live_acked_samples.load(),
                  live_connected.load());
    }
    if (core::Shutdown::wait_for(std::chrono::milliseconds(100))) {
      const auto deadline = Clock::now() + std::chrono::seconds(10);
      while (finished.load() < cfg.workers && Clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      abort = true;
      break;
    }
  }
  for (auto& t : threads) t.join();
  make_publisher =
      telemetry_error(TelemetryErrc::state, "stopped");  // the NATS connection, if any, closes here
  if (cfg.nats) nats_shutdown();
  boost::json::object o{{"rows", rows_sent},
                        {"samples", samples_sent},
                        {"batches", totals.batches},
                        {"acked_batches", totals.acked},
                        {"acked_samples", totals.samples_acked},
                        {"duplicate_acks", totals.duplicates},
                        {"reconnects", totals.reconnects},
                        {"resent_batches", totals.resent},
                        {"bad_rows", csv_stats.rows_bad}};
  std::printf("%s\n", boost::json::serialize(o).c_str());
  std::fflush(stdout);
  return failures.load() == 0 ? 0 : 1;
}

}  // namespace rm::telemetry
