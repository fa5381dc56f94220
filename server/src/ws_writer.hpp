#pragma once
// The writer half of a WebSocket, shared by the server's sessions and the client: drains a
// FrameQueue in order on the socket's strand, ending with a close frame when one is queued.
#include <chrono>

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

}  // namespace rm::server::detail
