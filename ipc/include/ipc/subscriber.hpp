#pragma once
// Consumer endpoint of a channel (see publisher.hpp).
//
//   auto sub = Subscriber::open(dir, name, 1s).value();
//   auto r = sub.receive(10ms);   // error | nothing yet | Sample (the record, in place)
//   if (!r) handle(r.error());            // e.g. IpcErrc::peer_gone after draining
//   else if (*r) use((*r)->payload());    // destroying the Sample frees its space
//
// Records arrive whole and in order. At most one Sample is outstanding at a time (SPSC in
// order); the Sample must not outlive its Subscriber. Thread-compatible.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string_view>

#include <tl/expected.hpp>

#include "ipc/channel_options.hpp"
#include "ipc/ipc_error.hpp"

namespace rm::ipc {

namespace detail {
class Channel;
}

class Subscriber;

// A received record, read in place in shared memory. Move-only; destroying it releases the
// record's space to the producer.
class Sample {
 public:
  Sample(Sample&& other) noexcept;
  Sample& operator=(Sample&& other) noexcept;
  Sample(const Sample&) = delete;
  Sample& operator=(const Sample&) = delete;
  ~Sample();

  std::span<const std::byte> payload() const { return {data_, size_}; }
  std::uint64_t size() const { return size_; }

 private:
  friend class Subscriber;
  Sample(detail::Channel* ch, const std::byte* data, std::uint64_t size)
      : ch_(ch), data_(data), size_(size) {}
  detail::Channel* ch_ = nullptr;
  const std::byte* data_ = nullptr;
  std::uint64_t size_ = 0;
};

class Subscriber {
 public:
  // Creates (or replaces) the segment and attaches as its consumer (the host creates the
  // node's output channel this way).
  static tl::expected<Subscriber, IpcError> create(const std::filesystem::path& dir, std::string_view name,
                                                   std::uint64_t capacity, ChannelOptions options = {});
  static tl::expected<Subscriber, IpcError> open(const std::filesystem::path& dir, std::string_view name,
                                                 std::chrono::nanoseconds timeout,
                                                 ChannelOptions options = {});

  Subscriber(Subscriber&&) noexcept;
  Subscriber& operator=(Subscriber&&) noexcept;
  ~Subscriber();

  // Error, nothing yet (empty optional), or the next record. Records already sent are
  // delivered before peer_gone is reported.
  tl::expected<std::optional<Sample>, IpcError> receive(std::chrono::nanoseconds timeout);

  std::uint64_t capacity() const;
  PeerState peer_state() const;
  void heartbeat();
  void close();

 private:
  explicit Subscriber(std::unique_ptr<detail::Channel> ch);
  std::unique_ptr<detail::Channel> ch_;
};

}  // namespace rm::ipc
