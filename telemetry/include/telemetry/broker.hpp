#pragma once
// The broker: accepts producer connections on a TCP port (Asio, C++20 coroutines, one strand
// per connection, WORKERS I/O threads), decodes frames and hands PUBLISH batches to the Store.
// An ACK is written only from the store's durability callback, so an acknowledged batch is
// always durable. Flow control: after HELLO the broker grants `credits` batches in flight;
// every ACK returns one credit. A client exceeding its credit gets ERROR credit_exceeded.
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <tl/expected.hpp>

#include "telemetry/store.hpp"

namespace rm::telemetry {

struct BrokerOptions {
  std::string bind_address = "0.0.0.0";
  std::uint16_t port = 9000;  // 0 = pick a free port
  int threads = 4;
  std::uint32_t credits = 16;
  std::size_t max_frame = kDefaultMaxFrame;
  // Called with the time from receiving a PUBLISH to queueing its ACK, in seconds.
  std::function<void(double)> ack_observer;
};

struct BrokerStats {
  std::atomic<std::uint64_t> connections{0}, connections_open{0}, frames{0}, bad_frames{0},
      batches{0}, acks{0}, duplicates{0}, errors_sent{0}, samples{0}, in_flight{0};
};

class BrokerServer {
 public:
  BrokerServer(Store& store, BrokerOptions opts);
  ~BrokerServer();
  BrokerServer(const BrokerServer&) = delete;
  BrokerServer& operator=(const BrokerServer&) = delete;
  // Binds and starts the I/O threads; returns the bound port.
  tl::expected<std::uint16_t, std::string> start();
  // Graceful stop: close the listener, stop reading new frames, wait (up to the timeout) for
  // every submitted batch to be acknowledged, then close connections and join the threads.
  void stop(std::chrono::milliseconds drain_timeout = std::chrono::milliseconds(10000));
  const BrokerStats& stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rm::telemetry
