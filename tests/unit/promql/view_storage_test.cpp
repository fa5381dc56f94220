// The telemetry store seen as PromQL series: the real DCGM export in a real index, queried
// through the evaluator; expected numbers are computed from the CSV rows independently.
#include <cmath>
#include <map>
#include <set>

#include <gtest/gtest.h>

#include "promql/engine.hpp"
#include "promql/view_storage.hpp"
#include "support/dcgm_index.hpp"

using namespace rm::promql;
using namespace promql_test;

namespace {

QueryResult instant(const Storage& s, const std::string& q, std::int64_t t) {
  auto e = parse(q);
  EXPECT_TRUE(e) << q << ": " << (e ? "" : e.error().message);
  auto r = instant_query(s, **e, t);
  EXPECT_TRUE(r) << q << ": " << (r ? "" : r.error().message);
  return r ? *r : QueryResult{};
}

std::string label(const Labels& l, const std::string& name) {
  for (const auto& [k, v] : l) {
    if (k == name) return v;
  }
  return "";
}

}  // namespace

TEST(ViewStorage, every_gpu_of_the_dcgm_export_is_one_series_per_metric_with_dcgm_labels) {
  ViewStorage storage(dcgm_index(1));
  auto r = instant(storage, "DCGM_FI_DEV_GPU_UTIL", kBaseMs);
  ASSERT_EQ(r.series.size(), 247u);
  std::set<std::string> hosts, uuids;
  for (const auto& s : r.series) {
    hosts.insert(label(s.labels, "Hostname"));
    uuids.insert(label(s.labels, "UUID"));
    for (const char* l : {"gpu", "UUID", "device", "modelName", "Hostname", "instance", "job"}) {
      EXPECT_FALSE(label(s.labels, l).empty()) << l;
    }
    EXPECT_EQ(label(s.labels, "__name__"), "DCGM_FI_DEV_GPU_UTIL");
  }
  EXPECT_EQ(hosts.size(), 31u);
  EXPECT_EQ(uuids.size(), 247u);
  EXPECT_EQ(
      storage
          .series({Matcher{"__name__", MatchOp::regex, ".+", std::make_shared<const std::regex>("^(?:.+)$")}},
                  kBaseMs, kBaseMs)
          .size(),
      2470u);
}

TEST(ViewStorage, aggregations_over_the_dcgm_export_equal_sums_of_its_rows) {
  const auto rows = dcgm_rows();
  ASSERT_EQ(rows.size(), 2470u);
  std::map<std::string, double> power_by_host;
  double util_sum = 0;
  for (const auto& row : rows) {
    for (const auto& [m, v] : row.metrics) {
      if (m == "DCGM_FI_DEV_POWER_USAGE") power_by_host[row.gpu.hostname] += v;
      if (m == "DCGM_FI_DEV_GPU_UTIL") util_sum += v;
    }
  }
  ViewStorage storage(dcgm_index(1));
  auto sum = instant(storage, "sum(DCGM_FI_DEV_GPU_UTIL)", kBaseMs + 1000);
  ASSERT_EQ(sum.series.size(), 1u);
  EXPECT_DOUBLE_EQ(sum.series[0].points[0].v, util_sum);
  auto by_host = instant(storage, "sum by (Hostname) (DCGM_FI_DEV_POWER_USAGE)", kBaseMs);
  ASSERT_EQ(by_host.series.size(), power_by_host.size());
  for (const auto& s : by_host.series) {
    EXPECT_NEAR(s.points[0].v, power_by_host[label(s.labels, "Hostname")], 1e-9);
  }
  auto hosts = instant(storage, "count(count by (Hostname) (DCGM_FI_DEV_GPU_UTIL))", kBaseMs);
  EXPECT_EQ(hosts.series.at(0).points[0].v, 31);
  auto h100 = instant(storage, "count(DCGM_FI_DEV_GPU_TEMP{modelName=~\".*H100.*\"})", kBaseMs);
  auto not_h100 = instant(storage, "count(DCGM_FI_DEV_GPU_TEMP{modelName!~\".*H100.*\"})", kBaseMs);
  const double h = h100.series.empty() ? 0 : h100.series[0].points[0].v;
  const double n = not_h100.series.empty() ? 0 : not_h100.series[0].points[0].v;
  EXPECT_EQ(h + n, 247);
}

