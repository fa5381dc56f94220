#pragma once
// The streamer's publishing seam: a worker hands batches to a BatchPublisher and does not know
// whether they go to the embedded broker (ReliablePublisher over TCP) or to JetStream
// (NatsPublisher, when NATS_URL is set). Both number batches per producer from 1 and retry a
// batch under its original (producer, seq), so the receiving side stores it once.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "telemetry/error.hpp"
#include "telemetry/ingest/streamer.hpp"
#include "telemetry/wire/client.hpp"

namespace rm::telemetry {

class BatchPublisher {
 public:
  virtual ~BatchPublisher() = default;
  // Publishes the batch under the next sequence number; an acknowledged batch is durable
  // (broker: fsync'ed; JetStream: stored by a quorum). Blocks while the window is full or the
  // destination is unreachable; fails only when cancelled or on an error a retry cannot fix.
  [[nodiscard]] virtual tl::expected<std::uint64_t, ClientError> publish(std::vector<OutSample> samples) = 0;
  [[nodiscard]] virtual tl::expected<void, ClientError> flush(std::chrono::milliseconds timeout) = 0;
  virtual PublisherStats stats() const = 0;
  // Whether it holds a connection to the broker / a NATS server now.
  virtual bool connected() const = 0;
  // Called once per acknowledged batch: its seq, its samples, whether it was a duplicate. The
  // broker publisher calls it inside publish/flush; the NATS publisher on the NATS library's
  // thread as each ack arrives, so it must be thread-safe, and it must not call the publisher
  // (it runs under the publisher's lock).
  using OnAck = ReliablePublisher::OnAck;
};

// Makes one publisher per worker: producer id, a flag that aborts waits on shutdown, and an
// ack callback (may be empty).
using PublisherFactory = std::function<std::unique_ptr<BatchPublisher>(
    const std::string& producer, const std::atomic<bool>* cancel, BatchPublisher::OnAck on_ack)>;

// For cfg.nats: connects to NATS and creates/checks the streams first (errors: unavailable,
// the message naming the servers and the cause).
[[nodiscard]] Result<PublisherFactory> make_publisher_factory(const StreamerConfig& cfg);

}  // namespace rm::telemetry
