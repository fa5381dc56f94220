#include "server/stream_client.hpp"

#include <charconv>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json/parse.hpp>

#include "server/frame_queue.hpp"
#include "server/protocol.hpp"
#include "ws_writer.hpp"

namespace rm::server {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace json = boost::json;
using tcp = net::ip::tcp;

tl::expected<ParsedUrl, std::string> parse_server_url(std::string_view url) {
  std::string_view rest = url;
  for (std::string_view scheme : {"http://", "ws://"}) {
    if (rest.starts_with(scheme)) {
      rest.remove_prefix(scheme.size());
      break;
    }
  }
  if (rest.size() == url.size())
    return tl::unexpected(fmt::format("URL '{}' must start with http:// or ws://", url));
  rest = rest.substr(0, rest.find('/'));
  auto colon = rest.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return tl::unexpected(fmt::format("URL '{}' needs host:port", url));
  }
  ParsedUrl p;
  p.host = std::string(rest.substr(0, colon));
  auto port = rest.substr(colon + 1);
  unsigned v = 0;
  auto r = std::from_chars(port.data(), port.data() + port.size(), v);
  if (r.ec != std::errc{} || r.ptr != port.data() + port.size() || v == 0 || v > 65535) {
    return tl::unexpected(fmt::format("URL '{}': '{}' is not a port", url, port));
  }
  p.port = static_cast<std::uint16_t>(v);
  return p;
}

struct StreamClient::Impl : std::enable_shared_from_this<StreamClient::Impl> {
  using Clock = std::chrono::steady_clock;
  const bool caller_driven;
  net::io_context ioc;
  // No strand: one thread at a time runs the handlers (the io thread, or the caller holding
  // `driving`); other threads only post.
  websocket::stream<beast::tcp_stream> ws{ioc.get_executor()};
  net::steady_timer wake{ws.get_executor()};
  FrameQueue outbox;
  std::chrono::steady_clock::time_point writing_since{};
  std::thread thread;
  json::object ready;

  std::timed_mutex driving;  // caller-driven: held by the thread running the io_context
  std::mutex mutex;
  std::condition_variable cv;
  std::deque<ClientEvent> events;
  bool closed = false;
  ClientEvent last;

  // now + timeout, saturating (next(hours::max()) waits for ever).
  static Clock::time_point deadline_after(std::chrono::milliseconds timeout) {
    const auto now = Clock::now();
    return timeout >= std::chrono::duration_cast<std::chrono::milliseconds>(Clock::time_point::max() - now)
               ? Clock::time_point::max()
               : now + timeout;
  }

  // A caller-driven client is run by whichever calling thread holds `driving`: no one-thread hint.
  Impl(std::size_t buffer_bytes, bool caller_driven_)
      : caller_driven(caller_driven_),
        ioc(caller_driven_ ? BOOST_ASIO_CONCURRENCY_HINT_DEFAULT : 1),
        outbox(buffer_bytes, [this] { net::post(ws.get_executor(), [this] { wake.cancel(); }); }) {}

  bool has_event() {
    std::lock_guard lock(mutex);
    return !events.empty() || closed;
  }
  bool is_closed() {
    std::lock_guard lock(mutex);
    return closed;
  }

  // Caller-driven: one thread at a time runs the reader's and the writer's handlers (the one
  // holding `driving`), so every event is queued by a thread that then looks for it, or by one
  // that releases `driving` to a thread waiting for it. Runs until `done()` or the deadline
  // (false on timeout); once the reader and the writer have ended, nothing is left to run.
  template <typename Done>
  bool drive(Clock::time_point deadline, Done done) {
    std::unique_lock lock(driving, std::defer_lock);
    for (;;) {
      if (done()) return true;
      if (Clock::now() >= deadline) return false;
      if (!lock.owns_lock()) {
        if (!lock.try_lock_until(deadline)) return done();
        continue;
      }
      if (ioc.run_one_until(deadline) == 0 && ioc.stopped()) return done();
    }
  }

  // Queues a frame for the writer. With an io thread this blocks while the buffer is full. A
  // caller-driven client that no other thread is driving writes the frame on this thread at once
  // when the writer is idle (detail::write_now(), or poll() running the writer's wake-up and
  // the asynchronous write for a frame write_now() does not take); while another thread
  // drives (a next() waiting for outputs), that thread writes it. While the buffer is full, this
  // thread runs the writer (and the reader) itself whenever no other thread is driving.
  bool push(Frame f) {
    if (!caller_driven) return outbox.push(std::move(f));
    for (;;) {
      std::unique_lock lock(driving, std::try_to_lock);
      if (lock.owns_lock()) {
        if (auto written = detail::write_now(ws, outbox, writing_since, f, kDirectWriteMax)) return *written;
      }
      if (auto pushed = outbox.try_push(f)) {
        if (*pushed && lock.owns_lock()) ioc.poll();
        return *pushed;
      }
      if (lock.owns_lock() || lock.try_lock_for(std::chrono::milliseconds(10)))
        ioc.run_one_for(std::chrono::milliseconds(10));
    }
  }

