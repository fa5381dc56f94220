// The store's WAL segments: rolling to the next one, and pre-creating it on a background
// thread (header, reserved space, file and directory synced) so a roll on the writer is a
// rename. Format: docs/storage-format.md.
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "bytes.hpp"
#include "core/log.hpp"
#include "store_commit.hpp"
#include "store_io.hpp"
#include "telemetry/storage/store.hpp"

namespace rm::telemetry {

namespace fs = std::filesystem;
using detail::io_error;
using detail::Writer;

namespace {
auto log() {
  return core::logger("telemetry.store");
}
}  // namespace

tl::expected<int, StoreError> detail::create_segment_file(const fs::path& path, std::size_t bytes,
                                                          Preallocate mode) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return tl::unexpected(io_error(fmt::format("cannot create segment '{}'", path.string())));
  auto fail = [&](const std::string& what) {
    auto e = io_error(fmt::format("{} '{}'", what, path.string()));
    ::close(fd);
    ::unlink(path.c_str());  // a headerless segment would read as corrupt in the middle of the log
    return tl::unexpected(e);
  };
  if (!write_all_at(fd, kSegmentMagic, 0, "segment.header"))
    return fail("cannot write the header of segment");
  if (bytes > kSegmentMagic.size() && mode == Preallocate::fallocate) {
    if (::fallocate(fd, 0, static_cast<off_t>(kSegmentMagic.size()),
                    static_cast<off_t>(bytes - kSegmentMagic.size())) != 0 &&
        errno != EOPNOTSUPP) {
      return fail(fmt::format("cannot reserve {} bytes for segment", bytes));
    }
  } else if (bytes > kSegmentMagic.size() && mode == Preallocate::zeros) {
    // Written in 1 MiB pieces, each pushed to the disk while the next is written, so the WAL's
    // fdatasync never waits behind megabytes of dirty zeros.
    static const std::string kZeros(1U << 20, '\0');
    std::size_t off = kSegmentMagic.size(), prev_off = 0, prev_len = 0;
    while (off < bytes) {
      const std::size_t n = std::min(kZeros.size(), bytes - off);
      if (!write_all_at(fd, std::string_view(kZeros).substr(0, n), off, "segment.reserve")) {
        return fail(fmt::format("cannot reserve {} bytes for segment", bytes));
      }
      (void)::sync_file_range(fd, static_cast<off_t>(off), static_cast<off_t>(n), SYNC_FILE_RANGE_WRITE);
      if (prev_len > 0) {
        (void)::sync_file_range(
            fd, static_cast<off_t>(prev_off), static_cast<off_t>(prev_len),
            SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
      }
      prev_off = off;
      prev_len = n;
      off += n;
    }
  }
  if (::fdatasync(fd) != 0) return fail("cannot sync segment");
  detail::fsync_dir(path.parent_path());
  return fd;
}

tl::expected<void, StoreError> Store::open_segment(std::uint64_t n,
                                                   std::optional<std::pair<std::uint64_t, std::size_t>> prev,
                                                   bool use_spare) {
  const fs::path p = wal_dir_ / segment_name(n);
  int fd = -1;
  if (use_spare && opts_.precreate_segments) {
    {
      std::lock_guard lk(spare_mu_);
      std::swap(fd, spare_fd_);
    }
    if (fd >= 0 && ::rename((wal_dir_ / kSpareSegment).c_str(), p.c_str()) != 0) {
      log()->warn("cannot rename the pre-created segment to '{}': {}", p.string(), std::strerror(errno));
      ::close(fd);
      fd = -1;
    }
    {
      std::lock_guard lk(spare_mu_);
      spare_wanted_ = true;
    }
    spare_cv_.notify_one();
  }
  if (fd < 0) {
    // No spare ready (or none wanted: recovery, resuming): created here without reserving
    // space, as segments were before pre-creation, so a nearly full disk never keeps the
    // store from starting.
    auto r = detail::create_segment_file(p, opts_.segment_bytes, Preallocate::none);
    if (!r) return tl::unexpected(r.error());
    fd = *r;
  }
  seg_ = std::make_shared<SegmentFile>(n, fd, kSegmentMagic.size());
  segment_no_ = n;
  segment_size_ = kSegmentMagic.size();
  stats_.segments_created++;
  buf_.clear();
  if (prev) {
    std::string payload;
    Writer w(payload);
    w.u64(prev->first);
    w.u64(prev->second);
    append_record(buf_, RecordType::segment_start, payload);
  }
  return {};
}

// In the middle of group `c`: the group's records so far go to the current segment, whose
// reserved tail the syncer cuts once they are durable. Between groups (nothing in flight) the
// tail is cut here.
tl::expected<void, StoreError> Store::rotate(Commit* c) {
  if (c) {
    if (auto r = write_buffer(*c); !r) return r;
    if (c->pieces.empty() || c->pieces.back().seg != seg_) {
      c->pieces.push_back({seg_, segment_size_, true});
    } else {
      c->pieces.back().last = true;
    }
  } else {
    buf_.clear();  // at most the segment_start record of a segment that stays empty
    (void)::ftruncate(seg_->fd, static_cast<off_t>(segment_size_));
  }
  rotated_since_checkpoint_ = true;
  return open_segment(segment_no_ + 1, std::pair{segment_no_.load(), segment_size_});
}

bool Store::spare_ready() const {
  std::lock_guard lk(spare_mu_);
  return spare_fd_ >= 0;
}

void Store::spare_loop() {
  // Below the writer and broker threads: on a busy machine ingest gets the CPU first.
  (void)::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 10);
  std::unique_lock lk(spare_mu_);
  while (true) {
    spare_cv_.wait(lk, [&] { return spare_stop_ || (spare_wanted_ && spare_fd_ < 0); });
    if (spare_stop_) break;
    spare_wanted_ = false;
    lk.unlock();
    auto fd = detail::create_segment_file(wal_dir_ / kSpareSegment, opts_.segment_bytes, opts_.preallocate);
    lk.lock();
    if (fd) {
      spare_fd_ = *fd;
      if (spare_failing_) log()->info("pre-creating the next segment works again");
      spare_failing_ = false;
    } else {
      stats_.spare_failures++;
      if (!spare_failing_) {
        log()->warn("cannot pre-create the next segment: {}; the next roll creates it on the writer",
                    fd.error().message);
      }
      spare_failing_ = true;
    }
  }
}

