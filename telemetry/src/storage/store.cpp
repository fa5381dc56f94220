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
#include "store_io.hpp"
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
  s->last_checkpoint_ = std::chrono::steady_clock::now();
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
    recovery_.warnings.push_back(r.error());
    log()->warn("{}; trying an older one", r.error());
  }
  const std::uint64_t first = recovery_.checkpoint ? *recovery_.checkpoint + 1 : 0;
  auto segs = list_segments(wal_dir_);
  std::uint64_t last = recovery_.checkpoint.value_or(0);
  for (std::size_t i = 0; i < segs.size(); ++i) {
    const std::uint64_t n = segs[i];
    const fs::path p = wal_dir_ / segment_name(n);
    last = std::max(last, n);
    if (n < first) {  // already covered by the checkpoint (deletion was interrupted)
      fs::remove(p, ec);
      continue;
    }
    auto data = read_file(p);
    if (!data) return tl::unexpected(StoreError{StoreErrorCode::io, data.error()});
    const bool is_last = i + 1 == segs.size();
    const auto replayed = replay_segment(*data, 0, is_last, *state);
    const ScanResult& res = replayed.scan;
    ++recovery_.segments_replayed;
    recovery_.records_replayed += res.records;
    if (res.stop == ScanStop::clean) continue;
    const std::size_t cut = data->size() - res.valid_end;
    recovery_.truncated_bytes += cut;
    auto msg = fmt::format("segment '{}': {} at offset {}; truncating {} bytes ({} valid records kept)",
                           p.string(), to_string(res.stop), res.valid_end, cut, res.records);
    if (res.valid_end < kSegmentMagic.size()) {
      fs::remove(p, ec);
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
    gpus_[gpu_by_ref_[ref]->id] = WalGpu{ref, gpu_by_ref_[ref], index_->upsert_gpu(*gpu_by_ref_[ref])};
  }
  metric_by_ref_ = state->metric_names;
  for (std::uint32_t ref = 0; ref < metric_by_ref_.size(); ++ref) {
    metrics_[metric_by_ref_[ref]] = WalMetric{ref, index_->metric_id(metric_by_ref_[ref])};
  }
  log()->info(
      "recovered '{}': checkpoint {}, {} segment(s), {} record(s), {} GPU(s), {} sample(s)",
      opts_.dir.string(), recovery_.checkpoint ? segment_name(*recovery_.checkpoint) : std::string("none"),
      recovery_.segments_replayed, recovery_.records_replayed, index_->gpu_count(), index_->sample_count());
  return open_segment(last + 1);
}

tl::expected<void, StoreError> Store::open_segment(std::uint64_t n) {
  if (fd_ >= 0) ::close(fd_);
  const fs::path p = wal_dir_ / segment_name(n);
  fd_ = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) return tl::unexpected(io_error(fmt::format("cannot create segment '{}'", p.string())));
  if (!write_all(fd_, kSegmentMagic, "wal.short_write") || ::fdatasync(fd_) != 0) {
    auto e = io_error(fmt::format("cannot write segment header '{}'", p.string()));
    ::close(fd_);
    fd_ = -1;
    ::unlink(p.c_str());  // a headerless segment would read as corrupt in the middle of the log
    return tl::unexpected(e);
  }
  fsync_dir(wal_dir_);
  segment_no_ = n;
  segment_size_ = kSegmentMagic.size();
  stats_.segments_created++;
  return {};
}

tl::expected<void, StoreError> Store::flush_and_sync() {
  if (buf_.empty()) return {};
  const auto t0 = std::chrono::steady_clock::now();
  if (!write_all(fd_, buf_, "wal.short_write")) {
    return tl::unexpected(io_error(fmt::format("write to segment {} failed", segment_name(segment_no_))));
  }
  if (fault_hit("wal.fsync")) {
    errno = EIO;
    return tl::unexpected(io_error(fmt::format("fdatasync of segment {} failed", segment_name(segment_no_))));
  }
  if (::fdatasync(fd_) != 0) {
    return tl::unexpected(io_error(fmt::format("fdatasync of segment {} failed", segment_name(segment_no_))));
  }
  const auto ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count();
  if (opts_.fsync_observer) opts_.fsync_observer(static_cast<double>(ns) / 1e9);
  stats_.fsyncs++;
  stats_.bytes += buf_.size();
  segment_size_ += buf_.size();
  buf_.clear();
  return {};
}

tl::expected<void, StoreError> Store::rotate() {
  if (auto r = flush_and_sync(); !r) return r;
  rotated_since_checkpoint_ = true;
  return open_segment(segment_no_ + 1);
}

void Store::submit(Batch batch, Callback cb) {
  {
    std::lock_guard lk(mu_);
    if (!stop_) {
      queue_.push_back(Pending{std::move(batch), std::move(cb)});
      stats_.queue = queue_.size();
      cv_.notify_one();
      return;
    }
  }
  cb(tl::unexpected(StoreError{StoreErrorCode::closed, "store is shutting down"}));
}

