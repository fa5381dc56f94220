// The dashboard's one-request routes: fleet summary, columnar series, pipeline health.
#include "telemetry/gateway_dashboard.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <string>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "core/http_client.hpp"
#include "core/json.hpp"
#include "telemetry/gateway_time.hpp"

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

// Inclusive time window and metric filter, as /telemetry takes them.
struct Window {
  std::optional<std::int64_t> start_ns;
  std::optional<std::int64_t> end_ns;
  std::vector<std::string> metrics;
};

tl::expected<Window, Response> parse_window(const Request& req) {
  Window w;
  for (const auto& [name, value] : req.query.items()) {
    if (name != "start_time" && name != "end_time" && name != "metric") {
      return tl::unexpected(error_response(
          400,
          fmt::format("unknown query parameter '{}'; this route takes start_time, end_time and "
                      "metric (and is not paginated)",
                      name),
          "bad_parameter"));
    }
  }
  for (const char* name : {"start_time", "end_time"}) {
    auto raw = req.query.get(name);
    if (!raw) continue;
    auto t = parse_rfc3339(*raw);
    if (!t) {
      return tl::unexpected(error_response(400, fmt::format("{}: {}", name, t.error()), "bad_time"));
    }
    (std::string_view(name) == "start_time" ? w.start_ns : w.end_ns) = *t;
  }
  if (w.start_ns && w.end_ns && *w.start_ns > *w.end_ns) {
    return tl::unexpected(error_response(
        400,
        fmt::format("inverted time range: start_time {} is after end_time {}",
                    *req.query.get("start_time"), *req.query.get("end_time")),
        "bad_time_range"));
  }
  std::set<std::string> seen;
  for (const auto& raw : req.query.all("metric")) {
    std::size_t i = 0;
    while (i <= raw.size()) {
      auto j = std::min(raw.find(',', i), raw.size());
      std::string m = raw.substr(i, j - i);
      if (!m.empty() && seen.insert(m).second) w.metrics.push_back(m);
      i = j + 1;
    }
  }
  return w;
}

// Unix seconds with up to nine decimals ("1752871354.25"): exact enough for a JavaScript
// double to keep microseconds, and what uPlot's time axis takes.
void append_unix_seconds(std::string& out, std::int64_t ns) {
  std::int64_t secs = ns / 1'000'000'000;
  std::int64_t frac = ns % 1'000'000'000;
  if (frac < 0) {
    frac += 1'000'000'000;
    --secs;
  }
  out += fmt::format("{}", secs);
  if (frac == 0) return;
  char buf[9];
  for (int i = 8; i >= 0; --i) {
    buf[i] = static_cast<char>('0' + frac % 10);
    frac /= 10;
  }
  std::size_t n = 9;
  while (buf[n - 1] == '0') --n;
  out += '.';
  out.append(buf, n);
}

