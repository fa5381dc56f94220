// The listener: Beast + Asio coroutines like core/src/http_server.cpp (one coroutine per
// connection, a fresh parser with limits per request), with one addition the core server does
// not have: GET /v1/stream is upgraded to a WebSocket session. Each connection lives on one io
// thread's own io_context, which is its strand.
#include "server/stream_server.hpp"

#include <cctype>
#include <thread>

#include <fmt/format.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include "core/http.hpp"
#include "core/log.hpp"
#include "core/static_files.hpp"
#include "server_context.hpp"
#include "stream_session.hpp"

namespace rm::server {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace json = boost::json;
using tcp = net::ip::tcp;
using core::http::Request;
using core::http::Response;

namespace {

Request to_request(const bhttp::request<bhttp::string_body>& msg) {
  Request req = core::http::make_request(std::string(msg.method_string()), msg.target(), msg.body());
  for (const auto& field : msg) {
    std::string name(field.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    req.headers.emplace_back(std::move(name), std::string(field.value()));
  }
  return req;
}

bhttp::response<bhttp::string_body> to_message(Response resp, unsigned version, bool keep_alive) {
  bhttp::response<bhttp::string_body> msg{static_cast<bhttp::status>(resp.status), version};
  msg.set(bhttp::field::server, "remotemedia");
  msg.set(bhttp::field::content_type, resp.content_type);
  for (auto& [k, v] : resp.headers) msg.set(k, v);
  msg.body() = std::move(resp.body);
  msg.keep_alive(keep_alive);
  msg.prepare_payload();
  return msg;
}

}  // namespace

struct StreamServer::Impl : std::enable_shared_from_this<StreamServer::Impl> {
  ServerContext ctx;
  core::http::Router router;
  // One io_context per io thread, each run by that thread alone: a connection stays on the
  // thread it was accepted for, so its reads, its writes and what they post to each other never
  // wake another thread.
  std::vector<std::unique_ptr<net::io_context>> iocs;
  // Keeps each io thread running while its io_context has no connection yet.
  std::vector<net::executor_work_guard<net::io_context::executor_type>> keep_running;
  std::size_t next_ioc = 0;  // accept loop only
  std::optional<tcp::acceptor> acceptor;
  std::vector<std::thread> threads;
  std::atomic<std::uint16_t> bound_port{0};
  std::atomic<bool> accepting{false};  // the accept loop runs (it holds the Impl)
  std::mutex drain_mutex;
  bool started = false;
  bool drained = false;

  Impl(PipelineCatalog catalog, ServerOptions options) : ctx(std::move(catalog), std::move(options)) {
    for (int i = 0; i < std::max(1, ctx.options().threads); ++i) {
      iocs.push_back(std::make_unique<net::io_context>(1));
      keep_running.push_back(net::make_work_guard(*iocs.back()));
    }
    build_routes();
  }

  void build_routes() {
    router.get("/health", [this](const Request&) {
      return core::http::json_response(
          200, json::object{{"status", "ok"}, {"sessions", ctx.active()}, {"draining", ctx.draining()}});
    });
    router.get("/v1/pipelines",
               [this](const Request&) { return core::http::json_response(200, ctx.catalog().describe()); });
    router.get("/v1/sessions",
               [this](const Request&) { return core::http::json_response(200, ctx.describe_sessions()); });
    router.get("/metrics", [this](const Request&) {
      return core::http::text_response(200, ctx.registry().expose(),
                                       std::string(core::metrics::kContentType));
    });
    // The browser page (web/stream) and the shared vendor files, when the pages are installed.
    if (const auto& web = ctx.options().web_root; !web.empty()) {
      core::http::add_static(router, "/vendor", web / "vendor");
      core::http::add_static(router, "/", web / "stream");
    }
  }

  bool authorized(const Request& req) const {
    const auto& token = ctx.options().auth_token;
    if (token.empty()) return true;
    if (auto h = req.header("authorization"); h && *h == "Bearer " + token) return true;
    if (auto q = req.query.get("token"); q && *q == token) return true;
    return false;
  }

