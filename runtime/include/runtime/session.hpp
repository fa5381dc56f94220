#pragma once
// A Session is one run of a pipeline: its own node instances, threads and queues.
//
// Threading and lifecycle guarantees:
// - Every node is an actor: one thread per node per session runs initialize(), then process()
//   for each input in arrival order, flush() once end-of-stream arrived on all its inputs, and
//   close() - always, also after an error or cancellation - all on that same thread.
// - Each node has a bounded input queue (SessionOptions::queue_capacity items). A producer that
//   finds it full blocks (backpressure), so memory stays bounded whatever the speed difference
//   between nodes; that includes push() from the caller.
// - Fan-out shares the same DataPtr with every downstream node (no copy); fan-in merges the
//   inputs of a node into its one queue in arrival order.
// - End-of-stream: close_input() sends it from a named input; a node forwards it downstream
//   after its flush(). The session ends when every output node has seen it.
// - The first error from any node (or a failed push) fails the session: every queue is
//   cancelled, blocked producers and consumers wake up, every thread is joined and close() runs
//   on every node. wait() then returns that error naming the node id.
// - Contracts: connections are checked against the nodes' data types at validation; those of
//   Python and Docker nodes that only report theirs at start-up are checked before the first
//   input is taken (see push()).
// - push(), try_push(), close_input(), next_output(), wait() and cancel() may be called from any thread;
//   the destructor cancels a session that is still running and joins everything.
// - Outputs go to SessionOptions::on_output if set (called on the output node's thread,
//   serialised: never two calls at once), else into a bounded queue read with next_output().
//   In pull mode read outputs from another thread than the one pushing, or the pipeline may
//   stall when the output queue is full.
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

#include "runtime/input_stream.hpp"
#include "runtime/node_error.hpp"
#include "runtime/runtime_data.hpp"

namespace rm::runtime {

struct SessionError {
  std::string node_id;  // empty when not about one node (e.g. unknown input name)
  NodeErrorCode code = NodeErrorCode::process_failed;
  std::string message;  // names the node: "node vad: ..."
};
using SessionStatus = tl::expected<void, SessionError>;

struct Output {
  std::string node_id;
  DataPtr data;
};

using OutputCallback = std::function<void(const std::string& node_id, const DataPtr& data)>;

struct SessionOptions {
  std::string session_id;              // empty = random 16 hex digits
  std::size_t queue_capacity = 64;     // per node input queue, items
  std::size_t output_capacity = 1024;  // pull-mode output queue, items
  OutputCallback on_output;            // empty = pull mode (next_output)
  // Called on a node's thread each time one node's initialize() has returned, with how many
  // nodes are up so far out of all of them (start-up progress for servers and UIs).
  std::function<void(const std::string& node_id, std::size_t ready, std::size_t total)> on_node_ready;
  // How long an idle node thread spins before sleeping; short spins keep per-hop latency low
  // while data flows, sleeping keeps idle pipelines off the CPU.
  std::chrono::microseconds spin{100};
  // Run the nodes on the thread that pushes instead of on a thread each, when every node is
  // native and takes input (no generators; otherwise this is ignored, see runs_inline()):
  // push(), try_push() and close_input() return once the input has gone through the whole
  // graph and its outputs were delivered, one calling thread at a time. Saves every thread
  // hand-off per hop, for callers on an event loop feeding cheap nodes (the streaming server);
  // a slow node delays the pushing thread instead, and on_output runs on it.
  bool inline_nodes = false;
};

class Session {
 public:
  struct State;
  explicit Session(std::shared_ptr<State> state);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  const std::string& id() const;

  // Feeds a named pipeline input. Blocks while the first node's queue is full. Fails if the
  // name is unknown, the input was closed, or the session has failed or was cancelled.
  // With Python or Docker nodes in the pipeline, the first push waits until every node has
  // started and checks the contracts they reported (contract.hpp); a mismatch fails the
  // session, naming both nodes and types, before any input is taken.
  SessionStatus push(std::string_view input, DataPtr data);
  // Never blocks (for callers on an event loop): true when `data` went into the queue of every
  // node the input feeds, false when it went into none because one is full or, with Python or
  // Docker nodes, the contracts are not checked yet (push() waits for both; call it from a
  // thread that may block). End-of-stream is not taken here (false): close_input() sends it.
  // Errors as push().
  // Inline sessions (SessionOptions::inline_nodes): true once the graph has processed `data`,
  // false while another thread is running the nodes.
  tl::expected<bool, SessionError> try_push(std::string_view input, const DataPtr& data);
  // Sends end-of-stream from a named input (idempotent).
  SessionStatus close_input(std::string_view input);
  void close_all_inputs();
  // Pushes every item of `input` in order (an item naming no input goes to the pipeline's only
  // input), then closes every input. At the first failed push the session is cancelled and that
  // error returned; wait() then gives the error of the node that failed, if one did.
  SessionStatus feed(InputStream& input);

  // Pull mode: the next output, or nullopt once the session has ended (all outputs saw
  // end-of-stream, or it failed/was cancelled) and the queue is drained.
  std::optional<Output> next_output();

  // Blocks until every node's initialize() has returned (images built, containers and
  // processes up, models loaded), or the session failed or was cancelled (its error).
  // Pushing before that is allowed (inputs queue up, then backpressure applies; with Python or
  // Docker nodes the first push waits for this, see push()); callers that
  // pace input in real time wait here first.
  SessionStatus wait_ready();
  // Blocks until the session ends, joins every node thread, returns the first error.
  SessionStatus wait();
  // Stops the session: queues are cancelled, threads finish and close their nodes.
  void cancel();
  // True once the session has ended (finished, failed or cancelled).
  bool done() const;
  // Whether the nodes run on the pushing thread (SessionOptions::inline_nodes took effect).
  bool runs_inline() const;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace rm::runtime
