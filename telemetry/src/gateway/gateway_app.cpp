#include "telemetry/gateway/gateway_app.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <boost/json/serialize.hpp>

#include "core/config.hpp"
#include "core/http.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "core/paths.hpp"
#include "core/shutdown.hpp"
#include "core/static_files.hpp"
#include "telemetry/cluster/nats_feed.hpp"
#include "telemetry/error.hpp"
#include "telemetry/gateway/gateway.hpp"
#include "telemetry/gateway/gateway_time.hpp"
#include "telemetry/storage/follower.hpp"
#include "telemetry/storage/index.hpp"
#include "thread_boundary.hpp"

namespace rm::telemetry {

namespace {
auto log() {
  return core::logger("api-gateway");
}

GatewayOptions gateway_options(const GatewayConfig& cfg, const std::vector<GatewayRouteGroup>& route_groups) {
  GatewayOptions o;
  o.collector_host = cfg.collector_host;
  o.collector_port = cfg.collector_port;
  o.stale_after = std::chrono::seconds(cfg.stale_after_seconds);
  o.route_groups = route_groups;
  return o;
}

// DATA_DIR must be a directory the gateway can list; the message names the path and the cause.
[[nodiscard]] Status check_data_dir(const std::string& dir) {
  std::error_code ec;
  if (!std::filesystem::exists(dir, ec)) {
    return telemetry_error(
        TelemetryErrc::not_found,
        fmt::format("DATA_DIR '{}' does not exist; mount the collector's data directory there", dir));
  }
  if (!std::filesystem::is_directory(dir, ec)) {
    return telemetry_error(TelemetryErrc::invalid_argument,
                           fmt::format("DATA_DIR '{}' is not a directory", dir));
  }
  if (::access(dir.c_str(), R_OK | X_OK) != 0) {
    return telemetry_error(TelemetryErrc::io,
                           fmt::format("DATA_DIR '{}' cannot be read: {}", dir, std::strerror(errno)));
  }
  std::filesystem::directory_iterator it(dir, ec);
  if (ec) {
    return telemetry_error(TelemetryErrc::io,
                           fmt::format("DATA_DIR '{}' cannot be listed: {}", dir, ec.message()));
  }
  return {};
}

// Where the gateway's data comes from: the DATA_DIR follower, or in cluster mode (NATS_URL)
// its own index fed by the JetStream applied stream (docs/cluster.md). Registers the source's
// metrics.
struct DataSource {
  std::shared_ptr<const TelemetryView> view;
  std::function<std::optional<std::string>()> not_ready;  // unset = always ready
  std::function<void(boost::json::object&)> health;       // unset = probe COLLECTOR_HOST
  std::function<void()> stop;
};

[[nodiscard]] Result<DataSource> open_data_dir(const GatewayConfig& cfg, core::metrics::Registry& registry) {
  if (auto ok = check_data_dir(cfg.data_dir); !ok) return tl::unexpected(ok.error());
  FollowerOptions fopts;
  fopts.data_dir = cfg.data_dir;
  fopts.max_entries = cfg.max_entries;
  fopts.retention = std::chrono::nanoseconds(cfg.retention_ns);
  auto follower = std::make_shared<DataDirFollower>(fopts);
  follower->start();
  log()->info("following {} read-only: {} collector dir(s), {} GPU(s)", cfg.data_dir, follower->collectors(),
              follower->gpus().size());
  DataDirFollower::register_metrics(follower, registry);
  DataSource src;
  src.view = follower;
  src.not_ready = [follower, dir = cfg.data_dir]() -> std::optional<std::string> {
    if (follower->collectors() == 0) {
      return fmt::format("no store yet: DATA_DIR '{}' holds no collector directory (with a wal/ folder)",
                         dir);
    }
    return std::nullopt;
  };
  src.stop = [follower] { follower->stop(); };
  return src;
}

[[nodiscard]] Result<DataSource> open_nats_feed(const GatewayConfig& cfg, core::metrics::Registry& registry) {
  std::shared_ptr<NatsFeed> feed = NatsFeed::start(
      *cfg.nats, {.max_entries = cfg.max_entries, .retention_ns = cfg.retention_ns, .name = "api-gateway"});
  NatsFeed::register_metrics(feed, registry);
  DataSource src;
  src.view = feed;
  src.not_ready = [feed] { return feed->not_ready(); };
  src.health = [feed](boost::json::object& o) {
    const NatsFeedStatus s = feed->status();
    const bool up = s.state == "connected";
    o["collector"] = up ? "ok" : "unreachable";
    if (!up) {
      o["status"] = "degraded";
      o["collector_error"] = s.error.empty() ? std::string("NATS connection lost, reconnecting") : s.error;
    }
    boost::json::object n{{"state", s.state},
                          {"applied_seq", s.applied_seq},
                          {"stream_last_seq", s.stream_last_seq},
                          {"lag", s.stream_last_seq > s.applied_seq ? s.stream_last_seq - s.applied_seq : 0},
                          {"caught_up", s.caught_up}};
    if (!s.server.empty()) n["server"] = s.server;
    if (!s.error.empty()) n["error"] = s.error;
    o["nats"] = std::move(n);
  };
  src.stop = [feed] {
    feed->stop();
    nats_shutdown();
  };
  return src;
}

// The dashboard (/), Swagger UI (/docs) and their libraries (/vendor), after the API routes.
void add_web_pages(core::http::Router& router) {
  if (auto web = core::paths::find_share("web", "RM_WEB_ROOT"); web && std::filesystem::is_directory(*web)) {
    core::http::add_static(router, "/docs", *web / "docs");
    core::http::add_static(router, "/vendor", *web / "vendor");
    core::http::add_static(router, "/", *web / "dashboard");
    log()->info("dashboard and /docs from {}", web->string());
  } else {
    log()->warn("no web pages found (share/remotemedia/web, or RM_WEB_ROOT): / and /docs are not served");
  }
}

int serve_gateway(const GatewayConfig& cfg, const std::vector<GatewayRouteGroup>& route_groups) {
  core::metrics::Registry registry;
  core::metrics::register_process_metrics(registry);
  auto source = cfg.nats ? open_nats_feed(cfg, registry) : open_data_dir(cfg, registry);
  if (!source) {
    log()->error("{}", source.error().message);
    return 1;
  }
  const auto started = std::chrono::steady_clock::now();
  registry.gauge_callback("api_gateway_uptime_seconds", "Seconds since the gateway started.", [started] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  });

