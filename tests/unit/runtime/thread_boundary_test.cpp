#include "runtime/thread_boundary.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <thread>
#include <vector>

namespace rm::runtime {
namespace {

std::vector<NodeError> run_on_a_thread(std::function<void()> body) {
  std::vector<NodeError> got;
  std::thread t(
      [&] { guard_thread("asr", "process supervisor", body, [&](NodeError e) { got.push_back(e); }); });
  t.join();
  return got;
}

TEST(GuardThread, an_exception_becomes_one_error_naming_the_node_and_the_thread) {
  auto got = run_on_a_thread([] { throw std::runtime_error("pipe buffer exhausted"); });
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].code, NodeErrorCode::remote_failed);
  EXPECT_EQ(got[0].message, "node asr: the process supervisor thread failed: pipe buffer exhausted");
}

TEST(GuardThread, a_value_that_is_not_a_std_exception_is_caught_too) {
  auto got = run_on_a_thread([] { throw 42; });
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].message,
            "node asr: the process supervisor thread failed: an exception that is not a std::exception");
}

TEST(GuardThread, a_body_that_returns_reports_nothing) {
  int ran = 0;
  auto got = run_on_a_thread([&] { ++ran; });
  EXPECT_EQ(ran, 1);
  EXPECT_TRUE(got.empty());
}

TEST(GuardThread, an_error_handler_that_throws_does_not_end_the_program) {
  int calls = 0;
  std::thread t([&] {
    guard_thread(
        "asr", "container exit watcher", [] { throw std::runtime_error("boom"); },
        [&](NodeError) {
          ++calls;
          throw std::runtime_error("handler broke");
        });
  });
  t.join();
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace rm::runtime
