#include "runtime/executor.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "runtime/node_provider.hpp"
#include "test_nodes.hpp"

namespace rm::runtime {
namespace {

class Executor : public testing::WithTestNodes {
 protected:
  static std::string unique(const std::string& prefix) { return prefix + "-" + make_session_id(); }
};

std::vector<std::string> texts(const std::vector<Output>& outs, const std::string& node = "") {
  std::vector<std::string> v;
  for (const auto& o : outs)
    if ((node.empty() || o.node_id == node) && o.data->text()) v.push_back(o.data->text()->text);
  return v;
}

// Pushes from a helper thread while the test thread pulls outputs, as the session header asks.
std::vector<Output> run_pull(Session& s, const std::string& input, const std::vector<DataPtr>& items) {
  std::thread feeder([&] {
    for (const auto& d : items)
      if (!s.push(input, d)) break;
    (void)s.close_input(input);
  });
  std::vector<Output> outs;
  while (auto o = s.next_output()) outs.push_back(std::move(*o));
  feeder.join();
  return outs;
}

TEST_F(Executor, chain_delivers_every_item_in_order_then_ends) {
  auto ex = make(R"(version: v1
nodes:
  - {id: a, node_type: TestRelay}
  - {id: b, node_type: TestRelay, params: {tag: "+b"}}
  - {id: c, node_type: TestRelay, params: {tag: "+c"}}
connections: [{from: in, to: a}, {from: a, to: b}, {from: b, to: c}]
)");
  auto s = ex.start_session({.session_id = unique("chain")});
  ASSERT_TRUE(s);
  std::vector<DataPtr> items;
  for (int i = 0; i < 500; ++i) items.push_back(RuntimeData::make_text(std::to_string(i), i));
  auto outs = run_pull(**s, "in", items);
  ASSERT_TRUE((*s)->wait());
  ASSERT_EQ(outs.size(), 500u);
  for (int i = 0; i < 500; ++i) {
    EXPECT_EQ(outs[i].node_id, "c");
    EXPECT_EQ(outs[i].data->text()->text, std::to_string(i) + "+b+c");
  }
  EXPECT_EQ(testing::closed_count((*s)->id()), 3);
}

TEST_F(Executor, fan_out_shares_the_same_value_and_fan_in_merges_all_of_it) {
  auto ex = make(R"(version: v1
nodes:
  - {id: split, node_type: TestRelay}
  - {id: left, node_type: TestRelay, is_output_node: true}
  - {id: right, node_type: TestRelay, is_output_node: true}
  - {id: join, node_type: TestCounter}
connections:
  - {from: in, to: split}
  - {from: split, to: left}
  - {from: split, to: right}
  - {from: left, to: join}
  - {from: right, to: join}
)");
  auto s = ex.start_session({.session_id = unique("fan")});
  ASSERT_TRUE(s);
  std::vector<DataPtr> items;
  for (int i = 0; i < 100; ++i) items.push_back(RuntimeData::make_text("x" + std::to_string(i), i));
  auto outs = run_pull(**s, "in", items);
  ASSERT_TRUE((*s)->wait());
  std::vector<const RuntimeData*> left, right;
  for (const auto& o : outs) {
    if (o.node_id == "left") left.push_back(o.data.get());
    if (o.node_id == "right") right.push_back(o.data.get());
  }
  ASSERT_EQ(left.size(), 100u);
  ASSERT_EQ(right.size(), 100u);
  for (int i = 0; i < 100; ++i) {
    // The very objects that were pushed: fan-out passes pointers, never copies.
    EXPECT_EQ(left[i], items[i].get());
    EXPECT_EQ(right[i], items[i].get());
  }
  EXPECT_EQ(texts(outs, "join"), std::vector<std::string>{"200"});
}

TEST_F(Executor, flush_runs_only_after_end_of_stream_on_every_input) {
  auto ex = make(R"(version: v1
nodes:
  - {id: count, node_type: TestCounter}
connections: [{from: mic, to: count}, {from: file, to: count}]
)");
  std::mutex m;
  std::vector<std::string> got;
  auto s =
      ex.start_session({.session_id = unique("eos"), .on_output = [&](const std::string&, const DataPtr& d) {
                          std::lock_guard lock(m);
                          got.push_back(d->text()->text);
                        }});
  ASSERT_TRUE(s);
  auto& session = **s;
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(session.push("mic", RuntimeData::make_text("m", i)));
  for (int i = 0; i < 7; ++i) ASSERT_TRUE(session.push("file", RuntimeData::make_text("f", i)));
  ASSERT_TRUE(session.close_input("mic"));
  ASSERT_TRUE(session.close_input("mic"));  // idempotent
  EXPECT_FALSE(session.push("mic", RuntimeData::make_text("late", 0)));
  // One input still open: the node cannot have flushed and the session cannot have ended.
  EXPECT_FALSE(session.done());
  ASSERT_TRUE(session.close_input("file"));
  ASSERT_TRUE(session.wait());
  EXPECT_EQ(got, std::vector<std::string>{"12"});
}

TEST_F(Executor, slow_consumer_bounds_memory_through_backpressure) {
  auto ex = make(R"(version: v1
nodes:
  - {id: fast, node_type: TestRelay}
  - {id: slow, node_type: TestSlow, params: {delay_ms: 1}}
connections: [{from: in, to: fast}, {from: fast, to: slow}]
)");
  std::atomic<int> alive{0}, peak{0};
  std::atomic<int> received{0};
  constexpr std::size_t kCap = 4;
  auto s = ex.start_session({.session_id = unique("bp"),
                             .queue_capacity = kCap,
                             .on_output = [&](const std::string&, const DataPtr&) { ++received; }});
  ASSERT_TRUE(s);
  constexpr int kItems = 300;
  static float sample = 0.f;
  for (int i = 0; i < kItems; ++i) {
    // Each value tracks its own lifetime: it is "alive" until its last reference goes away.
    int now = ++alive;
    int p = peak.load();
    while (now > p && !peak.compare_exchange_weak(p, now)) {
    }
    auto bytes = Bytes::borrow(&sample, sizeof(float), [&alive] { --alive; });
    ASSERT_TRUE((*s)->push("in", RuntimeData::make_audio(std::move(bytes), 16000, 1, i)));
  }
  (*s)->close_all_inputs();
  ASSERT_TRUE((*s)->wait());
  EXPECT_EQ(received.load(), kItems);
  EXPECT_EQ(alive.load(), 0);
  // Two queues of kCap, a batch in each node's hands and one value being pushed at each hop:
  // whatever the producer's speed, no more can exist at once.
  EXPECT_LE(peak.load(), static_cast<int>(4 * kCap + 3));
}

TEST_F(Executor, error_in_a_node_names_it_ends_the_session_and_closes_every_node) {
  auto ex = make(R"(version: v1
nodes:
  - {id: first, node_type: TestRelay}
  - {id: breaker, node_type: TestFail, params: {fail_at: 3}}
  - {id: last, node_type: TestRelay}
connections: [{from: in, to: first}, {from: first, to: breaker}, {from: breaker, to: last}]
)");
  auto id = unique("err");
  auto s = ex.start_session(
      {.session_id = id, .queue_capacity = 2, .on_output = [](const std::string&, const DataPtr&) {}});
  ASSERT_TRUE(s);
  // The producer keeps pushing; once the session failed push reports the node's error.
  SessionStatus last_push;
  for (int i = 0; i < 10000 && last_push; ++i) last_push = (*s)->push("in", RuntimeData::make_text("t", i));
  auto st = (*s)->wait();
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().node_id, "breaker");
  EXPECT_EQ(st.error().code, NodeErrorCode::process_failed);
  EXPECT_NE(st.error().message.find("node breaker: injected failure"), std::string::npos)
      << st.error().message;
  EXPECT_FALSE(last_push);
  EXPECT_EQ(testing::closed_count(id), 3);
}

TEST_F(Executor, wait_ready_returns_once_every_node_has_initialized) {
  auto ex = make(R"(version: v1
nodes:
  - {id: quick, node_type: TestRelay}
  - {id: slow_start, node_type: TestSlow, params: {init_ms: 300, delay_ms: 0}}
connections: [{from: in, to: quick}, {from: quick, to: slow_start}]
)");
  std::atomic<int> outputs{0};
  auto s = ex.start_session({.on_output = [&](const std::string&, const DataPtr&) { ++outputs; }});
  ASSERT_TRUE(s);
  const auto t0 = std::chrono::steady_clock::now();
  // Pushed before the slow node is up: queued, not lost.
  ASSERT_TRUE((*s)->push("in", RuntimeData::make_text("early", 0)));
  auto ready = (*s)->wait_ready();
  ASSERT_TRUE(ready) << ready.error().message;
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(300));
  ASSERT_TRUE((*s)->push("in", RuntimeData::make_text("late", 1)));
  (*s)->close_all_inputs();
  ASSERT_TRUE((*s)->wait());
  EXPECT_EQ(outputs.load(), 2);
  EXPECT_TRUE((*s)->wait_ready());  // still true after the end
}

