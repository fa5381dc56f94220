#include "core/shutdown.hpp"

#include <atomic>
#include <csignal>

#include <gtest/gtest.h>

using namespace rm::core;

TEST(Shutdown, sigterm_sets_the_flag_runs_callbacks_and_wakes_waiters) {
  Shutdown::install();
  std::atomic<int> calls{0};
  Shutdown::on_shutdown([&] { ++calls; });
  EXPECT_FALSE(Shutdown::wait_for(std::chrono::milliseconds(10)));
  ::kill(::getpid(), SIGTERM);
  EXPECT_TRUE(Shutdown::wait_for(std::chrono::seconds(5)));
  EXPECT_TRUE(Shutdown::requested());
  EXPECT_EQ(Shutdown::signal_number(), SIGTERM);
  EXPECT_EQ(calls.load(), 1);
  // A callback registered after the fact runs at once.
  Shutdown::on_shutdown([&] { ++calls; });
  EXPECT_EQ(calls.load(), 2);
}
