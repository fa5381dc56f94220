#include "telemetry/ingest/collector.hpp"

#include <unistd.h>

#include <atomic>
#include <thread>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <boost/json.hpp>

#include "cluster/nats_collector.hpp"
#include "core/config.hpp"
#include "core/http.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "core/shutdown.hpp"
#include "telemetry/gateway/gateway_time.hpp"
#include "telemetry/ingest/broker.hpp"
#include "telemetry/storage/store.hpp"
#include "thread_boundary.hpp"

namespace rm::telemetry {

namespace {
auto log() {
  return core::logger("telemetry.collector");
}

std::string default_collector_id() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) == 0 && host[0] != '\0') return host;
  return "collector-0";
}
}  // namespace

tl::expected<CollectorConfig, CliResult> parse_collector_config(int argc, char** argv) {
  CollectorConfig c;
  auto fail = [](const core::ConfigError& e) { return tl::unexpected(CliResult{e.message, false}); };
  auto i = [&](const char* name, long long def, long long lo,
               long long hi) -> tl::expected<long long, CliResult> {
    auto v = core::env_int(name, def, lo, hi);
    if (!v) return fail(v.error());
    return *v;
  };
#define RM_TRY(var, expr) \
  auto var = (expr);      \
  if (!var) return tl::unexpected(var.error())
  RM_TRY(workers, i("WORKERS", 4, 1, 256));
  RM_TRY(max_entries, i("MAX_ENTRIES", 10000, 1, 100000000));
  RM_TRY(health, i("HEALTH_PORT", 8080, 0, 65535));
  RM_TRY(broker, i("BROKER_PORT", 9000, 0, 65535));
  RM_TRY(metrics, i("METRICS_PORT", 9091, 0, 65535));
  RM_TRY(seg, i("SEGMENT_BYTES", 64LL << 20, 4096, 1LL << 34));
  RM_TRY(interval, i("CHECKPOINT_INTERVAL_MS", 60000, 10, 1LL << 40));
  RM_TRY(credits, i("BROKER_CREDITS", 16, 1, 4096));
  RM_TRY(hello_to, i("BROKER_HELLO_TIMEOUT_MS", 5000, 10, 3600000));
  RM_TRY(frame_to, i("BROKER_FRAME_TIMEOUT_MS", 10000, 10, 3600000));
  RM_TRY(idle_to, i("BROKER_IDLE_TIMEOUT_MS", 30000, 10, 3600000));
  RM_TRY(write_to, i("BROKER_WRITE_TIMEOUT_MS", 10000, 10, 3600000));
  RM_TRY(max_conn, i("BROKER_MAX_CONNECTIONS", 0, 0, 1000000));
#undef RM_TRY
  c.hello_timeout_ms = *hello_to;
  c.frame_timeout_ms = *frame_to;
  c.idle_timeout_ms = *idle_to;
  c.write_timeout_ms = *write_to;
  c.max_connections = static_cast<std::size_t>(*max_conn);
  c.broker_token = core::env_string("BROKER_TOKEN", "");
  auto retention = parse_duration_ns("RETENTION", core::env_string("RETENTION", "0"));
  if (!retention) return tl::unexpected(CliResult{retention.error().message});
  c.retention_ns = *retention;
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
  if (!nats) return tl::unexpected(CliResult{nats.error().message, false});
  c.nats = *nats;

  CLI::App app{"telemetry-collector: broker, durable store, health and metrics"};
  std::string ckpt_flag;
  app.add_option("--workers", c.workers, "broker I/O threads (WORKERS)")->check(CLI::Range(1, 256));
  app.add_option("--data-dir", c.data_dir, "data root (DATA_DIR)");
  app.add_option("--max-entries", c.max_entries, "samples kept per GPU (MAX_ENTRIES)")
      ->check(CLI::Range(1, 100000000));
  app.add_option("--health-port", c.health_port, "health port (HEALTH_PORT)");
  app.add_option("--broker-port", c.broker_port, "broker port (BROKER_PORT)");
  app.add_option("--metrics-port", c.metrics_port, "Prometheus port (METRICS_PORT)");
  app.add_option("--checkpoint-enabled", ckpt_flag, "true|false (CHECKPOINT_ENABLED)");
  app.add_option("--collector-id", c.collector_id, "subdirectory of DATA_DIR (COLLECTOR_ID)");
  app.add_option("--bind", c.bind, "listen address (BIND)");
  app.add_option("--segment-bytes", c.segment_bytes, "WAL segment size (SEGMENT_BYTES)")
      ->check(CLI::Range(4096LL, 1LL << 34));
  app.add_option("--checkpoint-interval-ms", c.checkpoint_interval_ms, "(CHECKPOINT_INTERVAL_MS)");
  app.add_option("--credits", c.credits, "batches in flight per connection (BROKER_CREDITS)")
      ->check(CLI::Range(1, 4096));
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
    return tl::unexpected(
        CliResult{fmt::format("COLLECTOR_ID='{}' must be a plain directory name", c.collector_id)});
  }
  return c;
}

