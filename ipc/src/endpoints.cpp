// Publisher/Subscriber and their samples: thin move-only handles over detail::Channel.
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>

#include "channel.hpp"
#include "ipc/publisher.hpp"
#include "ipc/subscriber.hpp"

namespace rm::ipc {

std::string_view to_string(IpcErrc code) {
  switch (code) {
    case IpcErrc::invalid_argument:
      return "invalid_argument";
    case IpcErrc::io:
      return "io";
    case IpcErrc::format:
      return "format";
    case IpcErrc::peer_gone:
      return "peer_gone";
    case IpcErrc::state:
      return "state";
  }
  return "unknown";
}

ChannelOptions ChannelOptions::from_env() {
  ChannelOptions o;
  if (const char* s = std::getenv("RM_IPC_SPIN_US"); s != nullptr && *s != '\0')
    o.spin = std::chrono::microseconds(std::strtoll(s, nullptr, 10));
  if (const char* s = std::getenv("RM_IPC_LOAN_SPIN_US"); s != nullptr && *s != '\0')
    o.loan_spin = std::chrono::microseconds(std::strtoll(s, nullptr, 10));
  if (const char* s = std::getenv("RM_IPC_PEER_TIMEOUT_MS"); s != nullptr && *s != '\0')
    o.peer_timeout = std::chrono::milliseconds(std::strtoll(s, nullptr, 10));
  return o;
}

namespace {
IpcError closed_error() {
  return IpcError{IpcErrc::state, "ipc endpoint used after close or move"};
}
}  // namespace

// ---- SampleMut / Publisher ----

SampleMut::SampleMut(SampleMut&& other) noexcept
    : ch_(std::exchange(other.ch_, nullptr)), data_(other.data_), size_(other.size_) {}

SampleMut& SampleMut::operator=(SampleMut&& other) noexcept {
  if (this != &other) {
    if (ch_ != nullptr) ch_->cancel_loan();
    ch_ = std::exchange(other.ch_, nullptr);
    data_ = other.data_;
    size_ = other.size_;
  }
  return *this;
}

SampleMut::~SampleMut() {
  if (ch_ != nullptr) ch_->cancel_loan();
}

Publisher::Publisher(std::unique_ptr<detail::Channel> ch) : ch_(std::move(ch)) {}
Publisher::Publisher(Publisher&&) noexcept = default;
Publisher& Publisher::operator=(Publisher&&) noexcept = default;
Publisher::~Publisher() = default;

tl::expected<Publisher, IpcError> Publisher::create(const std::filesystem::path& dir, std::string_view name,
                                                    std::uint64_t capacity, ChannelOptions options) {
  auto ch = detail::Channel::create(dir, name, capacity, detail::Role::producer, options);
  if (!ch) return tl::unexpected(ch.error());
  return Publisher(std::move(*ch));
}

tl::expected<Publisher, IpcError> Publisher::open(const std::filesystem::path& dir, std::string_view name,
                                                  std::chrono::nanoseconds timeout, ChannelOptions options) {
  auto ch = detail::Channel::open(dir, name, detail::Role::producer, timeout, options);
  if (!ch) return tl::unexpected(ch.error());
  return Publisher(std::move(*ch));
}

tl::expected<std::optional<SampleMut>, IpcError> Publisher::loan(std::uint64_t size,
                                                                 std::chrono::nanoseconds timeout) {
  if (!ch_) return tl::unexpected(closed_error());
  auto p = ch_->loan(size, timeout);
  if (!p) return tl::unexpected(p.error());
  if (!*p) return std::optional<SampleMut>{};
  return std::optional<SampleMut>(SampleMut(ch_.get(), **p, size));
}

tl::expected<void, IpcError> Publisher::send(SampleMut&& sample) {
  if (!ch_) return tl::unexpected(closed_error());
  if (sample.ch_ != ch_.get())
    return tl::unexpected(IpcError{
        IpcErrc::state, "ipc channel " + ch_->path() + ": sample was not loaned from this publisher"});
  auto r = ch_->commit(sample.size_);
  sample.ch_ = nullptr;
  return r;
}

tl::expected<bool, IpcError> Publisher::send_copy(std::span<const std::byte> data,
                                                  std::chrono::nanoseconds timeout) {
  auto s = loan(data.size(), timeout);
  if (!s) return tl::unexpected(s.error());
  if (!*s) return false;
  if (!data.empty()) std::memcpy((*s)->payload_mut().data(), data.data(), data.size());
  auto r = send(std::move(**s));
  if (!r) return tl::unexpected(r.error());
  return true;
}

std::uint64_t Publisher::capacity() const {
  return ch_ ? ch_->capacity() : 0;
}
std::uint64_t Publisher::max_record() const {
  return ch_ ? ch_->max_record() : 0;
}
PeerState Publisher::peer_state() const {
  return ch_ ? ch_->peer_state() : PeerState::gone;
}
void Publisher::heartbeat() {
  if (ch_) ch_->heartbeat();
}
void Publisher::close() {
  if (ch_) ch_->close();
}

// ---- Sample / Subscriber ----

Sample::Sample(Sample&& other) noexcept
    : ch_(std::exchange(other.ch_, nullptr)), data_(other.data_), size_(other.size_) {}

Sample& Sample::operator=(Sample&& other) noexcept {
  if (this != &other) {
    if (ch_ != nullptr) ch_->release();
    ch_ = std::exchange(other.ch_, nullptr);
    data_ = other.data_;
    size_ = other.size_;
  }
  return *this;
}

Sample::~Sample() {
  if (ch_ != nullptr) ch_->release();
}

Subscriber::Subscriber(std::unique_ptr<detail::Channel> ch) : ch_(std::move(ch)) {}
Subscriber::Subscriber(Subscriber&&) noexcept = default;
Subscriber& Subscriber::operator=(Subscriber&&) noexcept = default;
Subscriber::~Subscriber() = default;

tl::expected<Subscriber, IpcError> Subscriber::create(const std::filesystem::path& dir, std::string_view name,
                                                      std::uint64_t capacity, ChannelOptions options) {
  auto ch = detail::Channel::create(dir, name, capacity, detail::Role::consumer, options);
  if (!ch) return tl::unexpected(ch.error());
  return Subscriber(std::move(*ch));
}

tl::expected<Subscriber, IpcError> Subscriber::open(const std::filesystem::path& dir, std::string_view name,
                                                    std::chrono::nanoseconds timeout,
                                                    ChannelOptions options) {
  auto ch = detail::Channel::open(dir, name, detail::Role::consumer, timeout, options);
  if (!ch) return tl::unexpected(ch.error());
  return Subscriber(std::move(*ch));
}

tl::expected<std::optional<Sample>, IpcError> Subscriber::receive(std::chrono::nanoseconds timeout) {
  if (!ch_) return tl::unexpected(closed_error());
  auto r = ch_->receive(timeout);
  if (!r) return tl::unexpected(r.error());
  if (!*r) return std::optional<Sample>{};
  return std::optional<Sample>(Sample(ch_.get(), (*r)->data(), (*r)->size()));
}

std::uint64_t Subscriber::capacity() const {
  return ch_ ? ch_->capacity() : 0;
}
PeerState Subscriber::peer_state() const {
  return ch_ ? ch_->peer_state() : PeerState::gone;
}
void Subscriber::heartbeat() {
  if (ch_) ch_->heartbeat();
}
void Subscriber::close() {
  if (ch_) ch_->close();
}

}  // namespace rm::ipc
