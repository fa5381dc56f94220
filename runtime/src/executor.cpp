#include "runtime/executor.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include <fmt/format.h>

#include "core/log.hpp"
#include "runtime/detail/bounded_queue.hpp"
#include "runtime/node_provider.hpp"
#include "runtime/node_registry.hpp"

namespace rm::runtime {

// ---------------------------------------------------------------------------------------------
// NodeProviders

NodeProviders& NodeProviders::instance() {
  static NodeProviders p;
  return p;
}

void NodeProviders::set(NodeKind kind, NodeProviderFn fn) {
  std::lock_guard lock(mutex_);
  switch (kind) {
    case NodeKind::native: throw std::logic_error("native nodes come from the NodeRegistry, not a provider");
    case NodeKind::process: process_ = std::move(fn); break;
    case NodeKind::docker: docker_ = std::move(fn); break;
  }
}

void NodeProviders::clear(NodeKind kind) {
  std::lock_guard lock(mutex_);
  if (kind == NodeKind::process) process_ = nullptr;
  if (kind == NodeKind::docker) docker_ = nullptr;
}

NodeProviderFn NodeProviders::get(NodeKind kind) const {
  std::lock_guard lock(mutex_);
  switch (kind) {
    case NodeKind::native: return {};
    case NodeKind::process: return process_;
    case NodeKind::docker: return docker_;
  }
  return {};
}

std::string make_session_id() {
  static std::mutex m;
  static std::mt19937_64 rng{std::random_device{}() ^
                             static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count())};
  std::lock_guard lock(m);
  return fmt::format("{:016x}", rng());
}

// ---------------------------------------------------------------------------------------------
// Session state

namespace {
using Queue = detail::BoundedQueue<DataPtr>;
constexpr std::size_t kBatch = 32;
}  // namespace

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
    std::unique_ptr<Queue> queue;
    std::vector<Actor*> successors;
    std::size_t open_inputs = 0;  // incoming connections that have not yet sent end-of-stream
    bool is_output = false;
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
  bool finished = false;   // every output saw end-of-stream
  bool cancelled = false;  // failed or cancelled
  std::optional<SessionError> error;
  bool joined = false;
  std::mutex join_mutex;

  std::mutex callback_mutex;  // serialises on_output
  std::unique_ptr<detail::BoundedQueue<Output>> output_queue;

  bool ended_locked() const { return finished || cancelled; }

  void fail(const std::string& node_id, NodeError err) {
    {
      std::lock_guard lock(mutex);
      if (cancelled || finished) return;
      cancelled = true;
      error = SessionError{node_id, err.code, std::move(err.message)};
    }
    core::logger("runtime")->error("session {}: {}", id, error->message);
    cancel_queues();
    changed.notify_all();
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
    for (auto* s : a.successors) s->queue->push(eos);
    if (a.is_output) output_ended();
  }

  void run(Actor& a) {
    auto log = core::logger("runtime");
    auto status = run_steps(a);
    if (!status) {
      std::string msg = status.error().message;
      if (msg.find("node " + a.id) == std::string::npos) msg = fmt::format("node {}: {}", a.id, msg);
      fail(a.id, NodeError{status.error().code, std::move(msg)});
    }
    try {
      a.node->close();
    } catch (const std::exception& e) {
      log->error("session {}: node {}: close() threw: {}", id, a.id, e.what());
    }
  }

  Status run_steps(Actor& a) {
    try {
      if (auto st = a.node->initialize(); !st) return st;
      std::size_t ready = 0;
      {
        std::lock_guard lock(mutex);
        ready = ++initialized;
      }
      changed.notify_all();
      if (options.on_node_ready) options.on_node_ready(a.id, ready, actors.size());
      std::vector<DataPtr> batch;
      batch.reserve(kBatch);
      if (a.open_inputs == 0) {
        // A node without inputs (a generator) only gets flush().
        if (auto st = a.node->flush(a.emitter); !st) return st;
        send_end(a);
        return {};
      }
      for (;;) {
        batch.clear();
        if (a.queue->pop_batch(batch, kBatch) == 0) return {};  // cancelled: not this node's error
        for (auto& d : batch) {
          if (d->is_end_of_stream()) {
            if (--a.open_inputs == 0) {
              if (auto st = a.node->flush(a.emitter); !st) return st;
              send_end(a);
              return {};
            }
            continue;
          }
          if (auto st = a.node->process(d, a.emitter); !st) {
            if (st.error().code == NodeErrorCode::cancelled && is_cancelled()) return {};
            return st;
          }
        }
      }
    } catch (const std::exception& e) {
      return node_error(NodeErrorCode::process_failed, fmt::format("node {}: unexpected exception: {}", a.id, e.what()));
    }
  }

  bool is_cancelled() {
    std::lock_guard lock(mutex);
    return cancelled;
  }

  void join_all() {
    std::lock_guard jl(join_mutex);
    if (joined) return;
    for (auto& a : actors) {
      if (a->thread.joinable()) a->thread.join();
    }
    joined = true;
  }
};

