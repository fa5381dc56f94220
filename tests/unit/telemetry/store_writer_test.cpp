// The store's ack path: pre-created (reserved, zero-tailed) segments and overlapped fdatasync.
// Crashes are simulated by copying the directory while the store runs (what kill -9 leaves:
// everything written is in the page cache) and by editing segments the way a power loss
// could leave them (a tail that never reached the disk, a rename that did not).
#include <condition_variable>
#include <fstream>
#include <future>
#include <mutex>

#include <gtest/gtest.h>

#include "store_util.hpp"
#include "telemetry/storage/follower.hpp"
#include "telemetry/storage/wal.hpp"

using namespace rm::telemetry;
using namespace rm::telemetry::test;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

constexpr std::size_t kSamples = 3;

struct Mode {
  const char* name;
  bool overlapped, precreate;
  Preallocate preallocate;
};
const Mode kModes[] = {{"zeros", true, true, Preallocate::zeros},
                       {"fallocate", true, true, Preallocate::fallocate},
                       {"no reservation", true, true, Preallocate::none},
                       {"old writer", false, false, Preallocate::none}};

StoreOptions options(const fs::path& dir, const Mode& m, std::size_t segment_bytes = 1 << 20) {
  StoreOptions o;
  o.dir = dir;
  o.checkpoints = false;
  o.segment_bytes = segment_bytes;
  o.max_entries = 100000;
  o.overlapped_sync = m.overlapped;
  o.precreate_segments = m.precreate;
  o.preallocate = m.preallocate;
  o.retry_interval = 50ms;
  o.resume_free_bytes = 0;
  return o;
}

std::unique_ptr<Store> open(const StoreOptions& o) {
  auto s = Store::open(o);
  if (!s) throw std::runtime_error(s.error().message);
  return std::move(*s);
}

std::string slurp(const fs::path& p) {
  return *read_file(p);
}
void spit(const fs::path& p, const std::string& s) {
  std::ofstream(p, std::ios::binary | std::ios::trunc) << s;
}

// Batch records per segment of a closed store's log.
std::size_t batch_records(const std::string& seg) {
  std::size_t n = 0;
  scan_records(seg, kSegmentMagic, 0, [&](RecordType t, std::string_view) {
    n += t == RecordType::batch ? 1 : 0;
    return true;
  });
  return n;
}

// Offset where the last record of a segment starts.
std::size_t last_record_start(const std::string& seg) {
  std::size_t pos = kSegmentMagic.size(), start = pos;
  scan_records(seg, kSegmentMagic, 0, [&](RecordType, std::string_view p) {
    start = pos;
    pos += kRecordHeader + p.size();
    return true;
  });
  return start;
}

// Blocks the syncer right after an fdatasync, before it acknowledges (the test's view of "an
// fdatasync is still running").
struct SyncGate {
  std::mutex mu;
  std::condition_variable cv;
  bool hold = false;
  int rounds = 0;
  std::function<void(double)> observer() {
    return [this](double) {
      std::unique_lock lk(mu);
      ++rounds;
      cv.notify_all();
      cv.wait(lk, [&] { return !hold; });
    };
  }
  void close_gate() {
    std::lock_guard lk(mu);
    hold = true;
  }
  bool wait_rounds(int n) {
    std::unique_lock lk(mu);
    return cv.wait_for(lk, 10s, [&] { return rounds >= n; });
  }
  void open_gate() {
    {
      std::lock_guard lk(mu);
      hold = false;
    }
    cv.notify_all();
  }
};

std::uint64_t retained(const DataDirFollower& f) {
  std::uint64_t n = 0;
  for (const auto& g : f.gpus()) n += g.samples;
  return n;
}

using PendingAck = std::future<tl::expected<Ack, StoreError>>;
PendingAck submit_async(Store& s, Batch b) {
  auto p = std::make_shared<std::promise<tl::expected<Ack, StoreError>>>();
  auto f = p->get_future();
  s.submit(std::move(b), [p](tl::expected<Ack, StoreError> r) { p->set_value(std::move(r)); });
  return f;
}

