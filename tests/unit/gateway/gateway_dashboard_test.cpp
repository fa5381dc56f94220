// The dashboard's one-request routes (/api/v1/fleet, /series, /pipeline) over a real index,
// checked against the paginated REST API they shortcut.
#include <cmath>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "core/http.hpp"
#include "core/metrics.hpp"
#include "gateway_fixture.hpp"
#include "telemetry/gateway/gateway_dashboard.hpp"
#include "telemetry/gateway/gateway_time.hpp"

using namespace gateway_test;
using rm::core::http::make_request;
using rm::core::http::Response;
using rm::telemetry::Gateway;
namespace json = boost::json;

namespace {

struct Dashboard : ::testing::Test {
  std::shared_ptr<rm::telemetry::Index> index = sample_index();
  rm::core::metrics::Registry registry;
  Gateway gateway{index, no_collector(), &registry};
  rm::core::http::Router router = gateway.router();

  json::object get_json(const std::string& target, int expected_status = 200) {
    auto r = router.handle(make_request("GET", target));
    EXPECT_EQ(r.status, expected_status) << target << ": " << r.body;
    return json::parse(r.body).as_object();
  }
};

std::string t(std::int64_t ns) {
  return rm::telemetry::format_rfc3339(ns);
}

}  // namespace

TEST_F(Dashboard, fleet_lists_every_gpu_with_the_newest_value_of_each_metric) {
  auto o = get_json("/api/v1/fleet");
  EXPECT_EQ(o.at("count").to_number<std::uint64_t>(), 3u);
  EXPECT_EQ(o.at("metrics"), (json::array{"DCGM_FI_DEV_GPU_TEMP", "DCGM_FI_DEV_GPU_UTIL"}));
  auto& gpus = o.at("gpus").as_array();
  ASSERT_EQ(gpus.size(), 3u);
  auto& a = gpus[0].as_object();
  EXPECT_EQ(a.at("id").as_string(), "GPU-a");
  EXPECT_EQ(a.at("hostname").as_string(), "host-1");
  EXPECT_EQ(a.at("model").as_string(), "NVIDIA H100 80GB HBM3");
  EXPECT_EQ(a.at("samples").to_number<std::uint64_t>(), 100u);
  EXPECT_EQ(a.at("last_seen").as_string(), t(kBase + 99 * kSec));
  // GPU-a's last util sample is i = 98, its last temperature 40 + 99.
  EXPECT_EQ(a.at("latest").as_object().at("DCGM_FI_DEV_GPU_UTIL").as_double(), 98.0);
  EXPECT_EQ(a.at("latest").as_object().at("DCGM_FI_DEV_GPU_TEMP").as_double(), 139.0);
  auto& c = gpus[2].as_object();
  EXPECT_EQ(c.at("latest").as_object().size(), 1u);
  EXPECT_EQ(c.at("latest").as_object().at("DCGM_FI_DEV_GPU_UTIL").as_double(), 9.0);
}

TEST_F(Dashboard, series_holds_exactly_the_points_telemetry_pages_through) {
  const std::string window = "start_time=" + t(kBase + 10 * kSec) + "&end_time=" + t(kBase + 59 * kSec);
  // Every point of the window through /telemetry, 7 per page.
  std::map<std::string, std::vector<std::pair<double, double>>> paged;
  std::string cursor;
  int pages = 0;
  do {
    auto page = get_json("/api/v1/gpus/GPU-a/telemetry?limit=7&" + window +
                         (cursor.empty() ? "" : "&cursor=" + cursor));
    for (const auto& p : page.at("points").as_array()) {
      const auto& o = p.as_object();
      paged[std::string(o.at("metric").as_string())].emplace_back(
          static_cast<double>(o.at("timestamp_ns").as_int64()) / 1e9, o.at("value").as_double());
    }
    cursor = page.at("next_cursor").is_null() ? "" : std::string(page.at("next_cursor").as_string());
    ++pages;
  } while (!cursor.empty());
  EXPECT_EQ(pages, 8);  // 50 points

  auto s = get_json("/api/v1/gpus/GPU-a/series?" + window);
  EXPECT_EQ(s.at("count").to_number<std::uint64_t>(), 50u);
  EXPECT_EQ(s.at("start_time").as_string(), t(kBase + 10 * kSec));
  auto& series = s.at("series").as_object();
  ASSERT_EQ(series.size(), paged.size());
  for (const auto& [metric, points] : paged) {
    auto& col = series.at(metric).as_object();
    auto& ts = col.at("t").as_array();
    auto& vs = col.at("v").as_array();
    ASSERT_EQ(ts.size(), points.size()) << metric;
    ASSERT_EQ(vs.size(), points.size()) << metric;
    for (std::size_t i = 0; i < points.size(); ++i) {
      EXPECT_DOUBLE_EQ(ts[i].to_number<double>(), points[i].first) << metric << " " << i;
      EXPECT_EQ(vs[i].as_double(), points[i].second) << metric << " " << i;
    }
  }
  EXPECT_EQ(series.at("DCGM_FI_DEV_GPU_UTIL").at("v").as_array().front().as_double(), 10.0);
  EXPECT_EQ(series.at("DCGM_FI_DEV_GPU_TEMP").at("v").as_array().back().as_double(), 99.0);
}

