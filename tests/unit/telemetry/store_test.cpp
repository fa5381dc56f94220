#include <atomic>
#include <fstream>
#include <map>
#include <set>
#include <thread>

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

namespace {
// Checks that `index` holds, for every producer p in `seqs`, exactly the newest samples of its
// batches 1..seqs[p] on GPU-<p> (make_batch with base seq*100), capped at max_entries.
void expect_exactly_batches(const Index& index, const std::map<std::string, std::uint64_t>& seqs,
                            std::size_t per_batch, std::size_t max_entries) {
  for (const auto& [p, seq] : seqs) {
    SCOPED_TRACE(p);
    if (seq == 0) {
      EXPECT_FALSE(index.gpu("GPU-" + p).has_value());
      continue;
    }
    auto page = index.query({.gpu_id = "GPU-" + p, .limit = 100000});
    ASSERT_TRUE(page);
    std::vector<std::int64_t> want;
    for (std::uint64_t b = 1; b <= seq; ++b) {
      for (std::size_t k = 0; k < per_batch; ++k) want.push_back(static_cast<std::int64_t>(b * 100 + k));
    }
    if (want.size() > max_entries)
      want.erase(want.begin(), want.end() - static_cast<std::ptrdiff_t>(max_entries));
    ASSERT_EQ(page->points.size(), want.size());
    for (std::size_t i = 0; i < want.size(); ++i) {
      ASSERT_EQ(page->points[i].timestamp_ns, want[i]) << i;
      ASSERT_EQ(page->points[i].value, static_cast<double>(want[i])) << i;
    }
  }
}
}  // namespace

TEST(Store, background_checkpoints_taken_while_batches_arrive_are_consistent_and_recover_exactly) {
  TempDir dir, copies, crashed;
  constexpr std::size_t kMax = 1500, kPerBatch = 20;
  constexpr std::uint64_t kBatches = 150;
  StoreOptions o;
  o.dir = dir.path();
  o.checkpoints = true;
  o.segment_bytes = 16 << 10;  // a rotation (and a background checkpoint) every ~30 batches
  o.max_entries = kMax;
  o.checkpoint_interval = std::chrono::hours(1);
  o.min_checkpoint_spacing = std::chrono::milliseconds(0);
  auto opened = Store::open(o);
  ASSERT_TRUE(opened) << opened.error().message;
  auto& s = **opened;
  const std::vector<std::string> producers = {"a", "b"};
  std::atomic<int> running{2};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (const auto& p : producers) {
    threads.emplace_back([&, p] {
      for (std::uint64_t seq = 1; seq <= kBatches; ++seq) {
        auto r =
            submit_sync(s, make_batch(p, seq, "GPU-" + p, kPerBatch, static_cast<std::int64_t>(seq * 100)));
        if (!r || r->duplicate) failures++;
      }
      running--;
    });
  }
  // Keep a copy of every checkpoint that appears while ingest goes on (a newer one may retire
  // it before it is copied; those are skipped).
  std::set<std::uint64_t> seen;
  while (running > 0) {
    for (std::uint64_t c : list_checkpoints(dir.path())) {
      if (seen.count(c)) continue;
      const auto name = fmt::format("checkpoint.{}", segment_name(c));
      std::error_code ec;
      if (fs::copy_file(dir.path() / name, copies.path() / name, ec)) seen.insert(c);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(failures.load(), 0);
  EXPECT_GT(s.stats().checkpoints.load(), 0u);
  EXPECT_FALSE(seen.empty());  // checkpoints are written every ~30 batches of the 300
  // Every checkpoint written while both producers kept appending holds, per producer, exactly
  // the batches up to the sequence it records: the index and the WAL position agree.
  for (std::uint64_t c : seen) {
    SCOPED_TRACE(c);
    Index idx(kMax);
    ReplayState st(idx);
    auto r = load_checkpoint(copies.path() / fmt::format("checkpoint.{}", segment_name(c)), st);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(st.checkpoint_segment, c);
    std::map<std::string, std::uint64_t> seqs;
    for (const auto& p : producers) seqs[p] = st.producers.count(p) ? st.producers.at(p) : 0;
    expect_exactly_batches(idx, seqs, kPerBatch, kMax);
  }
  // Crash in the middle of the next checkpoint: a half-written .tmp next to the last one.
  s.close();
  copy_dir(dir.path(), crashed.path() / "c");
  const auto cps = list_checkpoints(crashed.path() / "c");
  ASSERT_FALSE(cps.empty());
  const auto last = crashed.path() / "c" / fmt::format("checkpoint.{}", segment_name(cps.front()));
  {
    std::ifstream in(last, std::ios::binary);
    std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::ofstream(crashed.path() / "c" / fmt::format("checkpoint.{}.tmp", segment_name(cps.front() + 1)),
                  std::ios::binary)
        << data.substr(0, data.size() / 2);
  }
  o.dir = crashed.path() / "c";
  auto again = Store::open(o);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ((*again)->recovery().checkpoint, cps.front());
  EXPECT_FALSE(has_tmp(crashed.path() / "c"));
  expect_exactly_batches((*again)->index(), {{"a", kBatches}, {"b", kBatches}}, kPerBatch, kMax);
  auto dup = submit_sync(**again, make_batch("a", kBatches, "GPU-a", kPerBatch, kBatches * 100));
  ASSERT_TRUE(dup);
  EXPECT_TRUE(dup->duplicate);
}

TEST(Store, full_segments_wait_for_the_checkpoint_spacing_and_stay_until_a_checkpoint_covers_them) {
  TempDir dir;
  StoreOptions o;
  o.dir = dir.path();
  o.checkpoints = true;
  o.segment_bytes = 4096;
  o.max_entries = 100000;
  o.checkpoint_interval = std::chrono::hours(1);
  o.min_checkpoint_spacing = std::chrono::hours(1);
  {
    auto s = Store::open(o);
    ASSERT_TRUE(s) << s.error().message;
    for (int i = 1; i <= 60; ++i) ASSERT_TRUE(submit_sync(**s, make_batch("p", i, "GPU-1", 10, i * 100)));
    EXPECT_EQ((*s)->stats().checkpoints.load(), 0u);
    EXPECT_TRUE(list_checkpoints(dir.path()).empty());
    // ~15 KB of records in 4 KB segments: several filled up, none retired without a checkpoint.
    const auto segs = list_segments(dir.path() / "wal");
    ASSERT_GE(segs.size(), 4u);
    EXPECT_EQ(segs.front(), 1u);
    (*s)->close();  // the final checkpoint covers them all
  }
  const auto cps = list_checkpoints(dir.path());
  ASSERT_EQ(cps.size(), 1u);
  for (auto n : list_segments(dir.path() / "wal")) EXPECT_GT(n, cps[0]);
  auto s = open_store(dir.path(), true, 4096);
  EXPECT_EQ(s->index().sample_count(), 600u);
}
