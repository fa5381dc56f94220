#pragma once
// Session::State: one running session's actors (a node, its input queue and thread each), the
// named inputs, and the shared end / error / readiness state. Built by PipelineExecutor
// (executor.cpp), driven by Session (session.cpp). Internal to the runtime library.
#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "core/log.hpp"
#include "runtime/contract.hpp"
#include "runtime/detail/bounded_queue.hpp"
#include "runtime/manifest.hpp"
#include "runtime/node.hpp"
#include "runtime/session.hpp"

namespace rm::runtime {

namespace detail {
using Queue = BoundedQueue<DataPtr>;
inline constexpr std::size_t kBatch = 32;
}  // namespace detail

struct Session::State : std::enable_shared_from_this<Session::State> {
  struct Actor;

  // Delivers a node's outputs to its successors and, for output nodes, to the session sink.
  struct ActorEmitter final : Emitter {
    State* state = nullptr;
    Actor* actor = nullptr;
    Status emit(DataPtr data) override;
  };

  struct Actor {
    std::string id;
    std::unique_ptr<Node> node;
    std::unique_ptr<detail::Queue> queue;
    std::vector<Actor*> successors;
    std::size_t open_inputs = 0;  // incoming connections that have not yet sent end-of-stream
    bool is_output = false;
    NodeKind kind = NodeKind::native;
    std::optional<DataContract> declared;  // known at validation (NodeSpec::contract)
    ActorEmitter emitter;
    std::thread thread;
  };

  std::string id;
  SessionOptions options;
  std::vector<std::unique_ptr<Actor>> actors;
  std::map<std::string, std::vector<Actor*>, std::less<>> inputs;

  std::mutex mutex;  // guards everything below
  std::condition_variable changed;
  std::map<std::string, bool, std::less<>> input_closed;
  std::size_t outputs_open = 0;
  std::size_t initialized = 0;  // nodes whose initialize() has returned successfully
  bool finished = false;        // every output saw end-of-stream
  bool cancelled = false;       // failed or cancelled
  std::optional<SessionError> error;
  bool joined = false;
  std::mutex join_mutex;

  // Contracts only known once nodes have started (Python and Docker nodes report theirs with
  // READY) are checked once, before the first input is taken.
  std::vector<std::pair<Actor*, Actor*>> edges;  // node -> node connections
  bool contracts_pending = false;
  std::atomic<bool> contracts_checked{false};
  std::mutex contracts_mutex;

  std::mutex callback_mutex;  // serialises on_output
  std::unique_ptr<detail::BoundedQueue<Output>> output_queue;

  // Inline mode (SessionOptions::inline_nodes): no node threads; whoever holds inline_mutex
  // runs the nodes (run_inline). Nodes are closed once, by join_all().
  bool inline_mode = false;
  std::mutex inline_mutex;

  bool ended_locked() const { return finished || cancelled; }

  // The actors a named input feeds, or why nothing can be pushed into it (unknown input, the
  // input closed, the session failed or was cancelled). Defined in session.cpp.
  tl::expected<const std::vector<Actor*>*, SessionError> input_targets(std::string_view input);

  void fail(const std::string& node_id, NodeError err) {
    {
      std::lock_guard lock(mutex);
      if (cancelled || finished) return;
      cancelled = true;
      error = SessionError{node_id, err.code, std::move(err.message)};
    }
    // A Python node's error carries its traceback, which the node's own log (the runner's
    // stderr) has already shown: the session line is the first line only.
    const auto& msg = error->message;
    core::logger("runtime")->error("session {}: {}", id, std::string_view(msg).substr(0, msg.find('\n')));
    cancel_queues();
    abort_nodes(AbortReason::node_failed);
    changed.notify_all();
  }

  // Makes nodes still in initialize() (or another long step) return; see Node::abort().
  void abort_nodes(AbortReason why) {
    for (auto& a : actors) a->node->abort(why);
  }

  void cancel_queues() {
    for (auto& a : actors) a->queue->cancel();
    if (output_queue) output_queue->cancel();
  }

  void deliver(Actor& a, const DataPtr& data) {
    if (options.on_output) {
      std::lock_guard lock(callback_mutex);
      options.on_output(a.id, data);
    } else {
      // The output queue is a pending-output buffer; if the session is cancelled meanwhile the
      // output is simply dropped.
      output_queue->push(Output{a.id, data});
    }
  }

  void output_ended() {
    bool all = false;
    {
      std::lock_guard lock(mutex);
      if (outputs_open > 0 && --outputs_open == 0 && !cancelled) {
        finished = true;
        all = true;
      }
    }
    if (all) {
      // Pull mode: next_output drains what is queued, then sees the end.
      if (output_queue) output_queue->close();
      changed.notify_all();
    }
  }

  void send_end(Actor& a) {
    auto eos = RuntimeData::make_end_of_stream();
    for (auto* s : a.successors) {
      if (inline_mode)
        (void)run_inline(*s, eos);  // a failure has failed the session already
      else
        s->queue->push(eos);
    }
    if (a.is_output) output_ended();
  }

  // Fails the session with a node's error, naming the node.
  void fail_node(Actor& a, const NodeError& err) {
    std::string msg = err.message;
    if (msg.find("node " + a.id) == std::string::npos) msg = fmt::format("node {}: {}", a.id, msg);
    fail(a.id, NodeError{err.code, std::move(msg)});
  }

  void close_node(Actor& a) {
    try {
      a.node->close();
    } catch (const std::exception& e) {
      core::logger("runtime")->error("session {}: node {}: close() threw: {}", id, a.id, e.what());
    }
  }

  void run(Actor& a) {
    if (auto status = guarded(a, [&] { return run_steps(a); }); !status) fail_node(a, status.error());
    close_node(a);
  }

