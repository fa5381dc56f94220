// The Prometheus HTTP API routes (see http_api.hpp).
#include "promql/http_api.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <set>

#include <fmt/format.h>

#include "core/json.hpp"
#include "promql/engine.hpp"
#include "promql/view_storage.hpp"
#include "telemetry/gateway/gateway_time.hpp"

namespace rm::promql {

namespace http = core::http;
using http::Request;
using http::Response;
using telemetry::GatewayRoute;
using telemetry::ParamDoc;
using telemetry::ResponseDoc;

namespace {

constexpr std::int64_t kMinTime = std::numeric_limits<std::int64_t>::min() / 2;
constexpr std::int64_t kMaxTime = std::numeric_limits<std::int64_t>::max() / 2;
// Prometheus refuses range queries with more points per series than this.
constexpr std::int64_t kMaxPoints = 11000;

// A request's parameters: the URL query, plus the form body of a POST (body first, as Go's
// Request.ParseForm).
class Form {
 public:
  [[nodiscard]] static tl::expected<Form, std::string> of(const Request& req) {
    Form f;
    if (req.query_error) return tl::unexpected(*req.query_error);
    if (req.method == "POST" && !req.body.empty()) {
      auto ct = req.header("content-type").value_or("");
      if (ct.find("application/x-www-form-urlencoded") == std::string::npos) {
        return tl::unexpected(
            fmt::format("unsupported Content-Type \"{}\" for POST: send an application/x-www-form-urlencoded "
                        "body or use GET",
                        ct));
      }
      auto body = http::QueryParams::parse(req.body);
      if (!body) return tl::unexpected(fmt::format("malformed form body: {}", body.error()));
      f.items_ = body->items();
    }
    for (const auto& item : req.query.items()) f.items_.push_back(item);
    return f;
  }
  std::optional<std::string> get(std::string_view name) const {
    for (const auto& [k, v] : items_) {
      if (k == name) return v;
    }
    return std::nullopt;
  }
  std::vector<std::string> all(std::string_view name) const {
    std::vector<std::string> out;
    for (const auto& [k, v] : items_) {
      if (k == name) out.push_back(v);
    }
    return out;
  }

 private:
  std::vector<std::pair<std::string, std::string>> items_;
};

Response api_error(int status, std::string_view type, std::string_view message) {
  Response r;
  r.status = status;
  r.body = "{\"status\":\"error\",\"errorType\":";
  core::append_json_string(r.body, type);
  r.body += ",\"error\":";
  core::append_json_string(r.body, message);
  r.body += '}';
  return r;
}
Response bad_data(std::string_view message) {
  return api_error(400, "bad_data", message);
}

Response success(const std::string& data) {
  Response r;
  r.body.reserve(data.size() + 32);
  r.body = "{\"status\":\"success\",\"data\":";
  r.body += data;
  r.body += '}';
  return r;
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Unix seconds with a fraction ("1752871354.781") or RFC 3339.
[[nodiscard]] tl::expected<std::int64_t, std::string> parse_time(std::string_view name,
                                                                 const std::string& s) {
  double secs = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), secs);
  if (ec == std::errc{} && end == s.data() + s.size() && std::isfinite(secs)) {
    if (std::abs(secs) > 9.2e12) {
      return tl::unexpected(
          fmt::format("invalid parameter \"{}\": cannot parse \"{}\" to a valid "
                      "timestamp",
                      name, s));
    }
    return static_cast<std::int64_t>(std::llround(secs * 1000.0));
  }
  auto ns = telemetry::parse_rfc3339(s);
  if (!ns) {
    return tl::unexpected(
        fmt::format("invalid parameter \"{}\": cannot parse \"{}\" to a valid "
                    "timestamp",
                    name, s));
  }
  std::int64_t ms = *ns / 1'000'000;
  if (*ns % 1'000'000 < 0) --ms;
  return ms;
}

[[nodiscard]] tl::expected<std::int64_t, std::string> time_param(const Form& f, std::string_view name,
                                                                 std::int64_t fallback) {
  auto raw = f.get(name);
  if (!raw || raw->empty()) return fallback;
  return parse_time(name, *raw);
}

[[nodiscard]] tl::expected<std::int64_t, std::string> parse_step(const std::string& s) {
  double secs = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), secs);
  if (ec == std::errc{} && end == s.data() + s.size() && std::isfinite(secs)) {
    if (std::abs(secs) > 9.2e12) {
      return tl::unexpected(
          fmt::format("invalid parameter \"step\": cannot parse \"{}\" to a "
                      "valid duration. It overflows int64",
                      s));
    }
    return static_cast<std::int64_t>(std::llround(secs * 1000.0));
  }
  auto d = parse_duration(s);
  if (!d) {
    return tl::unexpected(
        fmt::format("invalid parameter \"step\": cannot parse \"{}\" to a valid "
                    "duration",
                    s));
  }
  return *d;
}

