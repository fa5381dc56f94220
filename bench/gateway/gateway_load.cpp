// gateway_load: serves a populated index through the real gateway router and HTTP server and
// drives GET /api/v1/gpus/{id}/telemetry (1 h window) at a fixed request rate.
//
//   gateway_load [--rate 1000] [--seconds 20] [--connections 4] [--gpus 64] [--threads 2]
//                [--metric DCGM_FI_DEV_GPU_UTIL] [--serve]
//                [--promql] [--remote HOST:PORT] [--openmetrics FILE]
//
// --promql drives GET /api/v1/query_range?query=<metric or DCGM_FI_DEV_GPU_UTIL> over 1 h at a
// 15 s step (all GPUs, 241 points each) instead; --remote sends the same requests to another
// server (a Prometheus fed the same samples); --openmetrics writes that metric's samples as
// OpenMetrics text for `promtool tsdb create-blocks-from openmetrics` and exits.
//
// Data: each GPU reports 10 DCGM metrics every 10 s; MAX_ENTRIES = 10000 per GPU, so the index
// holds 1000 scrape rounds (~2.8 h) per GPU, and a 1 h window matches 3600 points (360 with a
// metric filter). Open loop: request i of a connection is due at t0 + i * connections / rate;
// latency is measured from the due time, so a stall is not hidden (no coordinated omission).
// --serve only starts the server and prints a URL for wrk.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "core/http.hpp"
#include "core/shutdown.hpp"
#include "promql/http_api.hpp"
#include "telemetry/gateway/gateway.hpp"
#include "telemetry/gateway/gateway_time.hpp"
#include "telemetry/storage/index.hpp"

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::int64_t kSec = 1'000'000'000;
constexpr std::int64_t kBase = 1752871354LL * kSec;
const char* kMetrics[] = {"DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_GPU_TEMP",  "DCGM_FI_DEV_MEM_COPY_UTIL",
                          "DCGM_FI_DEV_FB_USED",  "DCGM_FI_DEV_FB_FREE",   "DCGM_FI_DEV_POWER_USAGE",
                          "DCGM_FI_DEV_SM_CLOCK", "DCGM_FI_DEV_MEM_CLOCK", "DCGM_FI_DEV_DEC_UTIL",
                          "DCGM_FI_DEV_ENC_UTIL"};

std::string gpu_id(int g) {
  return "GPU-bench-" + std::to_string(g);
}

std::shared_ptr<rm::telemetry::Index> build_index(int gpus) {
  auto index = std::make_shared<rm::telemetry::Index>(10000);
  std::vector<std::uint32_t> ids;
  for (const char* m : kMetrics) ids.push_back(index->metric_id(m));
  for (int g = 0; g < gpus; ++g) {
    rm::telemetry::GpuInfo info;
    info.id = info.uuid = gpu_id(g);
    info.gpu_index = std::to_string(g % 8);
    info.device = "nvidia" + info.gpu_index;
    info.model = "NVIDIA H100 80GB HBM3";
    info.hostname = "host-" + std::to_string(g / 8);
    auto* slot = index->upsert_gpu(info);
    for (int round = 0; round < 1000; ++round) {
      for (std::size_t m = 0; m < ids.size(); ++m) {
        index->append(slot, ids[m], kBase + round * 10 * kSec + static_cast<std::int64_t>(m),
                      (round * 7 + static_cast<int>(m)) % 100);
      }
    }
  }
  return index;
}

std::string target_for(int gpu, int offset_min, const std::string& metric) {
  // A 1 h window starting somewhere in the first 100 minutes of the retained data.
  std::int64_t start = kBase + static_cast<std::int64_t>(offset_min) * 60 * kSec;
  std::string t = "/api/v1/gpus/" + gpu_id(gpu) +
                  "/telemetry?start_time=" + rm::telemetry::format_rfc3339(start) +
                  "&end_time=" + rm::telemetry::format_rfc3339(start + 3600 * kSec);
  if (!metric.empty()) t += "&metric=" + metric;
  return t;
}

