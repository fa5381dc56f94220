#pragma once
// The collector's durable store: every accepted batch is appended to the write-ahead log,
// fdatasync'ed (one sync for all batches that arrived meanwhile: group commit), then applied
// to the in-memory index, and only then acknowledged.
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
}

namespace rm::telemetry {

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
  // Called on the writer thread with every fdatasync's duration in seconds (metrics).
  std::function<void(double)> fsync_observer;
  // After a write error (ENOSPC, EIO) the store is unavailable: it refuses batches and retries
  // this often, resuming once the file system has `resume_free_bytes` free and a fresh segment
  // can be created and synced.
  std::chrono::milliseconds retry_interval{500};
  std::uint64_t resume_free_bytes = 1U << 20;
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
  std::atomic<std::uint64_t> write_errors{0};  // failed WAL writes/syncs (each makes it unavailable)
  std::atomic<std::uint64_t> rejected{0};      // batches refused while unavailable
  std::atomic<std::uint64_t> resumed{0};       // times it became available again
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
  tl::expected<void, StoreError> recover();
  tl::expected<void, StoreError> open_segment(std::uint64_t n);
  tl::expected<void, StoreError> flush_and_sync();
  tl::expected<void, StoreError> rotate();
  // Captures the checkpoint's content on the writer thread: the WAL's ref tables and the
  // index's chunk pointers (Index::share), no sample is copied. With `sync` false the file is
  // encoded, written, synced, renamed and old segments retired on a background thread, so
  // ingest is stalled by neither the encoding nor the I/O.
  tl::expected<void, StoreError> write_checkpoint_locked(bool sync);
  void join_checkpoint_thread();
  struct CheckpointInput;
  tl::expected<void, StoreError> persist_checkpoint(const CheckpointInput& in);
  void run();
  void process(std::deque<Pending>& work);
  // Writer-thread state changes of the WAL's ref tables made while encoding one group commit,
  // undone when the commit fails so a retried batch is encoded (and stored) again.
  struct Undo;
  struct WalGpu;
  struct WalMetric;
  // The WAL refs of one batch's GPUs and metrics, by the batch's own refs.
  struct Applied {
    std::vector<WalGpu*> gpus;
    std::vector<WalMetric*> metrics;
  };
  [[nodiscard]] tl::expected<void, StoreError> add_record(RecordType t, const std::string& payload);
  [[nodiscard]] tl::expected<void, StoreError> encode_batch(const Batch& b, Undo& undo, Applied& a);
  void apply_batch(const Batch& b, Applied& a);
  void rollback(const Undo& undo);
  void become_unavailable(const StoreError& e);
  void try_resume();
  tl::expected<void, StoreError> lock_dir();

  StoreOptions opts_;
  std::filesystem::path wal_dir_;
  std::shared_ptr<Index> index_;
  StoreStats stats_;
  RecoveryReport recovery_;

  // Writer-thread state.
  int fd_ = -1;
  std::atomic<std::uint64_t> segment_no_{0};
  std::size_t segment_size_ = 0;
  std::string buf_;
  std::unordered_map<std::string, std::uint64_t> producers_;
  struct WalGpu {
    std::uint32_t ref;
    std::shared_ptr<const GpuInfo> info;
    Index::Gpu* slot;
  };
  std::unordered_map<std::string, WalGpu> gpus_;
  std::vector<std::shared_ptr<const GpuInfo>> gpu_by_ref_;
  struct WalMetric {
    std::uint32_t ref;
    std::uint32_t index_id;
  };
  std::unordered_map<std::string, WalMetric> metrics_;
  std::vector<std::string> metric_by_ref_;
  std::vector<Index::Entry> run_scratch_;
  std::atomic<bool> unavailable_{false};
  std::string unavailable_reason_;  // guarded by reason_mu_
  mutable std::mutex reason_mu_;
  std::chrono::steady_clock::time_point last_retry_;
  int lock_fd_ = -1;
  std::chrono::steady_clock::time_point last_checkpoint_;
  bool dirty_since_checkpoint_ = false;
  bool rotated_since_checkpoint_ = false;

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
