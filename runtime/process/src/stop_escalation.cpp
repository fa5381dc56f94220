#include "process/stop_escalation.hpp"

#include <signal.h>

#include "core/log.hpp"

namespace rm::process {

StopStep escalate_stop(const StopActions& a, std::chrono::milliseconds grace, std::string_view who) {
  auto log = core::logger("process");
  if (a.request_stop) a.request_stop();
  if (a.wait_exit(grace)) return StopStep::requested;
  log->warn("{}: runner did not stop within {} ms of the stop request; SIGTERM", who, grace.count());
  if (!a.signal(SIGTERM)) return a.wait_exit(grace) ? StopStep::requested : StopStep::unstoppable;
  if (a.wait_exit(grace)) return StopStep::terminated;
  log->warn("{}: runner ignored SIGTERM; SIGKILL", who);
  if (a.signal(SIGKILL) && a.wait_exit(grace)) return StopStep::killed;
  return StopStep::unstoppable;
}

}  // namespace rm::process