  // `step` with an exception turned into the node's error.
  template <typename Step>
  Status guarded(Actor& a, Step&& step) {
    try {
      return step();
    } catch (const std::exception& e) {
      return node_error(NodeErrorCode::process_failed,
                        fmt::format("node {}: unexpected exception: {}", a.id, e.what()));
    }
  }

  Status initialize(Actor& a) {
    if (auto st = a.node->initialize(); !st) return st;
    std::size_t ready = 0;
    {
      std::lock_guard lock(mutex);
      ready = ++initialized;
    }
    changed.notify_all();
    if (options.on_node_ready) options.on_node_ready(a.id, ready, actors.size());
    return {};
  }

  // One input item for an actor: data goes to process(); the end-of-stream of its last open
  // input flushes the node and ends its outputs. `ended` is set once the actor has ended.
  Status take(Actor& a, const DataPtr& d, bool& ended) {
    if (d->is_end_of_stream()) {
      if (--a.open_inputs > 0) return {};
      if (auto st = a.node->flush(a.emitter); !st) return st;
      send_end(a);
      ended = true;
      return {};
    }
    return a.node->process(d, a.emitter);
  }

  Status run_steps(Actor& a) {
    if (auto st = initialize(a); !st) return st;
    if (a.open_inputs == 0) {
      // A node without inputs (a generator) only gets flush().
      if (auto st = a.node->flush(a.emitter); !st) return st;
      send_end(a);
      return {};
    }
    std::vector<DataPtr> batch;
    batch.reserve(detail::kBatch);
    for (;;) {
      batch.clear();
      if (a.queue->pop_batch(batch, detail::kBatch) == 0) return {};  // cancelled: not this node's error
      for (auto& d : batch) {
        bool ended = false;
        if (auto st = take(a, d, ended); !st) {
          if (st.error().code == NodeErrorCode::cancelled && is_cancelled()) return {};
          return st;
        }
        if (ended) return {};
      }
    }
  }

  // Inline mode: runs `d` through actor `a` and, through its emitter, everything after it, on
  // this thread (the caller holds inline_mutex). A node's failure fails the session here; the
  // nodes before it then see a cancelled emit.
  Status run_inline(Actor& a, const DataPtr& d) {
    bool ended = false;
    auto st = guarded(a, [&] { return take(a, d, ended); });
    if (!st && !(st.error().code == NodeErrorCode::cancelled && is_cancelled())) {
      fail_node(a, st.error());
      return node_error(NodeErrorCode::cancelled, fmt::format("node {}: session failed", a.id));
    }
    return st;
  }

  // Inline mode: every node initialized on this thread, in manifest order; the first failure
  // fails the session.
  void initialize_inline() {
    std::lock_guard lock(inline_mutex);
    for (auto& a : actors) {
      if (auto st = guarded(*a, [&] { return initialize(*a); }); !st) {
        fail_node(*a, st.error());
        return;
      }
    }
  }

  // The contract to check an actor's edges with: what the node reported at start-up, else
  // what was declared at validation; nullopt = unknown. An invalid report fails the session.
  std::optional<DataContract> effective_contract(Actor& a) {
    if (a.kind == NodeKind::native) return a.declared;
    auto reported = a.node->reported_contract();
    if (reported.is_null()) return a.declared;
    auto c = contract_from_json(reported);
    if (!c) {
      fail(a.id, NodeError{NodeErrorCode::invalid_input,
                           fmt::format("node {}: the contract it reported at start-up is invalid: {}", a.id,
                                       c.error())});
      return std::nullopt;
    }
    return std::move(*c);
  }

  // Waits until every node has started, then checks each connection that touches a Python or
  // Docker node against the contracts now known; a mismatch fails the session naming both
  // nodes and types. Returns the session's error if it has failed.
  SessionStatus check_contracts() {
    if (contracts_pending && !contracts_checked.load(std::memory_order_acquire)) {
      std::lock_guard cl(contracts_mutex);
      if (!contracts_checked.load(std::memory_order_relaxed)) {
        bool all_started = false;
        {
          std::unique_lock lock(mutex);
          changed.wait(lock, [&] { return initialized == actors.size() || ended_locked(); });
          all_started = initialized == actors.size() && !cancelled;
        }
        if (all_started) {
          std::map<Actor*, std::optional<DataContract>> known;
          for (auto& a : actors) known[a.get()] = effective_contract(*a);
          for (auto [from, to] : edges) {
            if (from->kind == NodeKind::native && to->kind == NodeKind::native)
              continue;  // checked at validation
            const auto& fc = known[from];
            const auto& tc = known[to];
            if (!fc || !tc) continue;
            if (auto why = edge_mismatch(from->id, *fc, to->id, *tc)) {
              fail(to->id, NodeError{NodeErrorCode::invalid_input,
                                     *why + " (contracts reported by the nodes at start-up)"});
              break;
            }
          }
        }
        contracts_checked.store(true, std::memory_order_release);
      }
    }
    std::lock_guard lock(mutex);
    if (cancelled) {
      return tl::unexpected(error ? *error
                                  : SessionError{"", NodeErrorCode::cancelled, "the session was cancelled"});
    }
    return {};
  }

  bool is_cancelled() {
    std::lock_guard lock(mutex);
    return cancelled;
  }

  void join_all() {
    std::lock_guard jl(join_mutex);
    if (joined) return;
    if (inline_mode) {
      std::lock_guard lock(inline_mutex);  // after a push still running on another thread
      for (auto& a : actors) close_node(*a);
    }
    for (auto& a : actors) {
      if (a->thread.joinable()) a->thread.join();
    }
    joined = true;
  }
};

}  // namespace rm::runtime
