// NatsFeed: applied stream -> this gateway's Index (see nats_feed.hpp).
#include "telemetry/cluster/nats_feed.hpp"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "core/log.hpp"
#include "nats_client.hpp"
#include "telemetry/cluster/batch_codec.hpp"

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
  NatsConfig cfg;
  NatsFeedOptions opts;
  std::shared_ptr<Index> index;
  std::unique_ptr<nats::Client> client;  // owned by the thread while it runs
  natsSubscription* sub = nullptr;
  std::atomic<std::uint64_t> messages{0}, samples{0}, bad{0}, last_seq{0};

  mutable std::mutex mu;  // guards status, stopping
  std::condition_variable cv;
  NatsFeedStatus status;
  bool stopping = false;
  std::thread thread;

  static void on_msg(natsConnection*, natsSubscription*, natsMsg* m, void* closure) {
    auto* self = static_cast<Impl*>(closure);
    // The stream sequence is in the delivery metadata (natsMsg_GetSequence is only set for
    // messages fetched by sequence).
    std::uint64_t seq = 0;
    jsMsgMetaData* meta = nullptr;
    if (natsMsg_GetMetaData(&meta, m) == NATS_OK) {
      seq = meta->Sequence.Stream;
      jsMsgMetaData_Destroy(meta);
    }
    const char* producer = nullptr;
    natsMsgHeader_Get(m, "Rm-Producer", &producer);
    auto b = decode_cluster_batch(
        std::string_view(natsMsg_GetData(m), static_cast<std::size_t>(natsMsg_GetDataLength(m))),
        producer ? producer : "");
    if (b) {
      apply_batch(*self->index, *b);
      self->messages++;
      self->samples += b->samples.size();
    } else {
      self->bad++;
      log()->error("applied-stream message {} skipped: {}", seq, b.error().message);
    }
    if (seq > 0) self->last_seq = seq;
    natsMsg_Destroy(m);
  }

  // Sleeps up to `d`; false once stop() was called.
  bool wait(std::chrono::milliseconds d) {
    std::unique_lock lk(mu);
    return !cv.wait_for(lk, d, [&] { return stopping; });
  }
  void set_error(const std::string& e) {
    std::lock_guard lk(mu);
    if (status.error != e) log()->warn("{}", e);
    status.error = e;
  }

  // One attempt: connect (bounded), create/check the streams, subscribe.
  [[nodiscard]] Status connect_once() {
    auto c = nats::Client::connect(cfg, opts.name, std::chrono::seconds(2));
    if (!c) return tl::unexpected(c.error());
    if (auto r = (*c)->ensure_streams(std::chrono::seconds(2)); !r) return tl::unexpected(r.error());
    jsSubOptions so;
    jsSubOptions_Init(&so);
    const std::string stream = cfg.applied_stream();
    so.Stream = stream.c_str();
    so.Ordered = true;
    so.Config.DeliverPolicy = js_DeliverAll;
    so.Config.Heartbeat = 1'000'000'000;  // a lost consumer is recreated after ~3 missed beats
    jsErrCode e = static_cast<jsErrCode>(0);
    if (auto s = js_Subscribe(&sub, (*c)->js(), cfg.applied_subject().c_str(), &Impl::on_msg, this, nullptr,
                              &so, &e);
        s != NATS_OK) {
      return telemetry_error(TelemetryErrc::unavailable, fmt::format("cannot subscribe to stream {}: {}",
                                                                     stream, nats::status_text(s, e)));
    }
    natsSubscription_SetPendingLimits(sub, -1, 512 << 20);
    client = std::move(*c);
    log()->info("following stream {} (ordered consumer) via {}", stream, cfg.urls());
    return {};
  }

  // Connection state and catch-up target, every 250 ms.
  void observe(bool& was_connected) {
    const bool connected = natsConnection_Status(client->conn()) == NATS_CONN_STATUS_CONNECTED;
    std::optional<nats::StreamState> st;
    if (connected) {
      if (auto s = client->stream_state(cfg.applied_stream())) st = *s;
    }
    char url[256] = {0};
    if (connected) natsConnection_GetConnectedUrl(client->conn(), url, sizeof url);
    std::lock_guard lk(mu);
    status.state = connected ? "connected" : "reconnecting";
    status.server = url;
    status.applied_seq = last_seq.load();
    if (!connected && was_connected) {
      log()->warn("NATS connection lost; reconnecting to {}", cfg.urls());
      status.caught_up = false;
    }
    if (connected && st) {
      status.stream_last_seq = st->last_seq;
      if (!was_connected) {
        // (Re)connected: everything the stream holds now is to be applied before ready. An
        // empty stream (never written, or aged out) has nothing to deliver.
        status.catch_up_seq = st->messages == 0 ? 0 : st->last_seq;
        status.caught_up = false;
        status.error.clear();
        was_connected = true;
      }
      if (!status.caught_up && status.applied_seq >= status.catch_up_seq) {
        status.caught_up = true;
        log()->info("caught up with stream {} at sequence {}", cfg.applied_stream(), status.applied_seq);
      }
    } else if (!connected) {
      was_connected = false;
    }
  }

  void run() {
    while (true) {
      auto r = connect_once();
      if (r) break;
      set_error(r.error().message);
      if (!wait(std::chrono::milliseconds(500))) return;
    }
    bool was_connected = false;
    do observe(was_connected);
    while (wait(std::chrono::milliseconds(250)));
  }
};

