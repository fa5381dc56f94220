// Route table and handlers of the API gateway.
#include "telemetry/gateway/gateway.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <set>

#include <fmt/format.h>
#include <boost/json.hpp>

#include "core/http_client.hpp"
#include "core/json.hpp"
#include "gateway_window.hpp"
#include "telemetry/gateway/gateway_dashboard.hpp"
#include "telemetry/gateway/gateway_time.hpp"
#include "telemetry/gateway/prometheus_names.hpp"

namespace rm::telemetry {

namespace http = core::http;
namespace json = boost::json;
using http::error_response;
using http::json_response;
using http::Request;
using http::Response;

namespace {

json::object gpu_json(const GpuSummary& s, bool with_labels) {
  json::object o;
  o["id"] = s.info.id;
  o["uuid"] = s.info.uuid;
  o["gpu_index"] = s.info.gpu_index;
  o["device"] = s.info.device;
  o["model"] = s.info.model;
  o["hostname"] = s.info.hostname;
  o["first_seen"] = format_rfc3339(s.first_seen_ns);
  o["last_seen"] = format_rfc3339(s.last_seen_ns);
  o["samples"] = s.samples;
  if (with_labels) {
    json::object labels;
    for (const auto& [k, v] : s.info.labels) labels[k] = v;
    o["labels"] = std::move(labels);
  }
  return o;
}

// The telemetry page is the hot path (up to 10000 points per response): it is written straight
// into the body instead of through a JSON DOM, with the date part of the timestamp reused
// while consecutive points fall in the same second.
using core::append_json_number;
using core::append_json_string;

class PointWriter {
 public:
  void append(std::string& out, const Point& p) {
    out += "{\"timestamp\":\"";
    const auto [secs, frac] = split_unix_ns(p.timestamp_ns);
    if (secs <= std::numeric_limits<std::int64_t>::min() / 1'000'000'000) {
      // secs * 1e9 would overflow (before 1677; the broker rejects such samples now).
      std::string full = format_rfc3339(p.timestamp_ns);
      full.pop_back();  // 'Z'
      out += full;
    } else {
      if (secs != cached_secs_ || cached_.empty()) {
        cached_secs_ = secs;
        cached_ = format_rfc3339(secs * 1'000'000'000);
        cached_.pop_back();  // 'Z'
      }
      out += cached_;
      append_fraction(out, frac);
    }
    // timestamp_ns twice, as a number and as a string: JSON.parse and jq read numbers as
    // doubles (exact only up to 2^53 ns, about 104 days after 1970), so clients that need the
    // nanoseconds read timestamp_ns_str.
    char digits[24];
    const auto end = std::to_chars(digits, digits + sizeof digits, p.timestamp_ns).ptr;
    const std::string_view ns(digits, static_cast<std::size_t>(end - digits));
    out += "Z\",\"timestamp_ns\":";
    out += ns;
    out += ",\"timestamp_ns_str\":\"";
    out += ns;
    out += "\",\"metric\":";
    append_json_string(out, p.metric);
    out += ",\"value\":";
    append_json_number(out, p.value);
    out += '}';
  }

 private:
  std::int64_t cached_secs_ = 0;
  std::string cached_;
};

json::object point_json(const Point& p) {
  json::object o;
  o["timestamp"] = format_rfc3339(p.timestamp_ns);
  o["timestamp_ns"] = p.timestamp_ns;
  o["timestamp_ns_str"] = std::to_string(p.timestamp_ns);  // exact for JavaScript and jq
  o["metric"] = p.metric;
  o["value"] = p.value;
  return o;
}

Response unknown_gpu(std::string_view id) {
  return error_response(404, fmt::format("no GPU with id '{}'; GET /api/v1/gpus lists the known GPUs", id),
                        "gpu_not_found");
}

}  // namespace

Gateway::Gateway(std::shared_ptr<const TelemetryView> view, GatewayOptions options,
                 core::metrics::Registry* metrics)
    : view_(std::move(view)), options_(std::move(options)), metrics_(metrics) {
  if (options_.probe_collector) {
    probe_ = std::make_shared<CollectorProbe>(options_.collector_host, options_.collector_port,
                                              options_.collector_timeout, options_.collector_probe_interval);
    probe_->start();
  }
  build_routes();
}

std::string Gateway::prometheus_exposition() const {
  const auto gpus = view_->gpus();
  std::int64_t newest = std::numeric_limits<std::int64_t>::min();
  for (const auto& g : gpus) newest = std::max(newest, g.last_seen_ns);
  const std::int64_t stale_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(options_.stale_after).count();
  struct Series {
    std::string raw;  // the metric's own name
    std::vector<std::pair<std::string, std::string>> labels;
    double value;
  };
  // Prometheus name -> series; families must be contiguous in the text format.
  std::map<std::string, std::vector<Series>> families;
  for (const auto& gpu : gpus) {
    if (stale_ns > 0 && newest - gpu.last_seen_ns > stale_ns) continue;  // gone
    const auto labels = prometheus_labels(gpu.info, false);
    for (const auto& p : view_->latest(gpu.info.id)) {
      families[prometheus_metric_name(p.metric)].push_back(Series{p.metric, labels, p.value});
    }
  }
  std::vector<std::string> sources;
  for (const auto& [name, series] : families) {
    for (const auto& x : series) sources.push_back(x.raw);
  }
  const auto colliding = colliding_prometheus_names(sources);
  std::string out;
  for (auto& [name, series] : families) {
    const bool collides = colliding.count(name) > 0;
    out += fmt::format("# HELP {} Newest value of {} per GPU, from the telemetry pipeline.\n", name,
                       collides ? name + " (several source metrics)" : series.front().raw);
    out += fmt::format("# TYPE {} gauge\n", name);
    for (auto& x : series) {
      if (collides) x.labels.emplace_back(kSourceMetricLabel, x.raw);
      out += fmt::format("{}{} {}\n", name, core::metrics::format_labels(x.labels),
                         core::metrics::format_value(x.value));
    }
  }
  return out;
}

void Gateway::build_routes() {
  const auto& view = view_;
  const auto options = options_;
  ResponseDoc bad_request{400, "Malformed parameter (time, limit, cursor) or an unknown query parameter",
                          "application/json", "Error"};
  ResponseDoc not_found{404, "Unknown GPU", "application/json", "Error"};
  const ParamDoc gpu_id = gpu_id_param();

  routes_.push_back(GatewayRoute{
      "GET",
      "/health",
      "getHealth",
      "Gateway health and the collector's health (probed in the background at "
      "COLLECTOR_HOST:COLLECTOR_PORT)",
      {},
      {{200, "The gateway works; `collector` says whether the collector answered", "application/json",
        "Health"}},
      [view, probe = probe_, source = options.health_source](const Request&) {
        json::object o;
        o["status"] = "ok";
        o["gateway"] = "ok";
        if (source) {
          source(o);
        } else {
          const auto c = probe ? probe->last() : CollectorProbe::Result{};
          o["collector"] = c.state;
          if (!c.error.empty()) o["collector_error"] = c.error;
          if (c.probes > 0) {
            o["collector_checked_at"] = format_rfc3339(
                std::chrono::duration_cast<std::chrono::nanoseconds>(c.checked_at.time_since_epoch())
                    .count());
          }
        }
        o["gpus"] = view->gpus().size();
        o["time"] = format_rfc3339(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                       std::chrono::system_clock::now().time_since_epoch())
                                       .count());
        return json_response(200, o);
      }});