// Batch i of producer "p": kSamples samples of GPU-1 at i * 100.
Batch batch(int i) {
  return make_batch("p", static_cast<std::uint64_t>(i), "GPU-1", kSamples, i * 100);
}

// Stores batches first..last one at a time, each acknowledged before the next.
::testing::AssertionResult store_batches(Store& s, int first, int last) {
  for (int i = first; i <= last; ++i) {
    auto r = submit_sync(s, batch(i));
    if (!r) return ::testing::AssertionFailure() << "batch " << i << ": " << r.error().message;
  }
  return ::testing::AssertionSuccess();
}

// A closed store in <dir>/c with batches 1..n in 4096-byte segments (the default mode);
// returns its wal/ directory.
fs::path closed_log(const fs::path& dir, int n) {
  auto s = open(options(dir / "c", kModes[0], 4096));
  EXPECT_TRUE(store_batches(*s, 1, n));
  s->close();
  return dir / "c" / "wal";
}

// A store whose syncer is held right after batch 2's fdatasync (batch 1 acknowledged, batch
// 2 durable but not yet acknowledged): what is submitted now is written while a sync "runs".
struct HeldSync {
  explicit HeldSync(const fs::path& dir) {
    auto o = options(dir / "c", kModes[0]);
    o.fsync_observer = gate.observer();
    store = open(o);
    EXPECT_TRUE(store_batches(*store, 1, 1));
    gate.close_gate();
    held = submit_async(*store, batch(2));
    EXPECT_TRUE(gate.wait_rounds(2));  // batch 2's fdatasync is done, its ack held back
  }
  SyncGate gate;
  std::unique_ptr<Store> store;
  PendingAck held;
};

}  // namespace

TEST(StoreWriter, acknowledged_batches_survive_a_crash_and_a_reserved_zero_tail_reads_as_the_end_of_the_log) {
  for (const auto& m : kModes) {
    SCOPED_TRACE(m.name);
    TempDir dir, crashed;
    // Small segments: the store rolls into pre-created (reserved) ones several times.
    auto s = open(options(dir.path() / "c", m, 4096));
    for (int i = 1; i <= 60; ++i) {
      // Each roll takes the spare (the test waits for it; a roll without one creates a plain segment).
      for (int k = 0; m.precreate && k < 1000 && !s->spare_ready(); ++k) std::this_thread::sleep_for(2ms);
      ASSERT_TRUE(store_batches(*s, i, i));
    }
    fs::copy(dir.path(), crashed.path(), fs::copy_options::recursive);  // kill -9 now
    const auto seg = crashed.path() / "c" / "wal" / segment_name(s->current_segment());
    const bool reserved = m.precreate && m.preallocate != Preallocate::none;
    if (reserved) {
      EXPECT_EQ(fs::file_size(seg), 4096u) << "the segment being written is reserved";
    }
    DataDirFollower follower({.data_dir = crashed.path()});
    follower.poll_once();
    EXPECT_EQ(retained(follower), 60 * kSamples) << "the follower reads the same log";
    auto r = open(options(crashed.path() / "c", m, 4096));
    EXPECT_EQ(r->index().sample_count(), 60 * kSamples);
    EXPECT_TRUE(r->recovery().warnings.empty()) << r->recovery().warnings.front();
    EXPECT_EQ(r->recovery().segments_dropped, 0u);
    if (reserved) {
      EXPECT_GT(r->recovery().truncated_bytes, 0u) << "recovery cut the unwritten tail";
    }
    s->close();
  }
}

