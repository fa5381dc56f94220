// NatsPublisher: batches published asynchronously (js_PublishMsgAsync) with the
// de-duplication id "<producer>:<seq>", at most NATS_PUBLISH_WINDOW of them unacknowledged at
// a time; publish() blocks while the window is full. A batch whose publish fails or is not
// acknowledged within NATS_PUBLISH_TIMEOUT_MS (timeout while a stream leader is re-elected, no
// responders while reconnecting, connection lost) is published again with the same id until
// it is acknowledged, so a stored-but-unacknowledged batch is not stored twice. Acks are
// collected by the library's thread and handed to OnAck on the caller's thread (in publish and
// flush), as ReliablePublisher does.
//
// Message = one PUBLISH frame of the broker protocol (docs/broker-protocol.md) encoded by a
// fresh PublishEncoder, so every message defines its own GPUs and metrics and can be decoded
// alone; header Rm-Producer carries the producer id.
#include "nats_publisher.hpp"

#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "core/log.hpp"
#include "nats_client.hpp"

namespace rm::telemetry {

namespace {
auto log() {
  return core::logger("telemetry.nats.publisher");
}

enum class Outcome { ok, duplicate, retry, too_large };

class NatsPublisher final : public BatchPublisher {
 public:
  NatsPublisher(std::shared_ptr<nats::Client> client, std::string producer, const std::atomic<bool>* cancel,
                OnAck on_ack)
      : client_(std::move(client)),
        producer_(std::move(producer)),
        cancel_(cancel),
        on_ack_(std::move(on_ack)),
        subject_(client_->config().in_subject()),
        window_size_(static_cast<std::size_t>(client_->config().publish_window)) {}

  void start() {
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.PublishAsync.AckHandler = &NatsPublisher::on_ack_msg;
    jo.PublishAsync.AckHandlerClosure = this;
    jo.PublishAsync.MaxPending = static_cast<int64_t>(window_size_) * 2 + 4;
    auto js = client_->context(jo);
    if (js) {
      js_ = std::move(*js);
    } else {
      start_error_ = js.error();
    }
  }

  ~NatsPublisher() override {
    if (js_) {
      // Nothing may reach on_ack_msg once this object is gone: wait briefly, then drop the rest.
      jsPubOptions po;
      jsPubOptions_Init(&po);
      po.MaxWait = 200;
      if (js_PublishAsyncComplete(js_.get(), &po) != NATS_OK) {
        natsMsgList left{nullptr, 0};
        if (js_PublishAsyncGetPendingList(&left, js_.get()) == NATS_OK) natsMsgList_Destroy(&left);
      }
      js_.reset();
    }
    std::lock_guard lk(mu_);  // a handler still running finishes before the members go
  }

  tl::expected<std::uint64_t, ClientError> publish(std::vector<OutSample> samples) override {
    if (!js_) return tl::unexpected(ClientError{start_error_, true});
    const std::uint64_t seq = next_seq_++;
    Outstanding& o = window_[seq];
    PublishEncoder enc;
    enc.encode(o.frame, seq, samples);
    o.samples = std::move(samples);
    stats_.batches++;
    if (auto r = submit(seq, o); !r) return tl::unexpected(r.error());
    if (auto r = collect(false); !r) return tl::unexpected(r.error());
    while (window_.size() >= window_size_) {
      if (auto r = collect(true); !r) return tl::unexpected(r.error());
    }
    return seq;
  }

  tl::expected<void, ClientError> flush(std::chrono::milliseconds timeout) override {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!window_.empty()) {
      if (std::chrono::steady_clock::now() > deadline) {
        return tl::unexpected(ClientError{fmt::format("{} batch(es) of {} not acknowledged within {} ms",
                                                      window_.size(), producer_, timeout.count()),
                                          false});
      }
      if (auto r = collect(true); !r) return r;
    }
    return {};
  }
  PublisherStats stats() const override { return stats_; }
  bool connected() const override {
    return natsConnection_Status(client_->conn()) == NATS_CONN_STATUS_CONNECTED;
  }