TEST_F(Executor, wait_ready_reports_a_node_that_fails_to_start) {
  auto ex = make(R"(version: v1
nodes:
  - {id: quick, node_type: TestRelay}
  - {id: broken, node_type: TestFail, params: {fail_at: 0}}
connections: [{from: in, to: quick}, {from: quick, to: broken}]
)");
  auto s = ex.start_session({.on_output = [](const std::string&, const DataPtr&) {}});
  ASSERT_TRUE(s);
  auto ready = (*s)->wait_ready();
  ASSERT_FALSE(ready);
  EXPECT_EQ(ready.error().node_id, "broken");
  EXPECT_NE(ready.error().message.find("injected start failure"), std::string::npos) << ready.error().message;
  EXPECT_FALSE((*s)->wait());
}

TEST_F(Executor, concurrent_sessions_of_one_manifest_do_not_see_each_others_data) {
  auto ex = make(R"(version: v1
nodes:
  - {id: a, node_type: TestRelay}
  - {id: b, node_type: TestSlow, params: {delay_ms: 0}}
connections: [{from: in, to: a}, {from: a, to: b}]
)");
  constexpr int kSessions = 5, kItems = 300;
  std::vector<std::vector<std::string>> results(kSessions);
  std::vector<std::string> ids(kSessions);
  std::vector<std::thread> threads;
  for (int k = 0; k < kSessions; ++k) {
    threads.emplace_back([&, k] {
      auto s = ex.start_session({.queue_capacity = 8});
      ASSERT_TRUE(s);
      ids[k] = (*s)->id();
      std::vector<DataPtr> items;
      for (int i = 0; i < kItems; ++i)
        items.push_back(RuntimeData::make_text(std::to_string(k) + ":" + std::to_string(i), i));
      results[k] = texts(run_pull(**s, "in", items));
      ASSERT_TRUE((*s)->wait());
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), static_cast<std::size_t>(kSessions));
  for (int k = 0; k < kSessions; ++k) {
    ASSERT_EQ(results[k].size(), static_cast<std::size_t>(kItems)) << "session " << k;
    for (int i = 0; i < kItems; ++i) EXPECT_EQ(results[k][i], std::to_string(k) + ":" + std::to_string(i));
  }
}

TEST_F(Executor, pushing_to_an_unknown_input_is_an_error_naming_the_inputs) {
  auto ex = make(
      "version: v1\nnodes: [{id: a, node_type: TestRelay}]\nconnections: [{from: audio_source, to: a}]\n");
  auto s = ex.start_session({.session_id = unique("unknown")});
  ASSERT_TRUE(s);
  auto st = (*s)->push("video", RuntimeData::make_text("x", 0));
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, NodeErrorCode::invalid_input);
  EXPECT_NE(st.error().message.find("unknown pipeline input 'video' (inputs: audio_source)"),
            std::string::npos);
}

