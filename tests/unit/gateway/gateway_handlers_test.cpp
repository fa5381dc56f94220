// Gateway handlers over a real index, through Router::handle (no socket needed).
#include <cmath>
#include <set>
#include <string>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "core/http.hpp"
#include "gateway_fixture.hpp"
#include "telemetry/gateway/gateway_time.hpp"

using namespace gateway_test;
using rm::core::http::make_request;
using rm::core::http::Response;
using rm::telemetry::Gateway;
using rm::telemetry::GatewayOptions;
namespace json = boost::json;

namespace {

struct Fixture : ::testing::Test {
  std::shared_ptr<rm::telemetry::Index> index = sample_index();
  Gateway gateway{index, no_collector()};
  rm::core::http::Router router = gateway.router();

  Response get(const std::string& target) { return router.handle(make_request("GET", target)); }
  json::object get_json(const std::string& target, int expected_status = 200) {
    auto r = get(target);
    EXPECT_EQ(r.status, expected_status) << target << ": " << r.body;
    return json::parse(r.body).as_object();
  }
  std::string error_of(const std::string& target, int status) {
    auto o = get_json(target, status);
    EXPECT_EQ(o.at("code").as_int64(), status);
    EXPECT_TRUE(o.contains("message"));
    return std::string(o.at("error").as_string());
  }
};

std::string t(std::int64_t ns) {
  return rm::telemetry::format_rfc3339(ns);
}

}  // namespace

TEST_F(Fixture, gpus_lists_every_gpu_with_metadata_and_last_seen) {
  auto o = get_json("/api/v1/gpus");
  EXPECT_EQ(o.at("count").as_int64(), 3);
  auto& gpus = o.at("gpus").as_array();
  ASSERT_EQ(gpus.size(), 3u);
  auto& a = gpus[0].as_object();
  EXPECT_EQ(a.at("id").as_string(), "GPU-a");
  EXPECT_EQ(a.at("hostname").as_string(), "host-1");
  EXPECT_EQ(a.at("device").as_string(), "nvidia0");
  EXPECT_EQ(a.at("model").as_string(), "NVIDIA H100 80GB HBM3");
  EXPECT_EQ(a.at("first_seen").as_string(), t(kBase));
  EXPECT_EQ(a.at("last_seen").as_string(), t(kBase + 99 * kSec));
  EXPECT_EQ(a.at("samples").as_int64(), 100);
}

TEST_F(Fixture, one_gpu_has_its_labels_and_unknown_gpu_is_404) {
  auto o = get_json("/api/v1/gpus/GPU-b");
  EXPECT_EQ(o.at("id").as_string(), "GPU-b");
  EXPECT_EQ(o.at("labels").at("job").as_string(), "dgx_dcgm_exporter");
  EXPECT_EQ(error_of("/api/v1/gpus/GPU-zzz", 404), "gpu_not_found");
  EXPECT_EQ(error_of("/api/v1/gpus/GPU-zzz/telemetry", 404), "gpu_not_found");
  EXPECT_EQ(error_of("/api/v1/gpus/GPU-zzz/latest", 404), "gpu_not_found");
}

TEST_F(Fixture, telemetry_is_ascending_and_the_window_is_inclusive) {
  auto o = get_json("/api/v1/gpus/GPU-a/telemetry?start_time=" + t(kBase + 10 * kSec) +
                    "&end_time=" + t(kBase + 20 * kSec));
  auto& pts = o.at("points").as_array();
  ASSERT_EQ(pts.size(), 11u);
  EXPECT_EQ(pts.front().at("timestamp").as_string(), t(kBase + 10 * kSec));
  EXPECT_EQ(pts.back().at("timestamp").as_string(), t(kBase + 20 * kSec));
  for (std::size_t i = 1; i < pts.size(); ++i) {
    EXPECT_LT(pts[i - 1].at("timestamp_ns").as_int64(), pts[i].at("timestamp_ns").as_int64());
  }
  EXPECT_TRUE(o.at("next_cursor").is_null());
  EXPECT_EQ(o.at("count").as_int64(), 11);
}