 private:
  struct Outstanding {
    std::string frame;
    std::vector<OutSample> samples;
    int attempts = 0;
    std::chrono::steady_clock::time_point submitted;
  };

  // Library thread: the seq is the part of the message id after the last ':'.
  static void on_ack_msg(jsCtx*, natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae, void* closure) {
    auto* self = static_cast<NatsPublisher*>(closure);
    const char* id = nullptr;
    natsMsgHeader_Get(msg, "Nats-Msg-Id", &id);
    std::uint64_t seq = 0;
    if (id != nullptr) {
      const char* colon = std::strrchr(id, ':');
      if (colon != nullptr) seq = std::strtoull(colon + 1, nullptr, 10);
    }
    Outcome out = Outcome::ok;
    std::string why;
    if (pae != nullptr) {
      out = pae->ErrCode == JSStreamMessageExceedsMaximumErr ? Outcome::too_large : Outcome::retry;
      why = nats::status_text(pae->Err, pae->ErrCode);
    } else if (pa == nullptr) {
      out = Outcome::retry;
      why = "no acknowledgement";
    } else if (pa->Duplicate) {
      out = Outcome::duplicate;
    }
    natsMsg_Destroy(msg);
    {
      std::lock_guard lk(self->mu_);
      self->done_.push_back({seq, out, std::move(why)});
    }
    self->cv_.notify_one();
  }

  // Hands the batch to the library; retries (same id) while it refuses (window stalled,
  // connection lost).
  tl::expected<void, ClientError> submit(std::uint64_t seq, Outstanding& o) {
    const std::string id = nats_msg_id(producer_, seq);
    auto backoff = std::chrono::milliseconds(50);
    while (true) {
      natsMsg* msg = nullptr;
      if (auto s = natsMsg_Create(&msg, subject_.c_str(), nullptr, o.frame.data(),
                                  static_cast<int>(o.frame.size()));
          s != NATS_OK) {
        return tl::unexpected(
            ClientError{fmt::format("cannot create a NATS message: {}", nats::status_text(s)), true});
      }
      natsMsgHeader_Set(msg, "Rm-Producer", producer_.c_str());
      jsPubOptions po;
      jsPubOptions_Init(&po);
      po.MsgId = id.c_str();
      // No per-message MaxWait: the library's ack timer can fire (and the handler destroy the
      // message) while js_PublishMsgAsync is still encoding it behind a connection stalled by a
      // network cut. Unanswered batches are detected and republished by resubmit_overdue().
      const natsStatus s = js_PublishMsgAsync(js_.get(), &msg, &po);
      if (s == NATS_OK) {
        o.submitted = std::chrono::steady_clock::now();
        return {};
      }
      natsMsg_Destroy(msg);
      if (s == NATS_MAX_PAYLOAD) return tl::unexpected(too_large(seq, o));
      if (cancel_ && cancel_->load()) {
        return tl::unexpected(ClientError{fmt::format("cancelled with batch {} unacknowledged", seq), false});
      }
      if (o.attempts++ % 20 == 0) {
        log()->warn("{}: batch {} not accepted for publishing ({}); retrying with the same id", producer_,
                    seq, nats::status_text(s));
      }
      stats_.resent++;
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(1000));
    }
  }

  ClientError too_large(std::uint64_t seq, const Outstanding& o) const {
    return ClientError{
        fmt::format("batch {} of {} ({} bytes) is larger than the NATS server accepts; lower BATCH_SIZE", seq,
                    producer_, o.frame.size()),
        true};
  }

