#include "telemetry/storage/store.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "bytes.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "store_commit.hpp"
#include "store_io.hpp"
#include "telemetry/storage/store_meta.hpp"
#include "thread_boundary.hpp"

namespace rm::telemetry {

namespace fs = std::filesystem;
using detail::fsync_dir;
using detail::io_error;
using detail::write_all;
using detail::Writer;

namespace {
auto log() {
  return core::logger("telemetry.store");
}
}  // namespace

// ---------------------------------------------------------------- Store

Store::Store(StoreOptions opts)
    : opts_(std::move(opts)),
      wal_dir_(opts_.dir / "wal"),
      index_(std::make_shared<Index>(opts_.max_entries, opts_.retention.count())) {}

Store::~Store() {
  close();
  if (lock_fd_ >= 0) ::close(lock_fd_);  // open() failed before the writer started
}

tl::expected<std::unique_ptr<Store>, StoreError> Store::open(StoreOptions opts) {
  std::unique_ptr<Store> s(new Store(std::move(opts)));
  if (auto r = s->lock_dir(); !r) return tl::unexpected(r.error());
  if (auto r = s->recover(); !r) return tl::unexpected(r.error());
  // The follower (gateway) sizes its index from this; without it, it uses its own fallback.
  if (auto r = write_store_meta(s->opts_.dir, {s->opts_.max_entries, s->opts_.retention.count()}); !r) {
    log()->warn("{}; readers fall back to their own MAX_ENTRIES and RETENTION", r.error().message);
  }
  s->last_checkpoint_ = std::chrono::steady_clock::now();
  s->syncer_ = std::thread([p = s.get()] { detail::guard_thread("store syncer", [p] { p->sync_loop(); }); });
  if (s->opts_.precreate_segments) {
    s->spare_thread_ = std::thread(
        [p = s.get()] { detail::guard_thread("segment pre-creation", [p] { p->spare_loop(); }); });
    {
      std::lock_guard lk(s->spare_mu_);
      s->spare_wanted_ = true;
    }
    s->spare_cv_.notify_one();
  }
  s->writer_ = std::thread([p = s.get()] { detail::guard_thread("store writer", [p] { p->run(); }); });
  return s;
}

// One writer per directory: an exclusive flock on <dir>/LOCK, held for the store's lifetime
// (released by the kernel when the process dies, so kill -9 leaves no stale lock). The file
// holds the owner's pid so a second writer can name it.
tl::expected<void, StoreError> Store::lock_dir() {
  std::error_code ec;
  fs::create_directories(opts_.dir, ec);
  const fs::path p = opts_.dir / "LOCK";
  lock_fd_ = ::open(p.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0) {
    return tl::unexpected(io_error(fmt::format("cannot open the lock file '{}'", p.string())));
  }
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    char buf[32] = {};
    const ssize_t n = ::pread(lock_fd_, buf, sizeof buf - 1, 0);
    std::string pid = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string("unknown");
    while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
    ::close(lock_fd_);
    lock_fd_ = -1;
    if (err != EWOULDBLOCK) {
      errno = err;
      return tl::unexpected(io_error(fmt::format("cannot lock '{}'", p.string())));
    }
    return tl::unexpected(
        StoreError{StoreErrorCode::locked,
                   fmt::format("the store directory '{}' is in use by another collector (pid {}); two "
                               "writers would overwrite each other's data: give each collector its own "
                               "COLLECTOR_ID or DATA_DIR",
                               opts_.dir.string(), pid)});
  }
  const std::string pid = fmt::format("{}\n", ::getpid());
  if (::ftruncate(lock_fd_, 0) != 0 || ::pwrite(lock_fd_, pid.data(), pid.size(), 0) < 0) {
    log()->warn("cannot write the pid into '{}': {}", p.string(), std::strerror(errno));
  }
  return {};
}

