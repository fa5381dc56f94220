#include "telemetry/collector.hpp"

#include <unistd.h>

#include <atomic>
#include <thread>

#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <fmt/format.h>

#include "core/config.hpp"
#include "core/http.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "core/shutdown.hpp"
#include "nats_collector.hpp"
#include "telemetry/broker.hpp"
#include "telemetry/store.hpp"

namespace rm::telemetry {

namespace {
auto log() { return core::logger("telemetry.collector"); }

std::string default_collector_id() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) == 0 && host[0] != '\0') return host;
  return "collector-0";
}
}  // namespace

tl::expected<CollectorConfig, CliResult> parse_collector_config(int argc, char** argv) {
  CollectorConfig c;
  auto fail = [](const core::ConfigError& e) { return tl::unexpected(CliResult{e.message, false}); };
  auto i = [&](const char* name, long long def, long long lo, long long hi) -> tl::expected<long long, CliResult> {
    auto v = core::env_int(name, def, lo, hi);
    if (!v) return fail(v.error());
    return *v;
  };
#define RM_TRY(var, expr)        \
  auto var = (expr);             \
  if (!var) return tl::unexpected(var.error())
  RM_TRY(workers, i("WORKERS", 4, 1, 256));
  RM_TRY(max_entries, i("MAX_ENTRIES", 10000, 1, 100000000));
  RM_TRY(health, i("HEALTH_PORT", 8080, 0, 65535));
  RM_TRY(broker, i("BROKER_PORT", 9000, 0, 65535));
  RM_TRY(metrics, i("METRICS_PORT", 9091, 0, 65535));
  RM_TRY(seg, i("SEGMENT_BYTES", 64LL << 20, 4096, 1LL << 34));
  RM_TRY(interval, i("CHECKPOINT_INTERVAL_MS", 60000, 10, 1LL << 40));
  RM_TRY(credits, i("BROKER_CREDITS", 16, 1, 4096));
#undef RM_TRY
  auto ckpt = core::env_bool("CHECKPOINT_ENABLED", true);
  if (!ckpt) return fail(ckpt.error());
  c.workers = static_cast<int>(*workers);
  c.max_entries = static_cast<std::size_t>(*max_entries);
  c.health_port = static_cast<std::uint16_t>(*health);
  c.broker_port = static_cast<std::uint16_t>(*broker);
  c.metrics_port = static_cast<std::uint16_t>(*metrics);
  c.segment_bytes = static_cast<std::size_t>(*seg);
  c.checkpoint_interval_ms = *interval;
  c.credits = static_cast<std::uint32_t>(*credits);
  c.checkpoint_enabled = *ckpt;
  c.data_dir = core::env_string("DATA_DIR", "/data");
  c.collector_id = core::env_string("COLLECTOR_ID", default_collector_id());
  c.bind = core::env_string("BIND", "0.0.0.0");
  auto nats = nats_config_from_env();
  if (!nats) return tl::unexpected(CliResult{nats.error(), false});
  c.nats = *nats;

  CLI::App app{"telemetry-collector: broker, durable store, health and metrics"};
  std::string ckpt_flag;
  app.add_option("--workers", c.workers, "broker I/O threads (WORKERS)")->check(CLI::Range(1, 256));
  app.add_option("--data-dir", c.data_dir, "data root (DATA_DIR)");
  app.add_option("--max-entries", c.max_entries, "samples kept per GPU (MAX_ENTRIES)")->check(CLI::Range(1, 100000000));
  app.add_option("--health-port", c.health_port, "health port (HEALTH_PORT)");
  app.add_option("--broker-port", c.broker_port, "broker port (BROKER_PORT)");
  app.add_option("--metrics-port", c.metrics_port, "Prometheus port (METRICS_PORT)");
  app.add_option("--checkpoint-enabled", ckpt_flag, "true|false (CHECKPOINT_ENABLED)");
  app.add_option("--collector-id", c.collector_id, "subdirectory of DATA_DIR (COLLECTOR_ID)");
  app.add_option("--bind", c.bind, "listen address (BIND)");
  app.add_option("--segment-bytes", c.segment_bytes, "WAL segment size (SEGMENT_BYTES)")->check(CLI::Range(4096LL, 1LL << 34));
  app.add_option("--checkpoint-interval-ms", c.checkpoint_interval_ms, "(CHECKPOINT_INTERVAL_MS)");
  app.add_option("--credits", c.credits, "batches in flight per connection (BROKER_CREDITS)")->check(CLI::Range(1, 4096));
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    return tl::unexpected(CliResult{app.help(), true});
  } catch (const CLI::ParseError& e) {
    return tl::unexpected(CliResult{e.what(), false});
  }
  if (!ckpt_flag.empty()) {
    auto b = core::parse_bool("--checkpoint-enabled", ckpt_flag);
    if (!b) return fail(b.error());
    c.checkpoint_enabled = *b;
  }
  if (c.collector_id.empty() || c.collector_id.find('/') != std::string::npos || c.collector_id == "." ||
      c.collector_id == "..") {
    return tl::unexpected(CliResult{fmt::format("COLLECTOR_ID='{}' must be a plain directory name", c.collector_id)});
  }
  return c;
}

