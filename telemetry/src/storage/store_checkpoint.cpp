// The store's checkpoints: captured on the writer thread, encoded and written (usually on a
// background thread), then the segments they cover retired. Format: docs/storage-format.md.
#include <sys/resource.h>
#include <unistd.h>

#include <fmt/format.h>

#include "bytes.hpp"
#include "core/log.hpp"
#include "store_io.hpp"
#include "telemetry/storage/store.hpp"
#include "thread_boundary.hpp"

namespace rm::telemetry {

namespace fs = std::filesystem;
using detail::fsync_dir;
using detail::io_error;
using detail::write_paced;
using detail::Writer;

namespace {
auto log() {
  return core::logger("telemetry.store");
}
}  // namespace

void Store::join_checkpoint_thread() {
  if (ckpt_thread_.joinable()) ckpt_thread_.join();
}

// Everything one checkpoint file holds, captured on the writer thread at a group-commit
// boundary: the index state equals the replay of every segment <= covered.
struct Store::CheckpointInput {
  std::uint64_t covered = 0;
  std::vector<std::shared_ptr<const GpuInfo>> gpu_by_ref;
  std::vector<std::string> metric_by_ref;
  std::vector<std::pair<std::string, std::uint64_t>> producers;
  std::vector<std::uint32_t> to_ref;                             // index metric id -> WAL metric ref
  std::vector<std::pair<std::uint32_t, Index::SharedGpu>> gpus;  // WAL GPU ref, state
};

namespace {

// Encodes a checkpoint file (see docs/storage-format.md); `count` receives the record count.
std::string encode_checkpoint(const auto& in, std::size_t& count) {
  std::size_t entries = 0;
  for (const auto& [ref, s] : in.gpus) entries += s.count;
  std::string out(kCheckpointMagic);
  out.reserve(out.size() + entries * 20 + in.gpus.size() * 256 + 4096);
  std::string pl;
  count = 0;
  auto rec = [&](RecordType t) {
    append_record(out, t, pl);
    pl.clear();
    ++count;
  };
  Writer w(pl);
  w.u64(in.covered);
  rec(RecordType::ckpt_header);
  for (std::uint32_t ref = 0; ref < in.gpu_by_ref.size(); ++ref) {
    w.u32(ref);
    encode_gpu(pl, *in.gpu_by_ref[ref]);
    rec(RecordType::gpu_def);
  }
  for (std::uint32_t ref = 0; ref < in.metric_by_ref.size(); ++ref) {
    w.u32(ref);
    w.str(in.metric_by_ref[ref]);
    rec(RecordType::metric_def);
  }
  for (const auto& [p, seq] : in.producers) {
    w.str(p);
    w.u64(seq);
    rec(RecordType::producer);
  }
  for (const auto& [ref, s] : in.gpus) {
    w.u32(ref);
    w.i64(s.first_seen_ns);
    w.u64(s.appended);
    w.u32(static_cast<std::uint32_t>(s.latest.size()));
    for (const auto& l : s.latest) {
      w.u32(in.to_ref[l.metric]);
      w.i64(l.timestamp_ns);
      w.f64(l.value);
    }
    w.u32(static_cast<std::uint32_t>(s.count));
    for (std::size_t i = 0; i < s.count; ++i) {
      const auto& e = s.at(i);
      w.u32(in.to_ref[e.metric]);
      w.i64(e.timestamp_ns);
      w.f64(e.value);
    }
    rec(RecordType::gpu_state);
  }
  w.u64(count);
  rec(RecordType::ckpt_end);
  return out;
}

}  // namespace

tl::expected<void, StoreError> Store::write_checkpoint_locked(bool sync) {
  if (unavailable_ || !seg_) {
    return tl::unexpected(
        StoreError{StoreErrorCode::unavailable, unavailable_reason().value_or("no open segment")});
  }
  if (sync) {
    join_checkpoint_thread();
  } else if (ckpt_busy_) {
    return {};  // the previous checkpoint is still being written; try again later
  } else {
    join_checkpoint_thread();
  }
  drain();  // the index must hold every group written so far
  if (unavailable_) {
    return tl::unexpected(
        StoreError{StoreErrorCode::unavailable, unavailable_reason().value_or("storage unavailable")});
  }
  const std::uint64_t covered = segment_no_;
  if (auto r = rotate(nullptr); !r) {
    become_unavailable(r.error());
    return r;
  }
  auto in = std::make_unique<CheckpointInput>();
  in->covered = covered;
  in->gpu_by_ref = gpu_by_ref_;
  in->metric_by_ref = metric_by_ref_;
  in->producers.assign(producers_.begin(), producers_.end());
  in->to_ref.assign(metric_by_ref_.size() + index_->metric_names().size(), 0);
  for (const auto& [name, m] : metrics_) {
    if (m.index_id < in->to_ref.size()) in->to_ref[m.index_id] = m.ref;
  }
  for (auto& s : index_->share()) {
    auto g = gpus_.find(s.info.id);
    if (g == gpus_.end()) continue;
    in->gpus.emplace_back(g->second.ref, std::move(s));
  }
  last_checkpoint_ = std::chrono::steady_clock::now();
  dirty_since_checkpoint_ = false;
  rotated_since_checkpoint_ = false;
  if (sync) return persist_checkpoint(*in);
  ckpt_busy_ = true;
  ckpt_thread_ = std::thread([this, in = std::move(in)] {
    // Below the writer and broker threads: on a busy machine ingest gets the CPU first.
    (void)::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 10);
    detail::guard_thread("checkpoint writer", [&] { (void)persist_checkpoint(*in); });
    ckpt_busy_ = false;
  });
  return {};
}

tl::expected<void, StoreError> Store::persist_checkpoint(const CheckpointInput& in) {
  const std::uint64_t covered = in.covered;
  std::size_t count = 0;
  const std::string out = encode_checkpoint(in, count);
  const fs::path final_path = checkpoint_path(opts_.dir, covered);
  const fs::path tmp = final_path.string() + ".tmp";
  auto fail = [&](std::string what) {
    auto e = io_error(what);
    std::error_code ec;
    fs::remove(tmp, ec);
    stats_.checkpoint_failures++;
    log()->error("checkpoint failed: {}", e.message);
    return tl::unexpected(e);
  };
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return fail(fmt::format("cannot create '{}'", tmp.string()));
  const bool ok = write_paced(fd, out) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) return fail(fmt::format("cannot write '{}'", tmp.string()));
  if (fault_hit("checkpoint.rename")) {
    errno = EIO;
    return fail(fmt::format("cannot rename '{}'", tmp.string()));
  }
  if (::rename(tmp.c_str(), final_path.c_str()) != 0) {
    return fail(fmt::format("cannot rename '{}'", tmp.string()));
  }
  fsync_dir(opts_.dir);
  std::error_code ec;
  for (std::uint64_t n : list_segments(wal_dir_)) {
    if (n <= covered) fs::remove(wal_dir_ / segment_name(n), ec);
  }
  for (std::uint64_t c : list_checkpoints(opts_.dir)) {
    if (c < covered) fs::remove(checkpoint_path(opts_.dir, c), ec);
  }
  fsync_dir(wal_dir_);
  stats_.checkpoints++;
  log()->info("{} written ({} bytes, {} records)", final_path.filename().string(), out.size(), count);
  return {};
}

tl::expected<void, StoreError> Store::checkpoint_now() {
  std::lock_guard wl(writer_mu_);
  if (!seg_ && !unavailable_) return tl::unexpected(StoreError{StoreErrorCode::closed, "store is closed"});
  return write_checkpoint_locked(true);
}

}  // namespace rm::telemetry
