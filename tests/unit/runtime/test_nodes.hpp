#pragma once
// Small test-only node types (registered as Test*), real nodes that let executor tests
// control timing and failures.
#include <atomic>
#include <string>

namespace rm::runtime::testing {

// Counters shared by every instance, keyed by session: how many nodes were closed.
int closed_count(const std::string& session_id);
void register_test_nodes();

}  // namespace rm::runtime::testing
