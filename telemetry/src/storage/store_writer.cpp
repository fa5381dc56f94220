// The store's ack path: the writer thread encodes and writes each group commit, the syncer
// thread makes it durable (one fdatasync per segment touched, overlapping the writer's next
// group), then applies it to the index and acknowledges it.
#include <fcntl.h>
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
#include "telemetry/storage/store.hpp"

namespace rm::telemetry {

using detail::io_error;
using detail::write_all_at;
using detail::Writer;

namespace {
auto log() {
  return core::logger("telemetry.store");
}
}  // namespace

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

tl::expected<void, StoreError> Store::write_buffer(Commit& c) {
  if (buf_.empty()) return {};
  if (!write_all_at(seg_->fd, buf_, segment_size_, "wal.short_write")) {
    return tl::unexpected(io_error(fmt::format("write to segment {} failed", segment_name(segment_no_))));
  }
  segment_size_ += buf_.size();
  c.bytes += buf_.size();
  c.pieces.push_back({seg_, segment_size_, false});
  buf_.clear();
  return {};
}

// Appends one record to the group commit's buffer, rolling to the next segment first when the
// record would not fit.
tl::expected<void, StoreError> Store::add_record(Commit& c, RecordType t, const std::string& payload) {
  const std::size_t need = payload.size() + kRecordHeader;
  if (segment_size_ + buf_.size() + need > opts_.segment_bytes &&
      segment_size_ + buf_.size() > kSegmentMagic.size()) {
    if (auto r = rotate(&c); !r) return r;
  }
  append_record(buf_, t, payload);
  return {};
}

// Encodes one new batch (its GPU and metric defs where they are new or changed, then the
// batch record) into the buffer, noting every ref-table change in the commit's undo.
tl::expected<void, StoreError> Store::encode_batch(Commit& c, const Batch& b, Applied& a) {
  std::string payload;
  std::vector<std::uint32_t>& metric_refs = metric_ref_scratch_;
  metric_refs.clear();
  for (const auto& g : b.gpus) {
    auto it = gpus_.find(g->id);
    if (it == gpus_.end()) {
      const auto ref = static_cast<std::uint32_t>(gpu_by_ref_.size());
      gpu_by_ref_.push_back(g);
      it = gpus_.emplace(g->id, WalGpu{ref, g}).first;
    } else if (it->second.info == g || *it->second.info == *g) {
      a.gpus.push_back({it->second.ref, false, it->second.info});
      continue;
    } else {
      c.undo.changed_gpus.emplace_back(g->id, it->second);
      it->second.info = g;
      gpu_by_ref_[it->second.ref] = g;
    }
    payload.clear();
    Writer w(payload);
    w.u32(it->second.ref);
    encode_gpu(payload, *g);
    if (auto r = add_record(c, RecordType::gpu_def, payload); !r) return r;
    a.gpus.push_back({it->second.ref, true, g});
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
      if (auto r = add_record(c, RecordType::metric_def, payload); !r) return r;
    }
    a.metrics.push_back(it->second.index_id);
    metric_refs.push_back(it->second.ref);
  }
  payload.clear();
  Writer w(payload);
  w.str(b.producer);
  w.u64(b.seq);
  w.u32(static_cast<std::uint32_t>(b.samples.size()));
  for (const auto& s : b.samples) {
    w.u32(a.gpus[s.gpu].ref);
    w.u32(metric_refs[s.metric]);
    w.i64(s.timestamp_ns);
    w.f64(s.value);
  }
  return add_record(c, RecordType::batch, payload);
}

// Applies a durable batch to the index (syncer thread), in runs of consecutive samples of one
// GPU.
void Store::apply_batch(const Batch& b, const Applied& a) {
  for (const auto& g : a.gpus) {
    if (g.ref >= slot_by_ref_.size()) slot_by_ref_.resize(g.ref + 1, nullptr);
    if (g.upsert || !slot_by_ref_[g.ref]) slot_by_ref_[g.ref] = index_->upsert_gpu(*g.info);
  }
  std::uint32_t cur = UINT32_MAX;
  std::vector<Index::Entry>& run = run_scratch_;
  run.clear();
  auto flush = [&] {
    if (!run.empty()) index_->append_many(slot_by_ref_[a.gpus[cur].ref], run.data(), run.size());
    run.clear();
  };
  for (const auto& s : b.samples) {
    if (s.gpu != cur) {
      flush();
      cur = s.gpu;
    }
    run.push_back({s.timestamp_ns, s.value, a.metrics[s.metric]});
  }
  flush();
}