TEST_F(Fixture, time_window_accepts_offsets_and_fractions) {
  // 22:42:44+02:00 == 20:42:44Z == kBase + 10 s; .5 s later excludes that sample.
  auto o = get_json(
      "/api/v1/gpus/GPU-a/telemetry?start_time=2025-07-18T22:42:44%2B02:00&end_time="
      "2025-07-18T20:42:45.5Z");
  EXPECT_EQ(o.at("points").as_array().size(), 2u);
  auto p = get_json(
      "/api/v1/gpus/GPU-a/telemetry?start_time=2025-07-18T20:42:44.5Z&end_time="
      "2025-07-18T20:42:45.5Z");
  EXPECT_EQ(p.at("points").as_array().size(), 1u);
}

TEST_F(Fixture, metric_filter_takes_repeats_and_comma_lists) {
  auto util = get_json("/api/v1/gpus/GPU-a/telemetry?metric=DCGM_FI_DEV_GPU_UTIL");
  ASSERT_EQ(util.at("points").as_array().size(), 50u);
  for (auto& p : util.at("points").as_array()) {
    EXPECT_EQ(p.at("metric").as_string(), "DCGM_FI_DEV_GPU_UTIL");
  }
  EXPECT_EQ(get_json("/api/v1/gpus/GPU-a/telemetry?metric=DCGM_FI_DEV_GPU_UTIL,"
                     "DCGM_FI_DEV_GPU_TEMP")
                .at("points")
                .as_array()
                .size(),
            100u);
  EXPECT_EQ(get_json("/api/v1/gpus/GPU-a/telemetry?metric=DCGM_FI_DEV_GPU_UTIL&metric="
                     "DCGM_FI_DEV_GPU_TEMP")
                .at("points")
                .as_array()
                .size(),
            100u);
  EXPECT_EQ(get_json("/api/v1/gpus/GPU-a/telemetry?metric=NOPE").at("points").as_array().size(), 0u);
}

TEST_F(Fixture, cursor_pagination_visits_every_point_once_in_order) {
  std::vector<std::int64_t> seen;
  std::string cursor;
  int pages = 0;
  for (;;) {
    std::string target = "/api/v1/gpus/GPU-a/telemetry?limit=7";
    if (!cursor.empty()) target += "&cursor=" + rm::core::http::percent_encode(cursor);
    auto o = get_json(target);
    for (auto& p : o.at("points").as_array()) seen.push_back(p.at("timestamp_ns").as_int64());
    ++pages;
    ASSERT_LT(pages, 100);
    if (o.at("next_cursor").is_null()) break;
    cursor = std::string(o.at("next_cursor").as_string());
  }
  EXPECT_EQ(pages, 15);  // 14 full pages of 7 and one of 2
  ASSERT_EQ(seen.size(), 100u);
  for (std::size_t i = 0; i < seen.size(); ++i) {
    EXPECT_EQ(seen[i], kBase + static_cast<std::int64_t>(i) * kSec);
  }
}

TEST_F(Fixture, bad_parameters_are_400_with_a_named_reason) {
  const std::string base = "/api/v1/gpus/GPU-a/telemetry?";
  EXPECT_EQ(error_of(base + "start_time=yesterday", 400), "bad_time");
  EXPECT_EQ(error_of(base + "end_time=2025-07-18T20:42:34", 400), "bad_time");
  EXPECT_EQ(error_of(base + "start_time=" + t(kBase + kSec) + "&end_time=" + t(kBase), 400),
            "bad_time_range");
  EXPECT_EQ(error_of(base + "limit=0", 400), "bad_limit");
  EXPECT_EQ(error_of(base + "limit=10001", 400), "bad_limit");
  EXPECT_EQ(error_of(base + "limit=-5", 400), "bad_limit");
  EXPECT_EQ(error_of(base + "limit=ten", 400), "bad_limit");
  EXPECT_EQ(error_of(base + "limit=5x", 400), "bad_limit");
  EXPECT_EQ(error_of(base + "cursor=garbage", 400), "bad_cursor");
  // Equal bounds are a valid (one-instant) window; the maximum limit is allowed.
  EXPECT_EQ(
      get_json(base + "start_time=" + t(kBase) + "&end_time=" + t(kBase)).at("points").as_array().size(), 1u);
  EXPECT_EQ(get_json(base + "limit=10000").at("points").as_array().size(), 100u);
}

