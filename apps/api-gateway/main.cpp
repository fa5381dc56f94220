// api-gateway: the REST API over a collector's DATA_DIR (opened read-only), plus its own
// Prometheus metrics. Flags take their defaults from the environment (flag > env > default):
//   PORT (8081), DATA_DIR (/data), COLLECTOR_HOST (localhost), COLLECTOR_PORT (8080),
//   METRICS_PORT (9092), HOST (0.0.0.0), THREADS (2), MAX_ENTRIES (10000).
// With NATS_URL set it reads the JetStream applied stream instead of DATA_DIR (docs/cluster.md).
// The dashboard (/), Swagger UI (/docs) and their libraries (/vendor) are served from
// share/remotemedia/web next to the executable, or RM_WEB_ROOT.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>

#include <CLI/CLI.hpp>
#include <boost/json/serialize.hpp>

#include "core/config.hpp"
#include "core/http.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "core/paths.hpp"
#include "core/static_files.hpp"
#include "core/shutdown.hpp"
#include "promql/http_api.hpp"
#include "telemetry/follower.hpp"
#include "telemetry/gateway.hpp"
#include "telemetry/index.hpp"
#include "telemetry/nats_feed.hpp"

namespace {

template <typename T>
T or_exit(rm::core::ConfigResult<T> r) {
  if (!r) {
    std::fprintf(stderr, "api-gateway: %s\n", r.error().message.c_str());
    std::exit(2);
  }
  return *r;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace rm;
  core::Shutdown::install();
  core::init_logging("api-gateway");
  auto log = core::logger("api-gateway");

  long long port = or_exit(core::env_int("PORT", 8081, 0, 65535));
  long long metrics_port = or_exit(core::env_int("METRICS_PORT", 9092, 0, 65535));
  long long collector_port = or_exit(core::env_int("COLLECTOR_PORT", 8080, 1, 65535));
  long long threads = or_exit(core::env_int("THREADS", 2, 1, 64));
  long long max_entries = or_exit(core::env_int("MAX_ENTRIES", 10000, 1, 100'000'000));
  std::string host = core::env_string("HOST", "0.0.0.0");
  std::string data_dir = core::env_string("DATA_DIR", "/data");
  std::string collector_host = core::env_string("COLLECTOR_HOST", "localhost");
  bool print_openapi = false;

  CLI::App app{"GPU telemetry API gateway: REST API over DATA_DIR (read-only)"};
  app.add_option("--port", port, "API port (env PORT)")->capture_default_str()->check(CLI::Range(0, 65535));
  app.add_option("--host", host, "Bind address (env HOST)")->capture_default_str();
  app.add_option("--data-dir", data_dir, "Collector data directory, read-only (env DATA_DIR)")
      ->capture_default_str();
  app.add_option("--collector-host", collector_host, "Collector health host (env COLLECTOR_HOST)")
      ->capture_default_str();
  app.add_option("--collector-port", collector_port, "Collector health port (env COLLECTOR_PORT)")
      ->capture_default_str()->check(CLI::Range(1, 65535));
  app.add_option("--metrics-port", metrics_port, "Own Prometheus metrics port, 0 = any (env METRICS_PORT)")
      ->capture_default_str()->check(CLI::Range(0, 65535));
  app.add_option("--threads", threads, "HTTP io threads (env THREADS)")->capture_default_str()
      ->check(CLI::Range(1, 64));
  app.add_option("--max-entries", max_entries, "Samples kept per GPU (env MAX_ENTRIES)")
      ->capture_default_str()->check(CLI::Range(1LL, 100'000'000LL));
  app.add_flag("--print-openapi", print_openapi, "Print the OpenAPI document and exit");
  CLI11_PARSE(app, argc, argv);

  telemetry::GatewayOptions gopts;
  gopts.collector_host = collector_host;
  gopts.collector_port = static_cast<std::uint16_t>(collector_port);
  gopts.route_groups.push_back(promql::add_routes);

  if (print_openapi) {
    // The document depends only on the route table, not on any data.
    telemetry::Gateway doc(std::make_shared<telemetry::Index>(1), gopts);
    std::cout << boost::json::serialize(doc.openapi()) << "\n";
    return 0;
  }

  auto nats = telemetry::nats_config_from_env();
  if (!nats) {
    std::fprintf(stderr, "api-gateway: %s\n", nats.error().c_str());
    return 2;
  }
  core::metrics::Registry registry;
  const auto started = std::chrono::steady_clock::now();
  std::shared_ptr<const telemetry::TelemetryView> view;
  std::shared_ptr<telemetry::DataDirFollower> follower;
  std::shared_ptr<telemetry::NatsFeed> feed;
  if (*nats) {
    // Cluster mode: this gateway's own index, fed by the whole applied stream (docs/cluster.md).
    auto f = telemetry::NatsFeed::start(**nats, static_cast<std::size_t>(max_entries), "api-gateway");
    if (!f) {
      log->error("{}", f.error());
      return 1;
    }
    feed = *f;
    view = feed;
    registry.gauge_callback("api_gateway_gpus", "GPUs with data visible to the gateway.",
                            [feed] { return static_cast<double>(feed->gpus().size()); });
    registry.gauge_callback("api_gateway_stream_messages_applied", "Applied-stream messages in the index.",
                            [feed] { return static_cast<double>(feed->stats().messages); });
    registry.gauge_callback("api_gateway_stream_last_seq", "Sequence of the newest applied-stream message applied.",
                            [feed] { return static_cast<double>(feed->stats().last_seq); });
  } else {
    telemetry::FollowerOptions fopts;
    fopts.data_dir = data_dir;
    fopts.max_entries = static_cast<std::size_t>(max_entries);
    follower = std::make_shared<telemetry::DataDirFollower>(fopts);
    follower->start();
    log->info("following {} read-only: {} collector dir(s), {} GPU(s)", data_dir,
              follower->collectors(), follower->gpus().size());

    registry.gauge_callback("api_gateway_gpus", "GPUs with data visible to the gateway.",
                            [follower] { return static_cast<double>(follower->gpus().size()); });
    registry.gauge_callback("api_gateway_follower_records_read",
                            "Log records read from DATA_DIR since start.",
                            [follower] { return static_cast<double>(follower->records_read()); });
    view = follower;
  }
  registry.gauge_callback("api_gateway_uptime_seconds", "Seconds since the gateway started.",
                          [started] {
                            return std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                                                 started)
                                .count();
                          });

