// NatsPublisher: one batch in flight per worker, published with js_PublishMsg and the
// de-duplication id "<producer>:<seq>". A publish that fails (timeout while a stream leader is
// re-elected, no responders while reconnecting, connection lost) is retried with the same id
// until it is acknowledged, so a stored-but-unacknowledged batch is not stored twice.
//
// Message = one PUBLISH frame of the broker protocol (docs/broker-protocol.md) encoded by a
// fresh PublishEncoder, so every message defines its own GPUs and metrics and can be decoded
// alone; header Rm-Producer carries the producer id.
#include "nats_publisher.hpp"

#include <thread>

#include <fmt/format.h>

#include "core/log.hpp"
#include "nats_client.hpp"

namespace rm::telemetry {

namespace {
auto log() {
  return core::logger("telemetry.nats.publisher");
}

class NatsPublisher final : public BatchPublisher {
 public:
  NatsPublisher(std::shared_ptr<nats::Client> client, std::string producer, const std::atomic<bool>* cancel,
                OnAck on_ack)
      : client_(std::move(client)),
        producer_(std::move(producer)),
        cancel_(cancel),
        on_ack_(std::move(on_ack)) {}

  tl::expected<std::uint64_t, ClientError> publish(std::vector<OutSample> samples) override {
    const std::uint64_t seq = next_seq_++;
    frame_.clear();
    PublishEncoder enc;
    enc.encode(frame_, seq, samples);
    stats_.batches++;
    const std::string id = nats_msg_id(producer_, seq);
    const std::string subject = client_->config().in_subject();
    natsMsg* msg = nullptr;
    if (auto s =
            natsMsg_Create(&msg, subject.c_str(), nullptr, frame_.data(), static_cast<int>(frame_.size()));
        s != NATS_OK) {
      return tl::unexpected(
          ClientError{fmt::format("cannot create a NATS message: {}", nats::status_text(s)), true});
    }
    natsMsgHeader_Set(msg, "Rm-Producer", producer_.c_str());
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MsgId = id.c_str();
    po.MaxWait = client_->config().publish_timeout_ms;
    auto backoff = std::chrono::milliseconds(50);
    for (int attempt = 0;; ++attempt) {
      jsPubAck* pa = nullptr;
      jsErrCode e = static_cast<jsErrCode>(0);
      const natsStatus s = js_PublishMsg(&pa, client_->js(), msg, &po, &e);
      if (s == NATS_OK) {
        stats_.acked++;
        stats_.samples_acked += samples.size();
        const bool duplicate = pa->Duplicate;
        if (duplicate) stats_.duplicates++;
        jsPubAck_Destroy(pa);
        natsMsg_Destroy(msg);
        if (on_ack_) on_ack_(seq, samples, duplicate);
        return seq;
      }
      if (s == NATS_MAX_PAYLOAD || e == JSStreamMessageExceedsMaximumErr) {
        natsMsg_Destroy(msg);
        return tl::unexpected(ClientError{
            fmt::format("batch {} of {} ({} bytes) is larger than the NATS server accepts; lower BATCH_SIZE",
                        seq, producer_, frame_.size()),
            true});
      }
      if (cancel_ && cancel_->load()) {
        natsMsg_Destroy(msg);
        return tl::unexpected(ClientError{fmt::format("cancelled with batch {} unacknowledged", seq), false});
      }
      if (attempt == 0 || attempt % 20 == 0) {
        log()->warn("{}: batch {} not acknowledged ({}); retrying with the same id", producer_, seq,
                    nats::status_text(s, e));
      }
      stats_.resent++;
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(1000));
    }
  }

  // Every publish waits for its ack, so nothing is ever outstanding here.
  tl::expected<void, ClientError> flush(std::chrono::milliseconds) override { return {}; }
  PublisherStats stats() const override { return stats_; }
  bool connected() const override {
    return natsConnection_Status(client_->conn()) == NATS_CONN_STATUS_CONNECTED;
  }

 private:
  std::shared_ptr<nats::Client> client_;
  std::string producer_;
  const std::atomic<bool>* cancel_;
  std::uint64_t next_seq_ = 1;
  std::string frame_;
  OnAck on_ack_;
  PublisherStats stats_;
};
}  // namespace

tl::expected<PublisherFactory, std::string> make_nats_publisher_factory(const NatsConfig& cfg,
                                                                        const std::string& name) {
  auto client = nats::Client::connect(cfg, name, std::chrono::seconds(30));
  if (!client) return tl::unexpected(client.error());
  if (auto r = (*client)->ensure_streams(std::chrono::seconds(30)); !r) return tl::unexpected(r.error());
  log()->info("publishing to JetStream {} subject {} via {}", cfg.in_stream(), cfg.in_subject(), cfg.urls());
  std::shared_ptr<nats::Client> shared(std::move(*client));
  return PublisherFactory(
      [shared](const std::string& producer, const std::atomic<bool>* cancel, BatchPublisher::OnAck on_ack) {
        return std::unique_ptr<BatchPublisher>(
            std::make_unique<NatsPublisher>(shared, producer, cancel, std::move(on_ack)));
      });
}

}  // namespace rm::telemetry