TEST_F(Fixture, default_limit_applies_when_none_is_given) {
  GatewayOptions opts = no_collector();
  opts.default_limit = 30;
  Gateway small(index, opts);
  auto r = small.router().handle(make_request("GET", "/api/v1/gpus/GPU-a/telemetry"));
  auto o = json::parse(r.body).as_object();
  EXPECT_EQ(o.at("points").as_array().size(), 30u);
  EXPECT_FALSE(o.at("next_cursor").is_null());
}

TEST_F(Fixture, latest_has_the_newest_value_per_metric) {
  auto o = get_json("/api/v1/gpus/GPU-a/latest");
  auto& m = o.at("metrics").as_array();
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].at("metric").as_string(), "DCGM_FI_DEV_GPU_TEMP");
  EXPECT_EQ(m[0].at("value").as_double(), 40.0 + 99);
  EXPECT_EQ(m[1].at("metric").as_string(), "DCGM_FI_DEV_GPU_UTIL");
  EXPECT_EQ(m[1].at("value").as_double(), 98.0);
  EXPECT_EQ(m[1].at("timestamp").as_string(), t(kBase + 98 * kSec));
}

TEST_F(Fixture, hosts_and_a_hosts_gpus) {
  auto o = get_json("/api/v1/hosts");
  auto& hosts = o.at("hosts").as_array();
  ASSERT_EQ(hosts.size(), 2u);
  EXPECT_EQ(hosts[0].at("hostname").as_string(), "host-1");
  EXPECT_EQ(hosts[0].at("gpu_count").as_int64(), 2);
  EXPECT_EQ(hosts[1].at("hostname").as_string(), "host-2");
  auto h = get_json("/api/v1/hosts/host-1/gpus");
  ASSERT_EQ(h.at("gpus").as_array().size(), 2u);
  EXPECT_EQ(h.at("gpus").as_array()[1].at("id").as_string(), "GPU-b");
  EXPECT_EQ(error_of("/api/v1/hosts/nohost/gpus", 404), "host_not_found");
}

TEST_F(Fixture, health_is_200_and_says_the_collector_is_unreachable) {
  auto o = get_json("/health");
  EXPECT_EQ(o.at("status").as_string(), "ok");
  EXPECT_EQ(o.at("collector").as_string(), "unreachable");
  EXPECT_FALSE(o.at("collector_error").as_string().empty());
}

TEST_F(Fixture, health_reports_a_live_collector_as_ok) {
  rm::core::http::Router collector;
  collector.get("/health", [](const rm::core::http::Request&) {
    return rm::core::http::json_response(200, json::object{{"status", "ok"}});
  });
  rm::core::http::ServerOptions so;
  so.host = "127.0.0.1";
  rm::core::http::Server server(std::move(collector), so);
  ASSERT_TRUE(server.start());
  GatewayOptions opts;
  opts.collector_host = "127.0.0.1";
  opts.collector_port = server.port();
  Gateway live(index, opts);
  auto r = live.router().handle(make_request("GET", "/health"));
  EXPECT_EQ(json::parse(r.body).at("collector").as_string(), "ok");
}

TEST_F(Fixture, prometheus_exposition_has_dcgm_names_and_labels) {
  auto r = get("/metrics/gpus");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, std::string(rm::core::metrics::kContentType));
  EXPECT_NE(r.body.find("# TYPE DCGM_FI_DEV_GPU_UTIL gauge\n"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("DCGM_FI_DEV_GPU_UTIL{gpu=\"0\",UUID=\"GPU-a\",device=\"nvidia0\","
                        "modelName=\"NVIDIA H100 80GB HBM3\",Hostname=\"host-1\"} 98\n"),
            std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find("DCGM_FI_DEV_GPU_TEMP{gpu=\"0\",UUID=\"GPU-a\""), std::string::npos);
}

