#include <gtest/gtest.h>

#include "support/telemetry_test_util.hpp"
#include "telemetry/storage/index.hpp"

using namespace rm::telemetry;
using namespace rm::telemetry::test;

namespace {
std::unique_ptr<Index> filled(std::size_t max_entries, int n) {
  auto idx = std::make_unique<Index>(max_entries);
  auto* g = idx->upsert_gpu(*gpu("GPU-1", "h1"));
  const auto util = idx->metric_id("util");
  const auto temp = idx->metric_id("temp");
  for (int i = 0; i < n; ++i) idx->append(g, i % 2 ? temp : util, 1000 + i, i);
  return idx;
}
}  // namespace

TEST(Index, max_entries_holds_per_gpu_and_keeps_the_newest) {
  Index idx(100);
  auto* a = idx.upsert_gpu(*gpu("GPU-a"));
  auto* b = idx.upsert_gpu(*gpu("GPU-b"));
  const auto m = idx.metric_id("util");
  for (int i = 0; i < 1000; ++i) idx.append(a, m, i, i);
  for (int i = 0; i < 30; ++i) idx.append(b, m, i, i);
  EXPECT_EQ(idx.gpu("GPU-a")->samples, 100u);
  EXPECT_EQ(idx.gpu("GPU-b")->samples, 30u);
  EXPECT_EQ(idx.sample_count(), 130u);
  auto page = idx.query({.gpu_id = "GPU-a", .limit = 1000});
  ASSERT_TRUE(page);
  ASSERT_EQ(page->points.size(), 100u);
  EXPECT_EQ(page->points.front().timestamp_ns, 900);
  EXPECT_EQ(page->points.back().timestamp_ns, 999);
  EXPECT_EQ(idx.gpu("GPU-a")->first_seen_ns, 0);  // first ever seen, not first retained
}

TEST(Index, time_windows_are_inclusive_and_metrics_filter) {
  auto filled_1000 = filled(1000, 10);
  auto& idx = *filled_1000;
  auto page = idx.query({.gpu_id = "GPU-1", .start_ns = 1002, .end_ns = 1005});
  ASSERT_TRUE(page);
  ASSERT_EQ(page->points.size(), 4u);
  EXPECT_EQ(page->points.front().timestamp_ns, 1002);
  EXPECT_EQ(page->points.back().timestamp_ns, 1005);
  auto temps = idx.query({.gpu_id = "GPU-1", .metrics = {"temp"}});
  ASSERT_TRUE(temps);
  EXPECT_EQ(temps->points.size(), 5u);
  for (const auto& p : temps->points) EXPECT_EQ(p.metric, "temp");
  auto none = idx.query({.gpu_id = "GPU-1", .metrics = {"nope"}});
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->points.empty());
}

TEST(Index, pagination_with_cursors_visits_every_point_once_in_order) {
  Index idx(1000);
  auto* g = idx.upsert_gpu(*gpu("GPU-1"));
  const auto m = idx.metric_id("util");
  // Out-of-order arrivals and equal timestamps: order is (timestamp, arrival).
  for (int i = 0; i < 50; ++i) idx.append(g, m, (i * 7) % 20, i);
  std::vector<Point> all;
  TelemetryQuery q{.gpu_id = "GPU-1", .limit = 7};
  int pages = 0;
  while (true) {
    auto page = idx.query(q);
    ASSERT_TRUE(page);
    all.insert(all.end(), page->points.begin(), page->points.end());
    ++pages;
    if (!page->next_cursor) break;
    q.cursor = page->next_cursor;
  }
  EXPECT_EQ(pages, 8);
  ASSERT_EQ(all.size(), 50u);
  for (std::size_t i = 1; i < all.size(); ++i) EXPECT_LE(all[i - 1].timestamp_ns, all[i].timestamp_ns);
  std::vector<double> values;
  for (auto& p : all) values.push_back(p.value);
  std::sort(values.begin(), values.end());
  for (int i = 0; i < 50; ++i) EXPECT_EQ(values[static_cast<std::size_t>(i)], i);
}

TEST(Index, unknown_gpus_and_malformed_cursors_are_errors) {
  auto idxp = filled(10, 3);
  auto& idx = *idxp;
  auto u = idx.query({.gpu_id = "nope"});
  ASSERT_FALSE(u);
  EXPECT_EQ(u.error().code, QueryErrorCode::unknown_gpu);
  for (std::string c : {"", "abc", "12", "1.x", ".5", "5."}) {
    auto r = idx.query({.gpu_id = "GPU-1", .cursor = c});
    ASSERT_FALSE(r) << c;
    EXPECT_EQ(r.error().code, QueryErrorCode::bad_cursor);
  }
  EXPECT_TRUE(idx.latest("nope").empty());
}

