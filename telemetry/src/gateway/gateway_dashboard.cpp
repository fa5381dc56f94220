// The dashboard's one-request routes: fleet summary, columnar series, pipeline health.
#include "telemetry/gateway/gateway_dashboard.hpp"

#include <algorithm>
#include <chrono>
#include <limits>
#include <map>
#include <set>
#include <string>

#include <fmt/format.h>
#include <boost/json.hpp>

#include "core/http_client.hpp"
#include "core/json.hpp"
#include "gateway_window.hpp"
#include "telemetry/gateway/gateway_time.hpp"

namespace rm::telemetry {

namespace http = core::http;
namespace json = boost::json;
using core::append_json_number;
using core::append_json_string;
using http::error_response;
using http::json_response;
using http::Request;
using http::Response;

namespace {

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Unix seconds with up to nine decimals ("1752871354.25"): exact enough for a JavaScript
// double to keep microseconds, and what uPlot's time axis takes.
void append_unix_seconds(std::string& out, std::int64_t ns) {
  const auto [secs, frac] = split_unix_ns(ns);
  append_json_number(out, secs);
  append_fraction(out, frac);
}

Response fleet(const TelemetryView& view) {
  std::set<std::string> names;
  std::string gpus;
  std::size_t count = 0;
  for (const auto& g : view.gpus()) {
    gpus += count++ ? ",{" : "{";
    for (const auto& [key, value] : {std::pair<const char*, const std::string&>{"id", g.info.id},
                                     {"uuid", g.info.uuid},
                                     {"gpu_index", g.info.gpu_index},
                                     {"device", g.info.device},
                                     {"model", g.info.model},
                                     {"hostname", g.info.hostname}}) {
      append_json_string(gpus, key);
      gpus += ':';
      append_json_string(gpus, value);
      gpus += ',';
    }
    gpus += "\"last_seen\":";
    append_json_string(gpus, format_rfc3339(g.last_seen_ns));
    gpus += ",\"samples\":";
    append_json_number(gpus, static_cast<std::uint64_t>(g.samples));
    gpus += ",\"latest\":{";
    auto latest = view.latest(g.info.id);
    std::sort(latest.begin(), latest.end(),
              [](const Point& a, const Point& b) { return a.metric < b.metric; });
    for (std::size_t i = 0; i < latest.size(); ++i) {
      if (i) gpus += ',';
      append_json_string(gpus, latest[i].metric);
      gpus += ':';
      append_json_number(gpus, latest[i].value);
      names.insert(latest[i].metric);
    }
    gpus += "}}";
  }
  Response resp;
  std::string& out = resp.body;
  out.reserve(gpus.size() + 256);
  out += "{\"time\":";
  append_json_string(out, format_rfc3339(now_ns()));
  out += ",\"count\":";
  append_json_number(out, static_cast<std::uint64_t>(count));
  out += ",\"metrics\":[";
  std::size_t i = 0;
  for (const auto& n : names) {
    if (i++) out += ',';
    append_json_string(out, n);
  }
  out += "],\"gpus\":[";
  out += gpus;
  out += "]}";
  return resp;
}

Response series(const TelemetryView& view, const Request& req, std::size_t max_points) {
  std::string id(req.param("id"));
  auto window = parse_time_window(req);
  if (!window) return window.error();
  auto gpu = view.gpu(id);
  if (!gpu) {
    return error_response(404, fmt::format("no GPU with id '{}'; GET /api/v1/gpus lists the known GPUs", id),
                          "gpu_not_found");
  }
  // Every metric's samples from one call of the view's column scan (it skips to start_ns and
  // copies no metric names), written straight into the body: 5.5 ms of gateway CPU for 100,000
  // points against 20 ms when paging through query() per metric (docs/benchmarks.md).
  const bool requested = !window->metrics.empty();
  std::set<std::string> wanted(window->metrics.begin(), window->metrics.end());
  if (!requested) {
    for (const auto& p : view.latest(id)) wanted.insert(p.metric);
  }
  const std::vector<std::string> metrics(wanted.begin(), wanted.end());
  const auto columns =
      view.samples(id, metrics, window->start_ns.value_or(std::numeric_limits<std::int64_t>::min()),
                   window->end_ns.value_or(std::numeric_limits<std::int64_t>::max()));
  std::size_t count = 0;
  for (const auto& c : columns) count += c.size();
  if (count > max_points) {
    return error_response(400,
                          fmt::format("the window holds more than {} points; narrow start_time/end_time or "
                                      "select metrics, or page through /api/v1/gpus/{}/telemetry",
                                      max_points, id),
                          "too_many_points");
  }
  Response resp;
  std::string& out = resp.body;
  out.reserve(count * 28 + 256);
  out += "{\"gpu_id\":";
  append_json_string(out, id);
  for (const auto& [name, t] : {std::pair{"start_time", window->start_ns}, {"end_time", window->end_ns}}) {
    out += ",\"";
    out += name;
    out += "\":";
    if (t) {
      append_json_string(out, format_rfc3339(*t));
    } else {
      out += "null";
    }
  }
  out += ",\"series\":{";
  bool first = true;
  for (std::size_t m = 0; m < metrics.size(); ++m) {
    const auto& col = columns[m];
    // A metric without points in the window is listed only when it was asked for.
    if (col.empty() && !requested) continue;
    if (!first) out += ',';
    first = false;
    append_json_string(out, metrics[m]);
    out += ":{\"t\":[";
    for (std::size_t k = 0; k < col.size(); ++k) {
      if (k) out += ',';
      append_unix_seconds(out, col[k].timestamp_ns);
    }
    out += "],\"v\":[";
    for (std::size_t k = 0; k < col.size(); ++k) {
      if (k) out += ',';
      append_json_number(out, col[k].value);
    }
    out += "]}";
  }
  out += "},\"count\":";
  append_json_number(out, static_cast<std::uint64_t>(count));
  out += '}';
  return resp;
}

// Sums every sample line of each family in a Prometheus text exposition (histogram buckets
// skipped): {"api_gateway_http_requests_total": 1234, ...}.
json::object sum_families(const std::string& text) {
  std::map<std::string, double> sums;
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto eol = std::min(text.find('\n', pos), text.size());
    std::string_view line(text.data() + pos, eol - pos);
    pos = eol + 1;
    if (line.empty() || line.front() == '#') continue;
    auto name_end = line.find_first_of("{ ");
    auto value_start = line.rfind(' ');
    if (name_end == std::string_view::npos || value_start == std::string_view::npos) continue;
    std::string name(line.substr(0, name_end));
    if (name.ends_with("_bucket")) continue;
    try {
      sums[name] += std::stod(std::string(line.substr(value_start + 1)));
    } catch (const std::exception&) {
      continue;  // +Inf/NaN spellings stod rejects are not worth reporting here
    }
  }
  json::object o;
  for (const auto& [k, v] : sums) o[k] = v;
  return o;
}

Response pipeline(const TelemetryView& view, const GatewayOptions& options,
                  const core::metrics::Registry* metrics) {
  const std::int64_t now = now_ns();
  json::object o;
  o["time"] = format_rfc3339(now);

  // Collector: its /stats counters (the same numbers its /metrics exports).
  json::object collector;
  collector["address"] = fmt::format("{}:{}", options.collector_host, options.collector_port);
  std::optional<std::uint64_t> producers;
  auto r = http::get(options.collector_host, options.collector_port, "/stats", options.collector_timeout);
  if (!r) {
    collector["state"] = "unreachable";
    collector["error"] = r.error();
  } else if (r->status != 200) {
    collector["state"] = "unhealthy";
    collector["error"] = fmt::format("collector /stats answered {}", r->status);
  } else {
    boost::system::error_code ec;
    auto stats = json::parse(r->body, ec);
    if (ec || !stats.is_object()) {
      collector["state"] = "unhealthy";
      collector["error"] = "collector /stats is not a JSON object";
    } else {
      const auto& so = stats.as_object();
      const auto* ready = so.if_contains("ready");
      collector["state"] = ready && ready->is_bool() && ready->as_bool() ? "ok" : "recovering";
      if (const auto* c = so.if_contains("connections_open"); c && c->is_number()) {
        producers = c->to_number<std::uint64_t>();
      }
      collector["stats"] = so;
    }
  }
  o["collector"] = std::move(collector);

  // Gateway: what it serves and its own metrics.
  std::int64_t newest = 0;
  std::uint64_t retained = 0;
  std::set<std::string> hosts;
  auto gpus = view.gpus();
  for (const auto& g : gpus) {
    newest = std::max(newest, g.last_seen_ns);
    retained += g.samples;
    hosts.insert(g.info.hostname);
  }
  json::object gateway{
      {"state", "ok"}, {"gpus", gpus.size()}, {"hosts", hosts.size()}, {"samples_retained", retained}};
  if (metrics) gateway["metrics"] = sum_families(metrics->expose());
  o["gateway"] = std::move(gateway);

  // Streamers: they report to the collector only, so their state is read from there
  // (producer connections open) and from how fresh the newest sample is.
  json::object streamers;
  const double age = newest ? static_cast<double>(now - newest) / 1e9 : -1;
  if (newest) {
    streamers["newest_sample"] = format_rfc3339(newest);
    streamers["newest_sample_age_seconds"] = age;
  } else {
    streamers["newest_sample"] = nullptr;
  }
  if (producers) streamers["connections_open"] = *producers;
  if (producers && *producers > 0) {
    streamers["state"] = age >= 0 && age < 30 ? "streaming" : "connected, no recent data";
  } else if (producers) {
    streamers["state"] = "none connected";
  } else {
    streamers["state"] = "unknown (collector unreachable)";
  }
  o["streamers"] = std::move(streamers);
  return json_response(200, o);
}

json::object number_array(const char* description) {
  return json::object{{"type", "array"},
                      {"description", description},
                      {"items", json::object{{"type", "number"}, {"format", "double"}}}};
}

}  // namespace