  routes_.push_back(
      GatewayRoute{"GET",
                   "/ready",
                   "getReady",
                   "Readiness: 503 until a collector's store exists in DATA_DIR",
                   {},
                   {{200, "Ready to answer queries", "application/json", ""},
                    {503, "Not ready; `message` says why (e.g. no store yet)", "application/json", "Error"}},
                   [options](const Request&) {
                     if (options.not_ready) {
                       if (auto why = options.not_ready()) return error_response(503, *why, "not_ready");
                     }
                     return json_response(200, {{"status", "ready"}});
                   }});

  routes_.push_back(GatewayRoute{"GET",
                                 "/api/v1/gpus",
                                 "listGpus",
                                 "Every GPU with data: metadata and first/last seen",
                                 {},
                                 {{200, "The GPUs, sorted by id", "application/json", "GpuList"}},
                                 [view](const Request&) {
                                   json::array gpus;
                                   for (const auto& g : view->gpus()) gpus.push_back(gpu_json(g, false));
                                   json::object o;
                                   o["count"] = gpus.size();
                                   o["gpus"] = std::move(gpus);
                                   return json_response(200, o);
                                 }});

  routes_.push_back(GatewayRoute{"GET",
                                 "/api/v1/gpus/{id}",
                                 "getGpu",
                                 "One GPU: metadata, labels, first/last seen",
                                 {gpu_id},
                                 {{200, "The GPU", "application/json", "Gpu"}, not_found},
                                 [view](const Request& req) {
                                   auto g = view->gpu(std::string(req.param("id")));
                                   if (!g) return unknown_gpu(req.param("id"));
                                   return json_response(200, gpu_json(*g, true));
                                 }});