TEST(Index, latest_gives_the_newest_value_of_every_metric) {
  auto idxp = filled(4, 10);
  auto& idx = *idxp;  // the ring keeps only 4, latest keeps every metric
  auto l = idx.latest("GPU-1");
  ASSERT_EQ(l.size(), 2u);
  EXPECT_EQ(l[0].metric, "temp");
  EXPECT_EQ(l[0].timestamp_ns, 1009);
  EXPECT_EQ(l[1].metric, "util");
  EXPECT_EQ(l[1].timestamp_ns, 1008);
}

TEST(Index, hosts_group_gpus_by_hostname) {
  Index idx(10);
  const auto m = idx.metric_id("util");
  idx.append(idx.upsert_gpu(*gpu("GPU-1", "h1")), m, 5, 1);
  idx.append(idx.upsert_gpu(*gpu("GPU-2", "h1")), m, 9, 1);
  idx.append(idx.upsert_gpu(*gpu("GPU-3", "h2")), m, 7, 1);
  auto hosts = idx.hosts();
  ASSERT_EQ(hosts.size(), 2u);
  EXPECT_EQ(hosts[0].hostname, "h1");
  EXPECT_EQ(hosts[0].gpu_ids, (std::vector<std::string>{"GPU-1", "GPU-2"}));
  EXPECT_EQ(hosts[0].last_seen_ns, 9);
  auto gpus = idx.gpus();
  ASSERT_EQ(gpus.size(), 3u);
  EXPECT_EQ(gpus[2].info.id, "GPU-3");
}

TEST(Index, shared_state_keeps_its_entries_while_appends_continue) {
  // 1500 is not a multiple of the chunk size, so the window starts mid-chunk and old chunks
  // are dropped while the shared state still holds them.
  Index idx(1500);
  auto* g = idx.upsert_gpu(*gpu("GPU-1"));
  const auto m = idx.metric_id("util");
  for (int i = 0; i < 2000; ++i) idx.append(g, m, i, i);
  const auto shared = idx.share();
  ASSERT_EQ(shared.size(), 1u);
  const auto& s = shared[0];
  EXPECT_EQ(s.appended, 2000u);
  ASSERT_EQ(s.count, 1500u);
  for (int i = 2000; i < 6000; ++i) idx.append(g, m, i, i);
  for (std::size_t i = 0; i < s.count; ++i) {
    ASSERT_EQ(s.at(i).timestamp_ns, static_cast<std::int64_t>(500 + i)) << i;
    ASSERT_EQ(s.at(i).value, static_cast<double>(500 + i)) << i;
  }
  auto page = idx.query({.gpu_id = "GPU-1", .limit = 10000});
  ASSERT_TRUE(page);
  ASSERT_EQ(page->points.size(), 1500u);
  for (std::size_t i = 0; i < page->points.size(); ++i) {
    ASSERT_EQ(page->points[i].timestamp_ns, static_cast<std::int64_t>(4500 + i)) << i;
  }
  EXPECT_EQ(idx.share()[0].appended, 6000u);
}

TEST(Index, retention_by_time_drops_samples_older_than_the_window_before_the_newest) {
  constexpr std::int64_t kS = 1'000'000'000;
  rm::telemetry::Index idx(100000, 10 * kS);
  rm::telemetry::GpuInfo info;
  info.id = "GPU-r";
  auto* g = idx.upsert_gpu(info);
  const auto m = idx.metric_id("DCGM_FI_DEV_GPU_UTIL");
  for (int i = 0; i <= 30; ++i) idx.append(g, m, 1'000 * kS + i * kS, i);
  ASSERT_TRUE(idx.gpu("GPU-r"));
  EXPECT_EQ(idx.gpu("GPU-r")->samples, 11u) << "seconds 20..30 stay";
  rm::telemetry::TelemetryQuery q;
  q.gpu_id = "GPU-r";
  q.limit = 100;
  auto page = idx.query(q);
  ASSERT_TRUE(page);
  ASSERT_EQ(page->points.size(), 11u);
  EXPECT_EQ(page->points.front().timestamp_ns, 1'020 * kS);
  EXPECT_EQ(page->points.back().timestamp_ns, 1'030 * kS);
}