Status Session::State::ActorEmitter::emit(DataPtr data) {
  if (!data) return node_error(NodeErrorCode::process_failed, fmt::format("node {}: emitted a null value", actor->id));
  // End-of-stream belongs to the executor; a node emitting it is ignored rather than allowed to
  // end its successors early.
  if (data->is_end_of_stream()) return {};
  for (auto* s : actor->successors) {
    if (!s->queue->push(data)) return node_error(NodeErrorCode::cancelled, fmt::format("node {}: session cancelled", actor->id));
  }
  if (actor->is_output) state->deliver(*actor, data);
  return {};
}

// ---------------------------------------------------------------------------------------------
// Session

Session::Session(std::shared_ptr<State> state) : state_(std::move(state)) {}

Session::~Session() {
  if (!state_) return;
  cancel();
  state_->join_all();
}

const std::string& Session::id() const { return state_->id; }

SessionStatus Session::push(std::string_view input, DataPtr data) {
  auto& s = *state_;
  auto it = s.inputs.find(input);
  if (it == s.inputs.end()) {
    std::string names;
    for (const auto& [n, _] : s.inputs) names += (names.empty() ? "" : ", ") + n;
    return tl::unexpected(SessionError{"", NodeErrorCode::invalid_input,
                                       fmt::format("unknown pipeline input '{}' (inputs: {})", input,
                                                   names.empty() ? "none" : names)});
  }
  if (!data || data->is_end_of_stream()) return close_input(input);
  {
    std::lock_guard lock(s.mutex);
    if (s.cancelled) {
      return tl::unexpected(s.error ? *s.error
                                    : SessionError{"", NodeErrorCode::cancelled, "the session was cancelled"});
    }
    if (s.input_closed[std::string(input)]) {
      return tl::unexpected(SessionError{"", NodeErrorCode::invalid_input,
                                         fmt::format("pipeline input '{}' is already closed", input)});
    }
  }
  for (auto* a : it->second) {
    if (!a->queue->push(data)) {
      std::lock_guard lock(s.mutex);
      return tl::unexpected(s.error ? *s.error
                                    : SessionError{"", NodeErrorCode::cancelled, "the session was cancelled"});
    }
  }
  return {};
}

SessionStatus Session::close_input(std::string_view input) {
  auto& s = *state_;
  auto it = s.inputs.find(input);
  if (it == s.inputs.end()) {
    return tl::unexpected(
        SessionError{"", NodeErrorCode::invalid_input, fmt::format("unknown pipeline input '{}'", input)});
  }
  {
    std::lock_guard lock(s.mutex);
    auto& closed = s.input_closed[std::string(input)];
    if (closed) return {};
    closed = true;
  }
  auto eos = RuntimeData::make_end_of_stream();
  for (auto* a : it->second) a->queue->push(eos);
  return {};
}

void Session::close_all_inputs() {
  for (const auto& [name, _] : state_->inputs) (void)close_input(name);
}

SessionStatus Session::feed(InputStream& input) {
  auto& s = *state_;
  while (auto item = input.next()) {
    std::string_view name = item->input;
    if (name.empty()) {
      if (s.inputs.size() != 1) {
        cancel();
        return tl::unexpected(SessionError{"", NodeErrorCode::invalid_input,
                                           fmt::format("an input item names no input, and the pipeline has {} inputs",
                                                       s.inputs.size())});
      }
      name = s.inputs.begin()->first;
    }
    if (auto st = push(name, std::move(item->data)); !st) {
      cancel();
      return st;
    }
  }
  close_all_inputs();
  return {};
}

std::optional<Output> Session::next_output() {
  auto& s = *state_;
  if (!s.output_queue) return std::nullopt;
  std::vector<Output> one;
  if (s.output_queue->pop_batch(one, 1) == 0) return std::nullopt;
  return std::move(one.front());
}

SessionStatus Session::wait_ready() {
  auto& s = *state_;
  std::unique_lock lock(s.mutex);
  s.changed.wait(lock, [&] { return s.initialized == s.actors.size() || s.ended_locked(); });
  if (s.error) return tl::unexpected(*s.error);
  if (s.cancelled) return tl::unexpected(SessionError{"", NodeErrorCode::cancelled, "the session was cancelled"});
  return {};
}

SessionStatus Session::wait() {
  auto& s = *state_;
  {
    std::unique_lock lock(s.mutex);
    s.changed.wait(lock, [&] { return s.ended_locked(); });
  }
  s.join_all();
  std::lock_guard lock(s.mutex);
  if (s.error) return tl::unexpected(*s.error);
  if (s.cancelled) return tl::unexpected(SessionError{"", NodeErrorCode::cancelled, "the session was cancelled"});
  return {};
}