struct Store::Undo {
  std::size_t gpu_refs = 0, metric_refs = 0;
  std::vector<std::pair<std::string, std::uint64_t>> producers;  // previous highest seq
  std::vector<std::pair<std::string, WalGpu>> changed_gpus;      // previous metadata
};

void Store::rollback(const Undo& u) {
  for (auto it = u.producers.rbegin(); it != u.producers.rend(); ++it) producers_[it->first] = it->second;
  for (std::size_t ref = u.gpu_refs; ref < gpu_by_ref_.size(); ++ref) gpus_.erase(gpu_by_ref_[ref]->id);
  gpu_by_ref_.resize(u.gpu_refs);
  for (auto it = u.changed_gpus.rbegin(); it != u.changed_gpus.rend(); ++it) {
    gpus_[it->first] = it->second;
    gpu_by_ref_[it->second.ref] = it->second.info;
  }
  for (std::size_t ref = u.metric_refs; ref < metric_by_ref_.size(); ++ref)
    metrics_.erase(metric_by_ref_[ref]);
  metric_by_ref_.resize(u.metric_refs);
  buf_.clear();
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
  r.gauge_callback("telemetry_collector_wal_segment", "Current WAL segment number.",
                   [this] { return static_cast<double>(segment_no_.load()); });
}

std::optional<std::uint64_t> Store::disk_free_bytes() const {
  struct statvfs sv {};
  if (::statvfs(opts_.dir.c_str(), &sv) != 0) return std::nullopt;
  return std::uint64_t{sv.f_bavail} * sv.f_frsize;
}

