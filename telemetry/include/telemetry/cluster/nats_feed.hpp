#pragma once
// The gateway's view in cluster mode: an ordered consumer of the whole applied stream
// (nats.hpp) feeding this gateway's own Index. Every gateway reads the same stream in the same
// order, so all of them converge to the same answers without a shared volume; a gateway that
// restarts replays the stream (bounded by NATS_MAX_AGE_S / NATS_MAX_BYTES and MAX_ENTRIES per
// GPU). The library recreates the ordered consumer from the last sequence seen after a gap,
// a missed heartbeat or a lost server, so nothing is applied twice or skipped.
#include <cstdint>
#include <memory>
#include <string>

#include <tl/expected.hpp>

#include "telemetry/cluster/nats.hpp"
#include "telemetry/storage/index.hpp"

namespace rm::telemetry {

struct NatsFeedStats {
  std::uint64_t messages = 0;  // applied-stream messages applied to the index
  std::uint64_t samples = 0;
  std::uint64_t bad = 0;       // undecodable messages (logged, skipped)
  std::uint64_t last_seq = 0;  // stream sequence of the newest applied message
};

class NatsFeed final : public TelemetryView {
 public:
  // Connects, creates/checks the streams and subscribes; the index fills in the background.
  [[nodiscard]] static tl::expected<std::shared_ptr<NatsFeed>, std::string> start(const NatsConfig& cfg,
                                                                                  std::size_t max_entries,
                                                                                  const std::string& name);
  ~NatsFeed() override;
  NatsFeed(const NatsFeed&) = delete;
  NatsFeed& operator=(const NatsFeed&) = delete;
  void stop();
  NatsFeedStats stats() const;

  std::vector<GpuSummary> gpus() const override { return index_->gpus(); }
  std::optional<GpuSummary> gpu(const std::string& id) const override { return index_->gpu(id); }
  std::vector<HostSummary> hosts() const override { return index_->hosts(); }
  tl::expected<TelemetryPage, QueryError> query(const TelemetryQuery& q) const override {
    return index_->query(q);
  }
  std::vector<Point> latest(const std::string& gpu_id) const override { return index_->latest(gpu_id); }

 private:
  struct Impl;
  explicit NatsFeed(std::size_t max_entries);
  std::shared_ptr<Index> index_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rm::telemetry
