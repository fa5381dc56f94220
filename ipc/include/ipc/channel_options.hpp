#pragma once
// Tuning knobs of a channel endpoint: how long to spin before sleeping, when a silent peer
// counts as gone. Each endpoint has its own options; they are not stored in the segment.
#include <chrono>
#include <cstdint>

namespace rm::ipc {

// Timeouts for loan/receive: 0 = do not wait; kForever = wait until data/space or the peer
// goes away (a dead peer is still reported, never waited on forever).
inline constexpr std::chrono::nanoseconds kForever = std::chrono::nanoseconds::max();

struct ChannelOptions {
  // Busy-poll this long before sleeping on the futex. The spin keeps latency sub-microsecond
  // while traffic flows; after it the waiter sleeps, so an idle channel costs no CPU.
  std::chrono::nanoseconds spin = std::chrono::microseconds(10);
  // A consumer keeps spinning past `spin` while the producer has a loan open (it is filling a
  // record), at most this long per loan, then sleeps as usual; the producer's loan wakes it if
  // it already sleeps. Without it a record that takes longer than `spin` to fill (1 MB: ~35 us)
  // reaches a sleeping consumer and pays a futex wake-up (~25 us on the reference VM); with it
  // 1 MB arrives like 1 KB (docs/benchmarks.md, "Shared-memory IPC"). An idle channel (no loan
  // open) still sleeps after `spin`; a loan held without sending costs at most this much CPU.
  // 0 turns it off.
  std::chrono::nanoseconds loan_spin = std::chrono::milliseconds(1);
  // A consumer does not spin (neither `spin` nor `loan_spin`) while the producer's latest loan
  // was made on the CPU the consumer runs on: sharing a core, the spin only takes it from the
  // producer it waits for, and a sleeping consumer is woken straight onto the core by the send.
  // true spins regardless of CPUs (tests).
  bool spin_on_shared_cpu = false;
  // A peer whose heartbeat is older than this counts as gone, even if its pid looks alive
  // (a peer in another pid namespace cannot be checked by pid). 0 disables the rule.
  // Heartbeats are stamped by a per-process background thread every heartbeat_period, so a
  // busy or idle but living process never goes stale.
  std::chrono::nanoseconds peer_timeout = std::chrono::seconds(2);
  // A sleeping waiter wakes at least this often to check the peer's liveness.
  std::chrono::nanoseconds poll_slice = std::chrono::milliseconds(20);

  // Defaults overridden by RM_IPC_SPIN_US, RM_IPC_LOAN_SPIN_US, RM_IPC_PEER_TIMEOUT_MS (0 disables) when set.
  static ChannelOptions from_env();
};

// How this endpoint sees the other side.
enum class PeerState : std::uint8_t {
  not_attached,  // nobody attached to the other role yet
  alive,
  gone,  // closed, or its process died, or its heartbeat is stale
};

}  // namespace rm::ipc
