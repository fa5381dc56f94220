#pragma once
// Read-only view of a DATA_DIR written by one or more collectors, for the API gateway.
//
// For every subdirectory <DATA_DIR>/<collector-id>/ with a wal/ folder it loads the newest
// valid checkpoint and then tails the log segments after it, feeding one shared Index.
// It never creates, writes, truncates or deletes anything, so DATA_DIR may be a read-only
// mount. New data is picked up by polling (default every 100 ms), so a durable row is
// queryable within about one poll interval. If a collector retired segments the follower had
// not read yet (it fell behind a checkpoint), the follower rebuilds its index from the newest
// checkpoints and swaps it in atomically once the rebuild is complete (until then the previous
// index is served). Replay is the store's own (telemetry/replay.hpp).
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>

#include "telemetry/storage/index.hpp"

namespace rm::core::metrics {
class Registry;
}

namespace rm::telemetry {

struct FollowerOptions {
  std::filesystem::path data_dir;
  // Samples per GPU and retention come from each collector's STORE file (store_meta.hpp);
  // these are used only for directories written before that file existed.
  std::size_t max_entries = 10000;
  std::chrono::nanoseconds retention{0};  // as StoreOptions::retention
  std::chrono::milliseconds poll_interval{100};
};

class DataDirFollower final : public TelemetryView {
 public:
  explicit DataDirFollower(FollowerOptions opts);
  ~DataDirFollower() override;
  DataDirFollower(const DataDirFollower&) = delete;
  DataDirFollower& operator=(const DataDirFollower&) = delete;

  // Loads what is there now (synchronously) and starts the polling thread.
  void start();
  void stop();
  // One synchronous poll (tests call this instead of waiting for the thread).
  void poll_once();
  std::size_t collectors() const;
  std::uint64_t records_read() const;
  std::uint64_t rebuilds() const;  // times the index was rebuilt after falling behind
  // Registers api_gateway_gpus, api_gateway_follower_records_read and
  // api_gateway_follower_rebuilds_total on `r`; the callbacks keep `follower` alive.
  static void register_metrics(const std::shared_ptr<const DataDirFollower>& follower,
                               core::metrics::Registry& r);

  std::vector<GpuSummary> gpus() const override;
  std::optional<GpuSummary> gpu(const std::string& id) const override;
  std::vector<HostSummary> hosts() const override;
  [[nodiscard]] tl::expected<TelemetryPage, QueryError> query(const TelemetryQuery& q) const override;
  std::vector<Point> latest(const std::string& gpu_id) const override;
  std::vector<std::vector<SeriesSample>> samples(const std::string& gpu_id,
                                                 const std::vector<std::string>& metrics,
                                                 std::int64_t start_ns, std::int64_t end_ns) const override;

 private:
  struct State;
  std::shared_ptr<Index> current() const;
  bool follow_all(State& state, Index& index);
  std::pair<std::size_t, std::int64_t> limits() const;
  FollowerOptions opts_;
  std::unique_ptr<State> state_;
  mutable std::mutex poll_mu_;
  mutable std::mutex view_mu_;
  std::shared_ptr<Index> index_;
  std::uint64_t rebuilds_ = 0;  // guarded by poll_mu_
  std::thread thread_;
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stop_ = false;
};

}  // namespace rm::telemetry
