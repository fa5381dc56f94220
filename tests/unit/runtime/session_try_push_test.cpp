// Session::try_push: the non-blocking push an event loop (the streaming server's io thread)
// feeds a session with; push()'s backpressure becomes a false the caller acts on.
#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <string>

#include "runtime/executor.hpp"
#include "test_nodes.hpp"

namespace rm::runtime {
namespace {

class TryPush : public testing::WithTestNodes {
 protected:
  // Outputs per node id, in arrival order.
  std::mutex mutex;
  std::map<std::string, std::vector<std::string>> outputs;
  SessionOptions options(const std::string& id, std::size_t capacity) {
    return {.session_id = id + "-" + make_session_id(),
            .queue_capacity = capacity,
            .on_output = [this](const std::string& node, const DataPtr& d) {
              std::lock_guard lock(mutex);
              outputs[node].push_back(d->text()->text);
            }};
  }
};

// The node is still in initialize() (1 s), so nothing leaves its queue while the test pushes.
constexpr const char* kStartsSlowly = R"(version: v1
nodes:
  - {id: slow, node_type: TestSlow, params: {init_ms: 1000, delay_ms: 0}}
connections: [{from: in, to: slow}]
)";

TEST_F(TryPush, a_full_queue_makes_try_push_return_false_and_take_nothing) {
  auto ex = make(kStartsSlowly);
  auto s = ex.start_session(options("full", 4));
  ASSERT_TRUE(s);
  for (int i = 0; i < 4; ++i) {
    auto r = (*s)->try_push("in", RuntimeData::make_text(std::to_string(i), i));
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_TRUE(*r) << "item " << i;
  }
  auto refused = (*s)->try_push("in", RuntimeData::make_text("refused", 4));
  ASSERT_TRUE(refused);
  EXPECT_FALSE(*refused);
  // push() takes the same item once the node drains its queue.
  ASSERT_TRUE((*s)->push("in", RuntimeData::make_text("4", 4)));
  (*s)->close_all_inputs();
  ASSERT_TRUE((*s)->wait());
  EXPECT_EQ(outputs["slow"], (std::vector<std::string>{"0", "1", "2", "3", "4"}));
}

TEST_F(TryPush, fan_out_takes_an_item_into_every_branch_or_into_none) {
  auto ex = make(R"(version: v1
nodes:
  - {id: slow, node_type: TestSlow, params: {init_ms: 1000, delay_ms: 0}}
  - {id: quick, node_type: TestRelay}
connections: [{from: in, to: slow}, {from: in, to: quick}]
)");
  auto s = ex.start_session(options("fanout", 3));
  ASSERT_TRUE(s);
  int taken = 0, refused = 0;
  for (int i = 0; i < 6; ++i) {
    auto r = (*s)->try_push("in", RuntimeData::make_text(std::to_string(i), i));
    ASSERT_TRUE(r) << r.error().message;
    (*r ? taken : refused)++;
  }
  EXPECT_EQ(taken, 3);
  EXPECT_EQ(refused, 3);
  (*s)->close_all_inputs();
  ASSERT_TRUE((*s)->wait());
  // The quick branch had room for every item, yet holds exactly what the slow one took.
  const std::vector<std::string> first3{"0", "1", "2"};
  EXPECT_EQ(outputs["slow"], first3);
  EXPECT_EQ(outputs["quick"], first3);
}

TEST_F(TryPush, unknown_closed_and_cancelled_inputs_are_errors_naming_the_problem) {
  auto ex = make("version: v1\nnodes: [{id: a, node_type: TestRelay}]\nconnections: [{from: in, to: a}]\n");
  auto s = ex.start_session(options("errors", 8));
  ASSERT_TRUE(s);
  auto unknown = (*s)->try_push("video", RuntimeData::make_text("x", 0));
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, NodeErrorCode::invalid_input);
  EXPECT_NE(unknown.error().message.find("unknown pipeline input 'video' (inputs: in)"), std::string::npos);
  // End-of-stream is close_input()'s (which may block): try_push leaves it alone.
  auto eos = (*s)->try_push("in", RuntimeData::make_end_of_stream());
  ASSERT_TRUE(eos);
  EXPECT_FALSE(*eos);
  ASSERT_TRUE((*s)->close_input("in"));
  auto closed = (*s)->try_push("in", RuntimeData::make_text("late", 1));
  ASSERT_FALSE(closed);
  EXPECT_NE(closed.error().message.find("pipeline input 'in' is already closed"), std::string::npos);
  ASSERT_TRUE((*s)->wait());

  auto c = ex.start_session(options("cancelled", 8));
  ASSERT_TRUE(c);
  (*c)->cancel();
  auto after = (*c)->try_push("in", RuntimeData::make_text("x", 0));
  ASSERT_FALSE(after);
  EXPECT_EQ(after.error().code, NodeErrorCode::cancelled);
}

}  // namespace
}  // namespace rm::runtime