std::string promql_target(int offset_min, const std::string& metric) {
  const std::int64_t start = kBase / kSec + static_cast<std::int64_t>(offset_min) * 60;
  return "/api/v1/query_range?query=" + (metric.empty() ? std::string("DCGM_FI_DEV_GPU_UTIL") : metric) +
         "&start=" + std::to_string(start) + "&end=" + std::to_string(start + 3600) + "&step=15";
}

// The samples of one metric as OpenMetrics, with the labels the PromQL API gives them.
int write_openmetrics(const rm::telemetry::Index& index, const std::string& metric, const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (!f) {
    std::fprintf(stderr, "cannot write %s\n", path.c_str());
    return 1;
  }
  std::fprintf(f, "# TYPE %s gauge\n", metric.c_str());
  for (const auto& g : index.gpus()) {
    const auto samples = index.samples(g.info.id, {metric}, 0, INT64_MAX);
    for (const auto& s : samples[0]) {
      std::fprintf(f,
                   "%s{Hostname=\"%s\",UUID=\"%s\",device=\"%s\",gpu=\"%s\",modelName=\"%s\"} "
                   "%.17g %lld.%03lld\n",
                   metric.c_str(), g.info.hostname.c_str(), g.info.uuid.c_str(), g.info.device.c_str(),
                   g.info.gpu_index.c_str(), g.info.model.c_str(), s.value,
                   static_cast<long long>(s.timestamp_ns / kSec),
                   static_cast<long long>(s.timestamp_ns % kSec / 1'000'000));
    }
  }
  std::fprintf(f, "# EOF\n");
  std::fclose(f);
  return 0;
}

double pct(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::size_t i = std::min(v.size() - 1, static_cast<std::size_t>(p / 100.0 * v.size()));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(i), v.end());
  return v[i];
}

}  // namespace

