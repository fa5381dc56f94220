#include <fstream>

#include <gtest/gtest.h>

#include "store_util.hpp"

using namespace rm::telemetry;
using namespace rm::telemetry::test;
namespace fs = std::filesystem;

namespace {
void copy_dir(const fs::path& from, const fs::path& to) {
  fs::copy(from, to, fs::copy_options::recursive);
}
bool has_tmp(const fs::path& dir) {
  for (auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".tmp") return true;
  }
  return false;
}
}  // namespace

TEST(Store, a_retried_batch_is_acknowledged_as_duplicate_and_stored_once) {
  TempDir dir;
  auto s = open_store(dir.path());
  auto a1 = submit_sync(*s, make_batch("p", 1, "GPU-1", 4, 100));
  auto a2 = submit_sync(*s, make_batch("p", 2, "GPU-1", 4, 200));
  auto again = submit_sync(*s, make_batch("p", 1, "GPU-1", 4, 100));
  auto other = submit_sync(*s, make_batch("q", 1, "GPU-1", 4, 300));  // another producer
  ASSERT_TRUE(a1 && a2 && again && other);
  EXPECT_FALSE(a1->duplicate);
  EXPECT_TRUE(again->duplicate);
  EXPECT_FALSE(other->duplicate);
  EXPECT_EQ(s->index().sample_count(), 12u);
  s->close();
  // The highest durable sequence survives a restart (replayed from the log) ...
  auto s2 = open_store(dir.path());
  auto dup = submit_sync(*s2, make_batch("p", 2, "GPU-1", 4, 200));
  ASSERT_TRUE(dup);
  EXPECT_TRUE(dup->duplicate);
  EXPECT_EQ(s2->index().sample_count(), 12u);
  ASSERT_TRUE(s2->checkpoint_now());
  s2->close();
  // ... and a checkpoint.
  auto s3 = open_store(dir.path());
  EXPECT_TRUE(s3->recovery().checkpoint.has_value());
  auto dup2 = submit_sync(*s3, make_batch("q", 1, "GPU-1", 4, 300));
  ASSERT_TRUE(dup2);
  EXPECT_TRUE(dup2->duplicate);
  EXPECT_EQ(s3->index().sample_count(), 12u);
}

TEST(Store, recovery_is_the_checkpoint_plus_replay_of_later_segments) {
  TempDir dir, crashed;
  {
    auto s = open_store(dir.path(), /*checkpoints=*/true);
    for (int i = 1; i <= 3; ++i) ASSERT_TRUE(submit_sync(*s, make_batch("p", i, "GPU-1", 5, i * 100)));
    ASSERT_TRUE(s->checkpoint_now());
    for (int i = 4; i <= 5; ++i) ASSERT_TRUE(submit_sync(*s, make_batch("p", i, "GPU-2", 5, i * 100)));
    // What is on disk now is what a kill -9 would leave.
    copy_dir(dir.path(), crashed.path() / "c");
  }
  auto s = open_store(crashed.path() / "c", true);
  ASSERT_TRUE(s->recovery().checkpoint.has_value());
  EXPECT_EQ(s->recovery().batches_replayed, 2u);
  EXPECT_EQ(s->index().sample_count(), 25u);
  EXPECT_EQ(s->index().gpu_count(), 2u);
  auto page = s->index().query({.gpu_id = "GPU-1"});
  ASSERT_TRUE(page);
  ASSERT_EQ(page->points.size(), 15u);
  EXPECT_EQ(page->points.front().timestamp_ns, 100);
  EXPECT_EQ(page->points.back().timestamp_ns, 304);
}

TEST(Store, checkpoints_retire_old_segments_and_leave_no_tmp_file) {
  TempDir dir;
  auto s = open_store(dir.path(), true, /*segment_bytes=*/4096);
  for (int i = 1; i <= 60; ++i) ASSERT_TRUE(submit_sync(*s, make_batch("p", i, "GPU-1", 10, i * 100)));
  ASSERT_TRUE(s->checkpoint_now());
  const auto cps = list_checkpoints(dir.path());
  ASSERT_EQ(cps.size(), 1u);
  for (auto n : list_segments(dir.path() / "wal")) EXPECT_GT(n, cps[0]);
  EXPECT_FALSE(has_tmp(dir.path()));
  s->close();
  auto s2 = open_store(dir.path(), true, 4096);
  EXPECT_EQ(s2->index().sample_count(), 600u);
}

TEST(Store, a_failed_checkpoint_leaves_no_tmp_file_and_loses_nothing) {
  for (const char* point : {"checkpoint.short_write", "checkpoint.rename"}) {
    SCOPED_TRACE(point);
    TempDir dir;
    auto s = open_store(dir.path(), true);
    for (int i = 1; i <= 4; ++i) ASSERT_TRUE(submit_sync(*s, make_batch("p", i, "GPU-1", 5, i * 100)));
    fault_arm(point);
    auto r = s->checkpoint_now();
    fault_clear();
    ASSERT_FALSE(r);
    EXPECT_FALSE(has_tmp(dir.path()));
    EXPECT_TRUE(list_checkpoints(dir.path()).empty());
    // Ingest goes on after a failed checkpoint.
    ASSERT_TRUE(submit_sync(*s, make_batch("p", 5, "GPU-1", 5, 500)));
    TempDir crashed;
    copy_dir(dir.path(), crashed.path() / "c");
    auto s2 = open_store(crashed.path() / "c");
    EXPECT_EQ(s2->index().sample_count(), 25u);
  }
}

TEST(Store, a_corrupt_newest_checkpoint_falls_back_to_an_older_one) {
  TempDir dir;
  {
    auto s = open_store(dir.path(), true);
    ASSERT_TRUE(submit_sync(*s, make_batch("p", 1, "GPU-1", 5, 100)));
    ASSERT_TRUE(s->checkpoint_now());
    s->close();
  }
  // A later checkpoint file that is garbage (e.g. a half-copied backup).
  std::ofstream(dir.path() / "checkpoint.00000099", std::ios::binary) << "RMCKP\0\0\1 garbage";
  auto s = open_store(dir.path(), true);
  EXPECT_EQ(s->index().sample_count(), 5u);
  EXPECT_FALSE(s->recovery().warnings.empty());
}

TEST(Store, gpu_metadata_and_labels_survive_a_restart) {
  TempDir dir;
  {
    auto s = open_store(dir.path(), true);
    ASSERT_TRUE(submit_sync(*s, make_batch("p", 1, "GPU-1", 2, 100)));
  }
  auto s = open_store(dir.path(), true);
  auto g = s->index().gpu("GPU-1");
  ASSERT_TRUE(g);
  EXPECT_EQ(g->info.hostname, "host-a");
  EXPECT_EQ(g->info.labels.at("DCGM_FI_DRIVER_VERSION"), "535.129.03");
  EXPECT_EQ(g->first_seen_ns, 100);
  EXPECT_EQ(g->last_seen_ns, 101);
}
