#pragma once
// The collector's durable store: every accepted batch is appended to the write-ahead log,
// fdatasync'ed (one sync for all batches that arrived meanwhile: group commit), then applied
// to the in-memory index, and only then acknowledged.
//
// Two threads share the ack path: the writer encodes each group and writes it (page cache),
// the syncer runs fdatasync and then applies and acknowledges the groups it covered. While
// one fdatasync runs, the writer already writes the next group (overlapped sync). The next
// segment is pre-created on a third thread (header, reserved space, synced file and
// directory), so a segment roll on the writer is a rename.
//
// Guarantees:
//   * an acknowledged batch survives kill -9 (and power loss, as far as fdatasync does);
//   * a batch whose (producer, seq) is <= the producer's highest durable seq is acknowledged
//     as a duplicate and not stored again (the highest seqs are in the log and checkpoints);
//   * recovery = newest valid checkpoint + replay of later segments; a torn or corrupt tail of
//     the last segment is truncated with a warning; corruption inside an older segment drops
//     that segment's tail and every later segment (logged as an error with the counts).
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <tl/expected.hpp>

#include "telemetry/storage/index.hpp"
#include "telemetry/storage/replay.hpp"
#include "telemetry/storage/wal.hpp"
#include "telemetry/wire/protocol.hpp"

namespace rm::core::metrics {
class Registry;
class Histogram;
}  // namespace rm::core::metrics

namespace rm::telemetry {

// How a pre-created segment reserves its space: not at all (the file grows with each write),
// fallocate (unwritten extents: no ENOSPC later, but the first write of each block is a
// metadata change), or written zeros (every later write is an overwrite of allocated blocks).
enum class Preallocate { none, fallocate, zeros };

struct StoreOptions {
  std::filesystem::path dir;  // DATA_DIR/<collector-id>
  std::size_t segment_bytes = 64U << 20;
  std::size_t max_entries = 10000;
  std::chrono::nanoseconds retention{
      0};  // RETENTION: also drop samples this much older than a GPU's newest (0 = off)
  bool checkpoints = true;
  // A checkpoint is taken after a segment fills up, or this long after the last one when new
  // data arrived, and at close().
  std::chrono::milliseconds checkpoint_interval{60000};
  // A filled segment triggers a checkpoint only this long after the previous one was taken: at
  // high ingest rates (a 64 MB segment a second) checkpoints would otherwise write ~50 MB a
  // second next to the WAL and make followers rebuild each time. The WAL then holds up to this
  // much more data; segments are still deleted only once a durable checkpoint covers them.
  std::chrono::milliseconds min_checkpoint_spacing{3000};
  // Called on the syncer thread after each round of fdatasyncs with its duration in seconds,
  // before the batches it covered are acknowledged (a hook for tests; the store's own
  // telemetry_collector_fsync_seconds histogram is registered by register_metrics).
  std::function<void(double)> fsync_observer;
  // After a write error (ENOSPC, EIO) the store is unavailable: it refuses batches and retries
  // this often, resuming once the file system has `resume_free_bytes` free and a fresh segment
  // can be created and synced.
  std::chrono::milliseconds retry_interval{500};
  std::uint64_t resume_free_bytes = 1U << 20;
  // The writer writes the next group while the previous group's fdatasync runs (false: it
  // waits for each fdatasync, the behaviour before overlapped sync; benchmarks compare them).
  bool overlapped_sync = true;
  // The next segment is created ahead of time on a background thread (false: a roll creates
  // it on the writer with a header fdatasync and a directory fsync).
  bool precreate_segments = true;
  Preallocate preallocate = Preallocate::fallocate;  // measured: zeros compete with the WAL (benchmarks.md)
};

// io: a write or sync failed; unavailable: the store refuses batches until its disk recovers
// (retried by itself); locked: another process owns the directory.
enum class StoreErrorCode { io, corrupt, closed, unavailable, locked };
struct StoreError {
  StoreErrorCode code;
  std::string message;
};

struct RecoveryReport {
  std::optional<std::uint64_t> checkpoint;  // segment number the loaded checkpoint covers
  std::size_t segments_replayed = 0;
  std::size_t records_replayed = 0;
  std::size_t batches_replayed = 0;
  std::size_t truncated_bytes = 0;  // removed from corrupt/torn tails
  std::size_t segments_dropped = 0;
  std::vector<std::string> warnings;
};

struct StoreStats {
  std::atomic<std::uint64_t> batches{0}, samples{0}, duplicates{0}, fsyncs{0}, bytes{0}, checkpoints{0},
      checkpoint_failures{0}, segments_created{0}, queue{0};
  std::atomic<std::uint64_t> write_errors{0};    // failed WAL writes/syncs (each makes it unavailable)
  std::atomic<std::uint64_t> rejected{0};        // batches refused while unavailable
  std::atomic<std::uint64_t> resumed{0};         // times it became available again
  std::atomic<std::uint64_t> spare_failures{0};  // pre-creating the next segment failed
};

class Store {
 public:
  using Callback = std::function<void(tl::expected<Ack, StoreError>)>;