int main(int argc, char** argv) {
  double rate = 1000;
  int seconds = 20, connections = 4, gpus = 64, threads = 2;
  std::string metric;
  bool serve_only = false, promql = false;
  std::string remote, openmetrics;
  CLI::App app{"Gateway telemetry-query load test"};
  app.add_option("--rate", rate, "requests per second, all connections together");
  app.add_option("--seconds", seconds, "duration");
  app.add_option("--connections", connections, "keep-alive connections (one thread each)");
  app.add_option("--gpus", gpus, "GPUs in the index");
  app.add_option("--threads", threads, "server io threads");
  app.add_option("--metric", metric, "metric filter (empty: all 10 metrics, limit 1000)");
  app.add_flag("--serve", serve_only, "only serve; print a wrk command and wait for SIGTERM");
  app.add_flag("--promql", promql, "drive /api/v1/query_range (1 h, 15 s step, all GPUs)");
  app.add_option("--remote", remote, "HOST:PORT of another server to drive instead (e.g. prometheus)");
  app.add_option("--openmetrics", openmetrics, "write the metric's samples as OpenMetrics and exit");
  CLI11_PARSE(app, argc, argv);
  if (serve_only) rm::core::Shutdown::install();

  auto t0 = Clock::now();
  auto index = build_index(gpus);
  std::fprintf(stderr, "index: %d GPUs x %llu samples in %.1f s\n", gpus,
               static_cast<unsigned long long>(index->sample_count() / static_cast<unsigned>(gpus)),
               std::chrono::duration<double>(Clock::now() - t0).count());
  if (!openmetrics.empty()) {
    return write_openmetrics(*index, metric.empty() ? "DCGM_FI_DEV_GPU_UTIL" : metric, openmetrics);
  }
  rm::telemetry::GatewayOptions gopts;
  gopts.collector_host = "127.0.0.1";
  gopts.collector_port = 1;
  gopts.route_groups.push_back(rm::promql::add_routes);
  rm::telemetry::Gateway gateway(index, gopts);
  rm::core::http::ServerOptions so;
  so.host = "127.0.0.1";
  so.threads = threads;
  rm::core::http::Server server(gateway.router(), so);
  if (auto ok = server.start(); !ok) {
    std::fprintf(stderr, "%s\n", ok.error().c_str());
    return 1;
  }
  std::string host = "127.0.0.1";
  unsigned port = server.port();
  if (!remote.empty()) {
    const auto colon = remote.rfind(':');
    host = remote.substr(0, colon);
    port = static_cast<unsigned>(std::stoul(remote.substr(colon + 1)));
  }
  if (serve_only) {
    std::printf("wrk -t2 -c8 -d20s --latency 'http://127.0.0.1:%u%s'\n", server.port(),
                (promql ? promql_target(30, metric) : target_for(0, 30, metric)).c_str());
    std::fflush(stdout);
    rm::core::Shutdown::wait();
    return 0;
  }

  {  // One unmeasured request first: the PromQL path builds its per-metric columns lazily.
    net::io_context ioc;
    beast::tcp_stream stream(ioc);
    stream.connect(net::ip::tcp::endpoint(net::ip::make_address(host), static_cast<unsigned short>(port)));
    bhttp::request<bhttp::empty_body> req{bhttp::verb::get,
                                          promql ? promql_target(0, metric) : target_for(0, 0, metric), 11};
    req.set(bhttp::field::host, host);
    bhttp::write(stream, req);
    beast::flat_buffer buf;
    bhttp::response<bhttp::string_body> res;
    bhttp::read(stream, buf, res);
  }
  std::vector<std::vector<double>> lat(static_cast<std::size_t>(connections));
  std::atomic<long> errors{0}, bytes{0};
  const auto interval = std::chrono::duration<double>(connections / rate);
  const auto start = Clock::now() + std::chrono::milliseconds(100);
  const auto end = start + std::chrono::seconds(seconds);
  std::vector<std::thread> clients;
  for (int c = 0; c < connections; ++c) {
    clients.emplace_back([&, c] {
      net::io_context ioc;
      beast::tcp_stream stream(ioc);
      stream.connect(net::ip::tcp::endpoint(net::ip::make_address(host), static_cast<unsigned short>(port)));
      stream.socket().set_option(net::ip::tcp::no_delay(true));
      beast::flat_buffer buf;
      auto& mine = lat[static_cast<std::size_t>(c)];
      for (long i = 0;; ++i) {
        auto due =
            start + std::chrono::duration_cast<Clock::duration>(interval * i + interval * c / connections);
        if (due >= end) break;
        std::this_thread::sleep_until(due);
        bhttp::request<bhttp::empty_body> req{bhttp::verb::get,
                                              promql
                                                  ? promql_target(static_cast<int>(i % 100), metric)
                                                  : target_for(static_cast<int>((i * connections + c) % gpus),
                                                               static_cast<int>(i % 100), metric),
                                              11};
        req.set(bhttp::field::host, "127.0.0.1");
        bhttp::write(stream, req);
        bhttp::response<bhttp::string_body> res;
        bhttp::read(stream, buf, res);
        if (res.result_int() != 200) ++errors;
        bytes += static_cast<long>(res.body().size());
        mine.push_back(std::chrono::duration<double, std::milli>(Clock::now() - due).count());
      }
    });
  }
  for (auto& t : clients) t.join();
  std::vector<double> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  double n = static_cast<double>(all.size());
  std::printf(
      "requests=%zu rate=%.0f/s errors=%ld avg_body=%.0f B  latency ms: p50=%.3f p90=%.3f "
      "p99=%.3f p99.9=%.3f max=%.3f\n",
      all.size(), n / seconds, errors.load(), n > 0 ? static_cast<double>(bytes.load()) / n : 0.0,
      pct(all, 50), pct(all, 90), pct(all, 99), pct(all, 99.9), pct(all, 100));
  return errors.load() == 0 ? 0 : 1;
}
