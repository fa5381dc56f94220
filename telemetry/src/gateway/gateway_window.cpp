#include "gateway_window.hpp"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "telemetry/gateway/gateway_time.hpp"

namespace rm::telemetry {

tl::expected<TimeWindow, core::http::Response> parse_time_window(const core::http::Request& req) {
  using core::http::error_response;
  TimeWindow w;
  for (const char* name : {"start_time", "end_time"}) {
    auto raw = req.query.get(name);
    if (!raw) continue;
    auto t = parse_rfc3339(*raw);
    if (!t) {
      return tl::unexpected(error_response(400, fmt::format("{}: {}", name, t.error().message), "bad_time"));
    }
    (std::string_view(name) == "start_time" ? w.start_ns : w.end_ns) = *t;
  }
  if (w.start_ns && w.end_ns && *w.start_ns > *w.end_ns) {
    return tl::unexpected(
        error_response(400,
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

ParamDoc gpu_id_param() {
  return {"id",
          "path",
          "string",
          "",
          true,
          false,
          "GPU id: the UUID where the source has one (DCGM), else the gpu_id column",
          {},
          {},
          {}};
}

std::vector<ParamDoc> time_window_params(std::vector<ParamDoc> more) {
  auto query = [](const char* name, const char* format, bool repeatable, const char* description) {
    return ParamDoc{name, "query", "string", format, false, repeatable, description, {}, {}, {}};
  };
  std::vector<ParamDoc> out{
      gpu_id_param(),
      query("start_time", "date-time", false,
            "Inclusive lower bound, RFC 3339 (fractional seconds and offsets allowed)"),
      query("end_time", "date-time", false, "Inclusive upper bound, RFC 3339; must not be before start_time"),
      query("metric", "", true, "Only these metrics (repeat the parameter or give a comma-separated list)")};
  for (auto& p : more) out.push_back(std::move(p));
  return out;
}

boost::json::object string_prop(const char* description, const char* format) {
  boost::json::object o{{"type", "string"}, {"description", description}};
  if (format) o["format"] = format;
  return o;
}

boost::json::object schema_ref(const std::string& name) {
  return boost::json::object{{"$ref", "#/components/schemas/" + name}};
}

}  // namespace rm::telemetry