TEST(StoreWriter, segments_roll_many_times_without_losing_or_duplicating_a_sample) {
  for (const auto& m : kModes) {
    SCOPED_TRACE(m.name);
    TempDir dir, crashed;
    auto s = open(options(dir.path() / "c", m, 4096));
    std::vector<PendingAck> pending;
    for (int i = 1; i <= 300; ++i) {
      pending.push_back(submit_async(*s, batch(i)));
    }
    for (auto& f : pending) ASSERT_TRUE(f.get());
    EXPECT_GT(s->current_segment(), 5u);
    fs::copy(dir.path(), crashed.path(), fs::copy_options::recursive);
    auto r = open(options(crashed.path() / "c", m, 4096));
    EXPECT_EQ(r->index().sample_count(), 300 * kSamples);
    EXPECT_TRUE(r->recovery().warnings.empty()) << r->recovery().warnings.front();
    auto page = r->index().query({.gpu_id = "GPU-1", .limit = 1000});
    ASSERT_TRUE(page);
    ASSERT_EQ(page->points.size(), 300 * kSamples);
    for (std::size_t i = 1; i < page->points.size(); ++i) {
      ASSERT_LT(page->points[i - 1].timestamp_ns, page->points[i].timestamp_ns);
    }
    s->close();
  }
}

TEST(StoreWriter, a_zero_tail_left_in_an_older_segment_ends_only_that_segment) {
  TempDir dir;
  const auto wal = closed_log(dir.path(), 100);
  // The cut of segment 1's reserved tail never reached the disk.
  const auto seg1 = wal / segment_name(1);
  spit(seg1, slurp(seg1) + std::string(8192, '\0'));
  auto r = open(options(dir.path() / "c", kModes[0], 4096));
  EXPECT_EQ(r->index().sample_count(), 100 * kSamples);
  EXPECT_EQ(r->recovery().segments_dropped, 0u);
}

TEST(StoreWriter, a_segment_whose_predecessor_lost_its_tail_is_not_replayed_by_the_store_or_the_follower) {
  TempDir dir;
  const auto wal = closed_log(dir.path(), 200);
  const auto segs = list_segments(wal);
  ASSERT_GE(segs.size(), 4u);
  // Segment 2's last record never reached the disk (zeros), segment 3 did: a gap.
  const auto seg2 = wal / segment_name(segs[1]);
  std::string data = slurp(seg2);
  const std::size_t cut = last_record_start(data);
  std::fill(data.begin() + static_cast<std::ptrdiff_t>(cut), data.end(), '\0');
  spit(seg2, data);
  std::size_t expected = batch_records(slurp(wal / segment_name(segs[0]))) + batch_records(data);
  DataDirFollower follower({.data_dir = dir.path()});
  follower.poll_once();
  EXPECT_EQ(retained(follower), expected * kSamples);
  auto r = open(options(dir.path() / "c", kModes[0], 4096));
  EXPECT_EQ(r->index().sample_count(), expected * kSamples);
  EXPECT_EQ(r->recovery().segments_dropped, segs.size() - 3);
  ASSERT_FALSE(r->recovery().warnings.empty());
  // The producer's highest seq is the last batch kept: the lost ones are stored when retried.
  auto retried = submit_sync(*r, make_batch("p", expected + 1, "GPU-1", kSamples, 1'000'000));
  ASSERT_TRUE(retried);
  EXPECT_FALSE(retried->duplicate);
}

TEST(StoreWriter, a_segment_whose_rename_never_reached_the_disk_is_replayed_under_its_number) {
  TempDir dir;
  const auto wal = closed_log(dir.path(), 60);
  const auto last = list_segments(wal).back();
  ASSERT_GT(batch_records(slurp(wal / segment_name(last))), 0u);
  fs::rename(wal / segment_name(last), wal / kSpareSegment);
  auto r = open(options(dir.path() / "c", kModes[0], 4096));
  EXPECT_EQ(r->index().sample_count(), 60 * kSamples);
  ASSERT_FALSE(r->recovery().warnings.empty());
  EXPECT_NE(r->recovery().warnings.front().find(segment_name(last)), std::string::npos);
}

