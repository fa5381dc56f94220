// The catch boundary of every telemetry thread (store writer and syncer, segment pre-creation,
// checkpoint writer, follower, collector probe, collector and gateway loops): an exception ends
// the process with one critical line naming the thread and exit status 70, never a silent
// std::terminate; a body that returns is left alone.
#include "thread_boundary.hpp"

#include <stdexcept>
#include <thread>

#include <gtest/gtest.h>

using rm::telemetry::detail::guard_thread;

namespace {

void run_guarded(const char* name, void (*body)()) {
  std::thread t([&] { guard_thread(name, body); });
  t.join();
}

}  // namespace

TEST(TelemetryThreadBoundary, an_exception_logs_the_threads_name_and_the_cause_and_exits_with_status_70) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(run_guarded("checkpoint writer", [] { throw std::runtime_error("rename failed: EIO"); }),
              ::testing::ExitedWithCode(70),
              "checkpoint writer thread failed: rename failed: EIO; exiting with status 70");
}

TEST(TelemetryThreadBoundary, a_value_that_is_not_a_std_exception_exits_with_status_70_too) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(run_guarded("follower", [] { throw 42; }), ::testing::ExitedWithCode(70),
              "follower thread failed with a non-standard exception; exiting with status 70");
}

TEST(TelemetryThreadBoundary, a_body_that_returns_leaves_the_process_running) {
  static int ran = 0;
  run_guarded("store syncer", [] { ++ran; });
  EXPECT_EQ(ran, 1);
}