  routes_.push_back(GatewayRoute{
      "GET",
      "/api/v1/gpus/{id}/telemetry",
      "getGpuTelemetry",
      "Samples of one GPU ascending by time, filtered by an inclusive time window and metrics, "
      "paginated by cursor",
      time_window_params(
          {{"limit", "query", "integer", "int32", false, false, "Maximum points in this page", 1,
            static_cast<std::int64_t>(options.max_limit), static_cast<std::int64_t>(options.default_limit)},
           {"cursor",
            "query",
            "string",
            "",
            false,
            false,
            "next_cursor of the previous page: continue strictly after it",
            {},
            {},
            {}}}),
      {{200, "One page of points", "application/json", "TelemetryPage"}, bad_request, not_found},
      [view, options](const Request& req) {
        TelemetryQuery q;
        q.gpu_id = std::string(req.param("id"));
        auto window = parse_time_window(req);
        if (!window) return window.error();
        q.start_ns = window->start_ns;
        q.end_ns = window->end_ns;
        q.metrics = std::move(window->metrics);
        q.limit = options.default_limit;
        if (auto raw = req.query.get("limit")) {
          long long v = 0;
          auto [end, ec] = std::from_chars(raw->data(), raw->data() + raw->size(), v);
          if (ec != std::errc{} || end != raw->data() + raw->size() || v < 1 ||
              static_cast<unsigned long long>(v) > options.max_limit) {
            return error_response(
                400, fmt::format("limit '{}' must be an integer from 1 to {}", *raw, options.max_limit),
                "bad_limit");
          }
          q.limit = static_cast<std::size_t>(v);
        }
        if (auto c = req.query.get("cursor")) q.cursor = *c;
        auto page = view->query(q);
        if (!page) {
          if (page.error().code == QueryErrorCode::unknown_gpu) return unknown_gpu(q.gpu_id);
          return error_response(400, page.error().message, "bad_cursor");
        }
        Response resp;
        std::string& out = resp.body;
        out.reserve(64 + page->points.size() * 110);
        out += "{\"gpu_id\":";
        append_json_string(out, q.gpu_id);
        out += ",\"count\":";
        append_json_number(out, static_cast<std::int64_t>(page->points.size()));
        out += ",\"points\":[";
        PointWriter writer;
        for (std::size_t i = 0; i < page->points.size(); ++i) {
          if (i) out += ',';
          writer.append(out, page->points[i]);
        }
        out += "],\"next_cursor\":";
        if (page->next_cursor) {
          append_json_string(out, *page->next_cursor);
        } else {
          out += "null";
        }
        out += '}';
        return resp;
      }});

  routes_.push_back(GatewayRoute{
      "GET",
      "/api/v1/gpus/{id}/latest",
      "getGpuLatest",
      "Newest value of every metric of a GPU",
      {gpu_id},
      {{200, "Newest value per metric, sorted by metric name", "application/json", "Latest"}, not_found},
      [view](const Request& req) {
        std::string id(req.param("id"));
        if (!view->gpu(id)) return unknown_gpu(id);
        auto latest = view->latest(id);
        std::sort(latest.begin(), latest.end(),
                  [](const Point& a, const Point& b) { return a.metric < b.metric; });
        json::array metrics;
        for (const auto& p : latest) metrics.push_back(point_json(p));
        json::object o;
        o["gpu_id"] = id;
        o["metrics"] = std::move(metrics);
        return json_response(200, o);
      }});

  routes_.push_back(GatewayRoute{"GET",
                                 "/api/v1/hosts",
                                 "listHosts",
                                 "Every host with its GPU ids and last-seen time",
                                 {},
                                 {{200, "The hosts, sorted by hostname", "application/json", "HostList"}},
                                 [view](const Request&) {
                                   json::array hosts;
                                   for (const auto& h : view->hosts()) {
                                     json::object o;
                                     o["hostname"] = h.hostname;
                                     o["gpu_count"] = h.gpu_ids.size();
                                     json::array ids;
                                     for (const auto& id : h.gpu_ids) ids.push_back(json::string(id));
                                     o["gpus"] = std::move(ids);
                                     o["last_seen"] = format_rfc3339(h.last_seen_ns);
                                     hosts.push_back(std::move(o));
                                   }
                                   json::object o;
                                   o["count"] = hosts.size();
                                   o["hosts"] = std::move(hosts);
                                   return json_response(200, o);
                                 }});