// One group commit: encode every new batch and write them; the syncer acknowledges them once
// an fdatasync covers them. A failure rolls the ref tables back, cuts what the group wrote and
// turns the store read-only; nothing of the group is acknowledged.
void Store::process(std::deque<Pending>& work) {
  handle_sync_failure();
  if (unavailable_) {
    const auto reason = unavailable_reason().value_or("storage unavailable");
    for (auto& p : work) {
      stats_.rejected++;
      p.cb(tl::unexpected(StoreError{StoreErrorCode::unavailable, reason}));
    }
    return;
  }
  auto c = std::make_unique<Commit>();
  c->undo.gpu_refs = gpu_by_ref_.size();
  c->undo.metric_refs = metric_by_ref_.size();
  c->applied.resize(work.size());
  const std::shared_ptr<SegmentFile> start_seg = seg_;
  const std::size_t start_size = segment_size_;
  tl::expected<void, StoreError> status;
  for (std::size_t i = 0; i < work.size() && status; ++i) {
    const Batch& b = work[i].batch;
    auto& hi = producers_[b.producer];
    if (b.seq <= hi) continue;  // duplicate: acknowledged with the group, not stored
    c->undo.producers.emplace_back(b.producer, hi);
    hi = b.seq;
    Applied a;
    status = encode_batch(*c, b, a);
    if (status) c->applied[i] = std::move(a);
  }
  if (status) status = write_buffer(*c);
  if (!status) {
    rollback(c->undo);
    if (::ftruncate(start_seg->fd, static_cast<off_t>(start_size)) != 0) {
      log()->error("cannot cut segment {} back to {} bytes: {}", segment_name(start_seg->no), start_size,
                   std::strerror(errno));
    }
    segment_size_ = start_size;
    if (seg_ != start_seg) {  // rolled during the group: the new segment keeps its header only
      (void)::ftruncate(seg_->fd, static_cast<off_t>(kSegmentMagic.size()));
      segment_size_ = kSegmentMagic.size();
    }
    become_unavailable(status.error());
    const auto reason = unavailable_reason().value_or(status.error().message);
    for (auto& p : work) p.cb(tl::unexpected(StoreError{StoreErrorCode::unavailable, reason}));
    return;
  }
  for (const auto& a : c->applied) dirty_since_checkpoint_ = dirty_since_checkpoint_ || a.has_value();
  c->work = std::move(work);
  {
    std::lock_guard lk(sync_mu_);
    commits_.push_back(std::move(c));
    ++inflight_;
  }
  sync_cv_.notify_one();
  if (!opts_.overlapped_sync) drain();
}

void Store::drain() {
  {
    std::unique_lock lk(sync_mu_);
    drained_cv_.wait(lk, [&] { return inflight_ == 0 || sync_error_.has_value(); });
  }
  handle_sync_failure();
}

// After a failed fdatasync: every group written and not acknowledged is undone (latest first),
// each segment cut back to what is durable, and every batch in them refused.
void Store::handle_sync_failure() {
  if (!sync_failed_) return;
  std::vector<std::unique_ptr<Commit>> failed;
  StoreError e{StoreErrorCode::io, ""};
  {
    std::lock_guard lk(sync_mu_);
    failed = std::move(failed_commits_);
    failed_commits_.clear();
    for (auto& c : commits_) failed.push_back(std::move(c));
    commits_.clear();
    e = sync_error_.value_or(e);
    sync_error_.reset();
    sync_failed_ = false;
    inflight_ = 0;
  }
  for (auto it = failed.rbegin(); it != failed.rend(); ++it) rollback((*it)->undo);
  for (const auto& c : failed) {
    for (const auto& p : c->pieces) (void)::ftruncate(p.seg->fd, static_cast<off_t>(p.seg->synced.load()));
  }
  if (seg_) {
    (void)::ftruncate(seg_->fd, static_cast<off_t>(seg_->synced.load()));
    segment_size_ = seg_->synced;
  }
  become_unavailable(e);
  const auto reason = unavailable_reason().value_or(e.message);
  for (auto& c : failed) {
    for (auto& p : c->work) p.cb(tl::unexpected(StoreError{StoreErrorCode::unavailable, reason}));
  }
  sync_cv_.notify_all();
}

