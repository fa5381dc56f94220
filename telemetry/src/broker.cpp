#include "telemetry/broker.hpp"

#include <deque>
#include <list>
#include <thread>

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <fmt/format.h>

#include "core/log.hpp"

namespace rm::telemetry {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using tcp = asio::ip::tcp;

namespace {
auto log() { return core::logger("telemetry.broker"); }

// One producer connection. Everything below runs on `strand` except the store callback, which
// posts back onto it.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket sock, Store& store, const BrokerOptions& opts, BrokerStats& stats,
             std::atomic<bool>& stopping)
      : sock_(std::move(sock)),
        strand_(sock_.get_executor()),
        wake_(strand_),
        store_(store),
        opts_(opts),
        stats_(stats),
        stopping_(stopping),
        decoder_(opts.max_frame) {
    wake_.expires_at(asio::steady_timer::time_point::max());
  }

  void start() {
    auto self = shared_from_this();
    asio::co_spawn(strand_, [self]() -> awaitable<void> { co_await self->read_loop(); },
                   asio::detached);
    asio::co_spawn(strand_, [self]() -> awaitable<void> { co_await self->write_loop(); },
                   asio::detached);
  }

  // Stop reading; close once everything in flight has been answered.
  void shutdown() {
    asio::post(strand_, [self = shared_from_this()] {
      self->draining_ = true;
      boost::system::error_code ec;
      self->sock_.shutdown(tcp::socket::shutdown_receive, ec);
      self->wake_.cancel();
    });
  }
  void close() {
    asio::post(strand_, [self = shared_from_this()] { self->do_close(); });
  }

 private:
  void do_close() {
    if (closed_) return;
    closed_ = true;
    boost::system::error_code ec;
    sock_.shutdown(tcp::socket::shutdown_both, ec);
    sock_.close(ec);
    wake_.cancel();
  }

  void send_error(ErrorCode code, std::uint64_t seq, const std::string& msg) {
    log()->warn("connection {} ({}): {} {}", peer_, producer_.empty() ? "no HELLO" : producer_,
                to_string(code), msg);
    stats_.errors_sent++;
    encode_error(out_, ErrorFrame{code, seq, msg});
    close_after_write_ = true;
    wake_.cancel();
  }

  awaitable<void> read_loop() {
    boost::system::error_code ec;
    peer_ = fmt::format("{}", sock_.remote_endpoint(ec).address().to_string());
    std::vector<char> buf(64 * 1024);
    while (!closed_ && !close_after_write_) {
      auto [rec, n] = co_await sock_.async_read_some(asio::buffer(buf),
                                                     asio::as_tuple(use_awaitable));
      if (rec || n == 0) break;
      if (draining_) break;
      decoder_.feed(std::string_view(buf.data(), n));
      while (!close_after_write_) {
        auto f = decoder_.next();
        if (!f) {
          stats_.bad_frames++;
          send_error(f.error().code, 0, f.error().message);
          break;
        }
        if (!*f) break;
        stats_.frames++;
        handle(**f);
      }
    }
    reading_done_ = true;
    wake_.cancel();
  }

  void handle(Frame& f) {
    if (producer_.empty()) {
      if (f.type != FrameType::hello) {
        stats_.bad_frames++;
        return send_error(ErrorCode::hello_required, 0, "the first frame must be HELLO");
      }
      auto h = decode_hello(f.payload);
      if (!h) {
        stats_.bad_frames++;
        return send_error(h.error().code, 0, h.error().message);
      }
      if (h->version != kProtocolVersion) {
        return send_error(ErrorCode::unsupported_version, 0,
                          fmt::format("protocol version {} is not supported (this broker speaks {})",
                                      h->version, kProtocolVersion));
      }
      if (stopping_) return send_error(ErrorCode::shutting_down, 0, "collector is shutting down");
      producer_ = h->producer_id;
      encode_credit(out_, opts_.credits);
      wake_.cancel();
      return;
    }
    if (f.type != FrameType::publish) {
      stats_.bad_frames++;
      return send_error(ErrorCode::bad_frame,
                        0, fmt::format("unexpected frame type {} from a producer",
                                       static_cast<int>(f.type)));
    }
    if (in_flight_ >= opts_.credits) {
      return send_error(ErrorCode::credit_exceeded, 0,
                        fmt::format("more than {} batches in flight", opts_.credits));
    }
    auto b = pub_decoder_.decode(f.payload, producer_);
    if (!b) {
      stats_.bad_frames++;
      return send_error(b.error().code, 0, b.error().message);
    }
    ++in_flight_;
    stats_.in_flight++;
    stats_.batches++;
    stats_.samples += b->samples.size();
    const auto t0 = std::chrono::steady_clock::now();
    store_.submit(std::move(*b), [self = shared_from_this(), t0](tl::expected<Ack, StoreError> r) {
      asio::post(self->strand_, [self, r = std::move(r), t0] {
        self->on_stored(r);
        if (self->opts_.ack_observer) {
          self->opts_.ack_observer(
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        }
      });
    });
  }

  void on_stored(const tl::expected<Ack, StoreError>& r) {
    --in_flight_;
    stats_.in_flight--;
    if (closed_) return;
    if (r) {
      stats_.acks++;
      if (r->duplicate) stats_.duplicates++;
      encode_ack(out_, *r);
      wake_.cancel();
    } else {
      send_error(r.error().code == StoreErrorCode::closed ? ErrorCode::shutting_down
                                                          : ErrorCode::storage_failure,
                 0, r.error().message);
    }
  }

  awaitable<void> write_loop() {
    while (!closed_) {
      if (!out_.empty()) {
        std::string data;
        data.swap(out_);
        auto [ec, n] = co_await asio::async_write(sock_, asio::buffer(data),
                                                  asio::as_tuple(use_awaitable));
        (void)n;
        if (ec) break;
        continue;
      }
      if (close_after_write_ || (reading_done_ && in_flight_ == 0)) break;
      wake_.expires_at(asio::steady_timer::time_point::max());
      auto [ec] = co_await wake_.async_wait(asio::as_tuple(use_awaitable));
      (void)ec;
    }
    do_close();
    stats_.connections_open--;
  }

  tcp::socket sock_;
  asio::strand<tcp::socket::executor_type> strand_;
  asio::steady_timer wake_;
  Store& store_;
  const BrokerOptions& opts_;
  BrokerStats& stats_;
  std::atomic<bool>& stopping_;
  FrameDecoder decoder_;
  PublishDecoder pub_decoder_;
  std::string producer_;
  std::string peer_;
  std::string out_;
  std::uint32_t in_flight_ = 0;
  bool draining_ = false;
  bool reading_done_ = false;
  bool close_after_write_ = false;
  bool closed_ = false;
};
}  // namespace

