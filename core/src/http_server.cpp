// The socket side of the HTTP server: Beast + Asio C++20 coroutines, modelled on Beast's
// awaitable and advanced server examples (one coroutine per connection on its own strand,
// a deadline before every read, a fresh parser with limits per message).
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "core/http.hpp"
#include "core/log.hpp"

namespace rm::core::http {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;

namespace {

// One connection's state shared between its coroutine and stop(); touched only on the
// connection's strand (stop() posts to it).
struct Connection {
  explicit Connection(tcp::socket socket) : stream(std::move(socket)) {}
  beast::tcp_stream stream;
  bool busy = false;  // a request is being received past its first byte, handled or answered
  bhttp::request_parser<bhttp::string_body>* parser = nullptr;
};

Request to_request(const bhttp::request<bhttp::string_body>& msg) {
  Request req = make_request(std::string(msg.method_string()), msg.target(), msg.body());
  for (const auto& field : msg) {
    std::string name(field.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    req.headers.emplace_back(std::move(name), std::string(field.value()));
  }
  return req;
}

}  // namespace

struct Server::Impl {
  Router router;
  ServerOptions options;
  net::io_context ioc;
  std::optional<tcp::acceptor> acceptor;
  std::vector<std::thread> threads;
  std::atomic<bool> stopping{false};
  std::atomic<std::uint16_t> bound_port{0};
  bool started = false;
  bool stopped = false;
  std::mutex stop_mutex;

  std::mutex conn_mutex;
  std::condition_variable conn_cv;
  std::set<std::shared_ptr<Connection>> connections;

  Impl(Router r, ServerOptions o)
      : router(std::move(r)), options(std::move(o)), ioc(std::max(1, options.threads)) {}

  bhttp::response<bhttp::string_body> to_message(Response resp, unsigned version, bool keep_alive) {
    bhttp::response<bhttp::string_body> msg{static_cast<bhttp::status>(resp.status), version};
    msg.set(bhttp::field::server, options.server_name);
    msg.set(bhttp::field::content_type, resp.content_type);
    for (auto& [k, v] : resp.headers) msg.set(k, v);
    msg.body() = std::move(resp.body);
    msg.keep_alive(keep_alive);
    msg.prepare_payload();
    for (auto& [k, v] : resp.headers) {
      // A HEAD answer carries the GET's length (set by the router) without the body.
      if (beast::iequals(k, "Content-Length") && msg.body().empty()) msg.set(bhttp::field::content_length, v);
    }
    return msg;
  }

  net::awaitable<void> write_error(Connection& conn, int status, std::string message) {
    auto msg = to_message(error_response(status, message), 11, false);
    conn.stream.expires_after(options.request_timeout);
    co_await bhttp::async_write(conn.stream, msg, net::use_awaitable);
  }

  net::awaitable<void> session(std::shared_ptr<Connection> conn) {
    beast::flat_buffer buffer;
    bool first = true;
    try {
      for (;;) {
        if (stopping) break;
        bhttp::request_parser<bhttp::string_body> parser;
        parser.header_limit(static_cast<std::uint32_t>(options.header_limit));
        parser.body_limit(options.body_limit);
        conn->parser = &parser;
        conn->busy = buffer.size() > 0;  // pipelined bytes already count as a request
        // The first request gets the full request deadline; later ones may idle first.
        conn->stream.expires_after(first ? options.request_timeout
                                         : options.idle_timeout + options.request_timeout);
        first = false;
        beast::error_code ec;
        co_await bhttp::async_read(conn->stream, buffer, parser, net::redirect_error(net::use_awaitable, ec));
        conn->parser = nullptr;
        if (ec == bhttp::error::header_limit) {
          co_await write_error(
              *conn, 431, fmt::format("request header exceeds the limit of {} bytes", options.header_limit));
          break;
        }
        if (ec == bhttp::error::body_limit) {
          co_await write_error(*conn, 413,
                               fmt::format("request body exceeds the limit of {} bytes", options.body_limit));
          break;
        }
        if (ec == bhttp::error::bad_target || ec == bhttp::error::bad_method ||
            ec == bhttp::error::bad_version || ec == bhttp::error::bad_field ||
            ec == bhttp::error::bad_value || ec == bhttp::error::bad_line_ending ||
            ec == bhttp::error::bad_content_length || ec == bhttp::error::bad_transfer_encoding ||
            ec == bhttp::error::bad_chunk || ec == bhttp::error::bad_obs_fold) {
          co_await write_error(*conn, 400, fmt::format("malformed HTTP request: {}", ec.message()));
          break;
        }
        if (ec) break;  // closed, timed out or cancelled by stop(): nothing to answer
        conn->busy = true;
        auto msg = parser.release();
        Response resp = router.handle(to_request(msg));
        // Decided after handling so a request that was in flight when stop() began is
        // answered with Connection: close.
        bool keep_alive = msg.keep_alive() && !stopping;
        auto out = to_message(std::move(resp), msg.version(), keep_alive);
        conn->stream.expires_after(options.request_timeout);
        co_await bhttp::async_write(conn->stream, out, net::use_awaitable);
        conn->busy = false;
        if (!keep_alive) break;
      }
    } catch (const std::exception& e) {
      logger("http")->debug("connection ended: {}", e.what());
    }
    conn->parser = nullptr;
    beast::error_code ignored;
    conn->stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    conn->stream.close();
    {
      std::lock_guard lock(conn_mutex);
      connections.erase(conn);
    }
    conn_cv.notify_all();
  }