void Session::cancel() {
  auto& s = *state_;
  {
    std::lock_guard lock(s.mutex);
    if (s.ended_locked()) return;
    s.cancelled = true;
  }
  s.cancel_queues();
  s.changed.notify_all();
}

bool Session::done() const {
  std::lock_guard lock(state_->mutex);
  return state_->ended_locked();
}

// ---------------------------------------------------------------------------------------------
// PipelineExecutor

PipelineExecutor::PipelineExecutor(Manifest manifest) : manifest_(std::move(manifest)) {}

namespace {

tl::expected<std::unique_ptr<Node>, NodeError> build_node(const NodeSpec& spec, const SessionContext& ctx) {
  if (spec.kind == NodeKind::native) {
    const auto* reg = NodeRegistry::instance().find(spec.node_type);
    if (!reg) {
      return node_error(NodeErrorCode::init_failed,
                        fmt::format("node {}: native node type {} is not linked into this program", spec.id,
                                    spec.node_type));
    }
    return reg->factory(NodeInit{spec.id, ctx.session_id, spec.resolved_params});
  }
  auto provider = NodeProviders::instance().get(spec.kind);
  if (!provider) {
    return node_error(NodeErrorCode::init_failed,
                      spec.kind == NodeKind::process
                          ? fmt::format("node {} needs the python process runtime, which is not linked into this program",
                                        spec.id)
                          : fmt::format("node {} needs the docker runtime, which is not linked into this program",
                                        spec.id));
  }
  return provider(spec, ctx);
}

}  // namespace

tl::expected<std::unique_ptr<Session>, SessionError> PipelineExecutor::start_session(SessionOptions options) const {
  auto state = std::make_shared<Session::State>();
  state->id = options.session_id.empty() ? make_session_id() : options.session_id;
  state->options = std::move(options);
  const auto& opt = state->options;
  if (!opt.on_output) state->output_queue = std::make_unique<detail::BoundedQueue<Output>>(opt.output_capacity, opt.spin);

  SessionContext ctx;
  ctx.session_id = state->id;
  ctx.manifest_source = manifest_.source();
  if (manifest_.source() != "<string>") ctx.manifest_dir = std::filesystem::absolute(manifest_.source()).parent_path();

  std::map<std::string, Session::State::Actor*, std::less<>> by_id;
  auto outputs = manifest_.outputs();
  for (const auto& spec : manifest_.nodes()) {
    auto node = build_node(spec, ctx);
    if (!node || !*node) {
      for (auto& a : state->actors) a->node->close();
      NodeError err = node ? NodeError{NodeErrorCode::init_failed, fmt::format("node {}: factory returned no node", spec.id)}
                           : node.error();
      return tl::unexpected(SessionError{spec.id, err.code, err.message});
    }
    auto a = std::make_unique<Session::State::Actor>();
    a->id = spec.id;
    a->node = std::move(*node);
    a->queue = std::make_unique<Queue>(opt.queue_capacity, opt.spin);
    a->is_output = std::find(outputs.begin(), outputs.end(), spec.id) != outputs.end();
    a->emitter.state = state.get();
    a->emitter.actor = a.get();
    by_id[spec.id] = a.get();
    state->actors.push_back(std::move(a));
  }
  for (const auto& c : manifest_.connections()) {
    auto* to = by_id.at(c.to);
    ++to->open_inputs;
    if (auto it = by_id.find(c.from); it != by_id.end()) {
      it->second->successors.push_back(to);
    } else {
      state->inputs[c.from].push_back(to);
      state->input_closed[c.from] = false;
    }
  }
  state->outputs_open = outputs.size();
  // Threads start last: from here on the graph is immutable.
  for (auto& a : state->actors) {
    auto* actor = a.get();
    auto* st = state.get();
    actor->thread = std::thread([st, actor] { st->run(*actor); });
  }
  return std::make_unique<Session>(std::move(state));
}

SessionStatus PipelineExecutor::execute_streaming(InputStream& input, OutputCallback on_output,
                                                  SessionOptions options) const {
  options.on_output = std::move(on_output);
  auto session = start_session(std::move(options));
  if (!session) return tl::unexpected(session.error());
  auto& s = **session;
  auto fed = s.feed(input);
  auto w = s.wait();
  // A node's error explains a failed push better than the push itself; a plain cancellation
  // (the feed cancelled the session) does not.
  if (!fed) return tl::unexpected(w || w.error().code == NodeErrorCode::cancelled ? fed.error() : w.error());
  return w;
}

}  // namespace rm::runtime