// A spare left by an earlier run: the segment the writer had rolled into when the rename's
// directory entry never reached the disk (power loss) holds records after its segment_start;
// it is that segment and gets its number back. Otherwise it is unused and removed.
void Store::adopt_spare() {
  const fs::path spare = wal_dir_ / kSpareSegment;
  std::error_code ec;
  if (!fs::exists(spare, ec)) return;
  auto data = read_file(spare);
  std::optional<std::uint64_t> prev;
  std::size_t records = 0;
  if (data) {
    scan_records(*data, kSegmentMagic, 0, [&](RecordType t, std::string_view p) {
      detail::Reader r(p);
      std::uint64_t v = 0;
      if (records++ == 0 && t == RecordType::segment_start && r.u64(v)) prev = v;
      return true;
    });
  }
  if (prev && records > 1 && !fs::exists(wal_dir_ / segment_name(*prev + 1), ec)) {
    const fs::path to = wal_dir_ / segment_name(*prev + 1);
    if (::rename(spare.c_str(), to.c_str()) == 0) {
      detail::fsync_dir(wal_dir_);
      const auto msg =
          fmt::format("the pre-created segment holds {} record(s) after segment {}: replaying it as '{}'",
                      records, segment_name(*prev), to.string());
      log()->warn("{}", msg);
      recovery_.warnings.push_back(msg);
      return;
    }
  }
  fs::remove(spare, ec);
}

}  // namespace rm::telemetry
