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
  // it already sleeps. Off (0) by default: it pays off only when the consumer has a core of
  // its own; on an oversubscribed machine the spinning consumer delays the fill it waits for
  // (docs/benchmarks.md, "Shared-memory IPC: spinning on open loans"). Try 2 ms.
  std::chrono::nanoseconds loan_spin{0};
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
