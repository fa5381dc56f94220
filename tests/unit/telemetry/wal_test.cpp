// Crash-consistency of the write-ahead log: a table of named corruptions, truncation at every
// byte offset of a small log, and injected short writes / fsync failures.
#include <cstring>
#include <fstream>
#include <functional>

#include <gtest/gtest.h>

#include "store_util.hpp"
#include "telemetry/storage/wal.hpp"
#include "telemetry/wire/crc32c.hpp"

using namespace rm::telemetry;
using namespace rm::telemetry::test;
namespace fs = std::filesystem;

namespace {

constexpr std::size_t kSamplesPerBatch = 3;

// Writes `batches` batches of 3 samples with checkpoints off and returns the segment path.
fs::path write_log(const fs::path& dir, int batches) {
  auto s = open_store(dir);
  for (int i = 1; i <= batches; ++i) {
    auto r =
        submit_sync(*s, make_batch("p", static_cast<std::uint64_t>(i), "GPU-1", kSamplesPerBatch, i * 100));
    EXPECT_TRUE(r);
  }
  s->close();
  return dir / "wal" / segment_name(1);
}

std::string slurp(const fs::path& p) {
  return *read_file(p);
}
void spit(const fs::path& p, const std::string& s) {
  std::ofstream(p, std::ios::binary | std::ios::trunc) << s;
}

// End offsets of every record in a segment.
std::vector<std::size_t> record_ends(const std::string& data) {
  std::vector<std::size_t> ends;
  std::size_t pos = kSegmentMagic.size();
  scan_records(data, kSegmentMagic, 0, [&](RecordType, std::string_view p) {
    pos += kRecordHeader + p.size();
    ends.push_back(pos);
    return true;
  });
  return ends;
}

std::size_t surviving_batches(const fs::path& dir, RecoveryReport* report = nullptr) {
  auto s = open_store(dir);
  const std::size_t n = s->index().sample_count() / kSamplesPerBatch;
  EXPECT_EQ(s->index().sample_count() % kSamplesPerBatch, 0u);
  if (report) *report = s->recovery();
  s->close();
  return n;
}

struct Corruption {
  const char* name;
  std::function<void(std::string& seg, const std::vector<std::size_t>& ends)> apply;
  std::size_t survivors;  // of 5 batches
};

}  // namespace

TEST(Crc32c, matches_the_castagnoli_check_value) {
  EXPECT_EQ(crc32c(std::string_view("123456789")), 0xE3069283u);
  EXPECT_EQ(crc32c(std::string_view("6789"), crc32c(std::string_view("12345"))), 0xE3069283u);
}

TEST(Wal, every_named_corruption_keeps_exactly_the_records_before_it) {
  // Record layout of the 5-batch log: gpu_def, metric_def, batch1 .. batch5 (7 records).
  const std::vector<Corruption> table = {
      {"torn last record", [](std::string& s, auto&) { s.resize(s.size() - 3); }, 4},
      {"torn record header", [](std::string& s, auto& e) { s.resize(e[5] + 4); }, 4},
      {"bad checksum in the last record", [](std::string& s, auto&) { s[s.size() - 2] ^= 0x40; }, 4},
      {"bad checksum in the third batch", [](std::string& s, auto& e) { s[e[4] - 1] ^= 0x01; }, 2},
      {"bad length in the last record",
       [](std::string& s, auto& e) {
         const std::uint32_t huge = 0x7fffffff;
         std::memcpy(s.data() + e[5], &huge, 4);
       },
       4},
      {"length pointing past the end",
       [](std::string& s, auto& e) {
         const std::uint32_t len = 200;
         std::memcpy(s.data() + e[5], &len, 4);
       },
       4},
      {"zero-filled tail", [](std::string& s, auto&) { s.append(4096, '\0'); }, 5},
      {"garbage tail", [](std::string& s, auto&) { s.append("\x05\x00\x00\x00garbage!!", 13); }, 5},
      {"zeroed last record",
       [](std::string& s, auto& e) { std::fill(s.begin() + static_cast<long>(e[5]), s.end(), '\0'); }, 4},
      {"destroyed segment header", [](std::string& s, auto&) { s[0] = 'X'; }, 0},
      {"empty segment file", [](std::string& s, auto&) { s.clear(); }, 0},
  };
  for (const auto& c : table) {
    SCOPED_TRACE(c.name);
    TempDir dir;
    const fs::path seg = write_log(dir.path(), 5);
    std::string data = slurp(seg);
    const auto ends = record_ends(data);
    ASSERT_EQ(ends.size(), 7u);
    c.apply(data, ends);
    spit(seg, data);
    RecoveryReport rep;
    EXPECT_EQ(surviving_batches(dir.path(), &rep), c.survivors);
    // The repair is permanent: a second recovery finds a clean log with the same data.
    RecoveryReport again;
    EXPECT_EQ(surviving_batches(dir.path(), &again), c.survivors);
    EXPECT_EQ(again.truncated_bytes, 0u);
  }
}

TEST(Wal, truncation_at_every_byte_offset_keeps_every_complete_record) {
  TempDir src;
  const fs::path seg = write_log(src.path(), 3);
  const std::string data = slurp(seg);
  const auto ends = record_ends(data);
  ASSERT_EQ(ends.size(), 5u);  // gpu_def, metric_def, 3 batches
  for (std::size_t len = 0; len <= data.size(); ++len) {
    TempDir dir;
    fs::create_directories(dir.path() / "wal");
    spit(dir.path() / "wal" / segment_name(1), data.substr(0, len));
    std::size_t expected = 0;
    for (std::size_t k = 2; k < ends.size(); ++k) expected += ends[k] <= len ? 1 : 0;
    ASSERT_EQ(surviving_batches(dir.path()), expected) << "truncated to " << len << " bytes";
  }
}

TEST(Wal, a_short_write_fails_the_batch_and_recovery_keeps_only_acknowledged_ones) {
  TempDir dir;
  {
    auto s = open_store(dir.path());
    ASSERT_TRUE(submit_sync(*s, make_batch("p", 1, "GPU-1", 3, 100)));
    ASSERT_TRUE(submit_sync(*s, make_batch("p", 2, "GPU-1", 3, 200)));
    fault_arm("wal.short_write");
    auto r = submit_sync(*s, make_batch("p", 3, "GPU-1", 3, 300));
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("write to segment"), std::string::npos);
    // The store refuses further writes (read-only until it can write again) instead of
    // acknowledging on a broken log; the torn bytes were cut off right away.
    auto refused = submit_sync(*s, make_batch("p", 4, "GPU-1", 3, 400));
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, StoreErrorCode::unavailable);
    fault_clear();
    s->close();
  }
  RecoveryReport rep;
  EXPECT_EQ(surviving_batches(dir.path(), &rep), 2u);
  EXPECT_EQ(rep.truncated_bytes, 0u);
}

TEST(Wal, a_failed_fsync_is_never_acknowledged) {
  TempDir dir;
  auto s = open_store(dir.path());
  ASSERT_TRUE(submit_sync(*s, make_batch("p", 1, "GPU-1", 3, 100)));
  fault_arm("wal.fsync");
  auto r = submit_sync(*s, make_batch("p", 2, "GPU-1", 3, 200));
  fault_clear();
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("fdatasync"), std::string::npos);
  s->close();
}