  // Caller-driven, holding `driving`: a frame of up to this size goes out on the caller's thread
  // at once while the writer is idle (detail::write_now). The client blocks only itself.
  static constexpr std::size_t kDirectWriteMax = 16 * 1024;

  void push_event(ClientEvent ev) {
    {
      std::lock_guard lock(mutex);
      if (ev.kind == ClientEvent::Kind::closed) {
        closed = true;
        last = ev;
      }
      events.push_back(std::move(ev));
    }
    cv.notify_all();
  }

  static ClientEvent from_text(const std::string& text) {
    ClientEvent ev;
    json::error_code ec;
    auto v = json::parse(text, ec);
    if (ec || !v.is_object()) return ev;  // kind closed = ignored by the caller
    const auto& o = v.get_object();
    auto str = [&](std::string_view k) {
      const auto* x = o.if_contains(k);
      return x && x->is_string() ? std::string(x->get_string()) : std::string();
    };
    const auto type = str("type");
    if (type == "error") {
      ev.kind = ClientEvent::Kind::error;
      ev.node = str("node");
      ev.code = str("code");
      ev.message = str("message");
    } else if (type == "done") {
      ev.kind = ClientEvent::Kind::done;
      ev.message = text;
    }
    return ev;
  }

  net::awaitable<void> read_loop() {
    auto self = shared_from_this();
    beast::flat_buffer buffer;
    beast::error_code ec;
    for (;;) {
      buffer.clear();
      co_await ws.async_read(buffer, net::redirect_error(net::use_awaitable, ec));
      if (ec) break;
      if (ws.got_text()) {
        auto ev = from_text(beast::buffers_to_string(buffer.data()));
        if (ev.kind != ClientEvent::Kind::closed) push_event(std::move(ev));
        continue;
      }
      auto data = buffer.cdata();
      auto f = decode_data_frame({static_cast<const std::byte*>(data.data()), data.size()});
      ClientEvent ev;
      if (!f) {
        ev.kind = ClientEvent::Kind::error;
        ev.message = "the server sent a malformed frame: " + f.error();
      } else {
        ev.kind = ClientEvent::Kind::output;
        ev.node = std::move(f->stream);
        ev.data = std::move(f->data);
      }
      push_event(std::move(ev));
    }
    ClientEvent ev;
    ev.kind = ClientEvent::Kind::closed;
    if (ec == websocket::error::closed) {
      ev.close_code = ws.reason().code;
      ev.message = std::string(ws.reason().reason.data(), ws.reason().reason.size());
    } else {
      ev.close_code = 1006;
      ev.message = ec.message();
    }
    outbox.close();
    wake.cancel();
    push_event(std::move(ev));
  }

  net::awaitable<void> write_loop() {
    auto self = shared_from_this();
    co_await detail::write_frames(ws, outbox, wake, writing_since);
  }
};