// Syncer thread: takes every group written so far, one fdatasync per segment they touched,
// then applies and acknowledges them in order. Groups the writer writes meanwhile wait for
// the next round.
void Store::sync_loop() {
  std::unique_lock lk(sync_mu_);
  while (true) {
    sync_cv_.wait(lk, [&] { return (!commits_.empty() && !sync_error_) || sync_stop_; });
    if (commits_.empty() || sync_error_) {
      if (sync_stop_) break;
      continue;
    }
    std::vector<std::unique_ptr<Commit>> round;
    while (!commits_.empty()) {
      round.push_back(std::move(commits_.front()));
      commits_.pop_front();
    }
    lk.unlock();
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::pair<SegmentFile*, std::size_t>> segs;  // in order of first write, highest end
    for (const auto& c : round) {
      for (const auto& p : c->pieces) {
        auto it =
            std::find_if(segs.begin(), segs.end(), [&](const auto& s) { return s.first == p.seg.get(); });
        if (it == segs.end()) {
          segs.emplace_back(p.seg.get(), p.end);
        } else {
          it->second = std::max(it->second, p.end);
        }
      }
    }
    std::optional<StoreError> err;
    for (const auto& [s, end] : segs) {
      if (fault_hit("wal.fsync")) {
        errno = EIO;
      } else if (::fdatasync(s->fd) == 0) {
        stats_.fsyncs++;
        continue;
      }
      err = io_error(fmt::format("fdatasync of segment {} failed", segment_name(s->no)));
      break;
    }
    if (err) {
      lk.lock();
      failed_commits_ = std::move(round);
      sync_error_ = std::move(err);
      sync_failed_ = true;
      drained_cv_.notify_all();
      lk.unlock();
      { std::lock_guard wl(mu_); }
      cv_.notify_all();
      lk.lock();
      continue;
    }
    for (const auto& [s, end] : segs) s->synced = end;
    if (!segs.empty()) {
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (auto* h = fsync_seconds_.load(std::memory_order_acquire)) h->observe(seconds);
      if (opts_.fsync_observer) opts_.fsync_observer(seconds);
    }
    for (auto& c : round) {
      stats_.bytes += c->bytes;
      for (const auto& p : c->pieces) {
        if (p.last) (void)::ftruncate(p.seg->fd, static_cast<off_t>(p.end));
      }
      for (std::size_t i = 0; i < c->work.size(); ++i) {
        auto& w = c->work[i];
        if (!c->applied[i]) {
          stats_.duplicates++;
          w.cb(Ack{w.batch.seq, true});
          continue;
        }
        apply_batch(w.batch, *c->applied[i]);
        stats_.batches++;
        stats_.samples += w.batch.samples.size();
        w.cb(Ack{w.batch.seq, false});
      }
    }
    const std::size_t n = round.size();
    round.clear();  // closes the descriptors of segments the writer rolled away from
    lk.lock();
    inflight_ -= n;
    drained_cv_.notify_all();
  }
}

void Store::run() {
  std::unique_lock lk(mu_);
  while (true) {
    cv_.wait_for(lk, std::chrono::milliseconds(200),
                 [&] { return !queue_.empty() || stop_ || sync_failed_.load(); });
    if (queue_.empty() && stop_) break;
    std::deque<Pending> work;
    work.swap(queue_);
    stats_.queue = 0;
    lk.unlock();
    {
      std::lock_guard wl(writer_mu_);
      handle_sync_failure();
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

}  // namespace rm::telemetry
