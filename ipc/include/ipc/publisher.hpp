#pragma once
// Producer endpoint of a channel: an SPSC ring of variable-length records in one shm file.
//
//   auto pub = Publisher::create(dir, name, 1 << 20).value();
//   auto loan = pub.loan(n, 10ms);            // error | nothing (ring full) | SampleMut
//   if (loan && *loan) {
//     auto sample = std::move(**loan);
//     std::memcpy(sample.payload_mut().data(), src, n);   // write in place
//     pub.send(std::move(sample));
//   }
//
// Guarantees: records are published whole (the consumer never sees a partial record, even if
// the producer dies mid-write); unread data is never overwritten (loan waits for space or
// times out); a consumer that is gone is reported as IpcErrc::peer_gone, never waited on
// forever. Thread-compatible: one thread at a time per Publisher; at most one outstanding loan.
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

class Publisher;

// A loaned, not yet sent record. Move-only; destroying it unsent returns the loan.
class SampleMut {
 public:
  SampleMut(SampleMut&& other) noexcept;
  SampleMut& operator=(SampleMut&& other) noexcept;
  SampleMut(const SampleMut&) = delete;
  SampleMut& operator=(const SampleMut&) = delete;
  ~SampleMut();

  // The loaned bytes (exactly the size asked for), writable in place in shared memory.
  std::span<std::byte> payload_mut() { return {data_, size_}; }
  // Sends only the first `n` bytes (n <= loaned size); the rest of the loan is given back.
  void truncate(std::uint64_t n) { size_ = n < size_ ? n : size_; }
  std::uint64_t size() const { return size_; }

 private:
  friend class Publisher;
  SampleMut(detail::Channel* ch, std::byte* data, std::uint64_t size) : ch_(ch), data_(data), size_(size) {}
  detail::Channel* ch_ = nullptr;
  std::byte* data_ = nullptr;
  std::uint64_t size_ = 0;
};

class Publisher {
 public:
  // Creates (or replaces) <dir>/<name> with a ring of `capacity` bytes (rounded up to 8),
  // creating `dir` if needed, and attaches as its producer.
  static tl::expected<Publisher, IpcError> create(const std::filesystem::path& dir, std::string_view name,
                                                  std::uint64_t capacity, ChannelOptions options = {});
  // Attaches as producer to an existing segment, waiting up to `timeout` for it to appear.
  static tl::expected<Publisher, IpcError> open(const std::filesystem::path& dir, std::string_view name,
                                                std::chrono::nanoseconds timeout,
                                                ChannelOptions options = {});

  Publisher(Publisher&&) noexcept;
  Publisher& operator=(Publisher&&) noexcept;
  ~Publisher();  // closes: the consumer drains what was sent, then sees peer_gone

  // Reserves `size` contiguous bytes. Empty optional: no space before the timeout.
  tl::expected<std::optional<SampleMut>, IpcError> loan(std::uint64_t size, std::chrono::nanoseconds timeout);
  // Publishes the sample (its possibly truncated size) and wakes a sleeping consumer.
  tl::expected<void, IpcError> send(SampleMut&& sample);
  // loan + copy + send. Returns false when there was no space before the timeout.
  tl::expected<bool, IpcError> send_copy(std::span<const std::byte> data, std::chrono::nanoseconds timeout);

  std::uint64_t capacity() const;
  std::uint64_t max_record() const;  // largest size loan() accepts
  PeerState peer_state() const;
  void heartbeat();
  // Marks this side closed; further calls fail with IpcErrc::state. Idempotent.
  void close();

 private:
  explicit Publisher(std::unique_ptr<detail::Channel> ch);
  std::unique_ptr<detail::Channel> ch_;
};

}  // namespace rm::ipc
