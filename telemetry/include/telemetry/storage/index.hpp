#pragma once
// In-memory telemetry index: per GPU a ring of the last MAX_ENTRIES samples, its metadata and
// the newest value of every metric it ever reported. Implements TelemetryView.
//
// Memory is bounded: each GPU keeps its newest max_entries samples. They live in fixed-size
// chunks that are written once and never modified afterwards (the oldest chunk is dropped once
// all of its entries fell out of the window), so share() can hand out references to them
// instead of copying: a checkpoint grabs a GPU's chunk pointers under its lock and encodes them
// later on another thread while ingest keeps appending. Thread-safety: the GPU table is behind a shared mutex
// and every GPU has its own mutex, so ingest of one GPU never waits for readers of another, and readers copy
// out under the lock (a query holds a GPU's lock only while scanning its ring).
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "telemetry/storage/query.hpp"

namespace rm::telemetry {

class Index final : public TelemetryView {
 public:
  struct Entry {
    std::int64_t timestamp_ns = 0;
    double value = 0;
    std::uint32_t metric = 0;
  };
  struct Latest {
    std::uint32_t metric = 0;
    std::int64_t timestamp_ns = 0;
    double value = 0;
  };
  class Gpu;  // stable for the index's lifetime

  static constexpr std::size_t kChunkEntries = 1024;
  struct Chunk {
    Entry entries[kChunkEntries];
  };
  // A GPU's state at one instant, sharing the index's chunks (the entries it covers are never
  // written again, so it can be read without any lock while ingest continues).
  struct SharedGpu {
    GpuInfo info;
    std::int64_t first_seen_ns = 0;
    std::uint64_t appended = 0;
    std::vector<Latest> latest;
    std::vector<std::shared_ptr<const Chunk>> chunks;
    std::size_t front = 0;  // position of the oldest entry in chunks[0]
    std::size_t count = 0;  // retained entries
    // i-th retained entry, oldest first.
    const Entry& at(std::size_t i) const {
      const std::size_t p = front + i;
      return chunks[p / kChunkEntries]->entries[p % kChunkEntries];
    }
  };

  // Everything a checkpoint needs to rebuild one GPU (metric ids are this index's ids).
  struct GpuState {
    GpuInfo info;
    std::int64_t first_seen_ns = 0;
    std::uint64_t appended = 0;  // samples ever appended (cursor positions continue after it)
    std::vector<Entry> entries;  // oldest first
    std::vector<Latest> latest;
  };

  // `retention_ns` > 0 also drops, per GPU, samples older than that before the GPU's newest
  // sample (data time, so every replay of the same log keeps the same samples).
  explicit Index(std::size_t max_entries, std::int64_t retention_ns = 0);
  ~Index() override;

  std::size_t max_entries() const { return max_entries_; }
  std::int64_t retention_ns() const { return retention_ns_; }
  // Returns the GPU's slot, creating it or replacing its metadata when it changed.
  Gpu* upsert_gpu(const GpuInfo& info);
  std::uint32_t metric_id(std::string_view name);
  std::string metric_name(std::uint32_t id) const;
  std::vector<std::string> metric_names() const;  // by id
  void append(Gpu* gpu, std::uint32_t metric, std::int64_t timestamp_ns, double value);
  // Appends many samples of one GPU under one lock.
  void append_many(Gpu* gpu, const Entry* entries, std::size_t n);

  // Every GPU's state, cheap: copies metadata and chunk pointers, not entries.
  std::vector<SharedGpu> share() const;
  void restore(const GpuState& state);

  std::size_t gpu_count() const;
  std::uint64_t sample_count() const;  // currently retained over all GPUs

  // TelemetryView
  std::vector<GpuSummary> gpus() const override;
  std::optional<GpuSummary> gpu(const std::string& id) const override;
  std::vector<HostSummary> hosts() const override;
  [[nodiscard]] tl::expected<TelemetryPage, QueryError> query(const TelemetryQuery& q) const override;
  std::vector<Point> latest(const std::string& gpu_id) const override;
  std::vector<std::vector<SeriesSample>> samples(const std::string& gpu_id,
                                                 const std::vector<std::string>& metrics,
                                                 std::int64_t start_ns, std::int64_t end_ns) const override;

 private:
  GpuSummary summary(const Gpu& g) const;

  std::size_t max_entries_;
  std::int64_t retention_ns_ = 0;
  mutable std::shared_mutex gpus_mu_;
  std::unordered_map<std::string, std::unique_ptr<Gpu>> gpus_;
  mutable std::shared_mutex metrics_mu_;
  std::unordered_map<std::string, std::uint32_t> metric_ids_;
  std::vector<std::string> metric_names_;
};

}  // namespace rm::telemetry
