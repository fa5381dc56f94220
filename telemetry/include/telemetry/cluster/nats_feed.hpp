#pragma once
// The gateway's view in cluster mode: an ordered consumer of the whole applied stream
// (nats.hpp) feeding this gateway's own Index. Every gateway reads the same stream in the same
// order, so all of them converge to the same answers without a shared volume; a gateway that
// restarts replays the stream (bounded by NATS_MAX_AGE_S / NATS_MAX_BYTES, MAX_ENTRIES and
// RETENTION per GPU). The library recreates the ordered consumer from the last sequence seen
// after a gap, a missed heartbeat or a lost server, so nothing is applied twice or skipped.
//
// The feed connects in the background and keeps retrying, so a gateway started before NATS
// serves (empty) and says why it is not ready. Readiness: connected, and caught up with the
// stream, i.e. applied every message up to the stream's last sequence as it was when the feed
// (re)connected; after a lost connection the feed is not ready until it has caught up again.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "core/metrics.hpp"
#include "telemetry/cluster/nats.hpp"
#include "telemetry/storage/index.hpp"

namespace rm::telemetry {

struct NatsFeedOptions {
  std::size_t max_entries = 10000;
  std::int64_t retention_ns = 0;  // as the Index's: per GPU, data time; 0 = off
  std::string name = "api-gateway";
};

struct NatsFeedStats {
  std::uint64_t messages = 0;  // applied-stream messages applied to the index
  std::uint64_t samples = 0;
  std::uint64_t bad = 0;       // undecodable messages (logged, skipped)
  std::uint64_t last_seq = 0;  // stream sequence of the newest applied message
};

struct NatsFeedStatus {
  // "connecting" (never connected yet), "connected", "reconnecting" (connection lost)
  std::string state = "connecting";
  std::string server;  // the server connected to, when connected
  std::string error;   // why the last attempt to connect and subscribe failed
  std::uint64_t applied_seq = 0;
  std::uint64_t stream_last_seq = 0;  // as last asked (every 250 ms while connected)
  std::uint64_t catch_up_seq = 0;     // the sequence to reach before ready
  bool caught_up = false;
};

class NatsFeed final : public TelemetryView {
 public:
  // Starts the background connection; the index fills once connected.
  [[nodiscard]] static std::shared_ptr<NatsFeed> start(const NatsConfig& cfg, const NatsFeedOptions& opts);
  ~NatsFeed() override;
  NatsFeed(const NatsFeed&) = delete;
  NatsFeed& operator=(const NatsFeed&) = delete;
  void stop();
  NatsFeedStats stats() const;
  NatsFeedStatus status() const;
  // Why the gateway should not receive traffic yet (unreachable, catching up), or nullopt.
  std::optional<std::string> not_ready() const;
  // Registers api_gateway_gpus, api_gateway_stream_messages_applied, api_gateway_stream_last_seq
  // and api_gateway_nats_connected on `r`; the callbacks keep `feed` alive.
  static void register_metrics(const std::shared_ptr<const NatsFeed>& feed, core::metrics::Registry& r);

  std::vector<GpuSummary> gpus() const override { return index_->gpus(); }
  std::optional<GpuSummary> gpu(const std::string& id) const override { return index_->gpu(id); }
  std::vector<HostSummary> hosts() const override { return index_->hosts(); }
  tl::expected<TelemetryPage, QueryError> query(const TelemetryQuery& q) const override {
    return index_->query(q);
  }
  std::vector<Point> latest(const std::string& gpu_id) const override { return index_->latest(gpu_id); }

 private:
  struct Impl;
  NatsFeed(const NatsConfig& cfg, const NatsFeedOptions& opts);
  std::shared_ptr<Index> index_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rm::telemetry