TEST_F(Executor, cancelling_a_running_session_joins_and_closes_every_node) {
  auto ex = make(R"(version: v1
nodes:
  - {id: a, node_type: TestRelay}
  - {id: b, node_type: TestRelay}
connections: [{from: in, to: a}, {from: a, to: b}]
)");
  auto id = unique("cancel");
  {
    auto s = ex.start_session({.session_id = id});
    ASSERT_TRUE(s);
    ASSERT_TRUE((*s)->push("in", RuntimeData::make_text("x", 0)));
    (*s)->cancel();
    auto st = (*s)->wait();
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code, NodeErrorCode::cancelled);
  }
  EXPECT_EQ(testing::closed_count(id), 2);
}

TEST_F(Executor, destroying_an_unfinished_session_cleans_up) {
  auto ex = make("version: v1\nnodes: [{id: a, node_type: TestSlow}]\nconnections: [{from: in, to: a}]\n");
  auto id = unique("dtor");
  {
    auto s = ex.start_session({.session_id = id});
    ASSERT_TRUE(s);
    for (int i = 0; i < 10; ++i) ASSERT_TRUE((*s)->push("in", RuntimeData::make_text("x", i)));
  }
  EXPECT_EQ(testing::closed_count(id), 1);
}

TEST_F(Executor, python_node_without_a_linked_runtime_fails_to_start_with_a_clear_error) {
  auto ex = make(R"(version: v1
nodes:
  - {id: a, node_type: TestRelay}
  - {id: py, node_type: SomePythonNode, runtime_hint: cpython}
connections: [{from: in, to: a}, {from: a, to: py}]
)");
  NodeProviders::instance().clear(NodeKind::process);
  auto id = unique("noproc");
  auto s = ex.start_session({.session_id = id});
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().node_id, "py");
  EXPECT_NE(s.error().message.find("node py needs the python process runtime, which is not linked"),
            std::string::npos)
      << s.error().message;
  EXPECT_EQ(testing::closed_count(id), 1);  // the native node built before it was closed
}