// Writes at p (room for kMaxPoint chars) and returns the end: Unix seconds with up to three
// fraction digits.
char* write_time(char* p, std::int64_t ms) {
  std::int64_t secs = ms / 1000, frac = ms % 1000;
  if (frac < 0) {
    frac += 1000;
    --secs;
  }
  p = std::to_chars(p, p + 24, secs).ptr;
  if (frac != 0) {
    *p++ = '.';
    *p++ = static_cast<char>('0' + frac / 100);
    if (frac % 100 != 0) {
      *p++ = static_cast<char>('0' + frac / 10 % 10);
      if (frac % 10 != 0) *p++ = static_cast<char>('0' + frac % 10);
    }
  }
  return p;
}

// Go's strconv.FormatFloat(v, 'f', -1, 64), quoted, as Prometheus renders sample values.
char* write_value(char* p, double v) {
  *p++ = '"';
  if (std::isnan(v)) {
    std::memcpy(p, "NaN", 3);
    p += 3;
  } else if (std::isinf(v)) {
    std::memcpy(p, v > 0 ? "+Inf" : "-Inf", 4);
    p += 4;
  } else {
    p = std::to_chars(p, p + 340, v, std::chars_format::fixed).ptr;
  }
  *p++ = '"';
  return p;
}

constexpr std::size_t kMaxPoint = 400;  // "[" time "," value "]": a fixed double is <= 330 chars

void append_point(std::string& out, const Sample& s) {
  const std::size_t at = out.size();
  out.resize(at + kMaxPoint);
  char* p = out.data() + at;
  *p++ = '[';
  p = write_time(p, s.t);
  *p++ = ',';
  p = write_value(p, s.v);
  *p++ = ']';
  out.resize(static_cast<std::size_t>(p - out.data()));
}

void append_time(std::string& out, std::int64_t ms) {
  char buf[32];
  out.append(buf, write_time(buf, ms));
}

// Many points at once: one resize for the run instead of one per point.
void append_points(std::string& out, const std::vector<Sample>& points) {
  const std::size_t at = out.size();
  // A typical point is ~20 chars; make room for the worst case of a few and grow when short.
  std::size_t room = points.size() * 48 + kMaxPoint;
  out.resize(at + room);
  char* p = out.data() + at;
  for (std::size_t j = 0; j < points.size(); ++j) {
    if (static_cast<std::size_t>(out.data() + out.size() - p) < kMaxPoint + 1) {
      const std::size_t used = static_cast<std::size_t>(p - out.data());
      out.resize(out.size() * 2);
      p = out.data() + used;
    }
    if (j) *p++ = ',';
    *p++ = '[';
    p = write_time(p, points[j].t);
    *p++ = ',';
    p = write_value(p, points[j].v);
    *p++ = ']';
  }
  out.resize(static_cast<std::size_t>(p - out.data()));
}

void append_labels(std::string& out, const Labels& labels) {
  out += '{';
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (i) out += ',';
    core::append_json_string(out, labels[i].first);
    out += ':';
    core::append_json_string(out, labels[i].second);
  }
  out += '}';
}

std::string result_json(const QueryResult& r) {
  std::string out;
  std::size_t points = 0;
  for (const auto& s : r.series) points += s.points.size();
  out.reserve(64 + r.series.size() * 300 + points * 24);
  out += "{\"resultType\":";
  switch (r.type) {
    case ValueType::scalar:
      out += "\"scalar\",\"result\":";
      append_point(out, r.scalar);
      break;
    case ValueType::string:
      out += "\"string\",\"result\":[";
      append_time(out, r.string_t);
      out += ',';
      core::append_json_string(out, r.string_value);
      out += ']';
      break;
    case ValueType::vector:
    case ValueType::matrix: {
      const bool vec = r.type == ValueType::vector;
      out += vec ? "\"vector\",\"result\":[" : "\"matrix\",\"result\":[";
      for (std::size_t i = 0; i < r.series.size(); ++i) {
        if (i) out += ',';
        out += "{\"metric\":";
        append_labels(out, r.series[i].labels);
        if (vec) {
          out += ",\"value\":";
          append_point(out, r.series[i].points.at(0));
        } else {
          out += ",\"values\":[";
          append_points(out, r.series[i].points);
          out += ']';
        }
        out += '}';
      }
      out += ']';
      break;
    }
  }
  out += '}';
  return out;
}