struct BrokerServer::Impl {
  Impl(Store& s, BrokerOptions o) : store(s), opts(std::move(o)), acceptor(io) {}
  Store& store;
  BrokerOptions opts;
  BrokerStats stats;
  asio::io_context io;
  tcp::acceptor acceptor;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::vector<std::thread> threads;
  std::atomic<bool> stopping{false};
  std::mutex conns_mu;
  std::list<std::weak_ptr<Connection>> conns;
  bool stopped = false;

  awaitable<void> accept_loop() {
    while (true) {
      auto [ec, sock] = co_await acceptor.async_accept(asio::make_strand(io),
                                                       asio::as_tuple(use_awaitable));
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
        continue;
      }
      sock.set_option(tcp::no_delay(true), ec);
      stats.connections++;
      stats.connections_open++;
      auto c = std::make_shared<Connection>(std::move(sock), store, opts, stats, stopping);
      {
        std::lock_guard lk(conns_mu);
        conns.remove_if([](auto& w) { return w.expired(); });
        conns.push_back(c);
      }
      c->start();
    }
  }
};

BrokerServer::BrokerServer(Store& store, BrokerOptions opts)
    : impl_(std::make_unique<Impl>(store, std::move(opts))) {}

BrokerServer::~BrokerServer() { stop(std::chrono::milliseconds(0)); }

const BrokerStats& BrokerServer::stats() const { return impl_->stats; }

tl::expected<std::uint16_t, std::string> BrokerServer::start() {
  auto& i = *impl_;
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(i.opts.bind_address, ec);
  if (ec) return tl::unexpected(fmt::format("bad bind address '{}'", i.opts.bind_address));
  tcp::endpoint ep(addr, i.opts.port);
  i.acceptor.open(ep.protocol(), ec);
  if (!ec) i.acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) i.acceptor.bind(ep, ec);
  if (!ec) i.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return tl::unexpected(fmt::format("cannot listen on {}:{}: {}; set BROKER_PORT to a free port",
                                      i.opts.bind_address, i.opts.port, ec.message()));
  }
  const auto port = i.acceptor.local_endpoint().port();
  i.work.emplace(i.io.get_executor());
  asio::co_spawn(i.io, i.accept_loop(), asio::detached);
  for (int t = 0; t < std::max(1, i.opts.threads); ++t) i.threads.emplace_back([&io = i.io] { io.run(); });
  log()->info("broker listening on {}:{} with {} thread(s), {} credits per connection",
              i.opts.bind_address, port, i.threads.size(), i.opts.credits);
  return port;
}

void BrokerServer::stop(std::chrono::milliseconds drain_timeout) {
  auto& i = *impl_;
  if (i.stopped) return;
  i.stopped = true;
  i.stopping = true;
  asio::post(i.io, [&i] {
    boost::system::error_code ec;
    i.acceptor.close(ec);
  });
  std::vector<std::shared_ptr<Connection>> live;
  {
    std::lock_guard lk(i.conns_mu);
    for (auto& w : i.conns) {
      if (auto c = w.lock()) live.push_back(std::move(c));
    }
  }
  for (auto& c : live) c->shutdown();
  const auto deadline = std::chrono::steady_clock::now() + drain_timeout;
  while (i.stats.in_flight.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  for (auto& c : live) c->close();
  live.clear();
  i.work.reset();
  // Connections finish their write loops and release; then run() returns.
  const auto hard = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (i.stats.connections_open.load() > 0 && std::chrono::steady_clock::now() < hard) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  i.io.stop();
  for (auto& t : i.threads) {
    if (t.joinable()) t.join();
  }
  i.threads.clear();
}

}  // namespace rm::telemetry
