#pragma once
// The writer half of a WebSocket, shared by the server's sessions and the client: drains a
// FrameQueue in order on the socket's strand, ending with a close frame when one is queued;
// and the shortcut past it for a small frame while it is idle (write_now).
#include <linux/sockios.h>
#include <sys/ioctl.h>

#include <chrono>
#include <optional>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/websocket/stream.hpp>

#include "server/frame_queue.hpp"

namespace rm::server::detail {

// Returns the write error (empty after a clean close or when the queue was closed).
// `writing_since` is set while a write is in progress (to detect a peer that reads nothing).
template <typename WebSocket>
boost::asio::awaitable<boost::beast::error_code> write_frames(
    WebSocket& ws, FrameQueue& queue, boost::asio::steady_timer& wake,
    std::chrono::steady_clock::time_point& writing_since) {
  namespace net = boost::asio;
  using Clock = std::chrono::steady_clock;
  boost::beast::error_code ec;
  for (;;) {
    auto f = queue.try_pop();
    if (!f) {
      if (queue.closed()) break;
      wake.expires_at(Clock::time_point::max());
      co_await wake.async_wait(net::redirect_error(net::use_awaitable, ec));
      ec = {};
      continue;
    }
    writing_since = Clock::now();
    if (f->kind == Frame::Kind::close) {
      queue.close();
      co_await ws.async_close(boost::beast::websocket::close_reason(
                                  static_cast<boost::beast::websocket::close_code>(f->close_code), f->bytes),
                              net::redirect_error(net::use_awaitable, ec));
      break;
    }
    ws.text(f->kind == Frame::Kind::text);
    co_await ws.async_write(net::buffer(f->bytes), net::redirect_error(net::use_awaitable, ec));
    writing_since = {};
    if (ec) break;
  }
  queue.close();
  writing_since = {};
  co_return ec;
}

// Writes `f` on the calling thread with one blocking write, skipping the writer's wake-up and
// the handlers around an asynchronous write, when that cannot wait: the frame is at most
// `max_bytes`, the writer is idle (nothing queued, no write in progress) and the socket has
// sent everything before, so the kernel takes the frame at once. Only for the thread that runs
// the socket's handlers (the writer cannot start meanwhile). nullopt: not now, queue it.
// Otherwise whether it went out (an error: the reader sees the connection end and reports it).
template <typename WebSocket>
std::optional<bool> write_now(WebSocket& ws, const FrameQueue& queue,
                              std::chrono::steady_clock::time_point writing_since, const Frame& f,
                              std::size_t max_bytes) {
  if (f.kind == Frame::Kind::close || f.bytes.size() > max_bytes) return std::nullopt;
  if (writing_since != std::chrono::steady_clock::time_point{} || queue.bytes() > 0 || queue.closed())
    return std::nullopt;
  auto& socket = boost::beast::get_lowest_layer(ws).socket();
  int unsent = 0;
  if (::ioctl(socket.native_handle(), SIOCOUTQ, &unsent) != 0 || unsent != 0) return std::nullopt;
  boost::beast::error_code ec;
  ws.text(f.kind == Frame::Kind::text);
  ws.write(boost::asio::buffer(f.bytes), ec);
  return !ec;
}

}  // namespace rm::server::detail
