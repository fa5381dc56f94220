// Metrics: exposition format checked by value and by `promtool check metrics` (Debian's
// prometheus package, installed by scripts/setup.sh; the test fails if it is missing).
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "core/http.hpp"
#include "core/http_client.hpp"
#include "core/metrics.hpp"

using namespace rm::core::metrics;

namespace {

// Runs promtool on the text; returns its exit status and output.
std::pair<int, std::string> promtool_check(const std::string& text) {
  auto dir = std::filesystem::temp_directory_path() / ("rm-metrics-" + std::to_string(::getpid()) + "-" +
                                                       std::to_string(std::hash<std::string>{}(text)));
  std::filesystem::create_directories(dir);
  auto in = dir / "metrics.txt";
  std::ofstream(in) << text;
  std::string cmd = "promtool check metrics < " + in.string() + " 2>&1";
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return {-1, "popen failed"};
  char buf[512];
  while (auto n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  int status = ::pclose(p);
  std::filesystem::remove_all(dir);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

bool contains(const std::string& hay, const std::string& needle) {
  return hay.find(needle) != std::string::npos;
}

}  // namespace

TEST(Metrics, promtool_is_installed) {
  auto [status, out] = promtool_check("# HELP x_total X.\n# TYPE x_total counter\nx_total 1\n");
  ASSERT_EQ(status, 0) << "promtool check metrics failed or is missing (run scripts/setup.sh): " << out;
}

TEST(Metrics, counter_with_labels_is_exposed_with_help_and_type) {
  Registry r;
  auto& fam = r.counter("app_requests_total", "Requests served.", {"route", "code"});
  fam.labels({"/health", "200"}).inc();
  fam.labels({"/health", "200"}).inc(2);
  fam.labels({"/api", "404"}).inc();
  auto text = r.expose();
  EXPECT_TRUE(contains(text, "# HELP app_requests_total Requests served.\n"));
  EXPECT_TRUE(contains(text, "# TYPE app_requests_total counter\n"));
  EXPECT_TRUE(contains(text, "app_requests_total{route=\"/health\",code=\"200\"} 3\n")) << text;
  EXPECT_TRUE(contains(text, "app_requests_total{route=\"/api\",code=\"404\"} 1\n")) << text;
  auto [status, out] = promtool_check(text);
  EXPECT_EQ(status, 0) << out << "\n" << text;
}

TEST(Metrics, gauge_sets_increments_and_decrements) {
  Registry r;
  auto& g = r.gauge("app_queue_depth", "Items queued.").labels({});
  g.set(10);
  g.inc(5);
  g.dec(2.5);
  EXPECT_DOUBLE_EQ(g.value(), 12.5);
  EXPECT_TRUE(contains(r.expose(), "app_queue_depth 12.5\n"));
  r.gauge_callback("app_uptime_seconds", "Seconds since start.", [] { return 42.0; });
  EXPECT_TRUE(contains(r.expose(), "app_uptime_seconds 42\n"));
  auto [status, out] = promtool_check(r.expose());
  EXPECT_EQ(status, 0) << out;
}

TEST(Metrics, histogram_has_cumulative_buckets_inf_sum_and_count) {
  Registry r;
  auto& h = r.histogram("app_latency_seconds", "Latency.", {"route"}, {0.1, 0.5, 1}).labels({"/x"});
  for (double v : {0.05, 0.1, 0.3, 0.7, 2.0}) h.observe(v);
  auto text = r.expose();
  EXPECT_TRUE(contains(text, "# TYPE app_latency_seconds histogram\n"));
  EXPECT_TRUE(contains(text, "app_latency_seconds_bucket{route=\"/x\",le=\"0.1\"} 2\n")) << text;
  EXPECT_TRUE(contains(text, "app_latency_seconds_bucket{route=\"/x\",le=\"0.5\"} 3\n"));
  EXPECT_TRUE(contains(text, "app_latency_seconds_bucket{route=\"/x\",le=\"1\"} 4\n"));
  EXPECT_TRUE(contains(text, "app_latency_seconds_bucket{route=\"/x\",le=\"+Inf\"} 5\n"));
  EXPECT_TRUE(contains(text, "app_latency_seconds_sum{route=\"/x\"} 3.15\n")) << text;
  EXPECT_TRUE(contains(text, "app_latency_seconds_count{route=\"/x\"} 5\n"));
  auto [status, out] = promtool_check(text);
  EXPECT_EQ(status, 0) << out << "\n" << text;
}

TEST(Metrics, label_values_and_help_are_escaped) {
  Registry r;
  r.counter("app_odd_total", "Help with \\ backslash\nand newline.", {"v"})
      .labels({"quote\" back\\slash new\nline"})
      .inc();
  auto text = r.expose();
  EXPECT_TRUE(contains(text, "# HELP app_odd_total Help with \\\\ backslash\\nand newline.\n")) << text;
  EXPECT_TRUE(contains(text, "app_odd_total{v=\"quote\\\" back\\\\slash new\\nline\"} 1\n")) << text;
  auto [status, out] = promtool_check(text);
  EXPECT_EQ(status, 0) << out << "\n" << text;
}

TEST(Metrics, special_values_are_written_as_prometheus_spells_them) {
  EXPECT_EQ(format_value(INFINITY), "+Inf");
  EXPECT_EQ(format_value(-INFINITY), "-Inf");
  EXPECT_EQ(format_value(NAN), "NaN");
  EXPECT_EQ(format_value(0.1), "0.1");
  EXPECT_EQ(format_value(1e21), "1e+21");
}

TEST(Metrics, invalid_names_and_conflicts_are_rejected) {
  Registry r;
  EXPECT_THROW(r.counter("1bad", "x"), std::invalid_argument);
  EXPECT_THROW(r.counter("bad-name", "x"), std::invalid_argument);
  EXPECT_THROW(r.counter("ok_total", "x", {"__reserved"}), std::invalid_argument);
  EXPECT_THROW(r.histogram("h_seconds", "x", {"le"}), std::invalid_argument);
  auto& a = r.counter("same_total", "x", {"a"});
  EXPECT_EQ(&a, &r.counter("same_total", "x", {"a"}));
  EXPECT_THROW(r.gauge("same_total", "x", {"a"}), std::invalid_argument);
  EXPECT_THROW(r.counter("same_total", "x", {"b"}), std::invalid_argument);
  EXPECT_THROW(a.labels({"1", "2"}), std::invalid_argument);
}

TEST(Metrics, concurrent_increments_are_all_counted) {
  Registry r;
  auto& c = r.counter("app_hits_total", "Hits.").labels({});
  auto& h = r.histogram("app_h_seconds", "H.").labels({});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c.inc();
        h.observe(0.001);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_DOUBLE_EQ(c.value(), 40000);
  EXPECT_EQ(h.count(), 40000u);
  EXPECT_EQ(h.cumulative_counts().back(), 40000u);
}

TEST(Metrics, serve_exposes_the_registry_over_http_and_promtool_accepts_it) {
  Registry r;
  r.counter("app_served_total", "Served.", {"kind"}).labels({"a"}).inc(7);
  r.histogram("app_served_seconds", "Latency.").labels({}).observe(0.002);
  auto server = serve(r, "127.0.0.1", 0);
  ASSERT_TRUE(server) << server.error();
  auto res = rm::core::http::get("127.0.0.1", (*server)->port(), "/metrics");
  ASSERT_TRUE(res) << res.error();
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->header("content-type"), std::string(kContentType));
  EXPECT_TRUE(contains(res->body, "app_served_total{kind=\"a\"} 7\n"));
  auto [status, out] = promtool_check(res->body);
  EXPECT_EQ(status, 0) << out << "\n" << res->body;
}
