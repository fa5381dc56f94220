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
#include <boost/asio/strand.hpp>
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
  net::io_context ioc{1};
  websocket::stream<beast::tcp_stream> ws{net::make_strand(ioc)};
  net::steady_timer wake{ws.get_executor()};
  FrameQueue outbox;
  std::chrono::steady_clock::time_point writing_since{};
  std::thread thread;
  json::object ready;

  std::mutex mutex;
  std::condition_variable cv;
  std::deque<ClientEvent> events;
  bool closed = false;
  ClientEvent last;

  explicit Impl(std::size_t buffer_bytes)
      : outbox(buffer_bytes, [this] { net::post(ws.get_executor(), [this] { wake.cancel(); }); }) {}

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
  auto impl = std::make_shared<Impl>(options.send_buffer_bytes);
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
  impl->thread = std::thread([raw = impl.get()] { raw->ioc.run(); });
  return std::unique_ptr<StreamClient>(new StreamClient(std::move(impl)));
}

StreamClient::~StreamClient() {
  auto& d = *impl_;
  d.outbox.push(Frame{Frame::Kind::close, "client done", 1000});
  d.outbox.close();
  {
    std::unique_lock lock(d.mutex);
    d.cv.wait_for(lock, std::chrono::seconds(5), [&] { return d.closed; });
  }
  // Once closed, the reader and the writer end and run() returns by itself; their coroutine
  // frames hold the Impl, so stopping the loop under them would leak it. Stop only if stuck.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (!d.ioc.stopped() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (!d.ioc.stopped()) {
    net::post(d.ws.get_executor(), [&d] {
      beast::error_code ec;
      beast::get_lowest_layer(d.ws).socket().close(ec);
      d.wake.cancel();
    });
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
  return impl_->outbox.push(Frame{Frame::Kind::binary, encode_data_frame_bytes(input, data), 0});
}

bool StreamClient::end(std::string_view input) {
  return impl_->outbox.push(Frame{Frame::Kind::text, end_message(input), 0});
}

bool StreamClient::send_raw(std::string bytes, bool text) {
  return impl_->outbox.push(Frame{text ? Frame::Kind::text : Frame::Kind::binary, std::move(bytes), 0});
}

void StreamClient::abort() {
  auto& d = *impl_;
  net::post(d.ws.get_executor(), [&d] {
    beast::error_code ignored;
    beast::get_lowest_layer(d.ws).socket().close(ignored);
  });
  std::unique_lock lock(d.mutex);
  d.cv.wait_for(lock, std::chrono::seconds(5), [&] { return d.closed; });
}

std::optional<ClientEvent> StreamClient::next(std::chrono::milliseconds timeout) {
  auto& d = *impl_;
  std::unique_lock lock(d.mutex);
  if (!d.cv.wait_for(lock, timeout, [&] { return !d.events.empty() || d.closed; })) return std::nullopt;
  if (d.events.empty()) return d.last;
  auto ev = std::move(d.events.front());
  d.events.pop_front();
  return ev;
}

}  // namespace rm::server