// A docker node served by a provider: the graph treats it like any other node.
class UpperCase : public Node {
 public:
  Status process(const DataPtr& in, Emitter& out) override {
    std::string t = in->text()->text;
    std::transform(t.begin(), t.end(), t.begin(), ::toupper);
    return out.emit(RuntimeData::make_text(t, in->timestamp_us));
  }
};

TEST_F(Executor, docker_nodes_are_built_by_the_registered_provider_with_the_session_context) {
  auto ex = make(R"(version: v1
nodes:
  - id: up
    node_type: UpperCaseNode
    docker:
      python_version: "3.11"
      resource_limits: {memory_mb: 256, cpu_cores: 0.5}
connections: [{from: in, to: up}]
)");
  std::string seen_session, seen_type;
  NodeProviders::instance().set(
      NodeKind::docker,
      [&](const NodeSpec& spec, const SessionContext& ctx) -> tl::expected<std::unique_ptr<Node>, NodeError> {
        seen_session = ctx.session_id;
        seen_type = spec.node_type;
        return std::unique_ptr<Node>(std::make_unique<UpperCase>());
      });
  auto id = unique("docker");
  auto s = ex.start_session({.session_id = id});
  NodeProviders::instance().clear(NodeKind::docker);
  ASSERT_TRUE(s);
  auto outs = run_pull(**s, "in", {RuntimeData::make_text("hello", 0)});
  ASSERT_TRUE((*s)->wait());
  EXPECT_EQ(texts(outs), std::vector<std::string>{"HELLO"});
  EXPECT_EQ(seen_session, id);
  EXPECT_EQ(seen_type, "UpperCaseNode");
}

class VectorStream : public InputStream {
 public:
  explicit VectorStream(std::vector<DataPtr> items) : items_(std::move(items)) {}
  std::optional<InputItem> next() override {
    if (i_ >= items_.size()) return std::nullopt;
    return InputItem{"", items_[i_++]};
  }

 private:
  std::vector<DataPtr> items_;
  std::size_t i_ = 0;
};

TEST_F(Executor, execute_streaming_runs_a_stream_to_the_end) {
  auto ex = make(
      "version: v1\nnodes: [{id: n, node_type: TestCounter}]\nconnections: [{from: audio_source, to: n}]\n");
  std::vector<DataPtr> items;
  for (int i = 0; i < 42; ++i) items.push_back(RuntimeData::make_text("x", i));
  VectorStream stream(items);
  std::vector<std::string> got;
  auto st = ex.execute_streaming(
      stream, [&](const std::string&, const DataPtr& d) { got.push_back(d->text()->text); },
      {.session_id = unique("stream")});
  ASSERT_TRUE(st) << st.error().message;
  EXPECT_EQ(got, std::vector<std::string>{"42"});
}

}  // namespace
}  // namespace rm::runtime
