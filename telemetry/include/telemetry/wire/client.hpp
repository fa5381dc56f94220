#pragma once
// Producer side of the broker protocol.
//
// BrokerClient is one blocking TCP connection (HELLO, PUBLISH, reading ACK/CREDIT/ERROR).
// ReliablePublisher adds what a producer needs to lose nothing: sequence numbers, a window of
// unacknowledged batches bounded by the broker's credit, reconnects with exponential backoff
// and jitter (reset only once a batch is acknowledged, so a broker that accepts connections
// and then refuses batches -- storage unavailable -- is not hammered), and resending every unacknowledged
// batch with its original (producer id, seq) on a new connection so the broker can drop the ones it already
// stored.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "telemetry/wire/protocol.hpp"

namespace rm::telemetry {

struct ClientError {
  std::string message;
  bool fatal = false;             // the broker rejected us for a reason a retry will not fix
  std::optional<ErrorCode> code;  // the broker's ERROR code, when it sent one
};

class BrokerClient {
 public:
  BrokerClient() = default;
  ~BrokerClient();
  BrokerClient(const BrokerClient&) = delete;
  BrokerClient& operator=(const BrokerClient&) = delete;

  // Connects, sends HELLO and waits for the initial CREDIT.
  [[nodiscard]] tl::expected<void, ClientError> connect(const std::string& host, std::uint16_t port,
                                                        const std::string& producer_id,
                                                        std::chrono::milliseconds timeout,
                                                        const std::string& token = {});
  [[nodiscard]] tl::expected<void, ClientError> publish(std::uint64_t seq,
                                                        const std::vector<OutSample>& samples);
  // Sends raw bytes (tests use it to send malformed frames).
  [[nodiscard]] tl::expected<void, ClientError> send_raw(std::string_view bytes);
  // Waits up to `timeout` for the next ACK (CREDIT frames are absorbed); nullopt on timeout.
  [[nodiscard]] tl::expected<std::optional<Ack>, ClientError> read_ack(std::chrono::milliseconds timeout);
  std::uint32_t credits() const { return credits_; }
  bool connected() const { return fd_ >= 0; }
  void close();

 private:
  [[nodiscard]] tl::expected<std::optional<Frame>, ClientError> read_frame(std::chrono::milliseconds timeout);
  int fd_ = -1;
  FrameDecoder decoder_;
  PublishEncoder encoder_;
  std::uint32_t credits_ = 0;
  std::string out_;
};

struct PublisherOptions {
  std::string host = "localhost";
  std::uint16_t port = 9000;
  std::string producer_id;
  std::chrono::milliseconds backoff_min{100};
  std::chrono::milliseconds backoff_max{5000};
  std::chrono::milliseconds io_timeout{10000};
  std::string token;                          // BROKER_TOKEN, sent in HELLO when set
  const std::atomic<bool>* cancel = nullptr;  // set to abort waits (shutdown)
};

struct PublisherStats {
  std::uint64_t batches = 0, acked = 0, duplicates = 0, samples_acked = 0, reconnects = 0, resent = 0,
                connects = 0, backoffs = 0, storage_unavailable = 0;
};

class ReliablePublisher {
 public:
  // Called once per acknowledged batch (seq, its samples, duplicate flag).
  using OnAck = std::function<void(std::uint64_t, const std::vector<OutSample>&, bool)>;
  explicit ReliablePublisher(PublisherOptions opts, OnAck on_ack = {});

  // Queues a batch under the next sequence number and sends it when the window allows;
  // blocks (reading acks, reconnecting) while the window is full. Fails only when cancelled
  // or on a fatal broker error.
  [[nodiscard]] tl::expected<std::uint64_t, ClientError> publish(std::vector<OutSample> samples);
  // Waits until every batch is acknowledged or `timeout` passes.
  [[nodiscard]] tl::expected<void, ClientError> flush(std::chrono::milliseconds timeout);
  std::size_t unacked() const { return window_.size(); }
  bool connected() const { return client_.connected(); }
  const PublisherStats& stats() const { return stats_; }
  void close() { client_.close(); }

 private:
  struct InFlight {
    std::uint64_t seq;
    std::vector<OutSample> samples;
    bool sent = false;       // on the current connection
    bool ever_sent = false;  // on any connection (a resend is counted)
  };
  bool cancelled() const { return opts_.cancel && opts_.cancel->load(); }
  [[nodiscard]] tl::expected<void, ClientError> ensure_connected();
  [[nodiscard]] tl::expected<void, ClientError> pump(std::chrono::milliseconds wait);
  void drop_connection(const std::string& why);
  // Sleeps the current backoff with jitter (uniform in [backoff/2, backoff]) and doubles it.
  void back_off(const std::string& why);

  PublisherOptions opts_;
  OnAck on_ack_;
  BrokerClient client_;
  std::deque<InFlight> window_;
  std::uint64_t next_seq_ = 1;
  std::chrono::milliseconds backoff_;
  bool ever_connected_ = false;
  bool dropped_ = false;  // the last connection ended in an error: back off before the next
  PublisherStats stats_;
};

}  // namespace rm::telemetry
