#include "core/http_exchange.hpp"

#include <algorithm>
#include <array>
#include <exception>

#include <fmt/format.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "core/http_response_decoder.hpp"

namespace rm::core::http {

namespace {

namespace net = boost::asio;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;
using Failure = std::optional<ExchangeError>;

// How a connection is opened is the only part that differs between stream types. A connector
// opens `socket` (co_await open) and abandons a pending open (abort) when the deadline passes.
class TcpConnector {
 public:
  using Socket = net::ip::tcp::socket;
  TcpConnector(net::io_context& ioc, const TcpEndpoint& ep) : resolver_(ioc), ep_(ep) {}
  std::string default_host() const { return ep_.host; }

  net::awaitable<Failure> open(Socket& socket, std::string& stage) {
    error_code ec;
    stage = "resolve";
    auto results = co_await resolver_.async_resolve(ep_.host, std::to_string(ep_.port),
                                                    net::redirect_error(net::use_awaitable, ec));
    if (ec) co_return ExchangeError{ExchangeErrc::connect_failed, stage, ec.message()};
    stage = "connect";
    co_await net::async_connect(socket, results, net::redirect_error(net::use_awaitable, ec));
    if (ec) co_return ExchangeError{ExchangeErrc::connect_failed, stage, ec.message()};
    co_return Failure{};
  }
  void abort() { resolver_.cancel(); }

 private:
  net::ip::tcp::resolver resolver_;
  const TcpEndpoint& ep_;
};

class UnixConnector {
 public:
  using Socket = net::local::stream_protocol::socket;
  UnixConnector(net::io_context&, const UnixEndpoint& ep) : ep_(ep) {}
  std::string default_host() const { return "localhost"; }

  net::awaitable<Failure> open(Socket& socket, std::string& stage) {
    error_code ec;
    stage = "connect";
    co_await socket.async_connect(net::local::stream_protocol::endpoint(ep_.path),
                                  net::redirect_error(net::use_awaitable, ec));
    if (ec) co_return ExchangeError{ExchangeErrc::connect_failed, stage, ec.message()};
    co_return Failure{};
  }
  void abort() {}

