#include "telemetry/wire/client.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>
#include <thread>

#include <fmt/format.h>

#include "core/log.hpp"

namespace rm::telemetry {

namespace {
auto log() {
  return core::logger("telemetry.client");
}
using Clock = std::chrono::steady_clock;
}  // namespace

BrokerClient::~BrokerClient() {
  close();
}

void BrokerClient::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  credits_ = 0;
  decoder_ = FrameDecoder();
  encoder_ = PublishEncoder();
}

tl::expected<void, ClientError> BrokerClient::connect(const std::string& host, std::uint16_t port,
                                                      const std::string& producer_id,
                                                      std::chrono::milliseconds timeout,
                                                      const std::string& token) {
  close();
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const std::string ps = std::to_string(port);
  if (int rc = ::getaddrinfo(host.c_str(), ps.c_str(), &hints, &res); rc != 0) {
    return tl::unexpected(
        ClientError{fmt::format("cannot resolve broker host '{}': {}", host, ::gai_strerror(rc))});
  }
  std::string last = "no address";
  for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
    const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
      fd_ = fd;
      break;
    }
    last = std::strerror(errno);
    ::close(fd);
  }
  ::freeaddrinfo(res);
  if (fd_ < 0) {
    return tl::unexpected(ClientError{fmt::format("cannot connect to broker {}:{}: {}", host, port, last)});
  }
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  std::string hello;
  encode_hello(hello, Hello{kProtocolVersion, producer_id, token});
  if (auto r = send_raw(hello); !r) return r;
  auto f = read_frame(timeout);
  if (!f) return tl::unexpected(f.error());
  if (!*f) {
    close();
    return tl::unexpected(ClientError{"broker did not answer HELLO in time"});
  }
  if ((*f)->type == FrameType::error) {
    auto e = decode_error((*f)->payload);
    close();
    return tl::unexpected(
        ClientError{e ? fmt::format("broker refused HELLO: {} {}", to_string(e->code), e->message)
                      : "broker refused HELLO",
                    e && (e->code == ErrorCode::unsupported_version || e->code == ErrorCode::unauthorized)});
  }
  if ((*f)->type != FrameType::credit) {
    close();
    return tl::unexpected(ClientError{"broker answered HELLO with an unexpected frame"});
  }
  auto c = decode_credit((*f)->payload);
  if (!c) {
    close();
    return tl::unexpected(ClientError{c.error().message});
  }
  credits_ = *c;
  return {};
}

tl::expected<void, ClientError> BrokerClient::send_raw(std::string_view data) {
  while (!data.empty()) {
    if (fd_ < 0) return tl::unexpected(ClientError{"not connected"});
    const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      auto e = ClientError{fmt::format("send to broker failed: {}", std::strerror(errno))};
      close();
      return tl::unexpected(e);
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

tl::expected<void, ClientError> BrokerClient::publish(std::uint64_t seq,
                                                      const std::vector<OutSample>& samples) {
  if (credits_ == 0) return tl::unexpected(ClientError{"no credit left; wait for an ACK"});
  out_.clear();
  encoder_.encode(out_, seq, samples);
  --credits_;
  return send_raw(out_);
}

tl::expected<std::optional<Frame>, ClientError> BrokerClient::read_frame(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  char buf[65536];
  while (true) {
    auto f = decoder_.next();
    if (!f) {
      close();
      return tl::unexpected(ClientError{fmt::format("bad frame from broker: {}", f.error().message)});
    }
    if (*f) return std::move(*f);
    if (fd_ < 0) return tl::unexpected(ClientError{"not connected"});
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    pollfd p{fd_, POLLIN, 0};
    const int rc = ::poll(&p, 1, static_cast<int>(std::max<std::int64_t>(0, left.count())));
    if (rc < 0 && errno == EINTR) continue;
    if (rc == 0) return std::optional<Frame>{};
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      close();
      return tl::unexpected(ClientError{n == 0 ? "broker closed the connection"
                                               : fmt::format("recv failed: {}", std::strerror(errno))});
    }
    decoder_.feed(std::string_view(buf, static_cast<std::size_t>(n)));
  }
}

tl::expected<std::optional<Ack>, ClientError> BrokerClient::read_ack(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    auto f = read_frame(std::max(left, std::chrono::milliseconds(0)));
    if (!f) return tl::unexpected(f.error());
    if (!*f) return std::optional<Ack>{};
    switch ((*f)->type) {
      case FrameType::ack: {
        auto a = decode_ack((*f)->payload);
        if (!a) {
          close();
          return tl::unexpected(ClientError{a.error().message});
        }
        ++credits_;  // every ACK returns the batch's credit
        return std::optional<Ack>{*a};
      }
      case FrameType::credit: {
        auto c = decode_credit((*f)->payload);
        if (c) credits_ += *c;
        break;
      }
      case FrameType::error: {
        auto e = decode_error((*f)->payload);
        close();
        return tl::unexpected(ClientError{
            e ? fmt::format("broker error {}: {}", to_string(e->code), e->message) : "broker error",
            e && (e->code == ErrorCode::bad_batch || e->code == ErrorCode::unsupported_version ||
                  e->code == ErrorCode::unauthorized || e->code == ErrorCode::bad_timestamp),
            e ? std::optional<ErrorCode>(e->code) : std::nullopt});
      }
      default:
        close();
        return tl::unexpected(ClientError{"unexpected frame type from broker"});
    }
  }
}

