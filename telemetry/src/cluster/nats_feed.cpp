// NatsFeed: applied stream -> this gateway's Index (see nats_feed.hpp).
#include "telemetry/cluster/nats_feed.hpp"

#include <atomic>
#include <mutex>

#include <fmt/format.h>

#include "core/log.hpp"
#include "nats_client.hpp"
#include "telemetry/wire/protocol.hpp"

namespace rm::telemetry {

namespace {
auto log() {
  return core::logger("telemetry.nats.feed");
}

// Appends a decoded batch to the index, one append_many per run of samples of one GPU.
void apply_batch(Index& index, const Batch& b) {
  std::vector<Index::Gpu*> gpus;
  gpus.reserve(b.gpus.size());
  for (const auto& g : b.gpus) gpus.push_back(index.upsert_gpu(*g));
  std::vector<std::uint32_t> metrics;
  metrics.reserve(b.metrics.size());
  for (const auto& m : b.metrics) metrics.push_back(index.metric_id(m));
  std::vector<Index::Entry> run;
  std::uint32_t cur = UINT32_MAX;
  for (const auto& s : b.samples) {
    if (s.gpu != cur && !run.empty()) {
      index.append_many(gpus[cur], run.data(), run.size());
      run.clear();
    }
    cur = s.gpu;
    run.push_back({s.timestamp_ns, s.value, metrics[s.metric]});
  }
  if (!run.empty()) index.append_many(gpus[cur], run.data(), run.size());
}
}  // namespace

struct NatsFeed::Impl {
  std::unique_ptr<nats::Client> client;
  natsSubscription* sub = nullptr;
  std::shared_ptr<Index> index;
  std::atomic<std::uint64_t> messages{0}, samples{0}, bad{0}, last_seq{0};
  std::mutex stop_mu;

  static void on_msg(natsConnection*, natsSubscription*, natsMsg* m, void* closure) {
    auto* self = static_cast<Impl*>(closure);
    const std::uint64_t seq = natsMsg_GetSequence(m);
    const char* producer = nullptr;
    natsMsgHeader_Get(m, "Rm-Producer", &producer);
    FrameDecoder dec;
    dec.feed(std::string_view(natsMsg_GetData(m), static_cast<std::size_t>(natsMsg_GetDataLength(m))));
    auto f = dec.next();
    tl::expected<Batch, ProtocolError> b =
        tl::unexpected(ProtocolError{ErrorCode::bad_frame, "not a PUBLISH frame"});
    if (f && *f && (*f)->type == FrameType::publish) {
      PublishDecoder pd;
      b = pd.decode((*f)->payload, producer ? producer : "");
    } else if (!f) {
      b = tl::unexpected(f.error());
    }
    if (b) {
      apply_batch(*self->index, *b);
      self->messages++;
      self->samples += b->samples.size();
    } else {
      self->bad++;
      log()->error("applied-stream message {} skipped: {}", seq, b.error().message);
    }
    self->last_seq = seq;
    natsMsg_Destroy(m);
  }
};

NatsFeed::NatsFeed(std::size_t max_entries)
    : index_(std::make_shared<Index>(max_entries)), impl_(std::make_unique<Impl>()) {
  impl_->index = index_;
}

NatsFeed::~NatsFeed() {
  stop();
}

tl::expected<std::shared_ptr<NatsFeed>, std::string> NatsFeed::start(const NatsConfig& cfg,
                                                                     std::size_t max_entries,
                                                                     const std::string& name) {
  std::shared_ptr<NatsFeed> feed(new NatsFeed(max_entries));
  auto client = nats::Client::connect(cfg, name, std::chrono::seconds(30));
  if (!client) return tl::unexpected(client.error());
  if (auto r = (*client)->ensure_streams(std::chrono::seconds(30)); !r) return tl::unexpected(r.error());
  Impl& impl = *feed->impl_;
  impl.client = std::move(*client);
  jsSubOptions so;
  jsSubOptions_Init(&so);
  const std::string stream = cfg.applied_stream();
  so.Stream = stream.c_str();
  so.Ordered = true;
  so.Config.DeliverPolicy = js_DeliverAll;
  so.Config.Heartbeat = 1'000'000'000;  // a lost consumer is recreated after ~3 missed beats
  jsErrCode e = static_cast<jsErrCode>(0);
  if (auto s = js_Subscribe(&impl.sub, impl.client->js(), cfg.applied_subject().c_str(), &Impl::on_msg, &impl,
                            nullptr, &so, &e);
      s != NATS_OK) {
    return tl::unexpected(fmt::format("cannot subscribe to stream {}: {}", stream, nats::status_text(s, e)));
  }
  natsSubscription_SetPendingLimits(impl.sub, -1, 512 << 20);
  log()->info("following stream {} (ordered consumer) via {}", stream, cfg.urls());
  return feed;
}

void NatsFeed::stop() {
  std::lock_guard lk(impl_->stop_mu);
  if (impl_->sub) {
    natsSubscription_Unsubscribe(impl_->sub);
    natsSubscription_Destroy(impl_->sub);
    impl_->sub = nullptr;
  }
  impl_->client.reset();
}

NatsFeedStats NatsFeed::stats() const {
  return {impl_->messages.load(), impl_->samples.load(), impl_->bad.load(), impl_->last_seq.load()};
}

}  // namespace rm::telemetry