  // Recovers <dir> (creating it when missing) and starts the writer thread.
  [[nodiscard]] static tl::expected<std::unique_ptr<Store>, StoreError> open(StoreOptions opts);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Thread-safe. `cb` runs on the writer thread once the batch is durable (or failed).
  void submit(Batch batch, Callback cb);
  // Writes a checkpoint of everything durable so far and retires the covered segments.
  [[nodiscard]] tl::expected<void, StoreError> checkpoint_now();
  // Finishes queued batches, takes a final checkpoint (if enabled) and stops the writer.
  void close();

  const Index& index() const { return *index_; }
  std::shared_ptr<const TelemetryView> view() const { return index_; }
  const StoreStats& stats() const { return stats_; }
  const RecoveryReport& recovery() const { return recovery_; }
  std::uint64_t current_segment() const { return segment_no_.load(); }
  const StoreOptions& options() const { return opts_; }
  // Why the store refuses batches right now (a write error it is retrying), or nullopt.
  std::optional<std::string> unavailable_reason() const;
  // Whether the next segment is pre-created and ready for the next roll.
  bool spare_ready() const;
  // Free bytes of the file system holding the store (statvfs), or nullopt.
  std::optional<std::uint64_t> disk_free_bytes() const;
  // Registers the store's counters and gauges (telemetry_collector_*); the store must outlive
  // every exposition of `r`.
  void register_metrics(core::metrics::Registry& r) const;

 private:
  explicit Store(StoreOptions opts);
  struct Pending {
    Batch batch;
    Callback cb;
  };
  [[nodiscard]] tl::expected<void, StoreError> recover();
  void adopt_spare();
  struct SegmentFile;
  struct Commit;
  // Makes segment `n` the one the writer appends to: the pre-created spare renamed (or, when
  // none is ready, a segment created here); `prev` (segment, length) goes into its
  // segment_start record.
  [[nodiscard]] tl::expected<void, StoreError> open_segment(
      std::uint64_t n, std::optional<std::pair<std::uint64_t, std::size_t>> prev, bool use_spare = true);
  // Writes the buffer to the current segment; the bytes become part of `c`'s fdatasync.
  [[nodiscard]] tl::expected<void, StoreError> write_buffer(Commit& c);
  // Rolls to the next segment in the middle of group `c` (`c` null: between groups, with
  // nothing in flight).
  [[nodiscard]] tl::expected<void, StoreError> rotate(Commit* c);
  // Waits until every written group is synced and acknowledged (or its sync failed, which is
  // then handled). Writer thread, writer_mu_ held.
  void drain();
  void handle_sync_failure();
  // Captures the checkpoint's content on the writer thread: the WAL's ref tables and the
  // index's chunk pointers (Index::share), no sample is copied. With `sync` false the file is
  // encoded, written, synced, renamed and old segments retired on a background thread, so
  // ingest is stalled by neither the encoding nor the I/O.
  [[nodiscard]] tl::expected<void, StoreError> write_checkpoint_locked(bool sync);
  void join_checkpoint_thread();
  struct CheckpointInput;
  [[nodiscard]] tl::expected<void, StoreError> persist_checkpoint(const CheckpointInput& in);
  void run();
  void sync_loop();
  void spare_loop();
  void process(std::deque<Pending>& work);
  // Writer-thread state changes of the WAL's ref tables made while encoding one group commit,
  // undone when the commit fails so a retried batch is encoded (and stored) again.
  struct Undo;
  struct WalGpu;
  struct WalMetric;
  // What the syncer needs to apply one durable batch: per batch GPU its WAL ref and, when new
  // or changed, the metadata to upsert; per batch metric its index id. No pointer into the
  // writer's tables, which move on while the syncer applies.
  struct AppliedGpu {
    std::uint32_t ref;
    bool upsert;  // new or changed metadata
    std::shared_ptr<const GpuInfo> info;
  };
  struct Applied {
    std::vector<AppliedGpu> gpus;
    std::vector<std::uint32_t> metrics;
  };
  [[nodiscard]] tl::expected<void, StoreError> add_record(Commit& c, RecordType t,
                                                          const std::string& payload);
  [[nodiscard]] tl::expected<void, StoreError> encode_batch(Commit& c, const Batch& b, Applied& a);
  void apply_batch(const Batch& b, const Applied& a);
  void rollback(const Undo& undo);
  void become_unavailable(const StoreError& e);
  void try_resume();
  [[nodiscard]] tl::expected<void, StoreError> lock_dir();

