#pragma once
// The one implementation behind Publisher, Subscriber and the C ABI: a mapped segment plus
// the role-specific ring operations.
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

#include "ipc/channel_options.hpp"
#include "ipc/ipc_error.hpp"
#include "segment_layout.hpp"

namespace rm::ipc::detail {

enum class Role { producer, consumer };

std::uint64_t monotonic_ns();

class Channel {
 public:
  static tl::expected<std::unique_ptr<Channel>, IpcError> create(const std::filesystem::path& dir,
                                                                 std::string_view name,
                                                                 std::uint64_t capacity, Role role,
                                                                 const ChannelOptions& options);
  static tl::expected<std::unique_ptr<Channel>, IpcError> open(const std::filesystem::path& dir,
                                                               std::string_view name, Role role,
                                                               std::chrono::nanoseconds timeout,
                                                               const ChannelOptions& options);
  static tl::expected<void, IpcError> unlink(const std::filesystem::path& dir, std::string_view name);

  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;
  ~Channel();

  // Producer. loan: pointer to `size` writable bytes, or nullopt when no space in time.
  tl::expected<std::optional<std::byte*>, IpcError> loan(std::uint64_t size,
                                                         std::chrono::nanoseconds timeout);
  tl::expected<void, IpcError> commit(std::uint64_t used);
  void cancel_loan();
  bool loan_outstanding() const { return loan_size_.has_value(); }

  // Consumer. receive: the next record in place, or nullopt when nothing arrived in time.
  tl::expected<std::optional<std::span<const std::byte>>, IpcError> receive(std::chrono::nanoseconds timeout);
  void release();
  bool sample_outstanding() const { return sample_span_.has_value(); }

  // Consumer: how often this endpoint has gone to sleep on its futex (diagnostics and tests).
  std::uint64_t futex_waits() const { return futex_waits_.load(std::memory_order_acquire); }
  // The mapped segment header, as both sides see it (diagnostics and tests).
  const SegmentHeader& header() const { return *hdr_; }

  void heartbeat();
  PeerState peer_state() const;
  void close();
  bool closed() const { return closed_; }

  std::uint64_t capacity() const { return cap_; }
  std::uint64_t max_record() const { return cap_ - kRecordHeaderSize; }
  Role role() const { return role_; }
  // "<dir>/<name>" for messages.
  const std::string& path() const { return path_; }

 private:
  Channel() = default;
  tl::expected<void, IpcError> attach(Role role);
  SideBlock& me() const;
  SideBlock& peer() const;
  std::byte* ring() const { return base_ + kHeaderSize; }
  // Waits until ready() or timeout or peer gone: 1 ready, 0 timed out, -1 peer gone.
  template <typename Ready>
  int wait_for(Ready&& ready, std::chrono::nanoseconds timeout);
  void wake_peer();
  void open_loan();
  void close_loan();
  // Consumer: true if the producer's latest loan was made on the CPU this thread runs on.
  bool shares_cpu_with_producer() const;
  // Consumer: true while the producer fills a loan whose spin budget is not spent yet.
  bool spin_for_open_loan(std::uint32_t& spent_gen, std::uint64_t& loan_spin_end, std::uint64_t now) const;
  IpcError error(IpcErrc code, const std::string& what) const;

  std::byte* base_ = nullptr;
  std::uint64_t map_size_ = 0;
  SegmentHeader* hdr_ = nullptr;
  std::uint64_t cap_ = 0;
  Role role_ = Role::producer;
  ChannelOptions options_;
  std::string path_;
  int owner_pid_ = 0;
  std::uint64_t my_pid_ns_ = 0;
  bool closed_ = false;
  bool registered_ = false;
  // Producer: bytes reserved by the outstanding loan (record span) and its ring offset.
  std::optional<std::uint64_t> loan_size_;
  std::uint64_t loan_offset_ = 0;
  // Consumer: the outstanding sample and its record span.
  std::optional<std::span<const std::byte>> sample_span_;
  std::uint64_t sample_record_ = 0;
  std::uint32_t loan_gen_ = 0;
  std::atomic<std::uint64_t> futex_waits_{0};
};

}  // namespace rm::ipc::detail
