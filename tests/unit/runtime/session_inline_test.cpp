// SessionOptions::inline_nodes: a pipeline of native nodes runs on the pushing thread, with the
// same order, end-of-stream, error and close guarantees as with a thread per node.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "runtime/executor.hpp"
#include "test_nodes.hpp"

namespace rm::runtime {
namespace {

class Inline : public testing::WithTestNodes {
 protected:
  std::mutex mutex;
  std::map<std::string, std::vector<std::string>> outputs;
  std::atomic<int> off_thread{0};  // outputs delivered on another thread than the pusher's
  std::thread::id pusher = std::this_thread::get_id();

  SessionOptions options(const std::string& id) {
    return {.session_id = id + "-" + make_session_id(),
            .on_output =
                [this](const std::string& node, const DataPtr& d) {
                  if (std::this_thread::get_id() != pusher) ++off_thread;
                  std::lock_guard lock(mutex);
                  outputs[node].push_back(d->text()->text);
                },
            .inline_nodes = true};
  }
};

TEST_F(Inline, a_chain_runs_on_the_pushing_thread_in_order_and_closes_every_node) {
  auto ex = make(R"(version: v1
nodes:
  - {id: a, node_type: TestRelay}
  - {id: b, node_type: TestRelay, params: {tag: "+b"}}
  - {id: c, node_type: TestRelay, params: {tag: "+c"}}
connections: [{from: in, to: a}, {from: a, to: b}, {from: b, to: c}]
)");
  auto s = ex.start_session(options("chain"));
  ASSERT_TRUE(s);
  EXPECT_TRUE((*s)->runs_inline());
  ASSERT_TRUE((*s)->wait_ready());
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE((*s)->push("in", RuntimeData::make_text(std::to_string(i), i)));
    // push() returns once the output was delivered.
    std::lock_guard lock(mutex);
    ASSERT_EQ(outputs["c"].size(), static_cast<std::size_t>(i + 1));
    EXPECT_EQ(outputs["c"].back(), std::to_string(i) + "+b+c");
  }
  auto taken = (*s)->try_push("in", RuntimeData::make_text("200", 200));
  ASSERT_TRUE(taken);
  EXPECT_TRUE(*taken);
  EXPECT_EQ(outputs["c"].size(), 201u);
  (*s)->close_all_inputs();
  EXPECT_TRUE((*s)->done());
  ASSERT_TRUE((*s)->wait());
  EXPECT_EQ(off_thread.load(), 0);
  EXPECT_EQ(testing::closed_count((*s)->id()), 3);
}

TEST_F(Inline, fan_in_flushes_only_after_end_of_stream_on_every_input) {
  auto ex = make(R"(version: v1
nodes:
  - {id: left, node_type: TestRelay}
  - {id: right, node_type: TestRelay}
  - {id: count, node_type: TestCounter}
connections: [{from: mic, to: left}, {from: file, to: right}, {from: left, to: count}, {from: right, to: count}]
)");
  auto s = ex.start_session(options("fanin"));
  ASSERT_TRUE(s);
  ASSERT_TRUE((*s)->runs_inline());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE((*s)->push("mic", RuntimeData::make_text("m", i)));
  for (int i = 0; i < 7; ++i) ASSERT_TRUE((*s)->push("file", RuntimeData::make_text("f", i)));
  ASSERT_TRUE((*s)->close_input("mic"));
  EXPECT_FALSE((*s)->done());
  EXPECT_TRUE(outputs["count"].empty());
  ASSERT_TRUE((*s)->close_input("file"));
  ASSERT_TRUE((*s)->wait());
  EXPECT_EQ(outputs["count"], std::vector<std::string>{"12"});
  EXPECT_EQ(testing::closed_count((*s)->id()), 3);
}

TEST_F(Inline, a_failing_node_is_named_ends_the_session_and_every_node_is_closed_once) {
  auto ex = make(R"(version: v1
nodes:
  - {id: first, node_type: TestRelay}
  - {id: breaker, node_type: TestFail, params: {fail_at: 3}}
  - {id: last, node_type: TestRelay}
connections: [{from: in, to: first}, {from: first, to: breaker}, {from: breaker, to: last}]
)");
  auto s = ex.start_session(options("fail"));
  ASSERT_TRUE(s);
  ASSERT_TRUE((*s)->push("in", RuntimeData::make_text("0", 0)));
  ASSERT_TRUE((*s)->push("in", RuntimeData::make_text("1", 1)));
  auto third = (*s)->push("in", RuntimeData::make_text("2", 2));
  ASSERT_FALSE(third);
  EXPECT_EQ(third.error().node_id, "breaker");
  EXPECT_NE(third.error().message.find("node breaker: injected failure"), std::string::npos)
      << third.error().message;
  auto later = (*s)->try_push("in", RuntimeData::make_text("3", 3));
  ASSERT_FALSE(later);
  EXPECT_EQ(later.error().node_id, "breaker");
  auto st = (*s)->wait();
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, NodeErrorCode::process_failed);
  EXPECT_EQ(outputs["last"], (std::vector<std::string>{"0", "1"}));
  EXPECT_EQ(testing::closed_count((*s)->id()), 3);
}

