#include "telemetry/ingest/broker.hpp"

#include <sys/resource.h>

#include <deque>
#include <list>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>

#include "core/log.hpp"
#include "core/metrics.hpp"

namespace rm::telemetry {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using tcp = asio::ip::tcp;

namespace {
auto log() {
  return core::logger("telemetry.broker");
}
using Clock = std::chrono::steady_clock;

// Logs at most one line per second for one kind of event, counting what it left out, so a
// flood (thousands of timeouts, accept failing on EMFILE) costs a line a second.
class RateLimitedLog {
 public:
  template <typename... Args>
  void warn(fmt::format_string<Args...> f, Args&&... args) {
    std::lock_guard lk(mu_);
    const auto now = Clock::now();
    if (now - last_ < std::chrono::seconds(1)) {
      ++suppressed_;
      return;
    }
    last_ = now;
    const std::string msg = fmt::format(f, std::forward<Args>(args)...);
    if (suppressed_ > 0) {
      log()->warn("{} ({} similar line(s) suppressed in the last second)", msg, suppressed_);
    } else {
      log()->warn("{}", msg);
    }
    suppressed_ = 0;
  }

 private:
  std::mutex mu_;
  Clock::time_point last_{};
  std::uint64_t suppressed_ = 0;
};
RateLimitedLog g_timeout_log, g_refused_log, g_accept_log, g_error_log, g_write_log;

std::size_t default_max_connections() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return 10000;
  return rl.rlim_cur > 256 ? static_cast<std::size_t>(rl.rlim_cur) - 128 : rl.rlim_cur / 2;
}

std::int64_t wall_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// One producer connection. Everything below runs on `strand` except the store callback, which
// posts back onto it.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket sock, Store& store, const BrokerOptions& opts, BrokerStats& stats,
             std::atomic<bool>& stopping, const std::atomic<core::metrics::Histogram*>& ack_seconds)
      : sock_(std::move(sock)),
        strand_(sock_.get_executor()),
        wake_(strand_),
        watchdog_(strand_),
        store_(store),
        opts_(opts),
        stats_(stats),
        ack_seconds_(ack_seconds),
        stopping_(stopping),
        decoder_(opts.hello_max_frame) {
    wake_.expires_at(asio::steady_timer::time_point::max());
    hello_deadline_ = Clock::now() + opts_.hello_timeout;
    last_activity_ = Clock::now();
  }

  void start() {
    auto self = shared_from_this();
    // The boundary of every coroutine: an exception closes this connection with a log line
    // naming it (batches in flight stay unacknowledged, so the producer resends them).
    auto boundary = [self](const char* what) {
      return [self, what](std::exception_ptr e) {
        if (!e) return;
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          log()->error("connection {} ({}): {} failed: {}; closing it", self->peer_,
                       self->producer_.empty() ? "no HELLO" : self->producer_, what, ex.what());
        }
        asio::post(self->strand_, [self] { self->do_close(); });
      };
    };
    asio::co_spawn(
        strand_, [self]() -> awaitable<void> { co_await self->read_loop(); }, boundary("read loop"));
    asio::co_spawn(
        strand_, [self]() -> awaitable<void> { co_await self->write_loop(); }, boundary("write loop"));
    asio::co_spawn(
        strand_, [self]() -> awaitable<void> { co_await self->watch(); }, boundary("deadline watchdog"));
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
    watchdog_.cancel();
  }

  // The deadline this connection must meet next: a write under way, HELLO, the rest of a
  // started frame, or (with nothing in flight) the next frame at all.
  Clock::time_point deadline() const {
    const auto write = writing_ ? write_started_ + opts_.write_timeout : Clock::time_point::max();
    if (producer_.empty()) return std::min(write, hello_deadline_);
    if (decoder_.buffered() > 0) return std::min(write, frame_started_ + opts_.frame_timeout);
    if (writing_ || in_flight_ > 0 || !out_.empty()) return write;
    return last_activity_ + opts_.idle_timeout;
  }

  // Closes a producer that does not read what it is sent: counted, logged at most once a second.
  void close_slow_reader(const char* why) {
    stats_.write_timeouts++;
    g_write_log.warn(
        "connection {} ({}): closed: {} ({} byte(s) unsent, {} batch(es) in flight; "
        "write deadline {} ms, unsent cap {} bytes)",
        peer_, producer_.empty() ? "no HELLO" : producer_, why, out_.size(), in_flight_,
        opts_.write_timeout.count(), opts_.max_unsent);
    do_close();
    reading_done_ = true;
  }

  // Queues an answer; a producer that lets more than max_unsent bytes pile up is closed.
  void queue_output() {
    if (out_.size() > opts_.max_unsent) return close_slow_reader("it does not read its answers");
    wake_.cancel();
  }

  awaitable<void> watch() {
    const auto shortest =
        std::min({opts_.hello_timeout, opts_.frame_timeout, opts_.idle_timeout, opts_.write_timeout});
    const auto tick =
        std::clamp<Clock::duration>(shortest / 4, std::chrono::milliseconds(10), std::chrono::seconds(1));
    while (!closed_) {
      watchdog_.expires_after(tick);
      co_await watchdog_.async_wait(asio::as_tuple(use_awaitable));
      if (closed_) break;
      if (Clock::now() < deadline()) continue;
      if (writing_ && Clock::now() >= write_started_ + opts_.write_timeout) {
        close_slow_reader("a write did not complete by its deadline");
        break;
      }
      if (draining_) continue;  // only the write deadline applies while draining
      const char* what = producer_.empty()         ? "no HELLO"
                         : decoder_.buffered() > 0 ? "a frame left unfinished"
                                                   : "idle";
      stats_.timeouts++;
      g_timeout_log.warn(
          "connection {} ({}): closed: {} past its deadline (hello {} ms, frame {} ms, idle {} ms)", peer_,
          producer_.empty() ? "no HELLO" : producer_, what, opts_.hello_timeout.count(),
          opts_.frame_timeout.count(), opts_.idle_timeout.count());
      do_close();
      reading_done_ = true;
    }
  }

  void send_error(ErrorCode code, std::uint64_t seq, const std::string& msg) {
    g_error_log.warn("connection {} ({}): {} {}", peer_, producer_.empty() ? "no HELLO" : producer_,
                     to_string(code), msg);
    stats_.errors_sent++;
    encode_error(out_, ErrorFrame{code, seq, msg});
    close_after_write_ = true;
    queue_output();
  }

  awaitable<void> read_loop() {
    boost::system::error_code ec;
    peer_ = fmt::format("{}", sock_.remote_endpoint(ec).address().to_string());
    std::vector<char> buf(64 * 1024);
    while (!closed_ && !close_after_write_) {
      auto [rec, n] = co_await sock_.async_read_some(asio::buffer(buf), asio::as_tuple(use_awaitable));
      if (rec || n == 0) break;
      if (draining_) break;
      last_activity_ = Clock::now();
      if (decoder_.buffered() == 0) frame_started_ = last_activity_;
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
        frame_started_ = Clock::now();  // the next frame's bytes (if buffered) start now
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
      if (!opts_.token.empty() && h->token != opts_.token) {
        stats_.unauthorized++;
        return send_error(
            ErrorCode::unauthorized, 0,
            h->token.empty() ? "this broker requires a token (BROKER_TOKEN)" : "wrong token (BROKER_TOKEN)");
      }
      producer_ = h->producer_id;
      decoder_.set_max_frame(opts_.max_frame);
      encode_credit(out_, opts_.credits);
      wake_.cancel();
      return;
    }
    if (f.type != FrameType::publish) {
      stats_.bad_frames++;
      return send_error(ErrorCode::bad_frame, 0,
                        fmt::format("unexpected frame type {} from a producer", static_cast<int>(f.type)));
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
    const std::int64_t latest = wall_now_ns() + opts_.max_future.count();
    for (const auto& smp : b->samples) {
      if (smp.timestamp_ns < opts_.min_timestamp_ns || smp.timestamp_ns > latest) {
        stats_.bad_timestamps++;
        return send_error(
            ErrorCode::bad_timestamp, b->seq,
            fmt::format("batch {}: sample timestamp {} ns is outside the accepted "
                        "range {} .. now + {} s; nothing of this batch was stored",
                        b->seq, smp.timestamp_ns, opts_.min_timestamp_ns,
                        std::chrono::duration_cast<std::chrono::seconds>(opts_.max_future).count()));
      }
    }
    ++in_flight_;
    stats_.in_flight++;
    stats_.batches++;
    stats_.samples += b->samples.size();
    const auto t0 = std::chrono::steady_clock::now();
    store_.submit(std::move(*b), [self = shared_from_this(), t0](tl::expected<Ack, StoreError> r) {
      asio::post(self->strand_, [self, r = std::move(r), t0] {
        self->on_stored(r);
        if (auto* h = self->ack_seconds_.load(std::memory_order_acquire)) {
          h->observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        }
      });
    });
  }

  void on_stored(const tl::expected<Ack, StoreError>& r) {
    --in_flight_;
    stats_.in_flight--;
    last_activity_ = Clock::now();
    if (closed_) return;
    if (r) {
      stats_.acks++;
      if (r->duplicate) stats_.duplicates++;
      encode_ack(out_, *r);
      queue_output();
    } else {
      const auto code = r.error().code == StoreErrorCode::closed        ? ErrorCode::shutting_down
                        : r.error().code == StoreErrorCode::unavailable ? ErrorCode::storage_unavailable
                                                                        : ErrorCode::storage_failure;
      if (code == ErrorCode::storage_unavailable) stats_.storage_unavailable++;
      send_error(code, 0, r.error().message);
    }
  }

  awaitable<void> write_loop() {
    while (!closed_) {
      if (!out_.empty()) {
        std::string data;
        data.swap(out_);
        writing_ = true;
        write_started_ = Clock::now();
        auto [ec, n] = co_await asio::async_write(sock_, asio::buffer(data), asio::as_tuple(use_awaitable));
        (void)n;
        writing_ = false;
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
  asio::steady_timer watchdog_;
  Store& store_;
  const BrokerOptions& opts_;
  BrokerStats& stats_;
  const std::atomic<core::metrics::Histogram*>& ack_seconds_;  // set by register_metrics
  std::atomic<bool>& stopping_;
  FrameDecoder decoder_;
  PublishDecoder pub_decoder_;
  std::string producer_;
  std::string peer_;
  std::string out_;
  std::uint32_t in_flight_ = 0;
  Clock::time_point hello_deadline_, frame_started_, last_activity_, write_started_;
  bool writing_ = false;
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
  // telemetry_collector_ack_latency_seconds once register_metrics ran.
  mutable std::atomic<core::metrics::Histogram*> ack_seconds{nullptr};
  asio::io_context io;
  tcp::acceptor acceptor;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::vector<std::thread> threads;
  std::atomic<bool> stopping{false};
  std::mutex conns_mu;
  std::list<std::weak_ptr<Connection>> conns;
  bool stopped = false;

  std::size_t max_connections() const {
    return opts.max_connections ? opts.max_connections : default_max_connections();
  }

  awaitable<void> accept_loop() {
    asio::steady_timer pause(io);
    auto backoff = std::chrono::milliseconds(10);
    const std::size_t cap = max_connections();
    while (true) {
      auto [ec, sock] = co_await acceptor.async_accept(asio::make_strand(io), asio::as_tuple(use_awaitable));
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
        // EMFILE/ENFILE/ENOBUFS: the pending connection stays queued; pause instead of spinning.
        stats.accept_errors++;
        g_accept_log.warn("accept failed: {}; pausing accepts for {} ms ({} connection(s) open, cap {})",
                          ec.message(), backoff.count(), stats.connections_open.load(), cap);
        pause.expires_after(backoff);
        co_await pause.async_wait(asio::as_tuple(use_awaitable));
        backoff = std::min(backoff * 2, std::chrono::milliseconds(1000));
        continue;
      }
      backoff = std::chrono::milliseconds(10);
      if (stats.connections_open.load() >= cap) {
        stats.refused++;
        std::string err;
        encode_error(err,
                     ErrorFrame{ErrorCode::too_many_connections, 0,
                                fmt::format("the broker is at its cap of {} connections; retry later", cap)});
        boost::system::error_code wec;
        sock.non_blocking(true, wec);
        (void)sock.write_some(asio::buffer(err), wec);
        sock.close(wec);
        g_refused_log.warn("refused a connection: {} connection(s) open, cap {}",
                           stats.connections_open.load(), cap);
        continue;
      }
      sock.set_option(tcp::no_delay(true), ec);
      if (opts.send_buffer > 0) sock.set_option(asio::socket_base::send_buffer_size(opts.send_buffer), ec);
      stats.connections++;
      stats.connections_open++;
      auto c = std::make_shared<Connection>(std::move(sock), store, opts, stats, stopping, ack_seconds);
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

BrokerServer::~BrokerServer() {
  stop(std::chrono::milliseconds(0));
}

const BrokerStats& BrokerServer::stats() const {
  return impl_->stats;
}

void BrokerServer::register_metrics(core::metrics::Registry& r) const {
  const auto& st = impl_->stats;
  auto counter = [&](const char* name, const char* help, const std::atomic<std::uint64_t>& v) {
    r.counter_callback(name, help, [&v] { return static_cast<double>(v.load()); });
  };
  counter("telemetry_collector_acks_total", "ACK frames sent.", st.acks);
  counter("telemetry_collector_bad_frames_total", "Malformed frames received.", st.bad_frames);
  counter("telemetry_collector_connections_total", "Producer connections accepted.", st.connections);
  counter("telemetry_collector_connections_refused_total",
          "Connections refused at the connection cap (ERROR too_many_connections).", st.refused);
  counter("telemetry_collector_connection_timeouts_total",
          "Connections closed for missing a deadline (HELLO, an unfinished frame, idle).", st.timeouts);
  counter("telemetry_collector_accept_errors_total", "Failed accept() calls (EMFILE ...).", st.accept_errors);
  counter("telemetry_collector_bad_timestamp_batches_total",
          "Batches rejected because a sample timestamp was outside the accepted range.", st.bad_timestamps);
  counter("telemetry_collector_unauthorized_total", "HELLOs refused for a missing or wrong BROKER_TOKEN.",
          st.unauthorized);
  counter("telemetry_collector_storage_unavailable_total",
          "Batches answered with storage_unavailable (store read-only).", st.storage_unavailable);
  counter("telemetry_collector_write_timeouts_total",
          "Connections closed because the producer did not read its ACKs (a write past "
          "BROKER_WRITE_TIMEOUT_MS, or more than the unsent-bytes cap waiting).",
          st.write_timeouts);
  r.gauge_callback("telemetry_collector_connections_open", "Producer connections open now.",
                   [&st] { return static_cast<double>(st.connections_open.load()); });
  r.gauge_callback("telemetry_collector_batches_in_flight", "Batches received and not yet acknowledged.",
                   [&st] { return static_cast<double>(st.in_flight.load()); });
  impl_->ack_seconds.store(&r.histogram("telemetry_collector_ack_latency_seconds",
                                        "Time from receiving a PUBLISH to queueing its ACK.", {},
                                        {0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1})
                                .labels({}),
                           std::memory_order_release);
}

Result<std::uint16_t> BrokerServer::start() {
  auto& i = *impl_;
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(i.opts.bind_address, ec);
  if (ec) {
    return telemetry_error(TelemetryErrc::invalid_argument, fmt::format("bad bind address '{}' (BIND): {}",
                                                                        i.opts.bind_address, ec.message()));
  }
  tcp::endpoint ep(addr, i.opts.port);
  i.acceptor.open(ep.protocol(), ec);
  if (!ec) i.acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) i.acceptor.bind(ep, ec);
  if (!ec) i.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return telemetry_error(TelemetryErrc::io,
                           fmt::format("cannot listen on {}:{}: {}; set BROKER_PORT to a free port",
                                       i.opts.bind_address, i.opts.port, ec.message()));
  }
  const auto port = i.acceptor.local_endpoint().port();
  i.work.emplace(i.io.get_executor());
  asio::co_spawn(i.io, i.accept_loop(), [](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      log()->critical("broker accept loop failed: {}; the collector cannot take connections", ex.what());
    }
    std::fflush(nullptr);
    std::_Exit(70);
  });
  for (int t = 0; t < std::max(1, i.opts.threads); ++t) i.threads.emplace_back([&io = i.io] { io.run(); });
  log()->info("broker listening on {}:{} with {} thread(s), {} credits per connection", i.opts.bind_address,
              port, i.threads.size(), i.opts.credits);
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
