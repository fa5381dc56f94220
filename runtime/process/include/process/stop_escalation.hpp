#pragma once
// Stopping a Python runner, the same way wherever it runs (a host process, a runner forked by a
// shared container's runner server): the rm.stop request, then SIGTERM, then SIGKILL, each
// given `grace` to take effect. Every escalation is logged naming the node.
#include <chrono>
#include <functional>
#include <string_view>

namespace rm::process {

struct StopActions {
  std::function<void()> request_stop;                        // sends rm.stop
  std::function<bool(int sig)> signal;                       // false when it cannot be sent
  std::function<bool(std::chrono::milliseconds)> wait_exit;  // true once the runner is gone
};

enum class StopStep { requested, terminated, killed, unstoppable };

// `who` names the node in log lines ("node asr").
StopStep escalate_stop(const StopActions& a, std::chrono::milliseconds grace, std::string_view who);

}  // namespace rm::process