TEST_F(Inline, a_node_that_fails_to_start_fails_the_session_before_any_input) {
  auto ex = make(R"(version: v1
nodes:
  - {id: ok, node_type: TestRelay}
  - {id: broken, node_type: TestFail, params: {fail_at: 0}}
connections: [{from: in, to: ok}, {from: ok, to: broken}]
)");
  auto s = ex.start_session(options("init"));
  ASSERT_TRUE(s);
  auto ready = (*s)->wait_ready();
  ASSERT_FALSE(ready);
  EXPECT_EQ(ready.error().node_id, "broken");
  EXPECT_NE(ready.error().message.find("injected start failure"), std::string::npos);
  EXPECT_FALSE((*s)->push("in", RuntimeData::make_text("x", 0)));
  EXPECT_FALSE((*s)->wait());
  EXPECT_TRUE(outputs.empty());
  EXPECT_EQ(testing::closed_count((*s)->id()), 2);
}

TEST_F(Inline, try_push_is_false_while_another_thread_runs_the_nodes) {
  auto ex = make("version: v1\nnodes: [{id: a, node_type: TestRelay}]\nconnections: [{from: in, to: a}]\n");
  // The first output is held in on_output until the test lets it go: the other thread is
  // inside the graph meanwhile.
  std::mutex m;
  std::condition_variable cv;
  bool delivering = false, release = false;
  std::vector<std::string> got;
  auto o = options("busy");
  o.on_output = [&](const std::string&, const DataPtr& d) {
    std::unique_lock lock(m);
    got.push_back(d->text()->text);
    delivering = true;
    cv.notify_all();
    cv.wait(lock, [&] { return release; });
  };
  auto s = ex.start_session(o);
  ASSERT_TRUE(s);
  ASSERT_TRUE((*s)->runs_inline());
  std::thread other([&] { EXPECT_TRUE((*s)->push("in", RuntimeData::make_text("first", 0))); });
  {
    std::unique_lock lock(m);
    cv.wait(lock, [&] { return delivering; });
  }
  auto refused = (*s)->try_push("in", RuntimeData::make_text("refused", 1));
  ASSERT_TRUE(refused);
  EXPECT_FALSE(*refused);
  {
    std::lock_guard lock(m);
    release = true;
  }
  cv.notify_all();
  other.join();
  auto taken = (*s)->try_push("in", RuntimeData::make_text("second", 2));
  ASSERT_TRUE(taken);
  EXPECT_TRUE(*taken);
  (*s)->close_all_inputs();
  ASSERT_TRUE((*s)->wait());
  EXPECT_EQ(got, (std::vector<std::string>{"first", "second"}));
}

TEST_F(Inline, cancel_while_a_push_runs_ends_the_session_and_closes_the_nodes) {
  auto ex = make(R"(version: v1
nodes:
  - {id: slow, node_type: TestSlow, params: {delay_ms: 200}}
  - {id: after, node_type: TestRelay}
connections: [{from: in, to: slow}, {from: slow, to: after}]
)");
  auto s = ex.start_session(options("cancel"));
  ASSERT_TRUE(s);
  std::thread pusher_thread([&] { (void)(*s)->push("in", RuntimeData::make_text("x", 0)); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  (*s)->cancel();
  pusher_thread.join();
  auto st = (*s)->wait();
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, NodeErrorCode::cancelled);
  // The slow node's emit saw the cancellation: nothing reached the next node.
  EXPECT_TRUE(outputs["after"].empty());
  EXPECT_EQ(testing::closed_count((*s)->id()), 2);
  EXPECT_FALSE((*s)->push("in", RuntimeData::make_text("late", 1)));
}

TEST_F(Inline, a_generator_or_a_python_node_keeps_the_threads) {
  // `tick` has no input (a generator): it needs its own thread, so the session keeps them all.
  auto ex = make(R"(version: v1
nodes:
  - {id: a, node_type: TestRelay}
  - {id: tick, node_type: TestCounter}
connections: [{from: in, to: a}]
)");
  auto s = ex.start_session(options("gen"));
  ASSERT_TRUE(s);
  EXPECT_FALSE((*s)->runs_inline());
  ASSERT_TRUE((*s)->push("in", RuntimeData::make_text("x", 0)));
  (*s)->close_all_inputs();
  ASSERT_TRUE((*s)->wait());
  EXPECT_EQ(outputs["a"], std::vector<std::string>{"x"});
  EXPECT_EQ(outputs["tick"], std::vector<std::string>{"0"});
  EXPECT_GT(off_thread.load(), 0);
}

}  // namespace
}  // namespace rm::runtime