  StoreOptions opts_;
  std::filesystem::path wal_dir_;
  std::shared_ptr<Index> index_;
  StoreStats stats_;
  // telemetry_collector_fsync_seconds once register_metrics ran (the syncer reads it).
  mutable std::atomic<core::metrics::Histogram*> fsync_seconds_{nullptr};
  RecoveryReport recovery_;

  // Writer-thread state.
  std::shared_ptr<SegmentFile> seg_;
  std::atomic<std::uint64_t> segment_no_{0};
  std::size_t segment_size_ = 0;  // bytes written to seg_ (header included)
  std::string buf_;
  std::unordered_map<std::string, std::uint64_t> producers_;
  struct WalGpu {
    std::uint32_t ref;
    std::shared_ptr<const GpuInfo> info;
  };
  std::unordered_map<std::string, WalGpu> gpus_;
  std::vector<std::shared_ptr<const GpuInfo>> gpu_by_ref_;
  struct WalMetric {
    std::uint32_t ref;
    std::uint32_t index_id;
  };
  std::unordered_map<std::string, WalMetric> metrics_;
  std::vector<std::string> metric_by_ref_;
  std::vector<std::uint32_t> metric_ref_scratch_;
  std::atomic<bool> unavailable_{false};
  std::string unavailable_reason_;  // guarded by reason_mu_
  mutable std::mutex reason_mu_;
  std::chrono::steady_clock::time_point last_retry_;
  int lock_fd_ = -1;
  std::chrono::steady_clock::time_point last_checkpoint_;
  bool dirty_since_checkpoint_ = false;
  bool rotated_since_checkpoint_ = false;

  // Syncer-thread state: the index slot of every WAL GPU ref applied so far.
  std::vector<Index::Gpu*> slot_by_ref_;
  std::vector<Index::Entry> run_scratch_;

  // Groups written and waiting for their fdatasync, in order (guarded by sync_mu_). After a
  // failed fdatasync the syncer stops; the writer rolls back every group not acknowledged.
  std::mutex sync_mu_;
  std::condition_variable sync_cv_, drained_cv_;
  std::deque<std::unique_ptr<Commit>> commits_;
  std::vector<std::unique_ptr<Commit>> failed_commits_;
  std::optional<StoreError> sync_error_;
  std::atomic<bool> sync_failed_{false};
  std::size_t inflight_ = 0;
  bool sync_stop_ = false;
  std::thread syncer_;

  // The pre-created next segment (guarded by spare_mu_).
  mutable std::mutex spare_mu_;
  std::condition_variable spare_cv_;
  int spare_fd_ = -1;
  bool spare_wanted_ = false;
  bool spare_stop_ = false;
  bool spare_failing_ = false;
  std::thread spare_thread_;

  std::mutex mu_;  // guards queue_, stop_, and serialises checkpoint_now() with the writer
  std::mutex writer_mu_;
  std::condition_variable cv_;
  std::deque<Pending> queue_;
  bool stop_ = false;
  bool closed_ = false;
  std::thread writer_;
  std::thread ckpt_thread_;
  std::atomic<bool> ckpt_busy_{false};
};

}  // namespace rm::telemetry