TEST(ViewStorage, a_gpu_that_stopped_reporting_disappears_after_the_lookback_delta) {
  ViewStorage storage(dcgm_index(4));  // rounds at +0, +15, +30, +45 s
  const std::int64_t last = kBaseMs + 3 * kRoundMs;
  EXPECT_EQ(instant(storage, "DCGM_FI_DEV_GPU_UTIL", last + 300'000).series.size(), 247u);
  EXPECT_EQ(instant(storage, "DCGM_FI_DEV_GPU_UTIL", last + 300'001).series.size(), 0u);
  EXPECT_EQ(instant(storage, "DCGM_FI_DEV_GPU_UTIL", kBaseMs - 1).series.size(), 0u);
  auto c = instant(storage, "count_over_time(DCGM_FI_DEV_GPU_UTIL[1m])", last);
  ASSERT_EQ(c.series.size(), 247u);
  for (const auto& s : c.series) EXPECT_EQ(s.points[0].v, 4);
}

TEST(ViewStorage, a_range_query_over_all_gpus_has_one_point_per_step_and_series) {
  ViewStorage storage(dcgm_index(241));  // 1 h of rounds every 15 s
  auto e = parse("DCGM_FI_DEV_GPU_UTIL");
  auto r = range_query(storage, **e, kBaseMs, kBaseMs + 3'600'000, 15'000);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->series.size(), 247u);
  for (const auto& s : r->series) ASSERT_EQ(s.points.size(), 241u);
}

// The classic dcgm-exporter Grafana dashboard (12239) sends these queries, with Grafana's
// substitution of its $instance and $gpu variables; they work unchanged.
TEST(ViewStorage, the_dcgm_grafana_dashboard_queries_work_unchanged) {
  ViewStorage storage(dcgm_index(3));
  const std::string sel = "{instance=~\"mtv5-dgx1-hgpu-031:9400\", gpu=~\"(0|1)\"}";
  struct Case {
    std::string query;
    std::size_t series;
  };
  for (const auto& c : std::vector<Case>{{"DCGM_FI_DEV_GPU_TEMP" + sel, 2},
                                         {"avg(DCGM_FI_DEV_GPU_TEMP" + sel + ")", 1},
                                         {"DCGM_FI_DEV_POWER_USAGE" + sel, 2},
                                         {"sum(DCGM_FI_DEV_POWER_USAGE" + sel + ")", 1},
                                         {"DCGM_FI_DEV_SM_CLOCK" + sel + " * 1000000", 2},
                                         {"DCGM_FI_DEV_MEM_CLOCK" + sel + " * 1000000", 2},
                                         {"DCGM_FI_DEV_GPU_UTIL" + sel, 2},
                                         {"DCGM_FI_DEV_MEM_COPY_UTIL" + sel, 2},
                                         {"DCGM_FI_DEV_FB_USED" + sel, 2},
                                         {"DCGM_FI_DEV_FB_FREE" + sel, 2},
                                         {"DCGM_FI_DEV_GPU_TEMP{instance=~\".*\", gpu=~\".*\"}", 247}}) {
    auto r = instant(storage, c.query, kBaseMs + 2 * kRoundMs);
    EXPECT_EQ(r.series.size(), c.series) << c.query;
  }
  auto clocks = instant(storage, "DCGM_FI_DEV_SM_CLOCK" + sel + " * 1000000", kBaseMs);
  for (const auto& s : clocks.series) {
    EXPECT_EQ(label(s.labels, "__name__"), "");  // arithmetic drops the metric name
    EXPECT_GT(s.points[0].v, 1e6);
  }
}

TEST(ViewStorage, metric_names_that_collide_after_sanitising_are_two_series_told_apart_by_a_metric_label) {
  auto index = std::make_shared<rm::telemetry::Index>(100);
  rm::telemetry::GpuInfo info;
  info.id = "GPU-x";
  info.uuid = "GPU-x";
  info.gpu_index = "0";
  info.hostname = "host-x";
  auto* gpu = index->upsert_gpu(info);
  index->append(gpu, index->metric_id("a.b"), kBaseMs * 1'000'000, 1);
  index->append(gpu, index->metric_id("a_b"), kBaseMs * 1'000'000, 2);
  index->append(gpu, index->metric_id("plain"), kBaseMs * 1'000'000, 3);
  ViewStorage storage(index);
  auto r = instant(storage, "a_b", kBaseMs);
  ASSERT_EQ(r.series.size(), 2u);
  std::map<std::string, double> by_source;
  for (const auto& s : r.series) by_source[label(s.labels, "metric")] = s.points.at(0).v;
  EXPECT_EQ(by_source, (std::map<std::string, double>{{"a.b", 1}, {"a_b", 2}}));
  auto p = instant(storage, "plain", kBaseMs);
  ASSERT_EQ(p.series.size(), 1u);
  EXPECT_EQ(label(p.series[0].labels, "metric"), "");
}