  GatewayOptions gopts = gateway_options(cfg, route_groups);
  gopts.not_ready = source->not_ready;
  gopts.health_source = source->health;
  gopts.probe_collector = !source->health;
  Gateway gateway(source->view, gopts, &registry);
  auto router = gateway.router();
  add_web_pages(router);
  core::http::ServerOptions sopts;
  sopts.host = cfg.host;
  sopts.port = cfg.port;
  sopts.threads = cfg.threads;
  sopts.server_name = "api-gateway";
  core::http::Server server(std::move(router), sopts);
  if (auto ok = server.start(); !ok) {
    log()->error("{}", ok.error());
    source->stop();
    return 1;
  }
  auto metrics_server = core::metrics::serve(registry, cfg.host, cfg.metrics_port);
  if (!metrics_server) {
    log()->error("metrics: {}", metrics_server.error());
    server.stop();
    source->stop();
    return 1;
  }
  // Machine-readable lines so tests and scripts can find ports chosen with 0.
  log()->info("listening on {}:{} (metrics on {}:{}), {}", cfg.host, server.port(), cfg.host,
              (*metrics_server)->port(),
              cfg.nats ? "data from NATS " + cfg.nats->urls()
                       : fmt::format("collector health at {}:{}", cfg.collector_host, cfg.collector_port));
  std::printf("api-gateway port=%u metrics_port=%u\n", server.port(), (*metrics_server)->port());
  std::fflush(stdout);

  core::Shutdown::wait();
  log()->info("shutting down: finishing in-flight requests");
  server.stop();
  (*metrics_server)->stop();
  source->stop();
  return 0;
}

}  // namespace