TEST_F(Dashboard, series_keeps_subsecond_timestamps_and_filters_metrics) {
  auto* g = index->upsert_gpu(dcgm_gpu("GPU-f", "3", "host-3"));
  index->append(g, index->metric_id("DCGM_FI_DEV_POWER_USAGE"), kBase + 250'000'000, 71.5);
  index->append(g, index->metric_id("DCGM_FI_DEV_GPU_UTIL"), kBase + 500'000'001, 3);
  auto s = get_json("/api/v1/gpus/GPU-f/series?metric=DCGM_FI_DEV_POWER_USAGE,DCGM_FI_DEV_FB_USED");
  EXPECT_EQ(s.at("count").to_number<std::uint64_t>(), 1u);
  auto& series = s.at("series").as_object();
  // A requested metric without samples is present and empty.
  EXPECT_EQ(series.at("DCGM_FI_DEV_FB_USED").at("t").as_array().size(), 0u);
  EXPECT_FALSE(series.contains("DCGM_FI_DEV_GPU_UTIL"));
  EXPECT_DOUBLE_EQ(series.at("DCGM_FI_DEV_POWER_USAGE").at("t").as_array()[0].to_number<double>(),
                   1752871354.25);
  auto body = router.handle(make_request("GET", "/api/v1/gpus/GPU-f/series")).body;
  EXPECT_NE(body.find("1752871354.500000001"), std::string::npos) << body;
}

TEST_F(Dashboard, series_names_bad_input) {
  auto err = [&](const std::string& target, int status) {
    auto o = get_json(target, status);
    EXPECT_EQ(o.at("code").as_int64(), status);
    return std::string(o.at("error").as_string()) + ": " + std::string(o.at("message").as_string());
  };
  EXPECT_EQ(err("/api/v1/gpus/GPU-x/series", 404).rfind("gpu_not_found: no GPU with id 'GPU-x'", 0), 0u);
  EXPECT_EQ(err("/api/v1/gpus/GPU-a/series?start_time=yesterday", 400).rfind("bad_time: start_time:", 0), 0u);
  EXPECT_EQ(err("/api/v1/gpus/GPU-a/series?start_time=" + t(kBase + kSec) + "&end_time=" + t(kBase), 400)
                .rfind("bad_time_range: inverted time range", 0),
            0u);
  EXPECT_EQ(err("/api/v1/gpus/GPU-a/series?limit=10", 400)
                .rfind("unknown_parameter: unknown query parameter 'limit'; this route takes start_time, "
                       "end_time, metric",
                       0),
            0u);
}

TEST_F(Dashboard, fleet_and_pipeline_reject_a_query_parameter_they_do_not_take) {
  for (const std::string path : {"/api/v1/fleet", "/api/v1/pipeline"}) {
    auto o = get_json(path + "?limit=5", 400);
    EXPECT_EQ(o.at("error").as_string(), "unknown_parameter") << path;
    EXPECT_EQ(o.at("message").as_string(),
              "unknown query parameter 'limit'; this route takes no query parameters")
        << path;
  }
}

TEST(DashboardLimits, series_refuses_a_window_with_more_points_than_the_limit) {
  std::vector<rm::telemetry::GatewayRoute> routes;
  rm::telemetry::add_dashboard_routes(routes, sample_index(), no_collector(), nullptr, 40);
  rm::core::http::Router router;
  for (const auto& r : routes) router.add(r.method, r.path, r.handler);
  auto over = router.handle(make_request("GET", "/api/v1/gpus/GPU-a/series"));
  EXPECT_EQ(over.status, 400);
  auto o = json::parse(over.body).as_object();
  EXPECT_EQ(o.at("error").as_string(), "too_many_points");
  EXPECT_NE(std::string(o.at("message").as_string()).find("more than 40 points"), std::string::npos);
  // 40 points exactly is fine: i = 0..39.
  auto ok = router.handle(make_request("GET", "/api/v1/gpus/GPU-a/series?end_time=" + t(kBase + 39 * kSec)));
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(json::parse(ok.body).at("count").to_number<std::uint64_t>(), 40u);
}

TEST_F(Dashboard, pipeline_says_the_collector_is_unreachable_and_what_the_gateway_holds) {
  get_json("/api/v1/gpus");  // one request the gateway's own metrics count
  auto o = get_json("/api/v1/pipeline");
  auto& c = o.at("collector").as_object();
  EXPECT_EQ(c.at("state").as_string(), "unreachable");
  EXPECT_EQ(c.at("address").as_string(), "127.0.0.1:1");
  EXPECT_NE(std::string(c.at("error").as_string()).find("127.0.0.1:1"), std::string::npos);
  auto& g = o.at("gateway").as_object();
  EXPECT_EQ(g.at("gpus").to_number<std::uint64_t>(), 3u);
  EXPECT_EQ(g.at("hosts").to_number<std::uint64_t>(), 2u);
  EXPECT_EQ(g.at("samples_retained").to_number<std::uint64_t>(), 102u);
  EXPECT_EQ(g.at("metrics").at("api_gateway_http_requests_total").as_double(), 1.0);
  auto& s = o.at("streamers").as_object();
  EXPECT_EQ(s.at("state").as_string(), "unknown (collector unreachable)");
  EXPECT_EQ(s.at("newest_sample").as_string(), t(kBase + 99 * kSec));
}