  // Applies the acks the library delivered; with `block`, waits (up to 100 ms at a time) for one.
  tl::expected<void, ClientError> collect(bool block) {
    std::vector<Done> done;
    {
      std::unique_lock lk(mu_);
      if (block) cv_.wait_for(lk, std::chrono::milliseconds(100), [&] { return !done_.empty(); });
      done.swap(done_);
    }
    for (auto& d : done) {
      auto it = window_.find(d.seq);
      if (it == window_.end()) continue;  // an ack of a batch already acknowledged
      if (d.outcome == Outcome::too_large) return tl::unexpected(too_large(d.seq, it->second));
      if (d.outcome == Outcome::retry) {
        if (it->second.attempts++ % 20 == 0) {
          log()->warn("{}: batch {} not acknowledged ({}); retrying with the same id", producer_, d.seq,
                      d.why);
        }
        stats_.resent++;
        // A stream without a leader (election, start-up) answers at once: do not spin.
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        if (auto r = submit(d.seq, it->second); !r) return r;
        continue;
      }
      stats_.acked++;
      stats_.samples_acked += it->second.samples.size();
      const bool duplicate = d.outcome == Outcome::duplicate;
      if (duplicate) stats_.duplicates++;
      if (on_ack_) on_ack_(d.seq, it->second.samples, duplicate);
      window_.erase(it);
    }
    if (auto r = resubmit_overdue(); !r) return r;
    if (block && done.empty() && cancel_ && cancel_->load()) {
      return tl::unexpected(
          ClientError{fmt::format("cancelled with {} batch(es) unacknowledged", window_.size()), false});
    }
    return {};
  }

  // A batch neither acknowledged nor failed well after NATS_PUBLISH_TIMEOUT_MS (its server
  // died with the request in flight): the library's pending requests are dropped, so their
  // slots are free and late answers are ignored, and every unacknowledged batch is published
  // again under its id (the stream drops what it already has).
  tl::expected<void, ClientError> resubmit_overdue() {
    if (window_.empty()) return {};
    const auto now = std::chrono::steady_clock::now();
    const auto limit = std::chrono::milliseconds(client_->config().publish_timeout_ms);
    bool overdue = false;
    for (const auto& [seq, o] : window_) overdue = overdue || now - o.submitted > limit;
    if (!overdue) return {};
    natsMsgList left{nullptr, 0};
    if (js_PublishAsyncGetPendingList(&left, js_.get()) == NATS_OK) natsMsgList_Destroy(&left);
    log()->warn("{}: {} batch(es) unanswered for over {} ms; publishing them again with the same ids",
                producer_, window_.size(), limit.count());
    for (auto& [seq, o] : window_) {
      stats_.resent++;
      if (auto r = submit(seq, o); !r) return r;
    }
    return {};
  }

  struct Done {
    std::uint64_t seq;
    Outcome outcome;
    std::string why;
  };

  std::shared_ptr<nats::Client> client_;
  std::string producer_;
  const std::atomic<bool>* cancel_;
  OnAck on_ack_;
  std::string subject_;
  std::size_t window_size_;
  nats::JsPtr js_;
  std::string start_error_;
  std::uint64_t next_seq_ = 1;
  std::map<std::uint64_t, Outstanding> window_;  // caller's thread only
  PublisherStats stats_;
  std::mutex mu_;  // guards done_
  std::condition_variable cv_;
  std::vector<Done> done_;
};
}  // namespace

tl::expected<PublisherFactory, std::string> make_nats_publisher_factory(const NatsConfig& cfg,
                                                                        const std::string& name) {
  auto client = nats::Client::connect(cfg, name, std::chrono::seconds(30));
  if (!client) return tl::unexpected(client.error());
  if (auto r = (*client)->ensure_streams(std::chrono::seconds(30)); !r) return tl::unexpected(r.error());
  log()->info("publishing to JetStream {} subject {} via {} (window {})", cfg.in_stream(), cfg.in_subject(),
              cfg.urls(), cfg.publish_window);
  std::shared_ptr<nats::Client> shared(std::move(*client));
  return PublisherFactory([shared](const std::string& producer, const std::atomic<bool>* cancel,
                                   BatchPublisher::OnAck on_ack) -> std::unique_ptr<BatchPublisher> {
    auto p = std::make_unique<NatsPublisher>(shared, producer, cancel, std::move(on_ack));
    p->start();  // a failure is returned by the first publish
    return p;
  });
}

}  // namespace rm::telemetry