tl::expected<GatewayConfig, CliResult> parse_gateway_config(int argc, char** argv) {
  GatewayConfig c;
  auto fail = [](const core::ConfigError& e) { return tl::unexpected(CliResult{e.message, false}); };
  auto i = [&](const char* name, long long def, long long lo, long long hi) {
    return core::env_int(name, def, lo, hi);
  };
  auto port = i("PORT", 8081, 0, 65535);
  if (!port) return fail(port.error());
  auto metrics_port = i("METRICS_PORT", 9092, 0, 65535);
  if (!metrics_port) return fail(metrics_port.error());
  auto collector_port = i("COLLECTOR_PORT", 8080, 1, 65535);
  if (!collector_port) return fail(collector_port.error());
  auto threads = i("THREADS", 2, 1, 64);
  if (!threads) return fail(threads.error());
  auto max_entries = i("MAX_ENTRIES", 10000, 1, 100'000'000);
  if (!max_entries) return fail(max_entries.error());
  auto stale = i("STALE_AFTER_SECONDS", 300, 0, 1LL << 31);
  if (!stale) return fail(stale.error());
  c.port = static_cast<std::uint16_t>(*port);
  c.metrics_port = static_cast<std::uint16_t>(*metrics_port);
  c.collector_port = static_cast<std::uint16_t>(*collector_port);
  c.threads = static_cast<int>(*threads);
  c.max_entries = static_cast<std::size_t>(*max_entries);
  c.stale_after_seconds = *stale;
  auto retention = parse_duration_ns("RETENTION", core::env_string("RETENTION", "0"));
  if (!retention) return tl::unexpected(CliResult{retention.error().message});
  c.retention_ns = *retention;
  c.host = core::env_string("HOST", "0.0.0.0");
  c.data_dir = core::env_string("DATA_DIR", "/data");
  c.collector_host = core::env_string("COLLECTOR_HOST", "localhost");
  auto nats = nats_config_from_env();
  if (!nats) return tl::unexpected(CliResult{nats.error().message});
  c.nats = *nats;

  CLI::App app{"GPU telemetry API gateway: REST API over DATA_DIR (read-only)"};
  app.add_option("--port", c.port, "API port (env PORT)")->capture_default_str();
  app.add_option("--host", c.host, "Bind address (env HOST)")->capture_default_str();
  app.add_option("--data-dir", c.data_dir, "Collector data directory, read-only (env DATA_DIR)")
      ->capture_default_str();
  app.add_option("--collector-host", c.collector_host, "Collector health host (env COLLECTOR_HOST)")
      ->capture_default_str();
  app.add_option("--collector-port", c.collector_port, "Collector health port (env COLLECTOR_PORT)")
      ->capture_default_str()
      ->check(CLI::Range(1, 65535));
  app.add_option("--metrics-port", c.metrics_port, "Own Prometheus metrics port, 0 = any (env METRICS_PORT)")
      ->capture_default_str();
  app.add_option("--threads", c.threads, "HTTP io threads (env THREADS)")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  app.add_option("--max-entries", c.max_entries, "Samples kept per GPU (env MAX_ENTRIES)")
      ->capture_default_str()
      ->check(CLI::Range(1LL, 100'000'000LL));
  app.add_option("--stale-after-seconds", c.stale_after_seconds,
                 "Leave GPUs silent this long out of /metrics/gpus, 0 = keep all (env STALE_AFTER_SECONDS)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_flag("--print-openapi", c.print_openapi, "Print the OpenAPI document and exit");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    return tl::unexpected(CliResult{app.help(), true});
  } catch (const CLI::ParseError& e) {
    return tl::unexpected(CliResult{e.what(), false});
  }
  return c;
}

int run_gateway(const GatewayConfig& cfg, const std::vector<GatewayRouteGroup>& route_groups) {
  if (cfg.print_openapi) {
    // The document depends only on the route table, not on any data.
    GatewayOptions o = gateway_options(cfg, route_groups);
    o.probe_collector = false;
    Gateway doc(std::make_shared<Index>(1), o);
    std::cout << boost::json::serialize(doc.openapi()) << "\n";
    return 0;
  }
  int rc = 70;
  detail::guard_thread("api-gateway main", [&] { rc = serve_gateway(cfg, route_groups); });
  return rc;
}

}  // namespace rm::telemetry