Response query_error(const Error& e) {
  return e.code == ErrorCode::execution ? api_error(422, "execution", e.message) : bad_data(e.message);
}

[[nodiscard]] tl::expected<ExprPtr, Response> parse_query(const Form& f) {
  auto q = f.get("query");
  if (!q || q->empty()) {
    return tl::unexpected(bad_data("invalid parameter \"query\": missing the PromQL expression"));
  }
  auto e = parse(*q);
  if (!e) {
    return tl::unexpected(bad_data(fmt::format("invalid parameter \"query\": {}", e.error().message)));
  }
  return std::move(*e);
}

// match[] selectors of series/labels/label values (each must be a plain vector selector).
[[nodiscard]] tl::expected<std::vector<std::vector<Matcher>>, std::string> match_params(const Form& f) {
  std::vector<std::vector<Matcher>> out;
  for (const auto& m : f.all("match[]")) {
    auto e = parse(m);
    if (!e) return tl::unexpected(fmt::format("invalid parameter \"match[]\": {}", e.error().message));
    auto* vs = std::get_if<VectorSelector>(&(*e)->node);
    if (!vs) {
      return tl::unexpected(
          fmt::format("invalid parameter \"match[]\": \"{}\" is not a series selector (e.g. "
                      "DCGM_FI_DEV_GPU_UTIL{{Hostname=\"...\"}})",
                      m));
    }
    out.push_back(vs->matchers);
  }
  return out;
}

// Series label sets of the match[] selectors (every series when none), deduplicated.
[[nodiscard]] tl::expected<std::vector<Labels>, std::string> matched_series(const Storage& storage,
                                                                            const Form& f) {
  auto matches = match_params(f);
  if (!matches) return tl::unexpected(matches.error());
  auto start = time_param(f, "start", kMinTime);
  if (!start) return tl::unexpected(start.error());
  auto end = time_param(f, "end", kMaxTime);
  if (!end) return tl::unexpected(end.error());
  if (matches->empty()) {
    matches->push_back(
        {Matcher{"__name__", MatchOp::regex, ".+", std::make_shared<const std::regex>("^(?:.+)$")}});
  }
  std::vector<Labels> out;
  for (const auto& m : *matches) {
    auto s = storage.series(m, *start, *end);
    out.insert(out.end(), std::make_move_iterator(s.begin()), std::make_move_iterator(s.end()));
  }
  std::sort(out.begin(), out.end(), labels_less);
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::string string_array(const std::set<std::string>& values) {
  std::string out = "[";
  bool first = true;
  for (const auto& v : values) {
    if (!first) out += ',';
    first = false;
    core::append_json_string(out, v);
  }
  out += ']';
  return out;
}

// The same documentation for GET (query parameters) and POST (form body).
void add_both(std::vector<GatewayRoute>& routes, const std::string& path, const std::string& op,
              const std::string& summary, const std::vector<ParamDoc>& params,
              const std::function<Response(const Request&)>& handler) {
  const std::vector<ResponseDoc> responses = {
      {200, "Prometheus API envelope {status: success, data}", "application/json", ""},
      {400, "bad_data: malformed parameter, PromQL parse error or unsupported construct", "application/json",
       ""},
      {422, "execution: the query failed while evaluating", "application/json", ""}};
  // Unknown parameters are ignored, as Prometheus' own API does (clients such as Grafana send
  // extra ones); the rest of the gateway answers them with 400.
  routes.push_back(GatewayRoute{"GET", path, op, summary, params, responses, handler, true});
  std::vector<ParamDoc> form = params;
  for (auto& p : form) {
    if (p.in == "query") p.in = "form";
  }
  routes.push_back(GatewayRoute{"POST", path, op + "Post", summary + " (form-encoded body)", form, responses,
                                handler, true});
}

ParamDoc qparam(const char* name, bool required, const char* description, bool repeatable = false) {
  return ParamDoc{name, "query", "string", "", required, repeatable, description, {}, {}, {}};
}

}  // namespace

