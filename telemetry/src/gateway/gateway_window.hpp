#pragma once
// Query parameters shared by the gateway's time-window routes (/telemetry, /series):
// start_time and end_time (RFC 3339, inclusive) and metric (repeated or comma-separated), how
// they are read and how they are documented.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>
#include <tl/expected.hpp>

#include "core/http.hpp"
#include "telemetry/gateway/gateway.hpp"

namespace rm::telemetry {

struct TimeWindow {
  std::optional<std::int64_t> start_ns;
  std::optional<std::int64_t> end_ns;
  std::vector<std::string> metrics;  // in request order, duplicates dropped; empty = all
};

// Errors are the 400 responses to send: bad_time (names the parameter and the offset),
// bad_time_range (start after end).
[[nodiscard]] tl::expected<TimeWindow, core::http::Response> parse_time_window(
    const core::http::Request& req);

// The path parameter {id} of the GPU routes, as documented.
[[nodiscard]] ParamDoc gpu_id_param();
// The parameters of a GPU's time-window route as documented: the path's {id}, start_time,
// end_time and metric, then `more` (e.g. limit and cursor).
[[nodiscard]] std::vector<ParamDoc> time_window_params(std::vector<ParamDoc> more = {});

// OpenAPI schema pieces used by more than one document part.
boost::json::object string_prop(const char* description, const char* format = nullptr);
boost::json::object schema_ref(const std::string& name);

}  // namespace rm::telemetry