// ---------------------------------------------------------------- ReliablePublisher

ReliablePublisher::ReliablePublisher(PublisherOptions opts, OnAck on_ack)
    : opts_(std::move(opts)), on_ack_(std::move(on_ack)), backoff_(opts_.backoff_min) {}

void ReliablePublisher::drop_connection(const std::string& why) {
  log()->warn("producer {}: {}; {} batch(es) unacknowledged, reconnecting", opts_.producer_id, why,
              window_.size());
  client_.close();
  dropped_ = true;
  for (auto& b : window_) b.sent = false;
}

void ReliablePublisher::back_off(const std::string& why) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  const auto half = backoff_.count() / 2;
  const auto wait =
      std::chrono::milliseconds(half + std::uniform_int_distribution<std::int64_t>(
                                           0, std::max<std::int64_t>(0, backoff_.count() - half))(rng));
  log()->info("producer {}: {}; retrying in {} ms", opts_.producer_id, why, wait.count());
  ++stats_.backoffs;
  const auto until = Clock::now() + wait;
  while (Clock::now() < until && !cancelled()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  backoff_ = std::min(opts_.backoff_max, backoff_ * 2);
}

tl::expected<void, ClientError> ReliablePublisher::ensure_connected() {
  if (!client_.connected() && dropped_) {
    dropped_ = false;
    back_off("connection lost");
  }
  while (!client_.connected()) {
    if (cancelled()) return tl::unexpected(ClientError{"cancelled"});
    auto r = client_.connect(opts_.host, opts_.port, opts_.producer_id, opts_.io_timeout, opts_.token);
    if (r) {
      if (ever_connected_) ++stats_.reconnects;
      ever_connected_ = true;
      ++stats_.connects;
      break;  // the backoff is reset by the next ACK, not by the connect
    }
    if (r.error().fatal) return r;
    back_off(r.error().message);
  }
  return {};
}

// Sends what the credit allows, then reads acks for up to `wait`.
tl::expected<void, ClientError> ReliablePublisher::pump(std::chrono::milliseconds wait) {
  if (auto r = ensure_connected(); !r) return r;
  for (auto& b : window_) {
    if (b.sent) continue;
    if (client_.credits() == 0) break;
    if (auto r = client_.publish(b.seq, b.samples); !r) {
      drop_connection(r.error().message);
      return {};
    }
    if (b.ever_sent) ++stats_.resent;
    b.sent = true;
    b.ever_sent = true;
  }
  auto a = client_.read_ack(wait);
  if (!a) {
    if (a.error().fatal) return tl::unexpected(a.error());
    if (a.error().code == ErrorCode::storage_unavailable) ++stats_.storage_unavailable;
    drop_connection(a.error().message);
    return {};
  }
  if (!*a) return {};
  backoff_ = opts_.backoff_min;
  // Acks arrive in send order; anything before the acked seq was acked too.
  while (!window_.empty() && window_.front().seq <= (*a)->seq) {
    auto& b = window_.front();
    if (b.seq == (*a)->seq) {
      ++stats_.acked;
      stats_.samples_acked += b.samples.size();
      if ((*a)->duplicate) ++stats_.duplicates;
      if (on_ack_) on_ack_(b.seq, b.samples, (*a)->duplicate);
    }
    window_.pop_front();
  }
  return {};
}

tl::expected<std::uint64_t, ClientError> ReliablePublisher::publish(std::vector<OutSample> samples) {
  const std::uint64_t seq = next_seq_++;
  window_.push_back(InFlight{seq, std::move(samples), false});
  ++stats_.batches;
  // Keep at most `credits` batches outstanding: pump until this batch has been sent.
  while (!window_.empty() && !window_.back().sent) {
    if (cancelled()) return tl::unexpected(ClientError{"cancelled"});
    const bool can_send = client_.connected() && client_.credits() > 0;
    if (auto r = pump(can_send ? std::chrono::milliseconds(0) : std::chrono::milliseconds(50)); !r) {
      return tl::unexpected(r.error());
    }
  }
  // Drain acks that are already there without blocking.
  if (client_.connected()) {
    if (auto r = pump(std::chrono::milliseconds(0)); !r) return tl::unexpected(r.error());
  }
  return seq;
}

tl::expected<void, ClientError> ReliablePublisher::flush(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!window_.empty()) {
    if (Clock::now() >= deadline) {
      return tl::unexpected(ClientError{
          fmt::format("{} batch(es) still unacknowledged after {} ms", window_.size(), timeout.count())});
    }
    if (cancelled()) return tl::unexpected(ClientError{"cancelled"});
    if (auto r = pump(std::chrono::milliseconds(50)); !r) return r;
  }
  return {};
}

}  // namespace rm::telemetry
