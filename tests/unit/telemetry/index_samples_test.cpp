// Index::samples, the read path of the PromQL API: one metric's retained samples in a time
// window, in time order, also after the ring dropped old entries and for out-of-order rows.
#include <gtest/gtest.h>

#include "telemetry/storage/index.hpp"

using rm::telemetry::GpuInfo;
using rm::telemetry::Index;
using rm::telemetry::SeriesSample;

namespace {

GpuInfo gpu(const char* id) {
  GpuInfo g;
  g.id = g.uuid = id;
  g.gpu_index = "0";
  return g;
}

std::vector<std::int64_t> times(const std::vector<SeriesSample>& v) {
  std::vector<std::int64_t> out;
  for (const auto& s : v) out.push_back(s.timestamp_ns);
  return out;
}

}  // namespace

TEST(IndexSamples, a_window_returns_exactly_the_metrics_samples_inside_it_inclusive) {
  Index index(100);
  auto* g = index.upsert_gpu(gpu("GPU-a"));
  const auto util = index.metric_id("util"), temp = index.metric_id("temp");
  for (int i = 0; i < 20; ++i) index.append(g, i % 2 ? temp : util, i * 10, i);
  auto r = index.samples("GPU-a", {"util", "temp", "nope"}, 40, 100);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(times(r[0]), (std::vector<std::int64_t>{40, 60, 80, 100}));
  EXPECT_EQ(times(r[1]), (std::vector<std::int64_t>{50, 70, 90}));
  EXPECT_TRUE(r[2].empty());
  EXPECT_EQ(r[0][1].value, 6);
  EXPECT_TRUE(index.samples("GPU-unknown", {"util"}, 0, 100)[0].empty());
}

TEST(IndexSamples, samples_that_fell_out_of_max_entries_are_gone_from_every_metric) {
  Index index(5);
  auto* g = index.upsert_gpu(gpu("GPU-a"));
  const auto util = index.metric_id("util"), temp = index.metric_id("temp");
  for (int i = 0; i < 12; ++i) index.append(g, i % 3 == 0 ? temp : util, i, i);
  // Retained: entries 7..11 -> util 7, 8, 10, 11; temp 9.
  auto r = index.samples("GPU-a", {"util", "temp"}, 0, 100);
  EXPECT_EQ(times(r[0]), (std::vector<std::int64_t>{7, 8, 10, 11}));
  EXPECT_EQ(times(r[1]), (std::vector<std::int64_t>{9}));
}

TEST(IndexSamples, out_of_order_rows_come_back_sorted_by_time) {
  Index index(100);
  auto* g = index.upsert_gpu(gpu("GPU-a"));
  const auto util = index.metric_id("util");
  for (std::int64_t t : {30, 10, 20, 50, 40}) index.append(g, util, t, static_cast<double>(t));
  EXPECT_EQ(times(index.samples("GPU-a", {"util"}, 15, 45)[0]), (std::vector<std::int64_t>{20, 30, 40}));
}

TEST(IndexSamples, queries_between_appends_see_exactly_what_is_retained_at_each_time) {
  Index index(5);
  auto* g = index.upsert_gpu(gpu("GPU-a"));
  const auto util = index.metric_id("util"), temp = index.metric_id("temp");
  for (int i = 0; i < 3; ++i) index.append(g, util, i, i);
  EXPECT_EQ(times(index.samples("GPU-a", {"util"}, 0, 100)[0]), (std::vector<std::int64_t>{0, 1, 2}));
  for (int i = 3; i < 7; ++i) index.append(g, i == 5 ? temp : util, i, i);
  // Retained: 2..6 -> util 2, 3, 4, 6; temp 5.
  auto r = index.samples("GPU-a", {"util", "temp"}, 0, 100);
  EXPECT_EQ(times(r[0]), (std::vector<std::int64_t>{2, 3, 4, 6}));
  EXPECT_EQ(times(r[1]), (std::vector<std::int64_t>{5}));
  for (int i = 7; i < 30; ++i) index.append(g, util, i, i);  // everything queried before is gone
  EXPECT_EQ(times(index.samples("GPU-a", {"util", "temp"}, 0, 100)[0]),
            (std::vector<std::int64_t>{25, 26, 27, 28, 29}));
  EXPECT_TRUE(index.samples("GPU-a", {"temp"}, 0, 100)[0].empty());
}