  telemetry::Gateway gateway(view, gopts, &registry);
  auto router = gateway.router();
  if (auto web = core::paths::find_share("web", "RM_WEB_ROOT"); web && std::filesystem::is_directory(*web)) {
    core::http::add_static(router, "/docs", *web / "docs");
    core::http::add_static(router, "/vendor", *web / "vendor");
    core::http::add_static(router, "/", *web / "dashboard");
    log->info("dashboard and /docs from {}", web->string());
  } else {
    log->warn("no web pages found (share/remotemedia/web, or RM_WEB_ROOT): / and /docs are not served");
  }
  core::http::ServerOptions sopts;
  sopts.host = host;
  sopts.port = static_cast<std::uint16_t>(port);
  sopts.threads = static_cast<int>(threads);
  sopts.server_name = "api-gateway";
  core::http::Server server(std::move(router), sopts);
  if (auto ok = server.start(); !ok) {
    log->error("{}", ok.error());
    return 1;
  }
  auto metrics_server = core::metrics::serve(registry, host, static_cast<std::uint16_t>(metrics_port));
  if (!metrics_server) {
    log->error("metrics: {}", metrics_server.error());
    return 1;
  }
  // Machine-readable lines so tests and scripts can find ports chosen with 0.
  log->info("listening on {}:{} (metrics on {}:{}), collector health at {}:{}", host,
            server.port(), host, (*metrics_server)->port(), collector_host, collector_port);
  std::printf("api-gateway port=%u metrics_port=%u\n", server.port(), (*metrics_server)->port());
  std::fflush(stdout);

  core::Shutdown::wait();
  log->info("shutting down: finishing in-flight requests");
  server.stop();
  (*metrics_server)->stop();
  if (follower) follower->stop();
  if (feed) {
    feed->stop();
    telemetry::nats_shutdown();
  }
  return 0;
}