  net::awaitable<void> connection(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    beast::error_code ec;
    for (;;) {
      bhttp::request_parser<bhttp::string_body> parser;
      parser.header_limit(16 * 1024);
      parser.body_limit(64 * 1024);
      stream.expires_after(std::chrono::seconds(30));
      co_await bhttp::async_read(stream, buffer, parser, net::redirect_error(net::use_awaitable, ec));
      if (ec) break;
      auto msg = parser.release();
      Request req = to_request(msg);
      Response resp;
      const bool upgrade = beast::websocket::is_upgrade(msg);
      if (!authorized(req)) {
        if (upgrade) ctx.metrics().rejected.labels({"auth"}).inc();
        resp = core::http::error_response(
            401, "this server needs Authorization: Bearer <token> (or ?token=<token>)");
        resp.headers.emplace_back("WWW-Authenticate", "Bearer");
      } else if (upgrade && req.path == kStreamPath) {
        auto why = ctx.reserve();
        if (why.empty()) {
          auto session = std::make_shared<StreamSession>(ctx, std::move(stream));
          ctx.attach(session);
          co_await session->run(std::move(msg));
          co_return;
        }
        ctx.metrics().rejected.labels({why}).inc();
        resp = core::http::error_response(
            503, why == "draining" ? std::string("the server is shutting down; no new sessions")
                                   : fmt::format("the server is at its limit of {} sessions; try again later",
                                                 ctx.options().max_sessions));
        resp.headers.emplace_back("Retry-After", "1");
      } else {
        resp = router.handle(req);
      }
      const bool keep_alive = msg.keep_alive() && !upgrade;
      auto out = to_message(std::move(resp), msg.version(), keep_alive);
      stream.expires_after(std::chrono::seconds(30));
      co_await bhttp::async_write(stream, out, net::redirect_error(net::use_awaitable, ec));
      if (ec || !keep_alive) break;
    }
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  net::awaitable<void> accept_loop() {
    auto self = shared_from_this();
    for (;;) {
      beast::error_code ec;
      auto socket = co_await acceptor->async_accept(iocs[next_ioc++ % iocs.size()]->get_executor(),
                                                    net::redirect_error(net::use_awaitable, ec));
      if (ec) {
        if (ec == net::error::operation_aborted || !acceptor->is_open()) {
          accepting = false;
          co_return;
        }
        core::logger("server")->warn("accept failed: {}", ec.message());
        continue;
      }
      socket.set_option(tcp::no_delay(true), ec);
      auto ex = socket.get_executor();
      net::co_spawn(ex, connection(std::move(socket)), net::detached);
    }
  }
};

StreamServer::StreamServer(PipelineCatalog catalog, ServerOptions options) {
  if (options.max_sessions == 0)
    options.max_sessions = 64 * std::max(1u, std::thread::hardware_concurrency());
  impl_ = std::make_shared<Impl>(std::move(catalog), std::move(options));
}

StreamServer::~StreamServer() {
  drain();
}

core::metrics::Registry& StreamServer::metrics() {
  return impl_->ctx.registry();
}
std::uint16_t StreamServer::port() const {
  return impl_->bound_port.load();
}
std::size_t StreamServer::active_sessions() const {
  return impl_->ctx.active();
}

tl::expected<void, std::string> StreamServer::start() {
  auto& d = *impl_;
  const auto& o = d.ctx.options();
  if (d.started) return tl::unexpected(std::string("server already started"));
  beast::error_code ec;
  auto address = net::ip::make_address(o.host, ec);
  if (ec)
    return tl::unexpected(
        fmt::format("cannot listen on {}:{}: '{}' is not an IP address", o.host, o.port, o.host));
  tcp::endpoint endpoint{address, o.port};
  d.acceptor.emplace(d.iocs.front()->get_executor());
  auto fail = [&](const char* what) -> tl::expected<void, std::string> {
    auto msg = fmt::format("cannot listen on {}:{}: {} failed: {}", o.host, o.port, what, ec.message());
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
  d.accepting = true;
  net::co_spawn(d.acceptor->get_executor(), d.accept_loop(), net::detached);
  for (auto& ioc : d.iocs) d.threads.emplace_back([ioc = ioc.get()] { ioc->run(); });
  return {};
}

void StreamServer::drain() {
  auto& d = *impl_;
  std::lock_guard lock(d.drain_mutex);
  if (!d.started || d.drained) return;
  d.drained = true;
  auto log = core::logger("server");
  d.ctx.set_draining();
  const auto n = d.ctx.active();
  if (n > 0)
    log->info("draining: waiting up to {} ms for {} session(s)", d.ctx.options().drain_timeout.count(), n);
  if (!d.ctx.wait_empty_until(std::chrono::steady_clock::now() + d.ctx.options().drain_timeout)) {
    log->warn("drain timeout: closing {} session(s) with 1001", d.ctx.active());
    d.ctx.shut_down_all();
    if (!d.ctx.wait_empty_until(std::chrono::steady_clock::now() + std::chrono::seconds(10))) {
      log->warn("{} session(s) still tearing down; stopping anyway", d.ctx.active());
    }
  }
  net::post(d.acceptor->get_executor(), [&d] {
    beast::error_code ignored;
    d.acceptor->close(ignored);
  });
  // The accept loop holds the Impl: let it end before the loop stops, or neither is freed.
  for (int i = 0; i < 2000 && d.accepting; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  d.keep_running.clear();
  for (auto& ioc : d.iocs) ioc->stop();
  for (auto& t : d.threads) {
    if (t.joinable()) t.join();
  }
  d.threads.clear();
}

}  // namespace rm::server
