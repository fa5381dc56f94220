// NatsPublisher: batches published asynchronously (js_PublishMsgAsync) with the
// de-duplication id "<producer>:<seq>", at most NATS_PUBLISH_WINDOW of them unacknowledged at
// a time; publish() blocks while the window is full. A batch whose publish fails or is not
// acknowledged within NATS_PUBLISH_TIMEOUT_MS (timeout while a stream leader is re-elected, no
// responders while reconnecting, connection lost), or still unanswered when a batch handed over
// after it is acknowledged (its request died with a server), is published again with the same
// id until it is acknowledged, so a stored-but-unacknowledged batch is not stored twice. Acks are handed
// to OnAck on the library's thread as they arrive (not on the caller's next call), so OnAck
// must be thread-safe; failures are published again on the caller's thread (in publish/flush).
//
// Message = one cluster batch (batch_codec.hpp): compact, self-contained (it defines its own
// GPUs and metrics, so it decodes alone); header Rm-Producer carries the producer id.
#include "nats_publisher.hpp"

#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "core/log.hpp"
#include "nats_client.hpp"
#include "telemetry/cluster/batch_codec.hpp"

namespace rm::telemetry {

namespace {
auto log() {
  return core::logger("telemetry.nats.publisher");
}

// lost: not answered although a batch handed over after it was (see on_ack_msg).
enum class Outcome { ok, duplicate, retry, too_large, lost };

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
      start_error_ = js.error().message;
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
      {
        std::lock_guard lk(mu_);
        closing_ = true;
      }
      js_.reset();
    }
    std::lock_guard lk(mu_);  // a handler still running finishes before the members go
  }

  tl::expected<std::uint64_t, ClientError> publish(std::vector<OutSample> samples) override {
    if (!js_) return tl::unexpected(ClientError{start_error_, true});
    const std::uint64_t seq = next_seq_++;
    Outstanding o;
    encode_cluster_batch(o.frame, seq, samples);
    o.samples = std::move(samples);
    {
      std::lock_guard lk(mu_);
      window_.emplace(seq, std::move(o));
      stats_.batches++;
    }
    if (auto r = submit(seq); !r) return tl::unexpected(r.error());
    if (auto r = collect(false); !r) return tl::unexpected(r.error());
    while (in_flight() >= window_size_) {
      if (auto r = collect(true); !r) return tl::unexpected(r.error());
    }
    return seq;
  }

  tl::expected<void, ClientError> flush(std::chrono::milliseconds timeout) override {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (in_flight() > 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        return tl::unexpected(ClientError{fmt::format("{} batch(es) of {} not acknowledged within {} ms",
                                                      in_flight(), producer_, timeout.count()),
                                          false});
      }
      if (auto r = collect(true); !r) return r;
    }
    return {};
  }
  PublisherStats stats() const override {
    std::lock_guard lk(mu_);
    return stats_;
  }
  bool connected() const override {
    return natsConnection_Status(client_->conn()) == NATS_CONN_STATUS_CONNECTED;
  }

 private:
  struct Outstanding {
    std::string frame;
    std::vector<OutSample> samples;
    int attempts = 0;
    std::chrono::steady_clock::time_point submitted;
    bool presumed_lost = false;  // queued for republishing
  };
  // What the library thread leaves for the caller's thread: failures to publish again.
  struct Retry {
    std::uint64_t seq;
    Outcome outcome;
    std::string why;
  };

  std::size_t in_flight() const {
    std::lock_guard lk(mu_);
    return window_.size();
  }

  // Library thread, as each ack arrives: a stored (or duplicate) batch leaves the window and is
  // handed to OnAck at once, so the ack latency the streamer observes is the ack's own. The
  // seq is the part of the message id after the last ':'.
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
      auto it = self->window_.find(seq);
      if (self->closing_ || it == self->window_.end()) return;  // already acknowledged
      if (out == Outcome::ok || out == Outcome::duplicate) {
        self->stats_.acked++;
        self->stats_.samples_acked += it->second.samples.size();
        if (out == Outcome::duplicate) self->stats_.duplicates++;
        if (self->on_ack_) self->on_ack_(seq, it->second.samples, out == Outcome::duplicate);
        const auto answered = it->second.submitted;
        self->window_.erase(it);
        // A stream answers the publishes of one connection in order: a batch handed over
        // before this one and still unanswered went to a server or leader that is gone (killed
        // with it in flight; the client reconnected elsewhere). Republish it now rather than
        // after NATS_PUBLISH_TIMEOUT_MS; a copy that was stored is dropped as a duplicate.
        for (auto& [other, o] : self->window_) {
          if (!o.presumed_lost && o.submitted + std::chrono::milliseconds(10) < answered) {
            o.presumed_lost = true;
            self->retries_.push_back({other, Outcome::lost, "a later batch was acknowledged first"});
          }
        }
      } else {
        self->retries_.push_back({seq, out, std::move(why)});
      }
    }
    self->cv_.notify_one();
  }

  // Hands the batch to the library; retries (same id) while it refuses (window stalled,
  // connection lost). The batch may be acknowledged (and gone) as soon as it is handed over.
  tl::expected<void, ClientError> submit(std::uint64_t seq) {
    const std::string id = nats_msg_id(producer_, seq);
    auto backoff = std::chrono::milliseconds(50);
    while (true) {
      natsMsg* msg = nullptr;
      natsStatus s = NATS_OK;
      int attempts = 0;
      std::size_t size = 0;
      {
        std::lock_guard lk(mu_);
        auto it = window_.find(seq);
        if (it == window_.end()) return {};  // an earlier copy was acknowledged meanwhile
        size = it->second.frame.size();
        s = natsMsg_Create(&msg, subject_.c_str(), nullptr, it->second.frame.data(), static_cast<int>(size));
        it->second.submitted = std::chrono::steady_clock::now();
        it->second.presumed_lost = false;
        attempts = it->second.attempts;
      }
      if (s != NATS_OK) {
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
      s = js_PublishMsgAsync(js_.get(), &msg, &po);
      if (s == NATS_OK) return {};
      natsMsg_Destroy(msg);
      if (s == NATS_MAX_PAYLOAD) return tl::unexpected(too_large(seq, size));
      if (cancel_ && cancel_->load()) {
        return tl::unexpected(ClientError{fmt::format("cancelled with batch {} unacknowledged", seq), false});
      }
      if (attempts % 20 == 0) {
        log()->warn("{}: batch {} not accepted for publishing ({}); retrying with the same id", producer_,
                    seq, nats::status_text(s));
      }
      {
        std::lock_guard lk(mu_);
        if (auto it = window_.find(seq); it != window_.end()) it->second.attempts++;
        stats_.resent++;
      }
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(1000));
    }
  }

  ClientError too_large(std::uint64_t seq, std::size_t bytes) const {
    return ClientError{
        fmt::format("batch {} of {} ({} bytes) is larger than the NATS server accepts; lower BATCH_SIZE", seq,
                    producer_, bytes),
        true};
  }

  // Publishes again what the library reported failed; with `block`, first waits (up to 100 ms)
  // for an ack or a failure.
  tl::expected<void, ClientError> collect(bool block) {
    std::vector<Retry> retries;
    {
      std::unique_lock lk(mu_);
      const std::size_t before = window_.size();
      if (block) {
        cv_.wait_for(lk, std::chrono::milliseconds(100),
                     [&] { return !retries_.empty() || window_.size() < before; });
      }
      retries.swap(retries_);
      if (block && retries.empty() && window_.size() == before && cancel_ && cancel_->load()) {
        return tl::unexpected(
            ClientError{fmt::format("cancelled with {} batch(es) unacknowledged", window_.size()), false});
      }
    }
    bool lost = false;
    for (auto& r : retries) {
      if (r.outcome == Outcome::lost) {
        lost = true;  // handled below, with the whole window
        continue;
      }
      std::size_t size = 0;
      {
        std::lock_guard lk(mu_);
        auto it = window_.find(r.seq);
        if (it == window_.end()) continue;  // another copy of it was acknowledged
        size = it->second.frame.size();
        if (r.outcome != Outcome::too_large && it->second.attempts++ % 20 == 0) {
          log()->warn("{}: batch {} not acknowledged ({}); retrying with the same id", producer_, r.seq,
                      r.why);
        }
        stats_.resent++;
      }
      if (r.outcome == Outcome::too_large) return tl::unexpected(too_large(r.seq, size));
      // A stream without a leader (election, start-up) answers at once: do not spin.
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      if (auto s = submit(r.seq); !s) return s;
    }
    if (lost) return republish_window("unanswered while a later batch was acknowledged");
    return resubmit_overdue();
  }

  // A batch neither acknowledged nor failed well after NATS_PUBLISH_TIMEOUT_MS (its server
  // died with the request in flight).
  tl::expected<void, ClientError> resubmit_overdue() {
    const auto now = std::chrono::steady_clock::now();
    const auto limit = std::chrono::milliseconds(client_->config().publish_timeout_ms);
    {
      std::lock_guard lk(mu_);
      bool overdue = false;
      for (const auto& [seq, o] : window_) overdue = overdue || now - o.submitted > limit;
      if (!overdue) return {};
    }
    return republish_window(fmt::format("unanswered for over {} ms", limit.count()));
  }

  // The library's pending requests are dropped (a request that died with its server would
  // otherwise hold a slot of PublishAsync.MaxPending forever, and a late answer is ignored),
  // and every unacknowledged batch is published again under its id (the stream drops what it
  // already has).
  tl::expected<void, ClientError> republish_window(const std::string& why) {
    std::vector<std::uint64_t> seqs;
    {
      std::lock_guard lk(mu_);
      for (const auto& [seq, o] : window_) seqs.push_back(seq);
      stats_.resent += seqs.size();
    }
    natsMsgList left{nullptr, 0};
    if (js_PublishAsyncGetPendingList(&left, js_.get()) == NATS_OK) natsMsgList_Destroy(&left);
    if (seqs.empty()) return {};
    log()->warn("{}: batch(es) {}; publishing the {} unacknowledged again with the same ids", producer_, why,
                seqs.size());
    for (std::uint64_t seq : seqs) {
      if (auto r = submit(seq); !r) return r;
    }
    return {};
  }

  std::shared_ptr<nats::Client> client_;
  std::string producer_;
  const std::atomic<bool>* cancel_;
  OnAck on_ack_;
  std::string subject_;
  std::size_t window_size_;
  nats::JsPtr js_;
  std::string start_error_;
  std::uint64_t next_seq_ = 1;  // caller's thread only
  mutable std::mutex mu_;       // guards window_, retries_, stats_, closing_
  std::condition_variable cv_;
  std::map<std::uint64_t, Outstanding> window_;
  std::vector<Retry> retries_;
  PublisherStats stats_;
  bool closing_ = false;
};
}  // namespace

Result<PublisherFactory> make_nats_publisher_factory(const NatsConfig& cfg, const std::string& name) {
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