// The current segment is cut back to what was last synced (so no torn record stays in the
// middle of the log) and the store refuses batches until try_resume() succeeds.
void Store::become_unavailable(const StoreError& e) {
  stats_.write_errors++;
  if (fd_ >= 0 && (::ftruncate(fd_, static_cast<off_t>(segment_size_)) != 0 ||
                   ::lseek(fd_, static_cast<off_t>(segment_size_), SEEK_SET) < 0)) {
    log()->error("cannot cut segment {} back to {} bytes: {}", segment_name(segment_no_), segment_size_,
                 std::strerror(errno));
  }
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

void Store::try_resume() {
  last_retry_ = std::chrono::steady_clock::now();
  if (auto free = disk_free_bytes(); free && *free < opts_.resume_free_bytes) return;
  if (fd_ >= 0 && (::ftruncate(fd_, static_cast<off_t>(segment_size_)) != 0 || ::fdatasync(fd_) != 0)) {
    return;
  }
  if (auto r = open_segment(segment_no_ + 1); !r) return;
  rotated_since_checkpoint_ = true;
  unavailable_ = false;
  stats_.resumed++;
  log()->info("store is writable again: continuing in segment {}", segment_name(segment_no_));
}

// Appends one record to the group commit's buffer, rotating to a new segment first when the
// record would not fit.
tl::expected<void, StoreError> Store::add_record(RecordType t, const std::string& payload) {
  const std::size_t need = payload.size() + kRecordHeader;
  if (segment_size_ + buf_.size() + need > opts_.segment_bytes &&
      segment_size_ + buf_.size() > kSegmentMagic.size()) {
    if (auto r = rotate(); !r) return r;
  }
  append_record(buf_, t, payload);
  return {};
}

// Encodes one new batch (its GPU and metric defs where they are new or changed, then the
// batch record) into the buffer, noting every ref-table change in `undo`.
tl::expected<void, StoreError> Store::encode_batch(const Batch& b, Undo& undo, Applied& a) {
  std::string payload;
  for (const auto& g : b.gpus) {
    auto it = gpus_.find(g->id);
    if (it == gpus_.end()) {
      const auto ref = static_cast<std::uint32_t>(gpu_by_ref_.size());
      gpu_by_ref_.push_back(g);
      it = gpus_.emplace(g->id, WalGpu{ref, g, nullptr}).first;
    } else if (it->second.info == g || *it->second.info == *g) {
      a.gpus.push_back(&it->second);
      continue;
    } else {
      undo.changed_gpus.emplace_back(g->id, it->second);
      it->second.info = g;
      it->second.slot = nullptr;  // metadata changed: re-upsert on apply
      gpu_by_ref_[it->second.ref] = g;
    }
    payload.clear();
    Writer w(payload);
    w.u32(it->second.ref);
    encode_gpu(payload, *g);
    if (auto r = add_record(RecordType::gpu_def, payload); !r) return r;
    a.gpus.push_back(&it->second);
  }
  for (const auto& m : b.metrics) {
    auto it = metrics_.find(m);
    if (it == metrics_.end()) {
      const auto ref = static_cast<std::uint32_t>(metric_by_ref_.size());
      metric_by_ref_.push_back(m);
      it = metrics_.emplace(m, WalMetric{ref, index_->metric_id(m)}).first;
      payload.clear();
      Writer w(payload);
      w.u32(ref);
      w.str(m);
      if (auto r = add_record(RecordType::metric_def, payload); !r) return r;
    }
    a.metrics.push_back(&it->second);
  }
  payload.clear();
  Writer w(payload);
  w.str(b.producer);
  w.u64(b.seq);
  w.u32(static_cast<std::uint32_t>(b.samples.size()));
  for (const auto& s : b.samples) {
    w.u32(a.gpus[s.gpu]->ref);
    w.u32(a.metrics[s.metric]->ref);
    w.i64(s.timestamp_ns);
    w.f64(s.value);
  }
  return add_record(RecordType::batch, payload);
}

// Applies a durable batch to the index, in runs of consecutive samples of one GPU.
void Store::apply_batch(const Batch& b, Applied& a) {
  for (WalGpu* g : a.gpus) {
    if (!g->slot) g->slot = index_->upsert_gpu(*g->info);
  }
  std::uint32_t cur = UINT32_MAX;
  std::vector<Index::Entry>& run = run_scratch_;
  run.clear();
  for (const auto& s : b.samples) {
    if (s.gpu != cur) {
      if (!run.empty()) index_->append_many(a.gpus[cur]->slot, run.data(), run.size());
      run.clear();
      cur = s.gpu;
    }
    run.push_back({s.timestamp_ns, s.value, a.metrics[s.metric]->index_id});
  }
  if (!run.empty()) index_->append_many(a.gpus[cur]->slot, run.data(), run.size());
}

// One group commit: encode every new batch, write and sync once, then apply and acknowledge.
// A failure rolls the ref tables back and turns the store read-only; nothing is acknowledged.
void Store::process(std::deque<Pending>& work) {
  if (unavailable_) {
    const auto reason = unavailable_reason().value_or("storage unavailable");
    for (auto& p : work) {
      stats_.rejected++;
      p.cb(tl::unexpected(StoreError{StoreErrorCode::unavailable, reason}));
    }
    return;
  }
  Undo undo;
  undo.gpu_refs = gpu_by_ref_.size();
  undo.metric_refs = metric_by_ref_.size();
  std::vector<std::optional<Applied>> applied(work.size());
  tl::expected<void, StoreError> status;
  for (std::size_t i = 0; i < work.size() && status; ++i) {
    const Batch& b = work[i].batch;
    auto& hi = producers_[b.producer];
    if (b.seq <= hi) continue;  // duplicate: acknowledged below, not stored
    undo.producers.emplace_back(b.producer, hi);
    hi = b.seq;
    Applied a;
    status = encode_batch(b, undo, a);
    if (status) applied[i] = std::move(a);
  }
  if (status) status = flush_and_sync();
  if (!status) {
    rollback(undo);
    become_unavailable(status.error());
    const auto reason = unavailable_reason().value_or(status.error().message);
    for (auto& p : work) p.cb(tl::unexpected(StoreError{StoreErrorCode::unavailable, reason}));
    return;
  }
  for (std::size_t i = 0; i < work.size(); ++i) {
    const Batch& b = work[i].batch;
    if (!applied[i]) {
      stats_.duplicates++;
      work[i].cb(Ack{b.seq, true});
      continue;
    }
    apply_batch(b, *applied[i]);
    stats_.batches++;
    stats_.samples += b.samples.size();
    dirty_since_checkpoint_ = true;
    work[i].cb(Ack{b.seq, false});
  }
}

void Store::run() {
  std::unique_lock lk(mu_);
  while (true) {
    cv_.wait_for(lk, std::chrono::milliseconds(200), [&] { return !queue_.empty() || stop_; });
    if (queue_.empty() && stop_) break;
    std::deque<Pending> work;
    work.swap(queue_);
    stats_.queue = 0;
    lk.unlock();
    {
      std::lock_guard wl(writer_mu_);
      if (unavailable_ && std::chrono::steady_clock::now() - last_retry_ >= opts_.retry_interval) {
        try_resume();
      }
      if (!work.empty()) process(work);
      const auto since = std::chrono::steady_clock::now() - last_checkpoint_;
      const bool due = (rotated_since_checkpoint_ && since >= opts_.min_checkpoint_spacing) ||
                       (dirty_since_checkpoint_ && since >= opts_.checkpoint_interval);
      if (opts_.checkpoints && due && !unavailable_) (void)write_checkpoint_locked(false);
    }
    lk.lock();
  }
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
  std::lock_guard wl(writer_mu_);
  if (opts_.checkpoints && !unavailable_ && fd_ >= 0 &&
      (dirty_since_checkpoint_ || rotated_since_checkpoint_)) {
    (void)write_checkpoint_locked(true);
  }
  join_checkpoint_thread();
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (lock_fd_ >= 0) ::close(lock_fd_);  // nothing writes any more: another store may open it
  lock_fd_ = -1;
}

}  // namespace rm::telemetry
