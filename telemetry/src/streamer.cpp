#include "telemetry/streamer.hpp"

#include <unistd.h>

#include <atomic>
#include <cmath>
#include <mutex>
#include <thread>

#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <fmt/format.h>

#include "core/config.hpp"
#include "core/log.hpp"
#include "core/shutdown.hpp"
#include "telemetry/client.hpp"
#include "telemetry/csv.hpp"
#include "telemetry/publisher.hpp"

namespace rm::telemetry {

namespace {
auto log() { return core::logger("telemetry.streamer"); }
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
  auto bs = core::env_int("BATCH_SIZE", 500, 1, 1 << 20);
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
  auto nats = nats_config_from_env();
  if (!nats) return tl::unexpected(CliResult{nats.error(), false});
  c.nats = *nats;

  CLI::App app{"telemetry-streamer: streams a telemetry CSV to the collector's broker"};
  app.add_option("--csv-file", c.csv_file, "CSV file (CSV_FILE)");
  app.add_option("--broker-host", c.broker_host, "broker host (BROKER_HOST)");
  app.add_option("--broker-port", c.broker_port, "broker port (BROKER_PORT)")->check(CLI::Range(1, 65535));
  app.add_option("--rate", c.rate, "rows/s per worker, <= 0 = unlimited (RATE)");
  app.add_option("--workers", c.workers, "workers (WORKERS)")->check(CLI::Range(1, 1024));
  app.add_option("--instance-index", c.instance_index, "this instance (INSTANCE_INDEX)")->check(CLI::NonNegativeNumber);
  app.add_option("--instance-count", c.instance_count, "instances (INSTANCE_COUNT)")->check(CLI::PositiveNumber);
  app.add_option("--host-filter", c.host_filter, "only rows of this Hostname (HOST_FILTER)");
  app.add_option("--batch-size", c.batch_size, "samples per batch (BATCH_SIZE)")->check(CLI::Range(1, 1 << 20));
  app.add_option("--loops", c.loops, "passes over the file, 0 = forever (LOOPS)")->check(CLI::NonNegativeNumber);
  app.add_option("--producer-id", c.producer_prefix, "producer id prefix (PRODUCER_ID)");
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
  log()->info("{}: {} rows ({} bad), {} for instance {}/{}; {} worker(s) at {} to {}:{}",
              cfg.csv_file, rows->size(), csv_stats.rows_bad, mine.size(), cfg.instance_index,
              cfg.instance_count, cfg.workers,
              cfg.rate > 0 ? fmt::format("{} rows/s each", cfg.rate) : std::string("full speed"),
              cfg.nats ? "NATS " + cfg.nats->urls() : cfg.broker_host, cfg.nats ? std::string("JetStream") : std::to_string(cfg.broker_port));

  auto make_publisher = make_publisher_factory(cfg);
  if (!make_publisher) {
    log()->error("{}", make_publisher.error());
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
      for (std::size_t j = static_cast<std::size_t>(w); j < mine.size(); j += static_cast<std::size_t>(cfg.workers)) {
        rs.push_back(mine[j]);
      }
      auto pub = (*make_publisher)(fmt::format("{}-w{}", cfg.producer_prefix, w), &abort);
      std::vector<OutSample> batch;
      std::uint64_t my_rows = 0, my_samples = 0;
      const auto start = Clock::now();
      auto batch_start = Clock::now();
      bool ok = true;
      auto send = [&] {
        if (batch.empty()) return;
        my_samples += batch.size();
        if (auto r = pub->publish(std::move(batch)); !r) {
          log()->error("worker {}: {}", w, r.error().message);
          ok = false;
        }
        batch.clear();
        batch_start = Clock::now();
      };
      for (long long loop = 0; ok && !rs.empty() && (cfg.loops == 0 || loop < cfg.loops) && !stop_producing; ++loop) {
        for (const CsvRow* r : rs) {
          if (stop_producing || !ok) break;
          if (cfg.rate > 0) {
            const auto due = start + std::chrono::duration_cast<Clock::duration>(
                                         std::chrono::duration<double>(static_cast<double>(my_rows) / cfg.rate));
            while (Clock::now() < due && !stop_producing) {
              if (!batch.empty() && Clock::now() - batch_start > std::chrono::milliseconds(200)) send();
              std::this_thread::sleep_for(std::min<Clock::duration>(due - Clock::now(), std::chrono::milliseconds(20)));
            }
            if (stop_producing) break;
          }
          const std::int64_t ts = now_ns();
          for (const auto& [metric, value] : r->metrics) batch.push_back(OutSample{&r->gpu, metric, ts, value});
          ++my_rows;
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
  while (finished.load() < cfg.workers) {
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
  make_publisher = tl::unexpected(std::string());  // the NATS connection, if any, closes here
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
