#pragma once
// Write-ahead log primitives (docs/storage-format.md).
//
// A collector's log lives in <dir>/wal/ as numbered segments "00000001", "00000002", ...
// Each segment starts with an 8-byte header ("RMWAL" 0 0 1) followed by records:
//
//   u32 length (LE, bytes of type+payload) | u32 CRC32C(type+payload) | u8 type | payload
//
// A record never spans two segments. Segments are pre-allocated (their tail reads as zeros
// until written), so a zero-filled tail at a record boundary is the end of a segment; the
// segment_start record that opens the next one names the length its predecessor must have. Checkpoints
// ("checkpoint.<N>", N = last segment they cover) use the same record framing after their own header ("RMCKP"
// 0 0 1).
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "telemetry/error.hpp"

namespace rm::telemetry {

inline constexpr std::string_view kSegmentMagic{"RMWAL\0\0\1", 8};
inline constexpr std::string_view kCheckpointMagic{"RMCKP\0\0\1", 8};
inline constexpr std::size_t kRecordHeader = 9;
inline constexpr std::uint32_t kMaxRecord = 256U << 20;

enum class RecordType : std::uint8_t {
  gpu_def = 1,        // u32 ref, GpuInfo
  metric_def = 2,     // u32 ref, str name
  batch = 3,          // str producer, u64 seq, u32 n, n x (u32 gpu ref, u32 metric ref, i64 ts, f64 v)
  segment_start = 4,  // u64 previous segment, u64 its length in bytes (first record of a segment)
  ckpt_header = 10,   // u64 last segment covered
  producer = 11,      // str producer, u64 highest durable seq
  gpu_state = 12,     // u32 gpu ref, i64 first_seen, u64 appended, latest[], entries[]
  ckpt_end = 13,      // u64 number of records before it
};

void append_record(std::string& out, RecordType type, std::string_view payload);

// Why a scan stopped before the end of the data.
enum class ScanStop { clean, torn, bad_checksum, bad_length, zero_fill, bad_header };
const char* to_string(ScanStop s);

struct ScanResult {
  std::size_t valid_end = 0;  // offset just after the last valid record
  std::size_t records = 0;
  ScanStop stop = ScanStop::clean;
};

// Walks the records of `data` (a whole segment or checkpoint file, header included) from
// `offset` (0 = check the header first). Stops at the first invalid record.
ScanResult scan_records(std::string_view data, std::string_view magic, std::size_t offset,
                        const std::function<bool(RecordType, std::string_view)>& on_record);

std::string segment_name(std::uint64_t n);
// The store's pre-created next segment in <dir>/wal/ (header written, space reserved, synced),
// renamed to its number when the writer rolls into it. Not a segment until then.
inline constexpr std::string_view kSpareSegment = "next.spare";
// Segment numbers in <wal_dir>, ascending. Non-segment files are ignored.
std::vector<std::uint64_t> list_segments(const std::filesystem::path& wal_dir);
// checkpoint.<N> files in dir, newest first (".tmp" excluded).
std::vector<std::uint64_t> list_checkpoints(const std::filesystem::path& dir);
// The whole file. Errors: not_found (it does not exist), io (open or read failed), naming it.
[[nodiscard]] Result<std::string> read_file(const std::filesystem::path& p);

// Named fault-injection points for crash tests. arm("wal.short_write") makes the next hit of
// that point fail; points are checked only where the code calls fault_hit().
//   wal.short_write        segment write stops halfway and reports EIO
//   wal.fsync              fdatasync of a segment fails
//   checkpoint.short_write checkpoint write stops halfway and fails
//   checkpoint.rename      rename of checkpoint.N.tmp fails
void fault_arm(std::string_view point);
void fault_clear();
bool fault_hit(std::string_view point);

}  // namespace rm::telemetry