  routes_.push_back(GatewayRoute{
      "GET",
      "/api/v1/hosts/{hostname}/gpus",
      "listHostGpus",
      "The GPUs of one host",
      {{"hostname", "path", "string", "", true, false, "Hostname as reported by the exporter", {}, {}, {}}},
      {{200, "The host's GPUs", "application/json", "GpuList"},
       {404, "Unknown host", "application/json", "Error"}},
      [view](const Request& req) {
        std::string host(req.param("hostname"));
        json::array gpus;
        for (const auto& g : view->gpus()) {
          if (g.info.hostname == host) gpus.push_back(gpu_json(g, false));
        }
        if (gpus.empty()) {
          return error_response(
              404, fmt::format("no host named '{}'; GET /api/v1/hosts lists the known hosts", host),
              "host_not_found");
        }
        json::object o;
        o["hostname"] = host;
        o["count"] = gpus.size();
        o["gpus"] = std::move(gpus);
        return json_response(200, o);
      }});

  routes_.push_back(GatewayRoute{
      "GET",
      "/metrics/gpus",
      "getGpuMetrics",
      "Newest sample of every GPU and metric in Prometheus text format (DCGM names and labels "
      "gpu, UUID, device, modelName, Hostname) for scraping",
      {},
      {{200, "Prometheus text exposition format 0.0.4", std::string(core::metrics::kContentType), ""}},
      [this](const Request&) {
        return http::text_response(200, prometheus_exposition(), std::string(core::metrics::kContentType));
      }});

  add_dashboard_routes(routes_, view_, options_, metrics_);

  routes_.push_back(GatewayRoute{"GET",
                                 "/openapi.json",
                                 "getOpenApi",
                                 "This API's OpenAPI 3 document",
                                 {},
                                 {{200, "OpenAPI 3.0.3 document", "application/json", ""}},
                                 [this](const Request&) { return json_response(200, openapi()); }});
  for (const auto& add_group : options_.route_groups) add_group(routes_, view_);

  // Every route rejects query parameters it does not take (router()), so each documents it.
  for (auto& r : routes_) {
    if (r.ignores_unknown_params) continue;
    const bool has_400 = std::any_of(r.responses.begin(), r.responses.end(),
                                     [](const ResponseDoc& d) { return d.status == 400; });
    if (!has_400) r.responses.push_back({400, "Unknown query parameter", "application/json", "Error"});
  }
}

namespace {

// Wraps a handler so a query parameter the route does not document is a 400 naming it.
std::function<Response(const Request&)> reject_unknown_params(const GatewayRoute& route) {
  std::vector<std::string> known;
  for (const auto& p : route.params) {
    if (p.in == "query") known.push_back(p.name);
  }
  return [handler = route.handler, known](const Request& req) {
    for (const auto& [name, value] : req.query.items()) {
      if (std::find(known.begin(), known.end(), name) != known.end()) continue;
      std::string accepted;
      for (const auto& k : known) accepted += (accepted.empty() ? "" : ", ") + k;
      return error_response(400,
                            fmt::format("unknown query parameter '{}'; this route takes {}", name,
                                        accepted.empty() ? std::string("no query parameters") : accepted),
                            "unknown_parameter");
    }
    return handler(req);
  };
}

}  // namespace

core::http::Router Gateway::router() const {
  core::http::Router router;
  for (const auto& declared : routes_) {
    GatewayRoute route = declared;
    if (!declared.ignores_unknown_params) route.handler = reject_unknown_params(declared);
    if (!metrics_) {
      router.add(route.method, route.path, route.handler);
      continue;
    }
    auto& requests =
        metrics_->counter("api_gateway_http_requests_total",
                          "HTTP requests answered, by route and status code.", {"method", "route", "code"});
    auto& latency = metrics_
                        ->histogram("api_gateway_http_request_duration_seconds",
                                    "Time to handle a request, by route.", {"method", "route"})
                        .labels({route.method, route.path});
    router.add(
        route.method, route.path,
        [handler = route.handler, &requests, &latency, method = route.method,
         path = route.path](const Request& req) {
          auto t0 = std::chrono::steady_clock::now();
          Response resp = handler(req);
          latency.observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
          requests.labels({method, path, std::to_string(resp.status)}).inc();
          return resp;
        });
  }
  return router;
}

}  // namespace rm::telemetry