void add_dashboard_routes(std::vector<GatewayRoute>& routes, std::shared_ptr<const TelemetryView> view,
                          const GatewayOptions& options, const core::metrics::Registry* metrics,
                          std::size_t max_series_points) {
  routes.push_back(
      GatewayRoute{"GET",
                   "/api/v1/fleet",
                   "getFleet",
                   "Every GPU with its metadata and the newest value of each of its metrics, in one call "
                   "(the dashboard's fleet view)",
                   {},
                   {{200, "The GPUs, sorted by id", "application/json", "Fleet"}},
                   [view](const Request&) { return fleet(*view); }});

  routes.push_back(GatewayRoute{
      "GET",
      "/api/v1/gpus/{id}/series",
      "getGpuSeries",
      "Every sample of one GPU in an inclusive time window as columns per metric (unix "
      "seconds and values, ascending), not paginated; the same points /telemetry pages "
      "through",
      time_window_params(),
      {{200, "The samples per metric", "application/json", "Series"},
       {400, fmt::format("Malformed time, inverted range, or more than {} points", max_series_points),
        "application/json", "Error"},
       {404, "Unknown GPU", "application/json", "Error"}},
      [view, max_series_points](const Request& req) { return series(*view, req, max_series_points); }});

  routes.push_back(
      GatewayRoute{"GET",
                   "/api/v1/pipeline",
                   "getPipeline",
                   "State of the pipeline: streamers (producer connections at the collector, newest sample), "
                   "the collector's /stats counters and the gateway's own metrics",
                   {},
                   {{200, "Pipeline state; the collector part says why when it is not ok", "application/json",
                     "Pipeline"}},
                   [view, options, metrics](const Request&) { return pipeline(*view, options, metrics); }});
}

