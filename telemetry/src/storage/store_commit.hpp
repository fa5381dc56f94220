#pragma once
// The store's writer-to-syncer hand-over (private to telemetry/src/storage): the open segment
// files and one written group commit waiting for its fdatasync.
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "telemetry/storage/store.hpp"

namespace rm::telemetry {

// One WAL segment file the writer appended to; closed when the last group that wrote to it is
// acknowledged (or rolled back).
struct Store::SegmentFile {
  SegmentFile(std::uint64_t n, int f, std::size_t s) : no(n), fd(f), synced(s) {}
  ~SegmentFile() {
    if (fd >= 0) ::close(fd);
  }
  SegmentFile(const SegmentFile&) = delete;
  SegmentFile& operator=(const SegmentFile&) = delete;
  std::uint64_t no;
  int fd;
  std::atomic<std::size_t> synced;  // bytes known durable (set by the syncer)
};

struct Store::Undo {
  std::size_t gpu_refs = 0, metric_refs = 0;
  std::vector<std::pair<std::string, std::uint64_t>> producers;  // previous highest seq
  std::vector<std::pair<std::string, WalGpu>> changed_gpus;      // previous metadata
};

// One group commit, written by the writer, made durable and acknowledged by the syncer.
struct Store::Commit {
  struct Piece {
    std::shared_ptr<SegmentFile> seg;
    std::size_t end;  // bytes of `seg` written once this group's records were
    bool last;        // the writer rolled on: cut the reserved tail to `end` once synced
  };
  std::vector<Piece> pieces;
  std::deque<Pending> work;
  std::vector<std::optional<Applied>> applied;  // nullopt: a duplicate, acknowledged as such
  Undo undo;
  std::size_t bytes = 0;
};

}  // namespace rm::telemetry
