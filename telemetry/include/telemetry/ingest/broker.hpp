#pragma once
// The broker: accepts producer connections on a TCP port (Asio, C++20 coroutines, one strand
// per connection, WORKERS I/O threads), decodes frames and hands PUBLISH batches to the Store.
// An ACK is written only from the store's durability callback, so an acknowledged batch is
// always durable. Flow control: after HELLO the broker grants `credits` batches in flight;
// every ACK returns one credit. A client exceeding its credit gets ERROR credit_exceeded.
//
// Hostile or broken clients cannot hold resources: a connection must send HELLO within
// `hello_timeout` (frames before it are limited to `hello_max_frame` bytes), a frame once
// started must be complete within `frame_timeout`, and a connection with nothing in flight is
// closed after `idle_timeout` without traffic. A producer that stops reading its ACKs (its
// receive buffer full) is closed when a write has not completed within `write_timeout`, or
// as soon as more than `max_unsent` bytes of answers wait for it, so it holds neither a
// coroutine nor memory. Above `max_connections` a new connection gets
// ERROR too_many_connections and is closed. Accept errors (EMFILE ...) are retried with a
// growing pause and logged at most once a second.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <tl/expected.hpp>

#include "telemetry/error.hpp"
#include "telemetry/storage/store.hpp"

namespace rm::telemetry {

struct BrokerOptions {
  std::string bind_address = "0.0.0.0";
  std::uint16_t port = 9000;  // 0 = pick a free port
  int threads = 4;
  std::uint32_t credits = 16;
  std::size_t max_frame = kDefaultMaxFrame;
  std::size_t hello_max_frame = 4096;
  std::chrono::milliseconds hello_timeout{5000};
  std::chrono::milliseconds frame_timeout{10000};
  std::chrono::milliseconds idle_timeout{30000};
  std::chrono::milliseconds write_timeout{10000};
  std::size_t max_unsent = 1U << 20;  // bytes of ACK/ERROR frames not yet written to the socket
  // SO_SNDBUF of each connection (0 = the kernel's autotuning, up to tcp_wmem's 4 MiB). The
  // broker only writes small ACKs, so 64 KiB is plenty and bounds the kernel memory a producer
  // that never reads can pin.
  int send_buffer = 64 * 1024;
  // 0 = derived from RLIMIT_NOFILE, keeping 128 descriptors for the store, health and metrics.
  std::size_t max_connections = 0;
  // When set, HELLO must carry this token (BROKER_TOKEN) or is refused with unauthorized.
  std::string token;
  // Accepted sample timestamps: from `min_timestamp_ns` to now + `max_future`.
  std::int64_t min_timestamp_ns = 0;
  std::chrono::nanoseconds max_future = std::chrono::hours(24);
};

struct BrokerStats {
  std::atomic<std::uint64_t> connections{0}, connections_open{0}, frames{0}, bad_frames{0}, batches{0},
      acks{0}, duplicates{0}, errors_sent{0}, samples{0}, in_flight{0};
  std::atomic<std::uint64_t> refused{0}, timeouts{0}, accept_errors{0}, bad_timestamps{0}, unauthorized{0},
      storage_unavailable{0}, write_timeouts{0};
};

class BrokerServer {
 public:
  BrokerServer(Store& store, BrokerOptions opts);
  ~BrokerServer();
  BrokerServer(const BrokerServer&) = delete;
  BrokerServer& operator=(const BrokerServer&) = delete;
  // Binds and starts the I/O threads; returns the bound port. Errors: invalid_argument (a bad
  // bind address), io (the port cannot be bound), naming the address and what to do.
  [[nodiscard]] Result<std::uint16_t> start();
  // Graceful stop: close the listener, stop reading new frames, wait (up to the timeout) for
  // every submitted batch to be acknowledged, then close connections and join the threads.
  void stop(std::chrono::milliseconds drain_timeout = std::chrono::milliseconds(10000));
  const BrokerStats& stats() const;
  // Registers the broker's counters and gauges (telemetry_collector_*) on `r`.
  void register_metrics(core::metrics::Registry& r) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rm::telemetry