  net::awaitable<void> accept_loop() {
    for (;;) {
      beast::error_code ec;
      auto socket =
          co_await acceptor->async_accept(net::make_strand(ioc), net::redirect_error(net::use_awaitable, ec));
      if (ec) {
        if (stopping || ec == net::error::operation_aborted) co_return;
        logger("http")->warn("accept failed: {}", ec.message());
        continue;
      }
      auto conn = std::make_shared<Connection>(std::move(socket));
      {
        std::lock_guard lock(conn_mutex);
        if (stopping) continue;
        connections.insert(conn);
      }
      auto ex = conn->stream.get_executor();
      net::co_spawn(ex, session(conn), net::detached);
    }
  }
};

Server::Server(Router router, ServerOptions options)
    : impl_(std::make_unique<Impl>(std::move(router), std::move(options))) {}

Server::~Server() {
  stop();
}

const Router& Server::router() const {
  return impl_->router;
}

std::uint16_t Server::port() const {
  return impl_->bound_port.load();
}

tl::expected<void, std::string> Server::start() {
  auto& d = *impl_;
  if (d.started) return tl::unexpected(std::string("server already started"));
  beast::error_code ec;
  auto address = net::ip::make_address(d.options.host, ec);
  if (ec) {
    return tl::unexpected(fmt::format("cannot listen on {}:{}: '{}' is not an IP address", d.options.host,
                                      d.options.port, d.options.host));
  }
  tcp::endpoint endpoint{address, d.options.port};
  d.acceptor.emplace(net::make_strand(d.ioc));
  auto fail = [&](const char* what) -> tl::expected<void, std::string> {
    auto msg = fmt::format("cannot listen on {}:{}: {} failed: {}", d.options.host, d.options.port, what,
                           ec.message());
    d.acceptor.reset();
    return tl::unexpected(msg);
  };
  d.acceptor->open(endpoint.protocol(), ec);
  if (ec) return fail("open");
  d.acceptor->set_option(net::socket_base::reuse_address(true), ec);
  if (ec) return fail("setsockopt");
  d.acceptor->bind(endpoint, ec);
  if (ec) return fail("bind");
  d.acceptor->listen(net::socket_base::max_listen_connections, ec);
  if (ec) return fail("listen");
  d.bound_port = d.acceptor->local_endpoint().port();
  d.started = true;
  net::co_spawn(d.acceptor->get_executor(), d.accept_loop(), net::detached);
  for (int i = 0; i < std::max(1, d.options.threads); ++i) {
    d.threads.emplace_back([&d] { d.ioc.run(); });
  }
  return {};
}

void Server::stop() {
  auto& d = *impl_;
  std::lock_guard stop_lock(d.stop_mutex);
  if (!d.started || d.stopped) return;
  d.stopped = true;
  d.stopping = true;
  net::post(d.acceptor->get_executor(), [&d] {
    beast::error_code ignored;
    d.acceptor->close(ignored);
  });
  {
    std::lock_guard lock(d.conn_mutex);
    for (const auto& conn : d.connections) {
      net::post(conn->stream.get_executor(), [conn] {
        // Idle connections (waiting for the first byte of a request) are closed now; a
        // request already arriving or being handled finishes and then closes.
        bool receiving = conn->parser != nullptr && conn->parser->got_some();
        if (!conn->busy && !receiving) conn->stream.cancel();
      });
    }
  }
  {
    std::unique_lock lock(d.conn_mutex);
    d.conn_cv.wait_for(lock, d.options.drain_timeout, [&d] { return d.connections.empty(); });
    if (!d.connections.empty()) {
      logger("http")->warn("{} connection(s) still open after the drain timeout; closing them",
                           d.connections.size());
    }
  }
  d.ioc.stop();
  for (auto& t : d.threads) {
    if (t.joinable()) t.join();
  }
  d.threads.clear();
}

}  // namespace rm::core::http