int run_collector(const CollectorConfig& cfg) {
  if (cfg.nats) return run_nats_collector(cfg);
  namespace http = core::http;
  namespace metrics = core::metrics;
  std::atomic<bool> ready{false};
  std::atomic<Store*> store_ptr{nullptr};
  std::atomic<BrokerServer*> broker_ptr{nullptr};
  const auto started = std::chrono::steady_clock::now();

  metrics::Registry registry;
  auto& fsync_hist = registry.histogram("telemetry_collector_fsync_seconds",
                                        "Duration of WAL fdatasync calls (group commits).", {},
                                        {0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1})
                         .labels({});
  auto& ack_hist = registry.histogram("telemetry_collector_ack_latency_seconds",
                                      "Time from receiving a PUBLISH to queueing its ACK.", {},
                                      {0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1})
                       .labels({});
  auto& c_batches = registry.counter("telemetry_collector_batches_total", "Batches stored.").labels({});
  auto& c_samples = registry.counter("telemetry_collector_samples_total", "Samples stored (ingest rate = rate of this).").labels({});
  auto& c_dups = registry.counter("telemetry_collector_duplicate_batches_total", "Retried batches acknowledged without storing them again.").labels({});
  auto& c_acks = registry.counter("telemetry_collector_acks_total", "ACK frames sent.").labels({});
  auto& c_bad = registry.counter("telemetry_collector_bad_frames_total", "Malformed frames received.").labels({});
  auto& c_conn = registry.counter("telemetry_collector_connections_total", "Producer connections accepted.").labels({});
  auto& c_ckpt = registry.counter("telemetry_collector_checkpoints_total", "Checkpoints written.").labels({});
  auto& c_bytes = registry.counter("telemetry_collector_wal_bytes_total", "Bytes appended to the WAL.").labels({});
  registry.gauge_callback("telemetry_collector_index_gpus", "GPUs in the in-memory index.", [&] {
    auto* s = store_ptr.load();
    return s ? static_cast<double>(s->index().gpu_count()) : 0.0;
  });
  registry.gauge_callback("telemetry_collector_index_samples", "Samples retained in the index.", [&] {
    auto* s = store_ptr.load();
    return s ? static_cast<double>(s->index().sample_count()) : 0.0;
  });
  registry.gauge_callback("telemetry_collector_wal_segment", "Current WAL segment number.", [&] {
    auto* s = store_ptr.load();
    return s ? static_cast<double>(s->current_segment()) : 0.0;
  });
  registry.gauge_callback("telemetry_collector_ready", "1 once recovery finished.", [&] { return ready ? 1.0 : 0.0; });

  http::Router router;
  router.get("/health", [&](const http::Request&) {
    return http::json_response(200, {{"status", "ok"}, {"collector_id", cfg.collector_id}, {"ready", ready.load()}});
  });
  router.get("/ready", [&](const http::Request&) {
    if (!ready) return http::error_response(503, "recovering the store; not accepting data yet", "not ready");
    return http::json_response(200, {{"status", "ready"}});
  });
  router.get("/stats", [&](const http::Request&) {
    boost::json::object o;
    o["collector_id"] = cfg.collector_id;
    o["ready"] = ready.load();
    o["uptime_seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (auto* s = store_ptr.load()) {
      const auto& st = s->stats();
      o["batches"] = st.batches.load();
      o["samples"] = st.samples.load();
      o["duplicate_batches"] = st.duplicates.load();
      o["fsyncs"] = st.fsyncs.load();
      o["wal_bytes"] = st.bytes.load();
      o["checkpoints"] = st.checkpoints.load();
      o["checkpoint_failures"] = st.checkpoint_failures.load();
      o["wal_segment"] = s->current_segment();
      o["gpus"] = s->index().gpu_count();
      o["index_samples"] = s->index().sample_count();
      const auto& r = s->recovery();
      o["recovery"] = {{"checkpoint", r.checkpoint ? boost::json::value(*r.checkpoint) : boost::json::value(nullptr)},
                       {"segments_replayed", r.segments_replayed},
                       {"records_replayed", r.records_replayed},
                       {"batches_replayed", r.batches_replayed},
                       {"truncated_bytes", r.truncated_bytes},
                       {"segments_dropped", r.segments_dropped}};
    }
    if (auto* b = broker_ptr.load()) {
      const auto& bs = b->stats();
      o["connections"] = bs.connections.load();
      o["connections_open"] = bs.connections_open.load();
      o["bad_frames"] = bs.bad_frames.load();
      o["acks"] = bs.acks.load();
      o["in_flight"] = bs.in_flight.load();
    }
    return http::json_response(200, o);
  });
  http::Server health(std::move(router), {.host = cfg.bind, .port = cfg.health_port, .threads = 1});
  if (auto r = health.start(); !r) {
    log()->error("health server: {}; set HEALTH_PORT to a free port", r.error());
    return 1;
  }
  auto metrics_server = metrics::serve(registry, cfg.bind, cfg.metrics_port);
  if (!metrics_server) {
    log()->error("metrics server: {}; set METRICS_PORT to a free port", metrics_server.error());
    return 1;
  }

  StoreOptions so;
  so.dir = std::filesystem::path(cfg.data_dir) / cfg.collector_id;
  so.segment_bytes = cfg.segment_bytes;
  so.max_entries = cfg.max_entries;
  so.checkpoints = cfg.checkpoint_enabled;
  so.checkpoint_interval = std::chrono::milliseconds(cfg.checkpoint_interval_ms);
  so.fsync_observer = [&](double s) { fsync_hist.observe(s); };
  auto store = Store::open(so);
  if (!store) {
    log()->error("cannot open the store in '{}': {}", so.dir.string(), store.error().message);
    return 1;
  }
  store_ptr = store->get();
  BrokerOptions bo;
  bo.bind_address = cfg.bind;
  bo.port = cfg.broker_port;
  bo.threads = cfg.workers;
  bo.credits = cfg.credits;
  bo.ack_observer = [&](double s) { ack_hist.observe(s); };
  BrokerServer broker(**store, bo);
  if (auto p = broker.start(); !p) {
    log()->error("{}", p.error());
    (*store)->close();
    return 1;
  }
  broker_ptr = &broker;
  ready = true;
  log()->info("collector '{}' ready: broker :{}, health :{}, metrics :{}, data '{}'", cfg.collector_id,
              cfg.broker_port, health.port(), cfg.metrics_port, so.dir.string());

  // Mirror the store/broker counters into the registry's counters twice a second.
  std::uint64_t last[8] = {};
  auto sync = [&] {
    const auto& st = (*store)->stats();
    const auto& bs = broker.stats();
    const std::uint64_t now[8] = {st.batches, st.samples, st.duplicates, bs.acks, bs.bad_frames,
                                  bs.connections, st.checkpoints, st.bytes};
    metrics::Counter* cs[8] = {&c_batches, &c_samples, &c_dups, &c_acks, &c_bad, &c_conn, &c_ckpt, &c_bytes};
    for (int k = 0; k < 8; ++k) {
      if (now[k] > last[k]) cs[k]->inc(static_cast<double>(now[k] - last[k]));
      last[k] = now[k];
    }
  };
  while (!core::Shutdown::wait_for(std::chrono::milliseconds(500))) sync();

  log()->info("shutting down: finishing in-flight batches");
  ready = false;
  broker.stop(std::chrono::milliseconds(10000));
  (*store)->close();  // drains the queue and writes the final checkpoint
  sync();
  broker_ptr = nullptr;
  health.stop();
  (*metrics_server)->stop();
  store_ptr = nullptr;
  log()->info("collector stopped cleanly");
  return 0;
}

}  // namespace rm::telemetry