void add_routes(std::vector<GatewayRoute>& routes, std::shared_ptr<const telemetry::TelemetryView> view) {
  auto storage = std::make_shared<ViewStorage>(std::move(view));
  const auto time_doc = "RFC 3339 or Unix seconds (fractions allowed)";

  add_both(routes, "/api/v1/query", "promqlQuery",
           "PromQL instant query (Prometheus HTTP API); see docs/promql.md for the subset",
           {qparam("query", true, "PromQL expression"),
            qparam("time", false, "Evaluation time, RFC 3339 or Unix seconds; default now"),
            qparam("timeout", false, "Accepted and ignored (queries run to completion)")},
           [storage](const Request& req) {
             auto f = Form::of(req);
             if (!f) return bad_data(f.error());
             auto t = time_param(*f, "time", now_ms());
             if (!t) return bad_data(t.error());
             auto e = parse_query(*f);
             if (!e) return e.error();
             auto r = instant_query(*storage, **e, *t);
             if (!r) return query_error(r.error());
             return success(result_json(*r));
           });

  add_both(
      routes, "/api/v1/query_range", "promqlQueryRange",
      "PromQL range query: evaluated at start, start+step, ... <= end",
      {qparam("query", true, "PromQL expression"), qparam("start", true, time_doc),
       qparam("end", true, time_doc), qparam("step", true, "Resolution: a duration (15s) or seconds (15)"),
       qparam("timeout", false, "Accepted and ignored")},
      [storage](const Request& req) {
        auto f = Form::of(req);
        if (!f) return bad_data(f.error());
        for (const char* p : {"start", "end", "step"}) {
          if (!f->get(p) || f->get(p)->empty()) {
            return bad_data(fmt::format("invalid parameter \"{}\": missing", p));
          }
        }
        auto start = parse_time("start", *f->get("start"));
        if (!start) return bad_data(start.error());
        auto end = parse_time("end", *f->get("end"));
        if (!end) return bad_data(end.error());
        if (*end < *start) {
          return bad_data("invalid parameter \"end\": end timestamp must not be before start time");
        }
        auto step = parse_step(*f->get("step"));
        if (!step) return bad_data(step.error());
        if (*step <= 0) {
          return bad_data(
              "invalid parameter \"step\": zero or negative query resolution step "
              "widths are not accepted. Try a positive integer");
        }
        if ((*end - *start) / *step >= kMaxPoints) {
          return bad_data(
              "exceeded maximum resolution of 11,000 points per timeseries. Try "
              "decreasing the query resolution (?step=XX)");
        }
        auto e = parse_query(*f);
        if (!e) return e.error();
        auto r = range_query(*storage, **e, *start, *end, *step);
        if (!r) return query_error(r.error());
        return success(result_json(*r));
      });

  add_both(routes, "/api/v1/series", "promqlSeries",
           "Label sets of the series matching the match[] selectors",
           {qparam("match[]", true, "Series selector; repeat for several", true),
            qparam("start", false, time_doc), qparam("end", false, time_doc)},
           [storage](const Request& req) {
             auto f = Form::of(req);
             if (!f) return bad_data(f.error());
             if (f->all("match[]").empty()) return bad_data("no match[] parameter provided");
             auto series = matched_series(*storage, *f);
             if (!series) return bad_data(series.error());
             std::string out = "[";
             for (std::size_t i = 0; i < series->size(); ++i) {
               if (i) out += ',';
               append_labels(out, (*series)[i]);
             }
             out += ']';
             return success(out);
           });

  add_both(routes, "/api/v1/labels", "promqlLabels",
           "Label names of the series (of those matching match[] when given), sorted",
           {qparam("match[]", false, "Series selector; repeat for several", true),
            qparam("start", false, time_doc), qparam("end", false, time_doc)},
           [storage](const Request& req) {
             auto f = Form::of(req);
             if (!f) return bad_data(f.error());
             auto series = matched_series(*storage, *f);
             if (!series) return bad_data(series.error());
             std::set<std::string> names;
             for (const auto& l : *series) {
               for (const auto& p : l) names.insert(p.first);
             }
             return success(string_array(names));
           });

  add_both(
      routes, "/api/v1/label/{name}/values", "promqlLabelValues",
      "Values of one label over the series (of those matching match[] when given), sorted",
      {ParamDoc{
           "name", "path", "string", "", true, false, "Label name, e.g. Hostname or __name__", {}, {}, {}},
       qparam("match[]", false, "Series selector; repeat for several", true),
       qparam("start", false, time_doc), qparam("end", false, time_doc)},
      [storage](const Request& req) {
        auto f = Form::of(req);
        if (!f) return bad_data(f.error());
        const std::string name(req.param("name"));
        auto series = matched_series(*storage, *f);
        if (!series) return bad_data(series.error());
        std::set<std::string> values;
        for (const auto& l : *series) {
          for (const auto& p : l) {
            if (p.first == name) values.insert(p.second);
          }
        }
        return success(string_array(values));
      });
}

}  // namespace rm::promql
