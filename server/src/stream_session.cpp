#include "stream_session.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>

#include "core/log.hpp"
#include "manifest_overrides.hpp"
#include "server_context.hpp"
#include "ws_writer.hpp"

namespace rm::server {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace json = boost::json;
using runtime::DataPtr;

namespace {
constexpr std::size_t kArrivalRing = 256;
// Set while this thread (a session's io thread) runs an inline pipeline from push_input():
// outputs then go into the outbox without waiting, as the writer they would wait for runs on
// this very thread.
thread_local bool t_inline_on_io = false;
constexpr auto kTick = std::chrono::milliseconds(250);
// Outputs up to this size may be written by the io thread itself (deliver()): small enough that a
// socket whose earlier bytes are all sent takes it at once, so a slow client never blocks the
// io thread's other sessions.
constexpr std::size_t kDirectWriteMax = 4 * 1024;
constexpr auto kProgressEvery = std::chrono::seconds(1);
}  // namespace

StreamSession::StreamSession(ServerContext& ctx, beast::tcp_stream stream)
    : ctx_(ctx),
      ws_(std::move(stream)),
      wake_timer_(ws_.get_executor()),
      space_timer_(ws_.get_executor()),
      tick_timer_(ws_.get_executor()),
      outbox_(ctx.options().output_buffer_bytes, [this] { wake(wake_timer_); }),
      arrivals_(kArrivalRing) {}

StreamSession::~StreamSession() {
  if (feeder_.joinable()) feeder_.join();
}

void StreamSession::wake(net::steady_timer& timer) {
  if (t_inline_on_io) {  // on this session's io thread already
    timer.cancel();
    return;
  }
  net::post(ws_.get_executor(), [self = weak_from_this(), &timer] {
    if (auto s = self.lock()) timer.cancel();
  });
}

json::object StreamSession::info() const {
  std::lock_guard lock(state_mutex_);
  auto t = std::chrono::time_point_cast<std::chrono::milliseconds>(started_at_);
  return json::object{{"id", id_},
                      {"pipeline", pipeline_},
                      {"params", params_},
                      {"started", fmt::format("{:%Y-%m-%dT%H:%M:%S}Z", t)},
                      {"ready", ready_.load()},
                      {"frames_in", frames_in_.load()},
                      {"frames_out", frames_out_.load()},
                      {"bytes_in", bytes_in_.load()},
                      {"bytes_out", bytes_out_.load()}};
}

void StreamSession::send_text(std::string text, bool unbounded) {
  outbox_.push(Frame{Frame::Kind::text, std::move(text), 0}, unbounded);
}

void StreamSession::send_close(CloseCode code, const std::string& reason) {
  outbox_.push(Frame{Frame::Kind::close, close_reason(reason), static_cast<std::uint16_t>(code)});
}

void StreamSession::shut_down() {
  net::post(ws_.get_executor(), [self = shared_from_this()] {
    if (self->closing_) return;
    self->closing_ = true;
    self->send_close(CloseCode::going_away, "server shutting down");
    self->enqueue({Inbound::Kind::stop, {}, nullptr, {}});
  });
}

void StreamSession::fail(CloseCode code, const std::string& message, runtime::NodeErrorCode err,
                         std::string_view node, std::string_view param) {
  if (closing_) return;
  closing_ = true;
  ctx_.metrics().failed.inc();
  core::logger("server")->info("session {}: closing with {}: {}", id_.empty() ? "-" : id_,
                               static_cast<int>(code), message);
  send_text(error_message(node, err, message, param), true);
  send_close(code, message);
  enqueue({Inbound::Kind::stop, {}, nullptr, {}});
}

void StreamSession::enqueue(Inbound item) {
  {
    std::lock_guard lock(inbox_mutex_);
    if (item.kind == Inbound::Kind::data) ++inbox_data_;
    inbox_.push_back(std::move(item));
  }
  inbox_cv_.notify_one();
}

void StreamSession::push_input(std::string input, DataPtr data) {
  {
    std::lock_guard lock(inbox_mutex_);
    // Only behind nothing: inputs the feeder still holds go first.
    // An inline pipeline delivers its outputs on this thread: only while the outbox has room,
    // so a client that reads slowly meets the feeder's blocking push instead.
    if (direct_ != nullptr && inbox_.empty() && !feeder_busy_ &&
        (!direct_inline_ || outbox_.bytes() < ctx_.options().output_buffer_bytes)) {
      t_inline_on_io = direct_inline_;
      auto taken = direct_->try_push(input, data);
      t_inline_on_io = false;
      if (!taken || *taken) return;  // a failure ends the session: the waiter reports it
    }
  }
  enqueue({Inbound::Kind::data, std::move(input), std::move(data), {}});
}

bool StreamSession::inbox_full() {
  std::lock_guard lock(inbox_mutex_);
  return inbox_data_ >= ctx_.options().input_queue_frames;
}

net::awaitable<void> StreamSession::run(beast::http::request<beast::http::string_body> req) {
  auto self = shared_from_this();
  beast::get_lowest_layer(ws_).expires_never();
  // Handshake and close handshake bounded; idleness is tracked per session (tick_loop) so the
  // close carries a reason.
  ws_.set_option(
      websocket::stream_base::timeout{std::chrono::seconds(5), websocket::stream_base::none(), false});
  ws_.set_option(websocket::stream_base::decorator(
      [](websocket::response_type& res) { res.set(beast::http::field::server, "remotemedia"); }));
  ws_.read_message_max(ctx_.options().max_frame_bytes * 2 + (1u << 20));
  {
    std::lock_guard lock(state_mutex_);
    started_at_ = std::chrono::system_clock::now();
  }
  beast::error_code ec;
  co_await ws_.async_accept(req, net::redirect_error(net::use_awaitable, ec));
  if (ec) {
    core::logger("server")->debug("websocket handshake failed: {}", ec.message());
    ctx_.release(this);
    co_return;
  }
  last_frame_ = Clock::now();
  net::co_spawn(
      ws_.get_executor(), [s = self]() { return s->write_loop(); }, net::detached);
  net::co_spawn(
      ws_.get_executor(), [s = self]() { return s->tick_loop(); }, net::detached);

  beast::flat_buffer buffer;
  const std::size_t limit = ctx_.options().max_frame_bytes;
  for (;;) {
    while (!closing_ && inbox_full()) {
      space_timer_.expires_at(Clock::time_point::max());
      co_await space_timer_.async_wait(net::redirect_error(net::use_awaitable, ec));
    }
    buffer.clear();
    bool too_big = false;
    std::size_t seen = 0;
    do {
      seen += co_await ws_.async_read_some(buffer, 64 * 1024, net::redirect_error(net::use_awaitable, ec));
      if (ec) break;
      if (seen > limit) {
        too_big = true;
        buffer.clear();
        if (closing_) continue;  // discard the rest of the message
        break;
      }
    } while (!ws_.is_message_done());
    if (ec) break;
    if (closing_) continue;  // the close is on its way: what follows is discarded
    last_frame_ = Clock::now();
    if (too_big) {
      fail(CloseCode::too_big,
           fmt::format("frame of more than {} bytes exceeds the limit of {} bytes", limit, limit));
      continue;
    }
    const auto n = buffer.size();
    bytes_in_ += n;
    ctx_.metrics().bytes_in.inc(static_cast<double>(n));
    if (ws_.got_text()) {
      on_text(beast::buffers_to_string(buffer.data()));
    } else {
      auto data = buffer.cdata();
      on_binary({static_cast<const std::byte*>(data.data()), data.size()});
    }
    // Outputs an inline pipeline just produced go out first: the writer runs before this
    // reader's next read is started.
    if (outbox_.bytes() > 0) co_await net::post(ws_.get_executor(), net::use_awaitable);
  }
  reader_done_ = true;
  // A read that ends after our close went out is the close handshake finishing, not a client
  // going away.
  if (ec != websocket::error::closed && !closing_ && !outbox_.closed()) {
    core::logger("server")->info("session {}: client went away ({}); cancelling", id_.empty() ? "-" : id_,
                                 ec.message());
  }
  closing_ = true;
  outbox_.close();
  wake_timer_.cancel();
  tick_timer_.cancel();
  enqueue({Inbound::Kind::stop, {}, nullptr, {}});
  part_done();
}

void StreamSession::part_done() {
  // The slot is given back once the reader has seen the connection end (after the close
  // handshake) and the feeder, if any, has torn the pipeline down.
  if (--parts_left_ == 0 || !started_) ctx_.release(this);
}

void StreamSession::on_text(const std::string& text) {
  auto msg = parse_client_message(text);
  if (!msg) return fail(CloseCode::malformed, "malformed frame: " + msg.error());
  if (msg->kind == ClientMessage::Kind::start) {
    if (started_) return fail(CloseCode::malformed, "malformed frame: a second start message");
    const auto* served = ctx_.catalog().find_pipeline(msg->start.pipeline);
    if (served == nullptr) {
      return fail(CloseCode::unknown_pipeline,
                  fmt::format("unknown pipeline '{}'; served: {}", msg->start.pipeline,
                              fmt::join(ctx_.catalog().names(), ", ")),
                  runtime::NodeErrorCode::invalid_params);
    }
    auto params = served->params.check(served->name, msg->start.params);
    if (!params) {
      return fail(CloseCode::invalid_params, params.error().message, runtime::NodeErrorCode::invalid_params,
                  params.error().node, params.error().param);
    }
    const auto& m = served->executor->manifest();
    started_ = true;
    inputs_ = m.inputs();
    {
      std::lock_guard lock(state_mutex_);
      pipeline_ = msg->start.pipeline;
      params_ = msg->start.params;
      total_nodes_ = m.nodes().size();
      for (const auto& n : m.nodes()) waiting_.insert(n.id);
    }
    last_progress_ = Clock::now();
    ctx_.metrics().started.inc();
    feeder_ =
        std::thread([self = shared_from_this(), served, id = msg->start.session,
                     p = std::move(*params)]() mutable { self->feed(served, std::move(id), std::move(p)); });
    return;
  }
  if (!started_)
    return fail(CloseCode::malformed, "malformed frame: the first frame must be a start message");
  const auto& input = msg->end.input;
  if (!input.empty() && std::find(inputs_.begin(), inputs_.end(), input) == inputs_.end()) {
    return fail(CloseCode::malformed,
                fmt::format("malformed frame: end names unknown input '{}' (inputs: {})", input,
                            fmt::join(inputs_, ", ")));
  }
  if (input.empty() || inputs_.size() == 1) all_inputs_ended_ = true;
  enqueue({Inbound::Kind::end, input, nullptr, {}});
}

void StreamSession::on_binary(std::span<const std::byte> frame) {
  if (!started_) return fail(CloseCode::malformed, "malformed frame: data before the start message");
  auto f = decode_data_frame(frame);
  if (!f) return fail(CloseCode::malformed, "malformed frame: " + f.error());
  std::string input = std::move(f->stream);
  if (input.empty()) {
    if (inputs_.size() != 1) {
      return fail(CloseCode::malformed,
                  fmt::format("malformed frame: the frame names no input; this pipeline has "
                              "several: {}",
                              fmt::join(inputs_, ", ")));
    }
    input = inputs_.front();
  } else if (std::find(inputs_.begin(), inputs_.end(), input) == inputs_.end()) {
    return fail(CloseCode::malformed, fmt::format("malformed frame: unknown input '{}' (inputs: {})", input,
                                                  fmt::join(inputs_, ", ")));
  }
  ++frames_in_;
  ctx_.metrics().frames_in.inc();
  if (f->data->is_end_of_stream()) {
    enqueue({Inbound::Kind::end, std::move(input), nullptr, {}});
    return;
  }
  {
    std::lock_guard lock(arrivals_mutex_);
    arrivals_[arrivals_next_++ % kArrivalRing] = {f->data->timestamp_us, Clock::now()};
  }
  push_input(std::move(input), std::move(f->data));
}

net::awaitable<void> StreamSession::write_loop() {
  auto self = shared_from_this();
  auto ec = co_await detail::write_frames(ws_, outbox_, wake_timer_, writing_since_);
  // After a write error the reader may still wait for a frame: end it.
  if (ec && !reader_done_) beast::get_lowest_layer(ws_).cancel();
}

net::awaitable<void> StreamSession::tick_loop() {
  auto self = shared_from_this();
  const auto& o = ctx_.options();
  beast::error_code ec;
  while (!reader_done_) {
    tick_timer_.expires_after(kTick);
    co_await tick_timer_.async_wait(net::redirect_error(net::use_awaitable, ec));
    if (reader_done_) break;
    const auto now = Clock::now();
    if (writing_since_ != Clock::time_point{} && now - writing_since_ > o.write_timeout) {
      core::logger("server")->warn("session {}: the client read nothing for {} ms; dropping it", id_,
                                   o.write_timeout.count());
      ctx_.metrics().failed.inc();
      beast::get_lowest_layer(ws_).close();
      break;
    }
    // Idle time counts before the start message and once the pipeline is ready, not while its
    // nodes start (a first Docker image build may take minutes while the client waits).
    if (started_ && !ready_) last_frame_ = now;
    if (!closing_ && !all_inputs_ended_ && now - last_frame_ > o.idle_timeout) {
      fail(CloseCode::idle,
           fmt::format("idle for {} s",
                       std::chrono::duration_cast<std::chrono::seconds>(o.idle_timeout).count()),
           runtime::NodeErrorCode::timeout);
    }
    if (started_ && !closing_ && !ready_ && now - last_progress_ >= kProgressEvery) {
      last_progress_ = now;
      std::lock_guard lock(state_mutex_);
      std::vector<std::string> waiting(waiting_.begin(), waiting_.end());
      send_text(progress_message("", total_nodes_ - waiting.size(), total_nodes_, waiting), true);
    }
  }
}

void StreamSession::node_ready(const std::string& node_id, std::size_t ready, std::size_t total) {
  std::vector<std::string> waiting;
  std::string id;
  {
    std::lock_guard lock(state_mutex_);
    waiting_.erase(node_id);
    waiting.assign(waiting_.begin(), waiting_.end());
    id = id_;
  }
  send_text(progress_message(node_id, ready, total, waiting));
  if (ready == total) {
    std::vector<std::string> outputs;
    if (const auto* ex = ctx_.catalog().find(pipeline_)) outputs = ex->manifest().outputs();
    ready_ = true;
    send_text(ready_message(id, pipeline_, inputs_, outputs, params_));
  }
}

void StreamSession::deliver(const std::string& node_id, const DataPtr& data) {
  Frame f{Frame::Kind::binary, encode_data_frame_bytes(node_id, *data), 0};
  const auto n = f.bytes.size();
  {
    std::lock_guard lock(arrivals_mutex_);
    for (std::size_t i = 0; i < kArrivalRing; ++i) {
      const auto& [ts, at] = arrivals_[(arrivals_next_ + kArrivalRing - 1 - i) % kArrivalRing];
      if (at == Clock::time_point{}) break;
      if (ts == data->timestamp_us) {
        ctx_.metrics().latency.observe(std::chrono::duration<double>(Clock::now() - at).count());
        break;
      }
    }
  }
  // Counted before the hand-off so a client that saw the output also sees it counted.
  ++frames_out_;
  bytes_out_ += n;
  ctx_.metrics().frames_out.inc();
  ctx_.metrics().bytes_out.inc(static_cast<double>(n));
  // An inline pipeline runs on this session's io thread, between two reads: a small output goes
  // out at once while the writer is idle, without the hop to it.
  if (t_inline_on_io) {
    // Written or failed (the reader then sees the connection end), as a push after close drops it.
    if (detail::write_now(ws_, outbox_, writing_since_, f, kDirectWriteMax)) return;
  }
  (void)outbox_.push(std::move(f), t_inline_on_io);  // false: the client is gone, the output dropped
}

void StreamSession::feed(const ServedPipeline* served, std::string requested_id,
                         std::vector<ParamOverride> params) {
  auto log = core::logger("server");
  runtime::SessionOptions so;
  so.session_id = requested_id.empty() ? runtime::make_session_id() : requested_id;
  so.spin = ctx_.options().node_spin;
  so.inline_nodes = ctx_.options().inline_nodes;
  {
    std::lock_guard lock(state_mutex_);
    id_ = so.session_id;
  }
  so.on_output = [this](const std::string& id, const DataPtr& d) { deliver(id, d); };
  so.on_node_ready = [this](const std::string& id, std::size_t ready, std::size_t total) {
    node_ready(id, ready, total);
  };
  auto finish_failed = [&](const runtime::SessionError& e) {
    ctx_.metrics().failed.inc();
    log->info("session {}: {}", so.session_id, e.message);
    send_text(error_message(e.node_id, e.code, e.message), true);
    send_close(CloseCode::node_failed, e.message);
  };
  // A session that sets params runs on its own executor, built from the manifest with them in.
  std::shared_ptr<const runtime::PipelineExecutor> executor = served->executor;
  std::string invalid;
  if (!params.empty()) {
    auto m = detail::manifest_with_params(served->text, served->base_dir, params);
    if (m)
      executor = std::make_shared<const runtime::PipelineExecutor>(std::move(*m));
    else
      invalid = m.error();
  }
  std::thread waiter;
  if (!invalid.empty()) {
    ctx_.metrics().failed.inc();
    log->info("session {}: {}", so.session_id, invalid);
    const bool one = params.size() == 1;
    send_text(error_message(one ? params[0].node : "", runtime::NodeErrorCode::invalid_params, invalid,
                            one ? params[0].node + "." + params[0].key : ""),
              true);
    send_close(CloseCode::invalid_params, invalid);
  } else {
    auto started = executor->start_session(so);
    if (!started) {
      finish_failed(started.error());
    } else {
      std::shared_ptr<runtime::Session> rt(std::move(*started));
      waiter = std::thread([this, rt] { enqueue({Inbound::Kind::finished, {}, nullptr, rt->wait()}); });
      {
        std::lock_guard lock(inbox_mutex_);
        direct_ = rt.get();
        direct_inline_ = rt->runs_inline();
      }
      bool running = true;
      while (running) {
        Inbound item;
        {
          std::unique_lock lock(inbox_mutex_);
          inbox_cv_.wait(lock, [&] { return !inbox_.empty(); });
          item = std::move(inbox_.front());
          inbox_.pop_front();
          feeder_busy_ = true;
          if (item.kind == Inbound::Kind::data && inbox_data_-- == ctx_.options().input_queue_frames) {
            wake(space_timer_);
          }
        }
        switch (item.kind) {
          case Inbound::Kind::data:
            (void)rt->push(item.input,
                           std::move(item.data));  // a failure ends the session: the waiter reports it
            break;
          case Inbound::Kind::end:
            if (item.input.empty())
              rt->close_all_inputs();
            else
              (void)rt->close_input(item.input);
            break;
          case Inbound::Kind::stop:
            rt->cancel();
            running = false;
            break;
          case Inbound::Kind::finished:
            if (item.status) {
              send_text(done_message(frames_in_.load(), frames_out_.load()), true);
              send_close(CloseCode::normal, "end of stream");
            } else {
              finish_failed(item.status.error());
            }
            running = false;
            break;
        }
        std::lock_guard lock(inbox_mutex_);
        feeder_busy_ = false;
      }
      {
        std::lock_guard lock(inbox_mutex_);
        direct_ = nullptr;  // the reader holds this lock while it pushes
      }
      rt->cancel();
      rt.reset();  // last reference but the waiter's: joined below
    }
  }
  if (waiter.joinable()) waiter.join();
  log->debug("session {}: torn down", so.session_id);
  // Hand the slot back from the strand once this thread is done.
  net::post(ws_.get_executor(), [self = shared_from_this()] {
    if (self->feeder_.joinable()) self->feeder_.join();
    self->part_done();
  });
}

}  // namespace rm::server