TEST(StoreWriter, batches_written_while_an_fdatasync_runs_are_acknowledged_by_the_next_one) {
  TempDir dir;
  HeldSync h(dir.path());
  auto& s = h.store;
  auto& held = h.held;
  auto& gate = h.gate;
  const auto before = s->stats().bytes.load();
  std::vector<PendingAck> behind;
  for (int i = 3; i <= 7; ++i) {
    behind.push_back(submit_async(*s, batch(i)));
  }
  // The writer does not wait: all five are written while the syncer is busy ...
  const auto seg = dir.path() / "c" / "wal" / segment_name(1);
  auto written = [&] {
    std::string d = slurp(seg);
    return batch_records(d);
  };
  for (int k = 0; k < 500 && written() < 7; ++k) std::this_thread::sleep_for(2ms);
  EXPECT_EQ(written(), 7u) << "batches 3-7 are in the segment while batch 2's sync is running";
  std::this_thread::sleep_for(50ms);  // the last group is handed to the syncer right after its write
  // ... and none is acknowledged before an fdatasync covers it.
  for (auto& f : behind) EXPECT_EQ(f.wait_for(0s), std::future_status::timeout);
  EXPECT_EQ(held.wait_for(0s), std::future_status::timeout);
  EXPECT_EQ(s->stats().bytes.load(), before);
  const auto fsyncs = s->stats().fsyncs.load();
  gate.open_gate();
  ASSERT_TRUE(held.get());
  for (auto& f : behind) ASSERT_TRUE(f.get());
  EXPECT_EQ(s->stats().fsyncs.load(), fsyncs + 1) << "one fdatasync for the five written meanwhile";
  EXPECT_EQ(s->index().sample_count(), 7 * kSamples);
}

TEST(StoreWriter, a_failed_fdatasync_refuses_every_batch_written_behind_it_and_keeps_exactly_the_acked_ones) {
  TempDir dir, crashed;
  HeldSync h(dir.path());
  auto& s = h.store;
  auto& held = h.held;
  auto& gate = h.gate;
  std::vector<PendingAck> behind;
  for (int i = 3; i <= 7; ++i) {
    // Batches 3-7 bring a second GPU and a new metric: ref-table changes that must be undone.
    auto b = make_batch("p", static_cast<std::uint64_t>(i), i % 2 ? "GPU-2" : "GPU-1", kSamples, i * 100);
    b.metrics[0] = "DCGM_FI_DEV_POWER_USAGE";
    behind.push_back(submit_async(*s, std::move(b)));
  }
  const auto seg = dir.path() / "c" / "wal" / segment_name(1);
  for (int k = 0; k < 500 && batch_records(slurp(seg)) < 7; ++k) std::this_thread::sleep_for(2ms);
  std::this_thread::sleep_for(50ms);
  fault_arm("wal.fsync");
  gate.open_gate();
  ASSERT_TRUE(held.get()) << "batch 2 was durable before the failure";
  for (auto& f : behind) {
    auto r = f.get();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, StoreErrorCode::unavailable);
    EXPECT_NE(r.error().message.find("fdatasync"), std::string::npos) << r.error().message;
  }
  fault_clear();
  EXPECT_EQ(s->index().sample_count(), 2 * kSamples);
  EXPECT_EQ(batch_records(slurp(seg)), 2u) << "what was written behind the failed sync is cut";
  // The store resumes by itself; the retried batches are stored (not taken for duplicates).
  std::optional<tl::expected<Ack, StoreError>> r;
  for (int k = 0; k < 200; ++k) {
    r = submit_sync(*s, make_batch("p", 3, "GPU-2", kSamples, 300));
    if (*r) break;
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_TRUE(r && *r);
  EXPECT_FALSE((*r)->duplicate);
  fs::copy(dir.path(), crashed.path(), fs::copy_options::recursive);
  auto again = open(options(crashed.path() / "c", kModes[0]));
  EXPECT_EQ(again->index().sample_count(), 3 * kSamples);
  EXPECT_EQ(again->index().gpu_count(), 2u);
  s->close();
}