Response fleet(const TelemetryView& view) {
  std::set<std::string> names;
  std::string gpus;
  std::size_t count = 0;
  for (const auto& g : view.gpus()) {
    if (count++) gpus += ',';
    gpus += "{\"id\":";
    append_json_string(gpus, g.info.id);
    gpus += ",\"uuid\":";
    append_json_string(gpus, g.info.uuid);
    gpus += ",\"gpu_index\":";
    append_json_string(gpus, g.info.gpu_index);
    gpus += ",\"device\":";
    append_json_string(gpus, g.info.device);
    gpus += ",\"model\":";
    append_json_string(gpus, g.info.model);
    gpus += ",\"hostname\":";
    append_json_string(gpus, g.info.hostname);
    gpus += ",\"last_seen\":";
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
  auto window = parse_window(req);
  if (!window) return window.error();
  TelemetryQuery q;
  q.gpu_id = id;
  q.start_ns = window->start_ns;
  q.end_ns = window->end_ns;
  q.metrics = window->metrics;
  q.limit = 100'000;
  // metric -> (timestamps, values), each a comma-separated list being built.
  std::map<std::string, std::pair<std::string, std::string>> columns;
  for (const auto& m : window->metrics) columns[m];
  std::size_t count = 0;
  for (;;) {
    auto page = view.query(q);
    if (!page) {
      if (page.error().code == QueryErrorCode::unknown_gpu) {
        return error_response(
            404, fmt::format("no GPU with id '{}'; GET /api/v1/gpus lists the known GPUs", id),
            "gpu_not_found");
      }
      return error_response(500, page.error().message, "query_failed");
    }
    count += page->points.size();
    if (count > max_points) {
      return error_response(
          400,
          fmt::format("the window holds more than {} points; narrow start_time/end_time or "
                      "select metrics, or page through /api/v1/gpus/{}/telemetry",
                      max_points, id),
          "too_many_points");
    }
    for (const auto& p : page->points) {
      auto& [t, v] = columns[p.metric];
      if (!t.empty()) {
        t += ',';
        v += ',';
      }
      append_unix_seconds(t, p.timestamp_ns);
      append_json_number(v, p.value);
    }
    if (!page->next_cursor) break;
    q.cursor = page->next_cursor;
  }
  Response resp;
  std::string& out = resp.body;
  out.reserve(count * 32 + 256);
  out += "{\"gpu_id\":";
  append_json_string(out, id);
  out += ",\"start_time\":";
  if (window->start_ns) {
    append_json_string(out, format_rfc3339(*window->start_ns));
  } else {
    out += "null";
  }
  out += ",\"end_time\":";
  if (window->end_ns) {
    append_json_string(out, format_rfc3339(*window->end_ns));
  } else {
    out += "null";
  }
  out += ",\"count\":";
  append_json_number(out, static_cast<std::uint64_t>(count));
  out += ",\"series\":{";
  std::size_t i = 0;
  for (const auto& [metric, tv] : columns) {
    if (i++) out += ',';
    append_json_string(out, metric);
    out += ":{\"t\":[";
    out += tv.first;
    out += "],\"v\":[";
    out += tv.second;
    out += "]}";
  }
  out += "}}";
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
  auto r = http::get(options.collector_host, options.collector_port, "/stats",
                     options.collector_timeout);
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
  json::object gateway{{"state", "ok"},
                       {"gpus", gpus.size()},
                       {"hosts", hosts.size()},
                       {"samples_retained", retained}};
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

json::object string_prop(const char* description, const char* format = nullptr) {
  json::object o{{"type", "string"}, {"description", description}};
  if (format) o["format"] = format;
  return o;
}

json::object number_array(const char* description) {
  return json::object{{"type", "array"},
                      {"description", description},
                      {"items", json::object{{"type", "number"}, {"format", "double"}}}};
}

}  // namespace

void add_dashboard_routes(std::vector<GatewayRoute>& routes,
                          std::shared_ptr<const TelemetryView> view, const GatewayOptions& options,
                          const core::metrics::Registry* metrics,
                          std::size_t max_series_points) {
  ParamDoc gpu_id{"id", "path", "string", "", true, false,
                  "GPU id: the UUID where the source has one (DCGM), else the gpu_id column",
                  {}, {}, {}};
  routes.push_back(GatewayRoute{
      "GET", "/api/v1/fleet", "getFleet",
      "Every GPU with its metadata and the newest value of each of its metrics, in one call "
      "(the dashboard's fleet view)",
      {},
      {{200, "The GPUs, sorted by id", "application/json", "Fleet"}},
      [view](const Request&) { return fleet(*view); }});

  routes.push_back(GatewayRoute{
      "GET", "/api/v1/gpus/{id}/series", "getGpuSeries",
      "Every sample of one GPU in an inclusive time window as columns per metric (unix "
      "seconds and values, ascending), not paginated; the same points /telemetry pages "
      "through",
      {gpu_id,
       {"start_time", "query", "string", "date-time", false, false,
        "Inclusive lower bound, RFC 3339", {}, {}, {}},
       {"end_time", "query", "string", "date-time", false, false,
        "Inclusive upper bound, RFC 3339; must not be before start_time", {}, {}, {}},
       {"metric", "query", "string", "", false, true,
        "Only these metrics (repeat the parameter or give a comma-separated list)", {}, {}, {}}},
      {{200, "The samples per metric", "application/json", "Series"},
       {400,
        fmt::format("Malformed time, inverted range, or more than {} points", max_series_points),
        "application/json", "Error"},
       {404, "Unknown GPU", "application/json", "Error"}},
      [view, max_series_points](const Request& req) {
        return series(*view, req, max_series_points);
      }});

  routes.push_back(GatewayRoute{
      "GET", "/api/v1/pipeline", "getPipeline",
      "State of the pipeline: streamers (producer connections at the collector, newest sample), "
      "the collector's /stats counters and the gateway's own metrics",
      {},
      {{200, "Pipeline state; the collector part says why when it is not ok",
        "application/json", "Pipeline"}},
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
                                            {"additionalProperties",
                                             json::object{{"type", "number"}}}}}}}};
  s["Fleet"] = json::object{
      {"type", "object"},
      {"required", json::array{"time", "count", "metrics", "gpus"}},
      {"properties",
       json::object{
           {"time", string_prop("Gateway time", "date-time")},
           {"count", json::object{{"type", "integer"}}},
           {"metrics", json::object{{"type", "array"}, {"items", json::object{{"type", "string"}}}}},
           {"gpus", json::object{{"type", "array"},
                                 {"items", json::object{{"$ref", "#/components/schemas/FleetGpu"}}}}}}}};
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
            json::object{
                {"type", "object"},
                {"description", "Metric name -> columns of equal length"},
                {"additionalProperties",
                 json::object{{"type", "object"},
                              {"properties",
                               json::object{{"t", number_array("Unix seconds")},
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