tl::expected<void, StoreError> Store::recover() {
  std::error_code ec;
  fs::create_directories(wal_dir_, ec);
  if (ec) {
    return tl::unexpected(StoreError{
        StoreErrorCode::io,
        fmt::format("cannot create '{}': {}; check DATA_DIR permissions", wal_dir_.string(), ec.message())});
  }
  for (auto it = fs::directory_iterator(opts_.dir, ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    const auto name = it->path().filename().string();
    if (name.rfind("checkpoint.", 0) == 0 && name.size() > 4 && name.substr(name.size() - 4) == ".tmp") {
      log()->warn("removing unfinished checkpoint '{}'", it->path().string());
      fs::remove(it->path(), ec);
    }
  }
  adopt_spare();
  auto state = std::make_unique<ReplayState>(*index_);
  for (std::uint64_t c : list_checkpoints(opts_.dir)) {
    auto fresh = std::make_shared<Index>(opts_.max_entries, opts_.retention.count());
    auto st = std::make_unique<ReplayState>(*fresh);
    auto r = load_checkpoint(checkpoint_path(opts_.dir, c), *st);
    if (r) {
      index_ = fresh;
      state = std::move(st);
      recovery_.checkpoint = c;
      break;
    }
    recovery_.warnings.push_back(r.error().message);
    log()->warn("{}; trying an older one", r.error().message);
  }
  const std::uint64_t first = recovery_.checkpoint ? *recovery_.checkpoint + 1 : 0;
  auto segs = list_segments(wal_dir_);
  std::uint64_t last = recovery_.checkpoint.value_or(0);
  std::optional<std::pair<std::uint64_t, std::size_t>> prev;  // the last segment kept, its length
  for (std::size_t i = 0; i < segs.size(); ++i) {
    const std::uint64_t n = segs[i];
    const fs::path p = wal_dir_ / segment_name(n);
    last = std::max(last, n);
    if (n < first) {  // already covered by the checkpoint (deletion was interrupted)
      fs::remove(p, ec);
      continue;
    }
    auto data = read_file(p);
    if (!data) return tl::unexpected(StoreError{StoreErrorCode::io, data.error().message});
    const bool is_last = i + 1 == segs.size();
    const auto replayed = replay_segment(*data, n, 0, is_last, *state);
    const ScanResult& res = replayed.scan;
    ++recovery_.segments_replayed;
    recovery_.records_replayed += res.records;
    prev.emplace(n, res.valid_end);
    if (res.stop == ScanStop::clean) continue;
    const std::size_t cut = data->size() - res.valid_end;
    recovery_.truncated_bytes += cut;
    if (res.stop == ScanStop::zero_fill && res.valid_end >= kSegmentMagic.size()) {
      // Where writing stopped in a pre-allocated segment: its unwritten reserved tail.
      if (::truncate(p.c_str(), static_cast<off_t>(res.valid_end)) != 0) {
        return tl::unexpected(io_error(fmt::format("cannot truncate '{}'", p.string())));
      }
      continue;
    }
    auto msg =
        fmt::format("segment '{}': {} at offset {}; truncating {} bytes ({} valid records kept)", p.string(),
                    state->gap.value_or(to_string(res.stop)), res.valid_end, cut, res.records);
    if (res.valid_end < kSegmentMagic.size()) {
      fs::remove(p, ec);
      prev.reset();
    } else if (::truncate(p.c_str(), static_cast<off_t>(res.valid_end)) != 0) {
      return tl::unexpected(io_error(fmt::format("cannot truncate '{}'", p.string())));
    }
    if (!replayed.log_ends_here) {
      log()->warn("{}", msg);
      recovery_.warnings.push_back(msg);
    } else {
      // Corruption before the end: later segments cannot be replayed consistently after a gap.
      for (std::size_t k = i + 1; k < segs.size(); ++k) {
        fs::remove(wal_dir_ / segment_name(segs[k]), ec);
        ++recovery_.segments_dropped;
        last = std::max(last, segs[k]);
      }
      msg += fmt::format("; dropped {} later segment(s)", recovery_.segments_dropped);
      log()->error("{}", msg);
      recovery_.warnings.push_back(msg);
      break;
    }
  }
  recovery_.batches_replayed = state->batches;
  producers_ = state->producers;
  gpu_by_ref_ = state->gpu_infos;
  for (std::uint32_t ref = 0; ref < gpu_by_ref_.size(); ++ref) {
    gpus_[gpu_by_ref_[ref]->id] = WalGpu{ref, gpu_by_ref_[ref]};
  }
  metric_by_ref_ = state->metric_names;
  for (std::uint32_t ref = 0; ref < metric_by_ref_.size(); ++ref) {
    metrics_[metric_by_ref_[ref]] = WalMetric{ref, index_->metric_id(metric_by_ref_[ref])};
  }
  log()->info(
      "recovered '{}': checkpoint {}, {} segment(s), {} record(s), {} GPU(s), {} sample(s)",
      opts_.dir.string(), recovery_.checkpoint ? segment_name(*recovery_.checkpoint) : std::string("none"),
      recovery_.segments_replayed, recovery_.records_replayed, index_->gpu_count(), index_->sample_count());
  for (std::uint64_t ref = 0; ref < gpu_by_ref_.size(); ++ref)
    slot_by_ref_.push_back(index_->upsert_gpu(*gpu_by_ref_[ref]));
  if (prev && prev->first != last) prev.reset();  // later segments were dropped
  return open_segment(last + 1, prev, /*use_spare=*/false);
}

std::optional<std::string> Store::unavailable_reason() const {
  if (!unavailable_) return std::nullopt;
  std::lock_guard lk(reason_mu_);
  return unavailable_reason_;
}

void Store::register_metrics(core::metrics::Registry& r) const {
  auto counter = [&](const char* name, const char* help, const std::atomic<std::uint64_t>& v) {
    r.counter_callback(name, help, [&v] { return static_cast<double>(v.load()); });
  };
  counter("telemetry_collector_batches_total", "Batches stored.", stats_.batches);
  counter("telemetry_collector_samples_total", "Samples stored (ingest rate = rate of this).",
          stats_.samples);
  counter("telemetry_collector_duplicate_batches_total",
          "Retried batches acknowledged without storing them again.", stats_.duplicates);
  counter("telemetry_collector_checkpoints_total", "Checkpoints written.", stats_.checkpoints);
  counter("telemetry_collector_checkpoint_failures_total", "Checkpoints that failed.",
          stats_.checkpoint_failures);
  counter("telemetry_collector_wal_bytes_total", "Bytes appended to the WAL.", stats_.bytes);
  counter("telemetry_collector_store_write_errors_total",
          "WAL writes or syncs that failed (ENOSPC, EIO); each makes the store read-only until it recovers.",
          stats_.write_errors);
  counter("telemetry_collector_store_rejected_batches_total",
          "Batches refused because the store was read-only.", stats_.rejected);
  r.gauge_callback("telemetry_collector_store_writable",
                   "1 while the store accepts batches, 0 while it is read-only after a write error.",
                   [this] { return unavailable_ ? 0.0 : 1.0; });
  r.gauge_callback("telemetry_collector_disk_free_bytes", "Free bytes of the file system holding the store.",
                   [this] { return static_cast<double>(disk_free_bytes().value_or(0)); });
  r.gauge_callback("telemetry_collector_index_gpus", "GPUs in the in-memory index.",
                   [this] { return static_cast<double>(index_->gpu_count()); });
  r.gauge_callback("telemetry_collector_index_samples", "Samples retained in the index.",
                   [this] { return static_cast<double>(index_->sample_count()); });
  r.gauge_callback("telemetry_collector_wal_spare_ready",
                   "1 while the next WAL segment is pre-created, so a roll costs no sync on the ack path.",
                   [this] { return spare_ready() ? 1.0 : 0.0; });
  r.counter_callback("telemetry_collector_wal_spare_failures_total",
                     "Times pre-creating the next WAL segment failed (the roll then creates it itself).",
                     [this] { return static_cast<double>(stats_.spare_failures.load()); });
  r.gauge_callback("telemetry_collector_wal_segment", "Current WAL segment number.",
                   [this] { return static_cast<double>(segment_no_.load()); });
  fsync_seconds_.store(
      &r.histogram("telemetry_collector_fsync_seconds", "Duration of WAL fdatasync calls (group commits).",
                   {}, {0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1})
           .labels({}),
      std::memory_order_release);
}

std::optional<std::uint64_t> Store::disk_free_bytes() const {
  struct statvfs sv {};
  if (::statvfs(opts_.dir.c_str(), &sv) != 0) return std::nullopt;
  return std::uint64_t{sv.f_bavail} * sv.f_frsize;
}

// The failed group was cut back by the caller (so no torn record stays in the middle of the
// log); the store refuses batches until try_resume() succeeds.
void Store::become_unavailable(const StoreError& e) {
  stats_.write_errors++;
  {
    std::lock_guard lk(reason_mu_);
    unavailable_reason_ = fmt::format("storage unavailable: {}", e.message);
  }
  if (!unavailable_.exchange(true)) {
    log()->error("store is read-only: {}; refusing batches and retrying every {} ms", e.message,
                 opts_.retry_interval.count());
  }
  last_retry_ = std::chrono::steady_clock::now();
}

// Groups still in flight settle first (their segment lengths must be final before the next
// segment's segment_start names them); then a fresh, fully reserved segment proves the disk.
void Store::try_resume() {
  drain();
  last_retry_ = std::chrono::steady_clock::now();
  if (auto free = disk_free_bytes(); free && *free < opts_.resume_free_bytes) return;
  if (seg_ && (::ftruncate(seg_->fd, static_cast<off_t>(segment_size_)) != 0 || ::fdatasync(seg_->fd) != 0)) {
    return;
  }
  std::optional<std::pair<std::uint64_t, std::size_t>> prev;
  if (seg_) prev.emplace(seg_->no, segment_size_);
  if (auto r = open_segment(segment_no_ + 1, prev, /*use_spare=*/false); !r) return;
  rotated_since_checkpoint_ = true;
  unavailable_ = false;
  stats_.resumed++;
  log()->info("store is writable again: continuing in segment {}", segment_name(segment_no_));
}

void Store::close() {
  {
    std::lock_guard lk(mu_);
    if (closed_) return;
    closed_ = true;
    stop_ = true;
    cv_.notify_all();
  }
  if (writer_.joinable()) writer_.join();
  {
    std::lock_guard wl(writer_mu_);
    if (syncer_.joinable()) drain();
    if (opts_.checkpoints && !unavailable_ && seg_ &&
        (dirty_since_checkpoint_ || rotated_since_checkpoint_)) {
      (void)write_checkpoint_locked(true);
    }
    join_checkpoint_thread();
    // A closed store leaves segments of their exact length (no reserved tail).
    if (seg_ && !unavailable_) (void)::ftruncate(seg_->fd, static_cast<off_t>(segment_size_));
    seg_.reset();
  }
  {
    std::lock_guard lk(sync_mu_);
    sync_stop_ = true;
  }
  sync_cv_.notify_all();
  if (syncer_.joinable()) syncer_.join();
  {
    std::lock_guard lk(spare_mu_);
    spare_stop_ = true;
  }
  spare_cv_.notify_all();
  if (spare_thread_.joinable()) spare_thread_.join();
  if (spare_fd_ >= 0) {
    ::close(spare_fd_);
    ::unlink((wal_dir_ / kSpareSegment).c_str());
    spare_fd_ = -1;
  }
  if (lock_fd_ >= 0) ::close(lock_fd_);  // nothing writes any more: another store may open it
  lock_fd_ = -1;
}

}  // namespace rm::telemetry