namespace {

int serve_collector(const CollectorConfig& cfg) {
  if (cfg.nats) return run_nats_collector(cfg);
  namespace http = core::http;
  namespace metrics = core::metrics;
  std::atomic<bool> ready{false};
  std::atomic<Store*> store_ptr{nullptr};
  std::atomic<BrokerServer*> broker_ptr{nullptr};
  const auto started = std::chrono::steady_clock::now();

  metrics::Registry registry;
  metrics::register_process_metrics(registry);
  registry.gauge_callback("telemetry_collector_ready", "1 once recovery finished and the store is writable.",
                          [&] {
                            auto* s = store_ptr.load();
                            return ready && s && !s->unavailable_reason() ? 1.0 : 0.0;
                          });

  http::Router router;
  router.get("/health", [&](const http::Request&) {
    boost::json::object o{{"status", "ok"}, {"collector_id", cfg.collector_id}, {"ready", ready.load()}};
    if (auto* s = store_ptr.load()) {
      auto reason = s->unavailable_reason();
      o["store"] = reason ? "read-only" : "writable";
      if (reason) o["store_error"] = *reason;
    }
    return http::json_response(200, o);
  });
  router.get("/ready", [&](const http::Request&) {
    if (!ready) return http::error_response(503, "recovering the store; not accepting data yet", "not ready");
    if (auto* s = store_ptr.load()) {
      if (auto reason = s->unavailable_reason()) {
        return http::error_response(503, fmt::format("{}; the store retries by itself", *reason),
                                    "storage_unavailable");
      }
    }
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
      o["write_errors"] = st.write_errors.load();
      o["wal_segment"] = s->current_segment();
      o["gpus"] = s->index().gpu_count();
      o["index_samples"] = s->index().sample_count();
      const auto& r = s->recovery();
      o["recovery"] = {
          {"checkpoint", r.checkpoint ? boost::json::value(*r.checkpoint) : boost::json::value(nullptr)},
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
      o["connections_refused"] = bs.refused.load();
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
  // Stops the HTTP servers before the store and broker they read go away, on every path.
  struct StopServers {
    http::Server& health;
    http::Server& metrics;
    ~StopServers() {
      health.stop();
      metrics.stop();
    }
  };

  StoreOptions so;
  so.dir = std::filesystem::path(cfg.data_dir) / cfg.collector_id;
  so.segment_bytes = cfg.segment_bytes;
  so.max_entries = cfg.max_entries;
  so.retention = std::chrono::nanoseconds(cfg.retention_ns);
  so.checkpoints = cfg.checkpoint_enabled;
  so.checkpoint_interval = std::chrono::milliseconds(cfg.checkpoint_interval_ms);
  auto store = Store::open(so);
  if (!store) {
    log()->error("cannot open the store in '{}': {}", so.dir.string(), store.error().message);
    return 1;
  }
  StopServers stop_servers{health, **metrics_server};
  (*store)->register_metrics(registry);
  store_ptr = store->get();
  BrokerOptions bo;
  bo.bind_address = cfg.bind;
  bo.port = cfg.broker_port;
  bo.threads = cfg.workers;
  bo.credits = cfg.credits;
  bo.token = cfg.broker_token;
  bo.hello_timeout = std::chrono::milliseconds(cfg.hello_timeout_ms);
  bo.frame_timeout = std::chrono::milliseconds(cfg.frame_timeout_ms);
  bo.idle_timeout = std::chrono::milliseconds(cfg.idle_timeout_ms);
  bo.write_timeout = std::chrono::milliseconds(cfg.write_timeout_ms);
  bo.max_connections = cfg.max_connections;
  BrokerServer broker(**store, bo);
  if (auto p = broker.start(); !p) {
    log()->error("{}", p.error().message);
    (*store)->close();
    return 1;
  }
  broker.register_metrics(registry);
  broker_ptr = &broker;
  ready = true;
  log()->info("collector '{}' ready: broker :{}, health :{}, metrics :{}, data '{}'{}", cfg.collector_id,
              cfg.broker_port, health.port(), cfg.metrics_port, so.dir.string(),
              cfg.broker_token.empty() ? "" : ", publishers need BROKER_TOKEN");

  core::Shutdown::wait();

  log()->info("shutting down: finishing in-flight batches");
  ready = false;
  broker.stop(std::chrono::milliseconds(10000));
  const auto reason = (*store)->unavailable_reason();
  (*store)->close();  // drains the queue and writes the final checkpoint
  if (reason) {
    log()->error(
        "collector stopped with its store read-only ({}); batches refused meanwhile were not "
        "acknowledged, so their producers still hold them",
        *reason);
    return 1;
  }
  log()->info("collector stopped cleanly");
  return 0;
}

}  // namespace

int run_collector(const CollectorConfig& cfg) {
  int rc = 70;
  detail::guard_thread("collector main", [&] { rc = serve_collector(cfg); });
  return rc;
}

}  // namespace rm::telemetry
