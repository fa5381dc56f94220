#pragma once
// Small test-only node types (registered as Test*), real nodes that let executor tests
// control timing and failures.
#include <atomic>
#include <string>

#include <gtest/gtest.h>

#include "runtime/executor.hpp"

namespace rm::runtime::testing {

// Counters shared by every instance, keyed by session: how many nodes were closed.
int closed_count(const std::string& session_id);
void register_test_nodes();

// A fixture with the test nodes registered; make() builds an executor from manifest text
// (throws naming the manifest error).
class WithTestNodes : public ::testing::Test {
 protected:
  void SetUp() override { register_test_nodes(); }
  static PipelineExecutor make(const std::string& yaml);
};

}  // namespace rm::runtime::testing