StreamClient::StreamClient(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

tl::expected<std::unique_ptr<StreamClient>, ClientError> StreamClient::connect(std::string_view url,
                                                                               std::string_view pipeline,
                                                                               ClientOptions options) {
  auto parsed = parse_server_url(url);
  if (!parsed) return tl::unexpected(ClientError{parsed.error()});
  auto impl = std::make_shared<Impl>(options.send_buffer_bytes, options.caller_driven);
  auto& ws = impl->ws;
  beast::error_code ec;
  tcp::resolver resolver(impl->ioc);
  auto endpoints = resolver.resolve(parsed->host, std::to_string(parsed->port), ec);
  const auto where = fmt::format("{}:{}", parsed->host, parsed->port);
  if (ec) return tl::unexpected(ClientError{fmt::format("cannot resolve {}: {}", where, ec.message())});
  auto& tcp_stream = beast::get_lowest_layer(ws);
  tcp_stream.expires_after(options.connect_timeout);
  tcp_stream.connect(endpoints, ec);
  if (ec) return tl::unexpected(ClientError{fmt::format("cannot connect to {}: {}", where, ec.message())});
  tcp_stream.socket().set_option(tcp::no_delay(true), ec);
  ws.set_option(websocket::stream_base::decorator([token = options.token](websocket::request_type& req) {
    if (!token.empty()) req.set(beast::http::field::authorization, "Bearer " + token);
  }));
  websocket::response_type res;
  ws.handshake(res, where, std::string(kStreamPath), ec);
  if (ec) {
    ClientError e{fmt::format("{} refused the session: HTTP {}", where, res.result_int()),
                  static_cast<int>(res.result_int())};
    if (res.result_int() == 101 || res.result_int() == 0)
      e.message = fmt::format("handshake with {} failed: {}", where, ec.message());
    else if (!res.body().empty())
      e.message += ": " + res.body();
    return tl::unexpected(e);
  }
  ws.read_message_max(64u << 20);
  ws.text(true);
  ws.write(net::buffer(start_message(pipeline, options.session_id, options.params)), ec);
  if (ec) return tl::unexpected(ClientError{fmt::format("cannot send start to {}: {}", where, ec.message())});
  // Until ready: progress messages, or an error and a close.
  tcp_stream.expires_after(options.ready_timeout);
  std::string error_text, error_param;
  for (;;) {
    beast::flat_buffer buffer;
    ws.read(buffer, ec);
    if (ec) {
      ClientError e;
      if (ec == websocket::error::closed) {
        e.close_code = ws.reason().code;
        e.message = error_text.empty() ? std::string(ws.reason().reason.data(), ws.reason().reason.size())
                                       : error_text;
        e.param = error_param;
      } else {
        e.message = fmt::format("connection to {} failed before ready: {}", where, ec.message());
      }
      return tl::unexpected(e);
    }
    if (!ws.got_text()) continue;
    auto v = json::parse(beast::buffers_to_string(buffer.data()), ec);
    if (ec || !v.is_object()) continue;
    auto& o = v.as_object();
    auto type = o.if_contains("type");
    if (!type || !type->is_string()) continue;
    if (type->get_string() == "ready") {
      impl->ready = std::move(o);
      break;
    }
    if (type->get_string() == "progress" && options.on_progress) options.on_progress(o);
    if (type->get_string() == "error") {
      if (auto* m = o.if_contains("message"); m && m->is_string()) error_text = std::string(m->get_string());
      if (auto* p = o.if_contains("param"); p && p->is_string()) error_param = std::string(p->get_string());
    }
  }
  tcp_stream.expires_never();
  net::co_spawn(
      ws.get_executor(), [impl] { return impl->read_loop(); }, net::detached);
  net::co_spawn(
      ws.get_executor(), [impl] { return impl->write_loop(); }, net::detached);
  if (!options.caller_driven) impl->thread = std::thread([raw = impl.get()] { raw->ioc.run(); });
  return std::unique_ptr<StreamClient>(new StreamClient(std::move(impl)));
}

StreamClient::~StreamClient() {
  auto& d = *impl_;
  using Clock = Impl::Clock;
  d.outbox.push(Frame{Frame::Kind::close, "client done", 1000});
  d.outbox.close();
  if (d.caller_driven) {
    (void)d.drive(Clock::now() + std::chrono::seconds(5), [&] { return d.is_closed(); });
  } else {
    std::unique_lock lock(d.mutex);
    d.cv.wait_for(lock, std::chrono::seconds(5), [&] { return d.closed; });
  }
  // Once closed, the reader and the writer end and run() returns by itself; their coroutine
  // frames hold the Impl, so stopping the loop under them would leak it. Stop only if stuck.
  const auto deadline = Clock::now() + std::chrono::seconds(2);
  if (d.caller_driven) {
    (void)d.drive(deadline, [&] { return d.ioc.stopped(); });
  } else {
    while (!d.ioc.stopped() && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  if (!d.ioc.stopped()) {
    net::post(d.ws.get_executor(), [&d] {
      beast::error_code ec;
      beast::get_lowest_layer(d.ws).socket().close(ec);
      d.wake.cancel();
    });
    if (d.caller_driven)
      d.ioc.run_for(std::chrono::milliseconds(50));
    else
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    d.ioc.stop();
  }
  if (d.thread.joinable()) d.thread.join();
}

const json::object& StreamClient::ready() const {
  return impl_->ready;
}

std::string StreamClient::session_id() const {
  const auto* s = impl_->ready.if_contains("session");
  return s && s->is_string() ? std::string(s->get_string()) : std::string();
}

bool StreamClient::send(std::string_view input, const runtime::RuntimeData& data) {
  return impl_->push(Frame{Frame::Kind::binary, encode_data_frame_bytes(input, data), 0});
}

bool StreamClient::end(std::string_view input) {
  return impl_->push(Frame{Frame::Kind::text, end_message(input), 0});
}

bool StreamClient::send_raw(std::string bytes, bool text) {
  return impl_->push(Frame{text ? Frame::Kind::text : Frame::Kind::binary, std::move(bytes), 0});
}

void StreamClient::abort() {
  auto& d = *impl_;
  net::post(d.ws.get_executor(), [&d] {
    beast::error_code ignored;
    beast::get_lowest_layer(d.ws).socket().close(ignored);
  });
  if (d.caller_driven) {
    (void)d.drive(Impl::Clock::now() + std::chrono::seconds(5), [&] { return d.is_closed(); });
    return;
  }
  std::unique_lock lock(d.mutex);
  d.cv.wait_for(lock, std::chrono::seconds(5), [&] { return d.closed; });
}

std::optional<ClientEvent> StreamClient::next(std::chrono::milliseconds timeout) {
  auto& d = *impl_;
  if (d.caller_driven) {
    // Reads on this thread until an event is queued (by this or another driving thread).
    (void)d.drive(Impl::deadline_after(timeout), [&] { return d.has_event(); });
  }
  std::unique_lock lock(d.mutex);
  if (!d.cv.wait_for(lock, d.caller_driven ? std::chrono::milliseconds(0) : timeout,
                     [&] { return !d.events.empty() || d.closed; }))
    return std::nullopt;
  if (d.events.empty()) return d.last;
  auto ev = std::move(d.events.front());
  d.events.pop_front();
  return ev;
}

}  // namespace rm::server
