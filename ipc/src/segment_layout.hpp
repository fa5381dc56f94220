#pragma once
// On-disk (in-shm) layout of a channel segment. Documented in docs/ipc.md; any change to
// these structs must bump kLayoutVersion, except a new field in former padding whose zero
// value means the old behaviour (so an older peer, which leaves it zero, still interoperates).
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace rm::ipc::detail {

inline constexpr std::uint64_t kMagic = 0x4745534350494D52ULL;  // "RMIPCSEG" little endian
inline constexpr std::uint32_t kLayoutVersion = 1;
inline constexpr std::uint64_t kHeaderSize = 4096;  // data starts page aligned
inline constexpr std::uint64_t kRecordAlign = 8;
inline constexpr std::uint64_t kMinCapacity = 64;
// Record sizes are u32 in the framing, so the ring cannot be larger than this.
inline constexpr std::uint64_t kMaxCapacity = 0xFFFFFFF8ULL;

// One per role, on its own cache lines so the producer's head and the consumer's tail do not
// share a line.
struct alignas(64) SideBlock {
  std::atomic<std::uint64_t> pos;           // producer: head (bytes written), consumer: tail
  std::atomic<std::int32_t> pid;            // 0 = never attached
  std::atomic<std::uint32_t> closed;        // 1 after close()
  std::atomic<std::uint64_t> heartbeat_ns;  // CLOCK_MONOTONIC
  std::atomic<std::uint64_t> pid_ns;        // inode of /proc/self/ns/pid of the attached process
  std::atomic<std::uint32_t> waiting;       // 1 while this side sleeps (or is about to) on futex
  std::atomic<std::uint32_t> futex;         // bumped by the other side to wake this side
  // Producer block only (offset 40 in the block, former padding): 0 = no loan outstanding,
  // otherwise the generation of the open loan (never 0). While it is set the consumer keeps
  // spinning (up to ChannelOptions::loan_spin per loan) instead of sleeping on the futex, so a
  // record that takes long to fill is seen as soon as it is sent.
  std::atomic<std::uint32_t> loan_open;
  // Consumer block only (offset 44, former padding): 1 if this consumer spins on open loans
  // (loan_spin > 0), so the producer wakes it when it opens a loan; 0 = old behaviour.
  std::atomic<std::uint32_t> spins_on_loans;
  // Producer block only (offset 48, former padding): 1 + the CPU the producer loaned on (0 =
  // unknown, e.g. an older library). A consumer on that same CPU does not spin on the loan.
  std::atomic<std::uint32_t> loan_cpu;
};
static_assert(sizeof(SideBlock) == 64, "a side block is one cache line");

struct SegmentHeader {
  std::uint64_t magic;
  std::uint32_t layout_version;
  std::uint32_t header_size;
  std::uint64_t capacity;  // ring bytes after the header, multiple of kRecordAlign
  std::uint64_t created_ns;
  alignas(64) SideBlock producer;
  alignas(64) SideBlock consumer;
};
static_assert(sizeof(SegmentHeader) <= kHeaderSize);
static_assert(offsetof(SegmentHeader, producer) == 64 && offsetof(SideBlock, loan_open) == 40 &&
                  offsetof(SideBlock, spins_on_loans) == 44 && offsetof(SideBlock, loan_cpu) == 48,
              "docs/ipc.md documents these offsets");
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);
static_assert(sizeof(std::atomic<std::uint32_t>) == 4, "futex words must be 32-bit");

// Every record starts with this, at an 8-byte aligned ring offset. A record never wraps: when
// the space to the end of the ring is too small, a wrap record fills it and the data record
// starts at offset 0.
struct RecordHeader {
  std::uint32_t size;  // data: payload bytes; wrap: bytes to the end of the ring (incl. header)
  std::uint32_t kind;
};
inline constexpr std::uint32_t kRecordData = 0x44415441;  // "ATAD"
inline constexpr std::uint32_t kRecordWrap = 0x50415257;  // "WRAP"
inline constexpr std::uint64_t kRecordHeaderSize = sizeof(RecordHeader);

constexpr std::uint64_t align_up(std::uint64_t v) {
  return (v + kRecordAlign - 1) & ~(kRecordAlign - 1);
}
constexpr std::uint64_t record_span(std::uint64_t payload) {
  return align_up(kRecordHeaderSize + payload);
}

}  // namespace rm::ipc::detail