 private:
  const UnixEndpoint& ep_;
};

std::string serialize(const OutgoingRequest& r, const std::string& default_host) {
  std::string wire = fmt::format("{} {} HTTP/1.1\r\nHost: {}\r\n", r.method,
                                 r.target.empty() ? "/" : r.target, r.host.empty() ? default_host : r.host);
  for (const auto& [name, value] : r.headers) wire += fmt::format("{}: {}\r\n", name, value);
  if (!r.body.empty() || r.method == "POST" || r.method == "PUT" || r.method == "PATCH") {
    wire += fmt::format("Content-Length: {}\r\n", r.body.size());
  }
  wire += "Connection: close\r\n\r\n";
  wire.append(r.body);
  return wire;
}

template <class Connector, class EndpointT>
tl::expected<int, ExchangeError> run_exchange(const EndpointT& endpoint, const OutgoingRequest& request,
                                              const ResponseHandler& handler,
                                              const ExchangeOptions& options) {
  net::io_context ioc(1);
  Connector connector(ioc, endpoint);
  typename Connector::Socket socket(ioc);
  net::steady_timer timer(ioc);
  const std::string wire = serialize(request, connector.default_host());

  std::string stage = "connect";
  bool connected = false;
  bool finished = false;
  std::optional<ExchangeErrc> aborted;
  Failure failure;
  int status = 0;

  // The one place an exchange is cut short: closing the socket completes the pending
  // operation with an error, and the coroutine sees `aborted` after every suspension.
  auto abort = [&](ExchangeErrc why) {
    if (finished || aborted) return;
    aborted = why;
    connector.abort();
    error_code ignored;
    socket.close(ignored);
  };

  const auto connect_limit = std::min(options.timeout, options.connect_timeout.value_or(options.timeout));
  const auto start = Clock::now();
  const auto deadline = start + options.timeout;
  timer.expires_at(start + connect_limit);
  std::function<void(error_code)> on_timer = [&](error_code) {
    if (finished || aborted) return;
    if (timer.expiry() > Clock::now()) {  // re-armed (connected), not expired
      timer.async_wait(on_timer);
      return;
    }
    abort(connected ? ExchangeErrc::timeout : ExchangeErrc::connect_timeout);
  };
  timer.async_wait(on_timer);

  // Declared after ioc: destroyed first, so no cancel can post to a destroyed io_context.
  CancelToken::Registration cancel_registration;
  if (options.cancel != nullptr) {
    cancel_registration =
        options.cancel->on_cancel([&] { net::post(ioc, [&] { abort(ExchangeErrc::cancelled); }); });
  }

  ResponseDecoder decoder(
      {[&](int s) {
         status = s;
         if (handler.on_header) handler.on_header(s, decoder.header_list());
       },
       [&](std::string_view piece) { return !handler.on_body || handler.on_body(piece); }},
      {options.peer, options.body_limit, request.method == "HEAD"});

  auto io = [&]() -> net::awaitable<void> {
    if (aborted) co_return;
    if (auto f = co_await connector.open(socket, stage)) {
      failure = std::move(f);
      co_return;
    }
    if (aborted) co_return;
    connected = true;
    timer.expires_at(deadline);
    error_code ec;
    stage = "write";
    co_await net::async_write(socket, net::buffer(wire), net::redirect_error(net::use_awaitable, ec));
    if (aborted) co_return;
    if (ec) {
      failure = ExchangeError{ExchangeErrc::write_failed, stage, ec.message()};
      co_return;
    }
    stage = "read";
    std::array<char, 64 * 1024> buf;
    for (;;) {
      const std::size_t n =
          co_await socket.async_read_some(net::buffer(buf), net::redirect_error(net::use_awaitable, ec));
      if (aborted) co_return;
      if (n > 0 && !decoder.feed(std::string_view(buf.data(), n))) {
        if (!decoder.stopped()) failure = ExchangeError{ExchangeErrc::malformed, stage, decoder.error()};
        co_return;
      }
      if (decoder.done()) co_return;
      if (ec == net::error::eof) {
        if (!decoder.finish_eof()) failure = ExchangeError{ExchangeErrc::truncated, stage, decoder.error()};
        co_return;
      }
      if (ec) {
        failure = ExchangeError{ExchangeErrc::read_failed, stage, ec.message()};
        co_return;
      }
    }
  };

  net::co_spawn(ioc, io(), [&](std::exception_ptr e) {
    finished = true;
    timer.cancel();
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      failure = ExchangeError{ExchangeErrc::read_failed, stage, ex.what()};
    } catch (...) {
      failure = ExchangeError{ExchangeErrc::read_failed, stage, "unknown exception"};
    }
  });
  ioc.run();
  cancel_registration.reset();

  if (aborted) {
    switch (*aborted) {
      case ExchangeErrc::cancelled:
        return tl::unexpected(ExchangeError{*aborted, stage, "cancelled"});
      case ExchangeErrc::connect_timeout:
        return tl::unexpected(
            ExchangeError{*aborted, stage, fmt::format("timed out after {} ms", connect_limit.count())});
      default:
        return tl::unexpected(
            ExchangeError{*aborted, stage, fmt::format("timed out after {} ms", options.timeout.count())});
    }
  }
  if (failure) return tl::unexpected(std::move(*failure));
  return status;
}

}  // namespace

tl::expected<int, ExchangeError> exchange(const Endpoint& endpoint, const OutgoingRequest& request,
                                          const ResponseHandler& handler, const ExchangeOptions& options) {
  return std::visit(
      [&](const auto& ep) {
        using T = std::decay_t<decltype(ep)>;
        if constexpr (std::is_same_v<T, TcpEndpoint>) {
          return run_exchange<TcpConnector>(ep, request, handler, options);
        } else {
          return run_exchange<UnixConnector>(ep, request, handler, options);
        }
      },
      endpoint);
}

}  // namespace rm::core::http
