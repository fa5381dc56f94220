#pragma once
// Graceful shutdown on SIGINT/SIGTERM for every app.
//
// Guarantees: `install()` blocks SIGINT and SIGTERM in the calling thread (and so in every
// thread created after it) and starts one watcher thread that receives them with sigwait.
// On the first signal the flag is set, callbacks run on the watcher thread in registration
// order, and then waiters wake up (so a waiter sees every callback's effect). A second signal while shutting
// down exits the process at once with status 130, so a stuck shutdown can always be interrupted. Call
// `install()` early in main(), before any other thread is started.
#include <chrono>
#include <functional>

namespace rm::core {

class Shutdown {
 public:
  static void install();
  // Registers a callback to run once when shutdown is requested (immediately if it already was).
  static void on_shutdown(std::function<void()> callback);
  static bool requested();
  // Requests shutdown from inside the program (same effect as a signal).
  static void request();
  static void wait();
  // True if shutdown was requested within the timeout.
  static bool wait_for(std::chrono::milliseconds timeout);
  // Signal number that triggered shutdown, 0 if requested programmatically or not at all.
  static int signal_number();
};

}  // namespace rm::core