NatsFeed::NatsFeed(const NatsConfig& cfg, const NatsFeedOptions& opts)
    : index_(std::make_shared<Index>(opts.max_entries, opts.retention_ns)), impl_(std::make_unique<Impl>()) {
  impl_->cfg = cfg;
  impl_->opts = opts;
  impl_->index = index_;
}

NatsFeed::~NatsFeed() {
  stop();
}

std::shared_ptr<NatsFeed> NatsFeed::start(const NatsConfig& cfg, const NatsFeedOptions& opts) {
  std::shared_ptr<NatsFeed> feed(new NatsFeed(cfg, opts));
  Impl* impl = feed->impl_.get();
  impl->thread = std::thread([impl] { impl->run(); });
  return feed;
}

void NatsFeed::stop() {
  {
    std::lock_guard lk(impl_->mu);
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  if (impl_->thread.joinable()) impl_->thread.join();
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

NatsFeedStatus NatsFeed::status() const {
  std::lock_guard lk(impl_->mu);
  NatsFeedStatus s = impl_->status;
  s.applied_seq = impl_->last_seq.load();
  // Between two observations: caught up as soon as the target is reached.
  if (s.state == "connected" && s.applied_seq >= s.catch_up_seq) s.caught_up = true;
  return s;
}

void NatsFeed::register_metrics(const std::shared_ptr<const NatsFeed>& feed, core::metrics::Registry& r) {
  r.gauge_callback("api_gateway_gpus", "GPUs with data visible to the gateway.",
                   [feed] { return static_cast<double>(feed->gpus().size()); });
  r.gauge_callback("api_gateway_stream_messages_applied", "Applied-stream messages in the index.",
                   [feed] { return static_cast<double>(feed->stats().messages); });
  r.gauge_callback("api_gateway_stream_last_seq", "Sequence of the newest applied-stream message applied.",
                   [feed] { return static_cast<double>(feed->stats().last_seq); });
  r.gauge_callback("api_gateway_nats_connected", "1 while connected to a NATS server.",
                   [feed] { return feed->status().state == "connected" ? 1.0 : 0.0; });
}

std::optional<std::string> NatsFeed::not_ready() const {
  const NatsFeedStatus s = status();
  const auto& cfg = impl_->cfg;
  if (s.state == "connecting") {
    return fmt::format("not connected to NATS at {} yet{}{}", cfg.urls(), s.error.empty() ? "" : ": ",
                       s.error);
  }
  if (s.state == "reconnecting") {
    return fmt::format(
        "NATS unreachable: connection lost, reconnecting to {}; serving what was applied up to "
        "sequence {} of stream {}",
        cfg.urls(), s.applied_seq, cfg.applied_stream());
  }
  if (!s.caught_up) {
    return fmt::format("catching up with stream {}: applied up to sequence {} of {}", cfg.applied_stream(),
                       s.applied_seq, s.catch_up_seq);
  }
  return std::nullopt;
}

}  // namespace rm::telemetry