TEST(GatewayJson, odd_metric_names_and_non_finite_values_still_give_valid_json) {
  auto index = std::make_shared<rm::telemetry::Index>(100);
  auto* g = index->upsert_gpu(dcgm_gpu("GPU-\"odd\"", "0", "h"));
  index->append(g, index->metric_id("quote\"back\\slash\ttab\x01"), kBase + 123, 1.5);
  index->append(g, index->metric_id("nan"), kBase + 1'000'000'000, std::nan(""));
  index->append(g, index->metric_id("big"), kBase - 1, 1e300);
  Gateway gw(index, no_collector());
  auto r = gw.router().handle(make_request("GET", "/api/v1/gpus/GPU-%22odd%22/telemetry"));
  ASSERT_EQ(r.status, 200) << r.body;
  auto o = json::parse(r.body).as_object();  // throws on invalid JSON
  EXPECT_EQ(o.at("gpu_id").as_string(), "GPU-\"odd\"");
  auto& pts = o.at("points").as_array();
  ASSERT_EQ(pts.size(), 3u);
  EXPECT_EQ(pts[0].at("timestamp").as_string(), "2025-07-18T20:42:33.999999999Z");
  EXPECT_EQ(pts[0].at("value").as_double(), 1e300);
  EXPECT_EQ(pts[1].at("metric").as_string(), "quote\"back\\slash\ttab\x01");
  EXPECT_EQ(pts[1].at("timestamp").as_string(), "2025-07-18T20:42:34.000000123Z");
  EXPECT_EQ(pts[1].at("value").as_double(), 1.5);
  EXPECT_TRUE(pts[2].at("value").is_null());
}

// 2026-11-22T10:59:46.123456789Z: a double keeps 53 bits, so the last digits do not survive
// a JavaScript or jq reader; the string forms must carry them exactly.
TEST(GatewayJson, timestamps_above_2_to_the_53_round_trip_exactly_as_strings_on_points_and_latest) {
  constexpr std::int64_t ns = 1'795'345'186'123'456'789;
  static_assert(ns > (std::int64_t{1} << 53));
  ASSERT_NE(static_cast<std::int64_t>(static_cast<double>(ns)), ns);  // what JSON.parse would give
  auto index = std::make_shared<rm::telemetry::Index>(100);
  auto* g = index->upsert_gpu(dcgm_gpu("GPU-late", "0", "h"));
  index->append(g, index->metric_id("DCGM_FI_DEV_GPU_UTIL"), ns, 42);
  index->append(g, index->metric_id("DCGM_FI_DEV_GPU_TEMP"), ns + 1, 43);
  Gateway gw(index, no_collector());
  auto router = gw.router();
  for (const std::string target : {"/api/v1/gpus/GPU-late/telemetry", "/api/v1/gpus/GPU-late/latest"}) {
    auto r = router.handle(make_request("GET", target));
    ASSERT_EQ(r.status, 200) << target << ": " << r.body;
    auto o = json::parse(r.body).as_object();
    auto& pts = o.at(target.ends_with("latest") ? "metrics" : "points").as_array();
    ASSERT_EQ(pts.size(), 2u) << target;
    std::set<std::int64_t> seen;
    for (const auto& v : pts) {
      const auto& p = v.as_object();
      const std::string str(p.at("timestamp_ns_str").as_string());
      const std::int64_t want = p.at("metric").as_string() == "DCGM_FI_DEV_GPU_UTIL" ? ns : ns + 1;
      EXPECT_EQ(str, std::to_string(want)) << target;
      EXPECT_EQ(p.at("timestamp_ns").as_int64(), want) << target;
      EXPECT_EQ(std::stoll(str), want) << target;
      const std::string rfc(p.at("timestamp").as_string());
      EXPECT_EQ(rfc, want == ns ? "2026-11-22T10:59:46.123456789Z" : "2026-11-22T10:59:46.12345679Z")
          << target;
      auto back = rm::telemetry::parse_rfc3339(rfc);
      ASSERT_TRUE(back.has_value()) << rfc;
      EXPECT_EQ(*back, want) << target;
      seen.insert(want);
    }
    EXPECT_EQ(seen, (std::set<std::int64_t>{ns, ns + 1})) << target;
    // The raw body has the digits verbatim in both places (no reader in between).
    EXPECT_NE(
        r.body.find("\"timestamp_ns\":1795345186123456789,\"timestamp_ns_str\":\"1795345186123456789\""),
        std::string::npos)
        << r.body;
  }
}
