// api-gateway's configuration (parse_gateway_config) and timestamps at the edge of int64.
#include <cstdlib>
#include <limits>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "gateway_fixture.hpp"
#include "telemetry/gateway/gateway_app.hpp"
#include "telemetry/gateway/gateway_time.hpp"

namespace {

using namespace rm::telemetry;

class Env {
 public:
  Env(const char* k, const char* v) : k_(k) { ::setenv(k, v, 1); }
  ~Env() { ::unsetenv(k_); }

 private:
  const char* k_;
};

tl::expected<GatewayConfig, CliResult> parse(std::vector<std::string> args) {
  args.insert(args.begin(), "api-gateway");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return parse_gateway_config(static_cast<int>(argv.size()), argv.data());
}

TEST(GatewayConfig, defaults_match_the_seed) {
  auto c = parse({});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->port, 8081);
  EXPECT_EQ(c->metrics_port, 9092);
  EXPECT_EQ(c->collector_port, 8080);
  EXPECT_EQ(c->data_dir, "/data");
  EXPECT_EQ(c->max_entries, 10000u);
  EXPECT_EQ(c->stale_after_seconds, 300);
}

TEST(GatewayConfig, flags_override_the_environment) {
  Env port("PORT", "9999");
  Env dir("DATA_DIR", "/srv/telemetry");
  auto c = parse({"--port", "7000"});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->port, 7000);
  EXPECT_EQ(c->data_dir, "/srv/telemetry");
}

TEST(GatewayConfig, a_bad_value_is_refused_naming_the_variable) {
  Env port("COLLECTOR_PORT", "http");
  auto c = parse({});
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("COLLECTOR_PORT"), std::string::npos) << c.error().message;
  EXPECT_FALSE(c.error().help);
}

TEST(GatewayConfig, help_is_reported_as_help) {
  auto c = parse({"--help"});
  ASSERT_FALSE(c);
  EXPECT_TRUE(c.error().help);
  EXPECT_NE(c.error().message.find("--stale-after-seconds"), std::string::npos);
}

TEST(GatewayTimestamps, a_sample_at_int64_min_is_rendered_as_one_valid_timestamp) {
  auto index = std::make_shared<Index>(100);
  auto* g = index->upsert_gpu(gateway_test::dcgm_gpu("GPU-old", "0", "host-1"));
  index->append(g, index->metric_id("DCGM_FI_DEV_GPU_UTIL"), std::numeric_limits<std::int64_t>::min(), 1);
  GatewayOptions o;
  o.probe_collector = false;
  Gateway gw(index, o);
  auto r = gw.router().handle(rm::core::http::make_request("GET", "/api/v1/gpus/GPU-old/telemetry"));
  ASSERT_EQ(r.status, 200) << r.body;
  auto points = boost::json::parse(r.body).at("points").as_array();
  ASSERT_EQ(points.size(), 1u);
  const std::string ts(points[0].at("timestamp").as_string());
  EXPECT_EQ(ts, format_rfc3339(std::numeric_limits<std::int64_t>::min()));
  EXPECT_EQ(std::count(ts.begin(), ts.end(), '.'), 1) << ts;
  EXPECT_EQ(ts.rfind("1677-09-21T00:12:43.145224192Z", 0), 0u) << ts;
}

}  // namespace
