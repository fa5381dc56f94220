#pragma once
// Reading a collector directory back: checkpoints and WAL segments applied to an Index. One
// replay for both readers -- the collector's recovery (Store) and the gateway's read-only
// follower -- so they agree on what the log holds, including after corruption:
//
//   * a record is decoded and checked completely before anything of it is applied;
//   * a checkpoint counts only with its end record, whose record count must match;
//   * the log ends at the first invalid record: in the last segment that is a torn tail (the
//     writer may still be appending), in an earlier segment it is corruption, and nothing
//     after it -- no later segment -- is part of the log (the store drops those segments);
//   * a zero-filled tail is where a pre-allocated segment's writing stopped: the end of that
//     segment, not corruption. The next segment's segment_start record names the length its
//     predecessor was written to; a predecessor that replayed shorter (its tail never reached
//     the disk) ends the log there, so nothing is replayed after a gap.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <tl/expected.hpp>

#include "telemetry/storage/index.hpp"
#include "telemetry/storage/wal.hpp"

namespace rm::telemetry {

// <dir>/checkpoint.<N>: the one place the checkpoint file name is built.
std::filesystem::path checkpoint_path(const std::filesystem::path& dir, std::uint64_t covered);

// Applies log and checkpoint records of one collector directory to an Index.
class ReplayState {
 public:
  explicit ReplayState(Index& index) : index_(index) {}
  // Returns false (and applies nothing) when the payload is malformed.
  [[nodiscard]] bool apply(RecordType type, std::string_view payload);
  std::unordered_map<std::string, std::uint64_t> producers;
  std::vector<std::shared_ptr<const GpuInfo>> gpu_infos;  // by WAL ref
  std::vector<std::string> metric_names;                  // by WAL ref
  std::optional<std::uint64_t> checkpoint_segment;        // from a checkpoint header
  bool checkpoint_complete = false;
  std::size_t batches = 0;
  std::size_t records = 0;  // records applied (checkpoint end marker excluded)
  // The segment being replayed and the offset just after its last valid record; the one
  // replayed before it (checked against the next segment_start record).
  std::uint64_t segment = 0;
  std::size_t segment_end = 0;
  std::optional<std::pair<std::uint64_t, std::size_t>> previous_segment;
  std::optional<std::string> gap;  // why a segment_start record was refused

 private:
  bool apply_gpu_def(std::string_view payload);
  bool apply_metric_def(std::string_view payload);
  bool apply_batch(std::string_view payload);
  bool apply_gpu_state(std::string_view payload);
  bool apply_segment_start(std::string_view payload);
  Index& index_;
  std::vector<Index::Gpu*> gpus_;
  std::vector<std::uint32_t> metrics_;
  std::vector<Index::Entry> scratch_;
};

// Loads checkpoint file `path` into `state`. Fails on any bad record, a missing end marker or
// an end marker whose record count does not match (corrupt), or when it cannot be read
// (io, not_found). The message names the file and the offset.
[[nodiscard]] Status load_checkpoint(const std::filesystem::path& path, ReplayState& state);

// The outcome of replaying (part of) one segment.
struct SegmentReplay {
  ScanResult scan;
  // The log ends inside this segment: an invalid record in a segment that is not the last.
  // Nothing after scan.valid_end, and no later segment, belongs to the log.
  bool log_ends_here = false;
};

// Replays the records in `data`, the bytes of segment number `segment` from `offset` (0 = the
// whole file, header included), into `state`. `is_last` says whether a later segment exists.
SegmentReplay replay_segment(std::string_view data, std::uint64_t segment, std::size_t offset, bool is_last,
                             ReplayState& state);

}  // namespace rm::telemetry