json::object dashboard_schemas() {
  json::object s;
  s["FleetGpu"] = json::object{
      {"type", "object"},
      {"required", json::array{"id", "hostname", "latest"}},
      {"properties",
       json::object{{"id", string_prop("GPU id (UUID where present)")},
                    {"uuid", string_prop("GPU UUID")},
                    {"gpu_index", string_prop("gpu_id column of the DCGM export")},
                    {"device", string_prop("Device name, e.g. nvidia0")},
                    {"model", string_prop("Model name")},
                    {"hostname", string_prop("Host of the GPU")},
                    {"last_seen", string_prop("Newest sample", "date-time")},
                    {"samples", json::object{{"type", "integer"}}},
                    {"latest", json::object{{"type", "object"},
                                            {"description", "Newest value per metric name"},
                                            {"additionalProperties", json::object{{"type", "number"}}}}}}}};
  s["Fleet"] = json::object{
      {"type", "object"},
      {"required", json::array{"time", "count", "metrics", "gpus"}},
      {"properties",
       json::object{{"time", string_prop("Gateway time", "date-time")},
                    {"count", json::object{{"type", "integer"}}},
                    {"metrics", json::object{{"type", "array"}, {"items", json::object{{"type", "string"}}}}},
                    {"gpus", json::object{{"type", "array"}, {"items", schema_ref("FleetGpu")}}}}}};
  s["Series"] = json::object{
      {"type", "object"},
      {"required", json::array{"gpu_id", "count", "series"}},
      {"properties",
       json::object{
           {"gpu_id", string_prop("The GPU")},
           {"start_time", json::object{{"type", "string"}, {"nullable", true}}},
           {"end_time", json::object{{"type", "string"}, {"nullable", true}}},
           {"count", json::object{{"type", "integer"}, {"description", "Points in all series"}}},
           {"series",
            json::object{{"type", "object"},
                         {"description", "Metric name -> columns of equal length"},
                         {"additionalProperties",
                          json::object{{"type", "object"},
                                       {"properties", json::object{{"t", number_array("Unix seconds")},
                                                                   {"v", number_array("Values")}}}}}}}}}};
  s["Pipeline"] = json::object{
      {"type", "object"},
      {"required", json::array{"time", "collector", "gateway", "streamers"}},
      {"properties",
       json::object{{"time", string_prop("Gateway time", "date-time")},
                    {"collector", json::object{{"type", "object"},
                                               {"description",
                                                "state (ok, recovering, unhealthy, unreachable), "
                                                "address, error, stats (the collector's /stats)"}}},
                    {"gateway", json::object{{"type", "object"},
                                             {"description",
                                              "gpus, hosts, samples_retained, metrics (own "
                                              "metric families, summed over labels)"}}},
                    {"streamers", json::object{{"type", "object"},
                                               {"description",
                                                "state, connections_open, newest_sample, "
                                                "newest_sample_age_seconds"}}}}}};
  return s;
}

}  // namespace rm::telemetry
