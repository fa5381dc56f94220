#include "runtime/session.hpp"

#include "detail/session_state.hpp"

namespace rm::runtime {

Status Session::State::ActorEmitter::emit(DataPtr data) {
  if (!data)
    return node_error(NodeErrorCode::process_failed, fmt::format("node {}: emitted a null value", actor->id));
  // End-of-stream belongs to the executor; a node emitting it is ignored rather than allowed to
  // end its successors early.
  if (data->is_end_of_stream()) return {};
  for (auto* s : actor->successors) {
    if (state->inline_mode) {
      if (state->is_cancelled())
        return node_error(NodeErrorCode::cancelled, fmt::format("node {}: session cancelled", actor->id));
      if (auto st = state->run_inline(*s, data); !st) return st;
    } else if (!s->queue->push(data)) {
      return node_error(NodeErrorCode::cancelled, fmt::format("node {}: session cancelled", actor->id));
    }
  }
  if (actor->is_output) state->deliver(*actor, data);
  return {};
}

Session::Session(std::shared_ptr<State> state) : state_(std::move(state)) {}

Session::~Session() {
  if (!state_) return;
  cancel();
  state_->join_all();
}

const std::string& Session::id() const {
  return state_->id;
}

namespace {

SessionError ended_error(Session::State& s) {
  std::lock_guard lock(s.mutex);
  return s.error ? *s.error : SessionError{"", NodeErrorCode::cancelled, "the session was cancelled"};
}

}  // namespace

// The checks push() and try_push() share: the input's actors, or why the data cannot go in.
tl::expected<const std::vector<Session::State::Actor*>*, SessionError> Session::State::input_targets(
    std::string_view input) {
  auto it = inputs.find(input);
  if (it == inputs.end()) {
    std::string names;
    for (const auto& [n, _] : inputs) names += (names.empty() ? "" : ", ") + n;
    return tl::unexpected(SessionError{
        "", NodeErrorCode::invalid_input,
        fmt::format("unknown pipeline input '{}' (inputs: {})", input, names.empty() ? "none" : names)});
  }
  std::lock_guard lock(mutex);
  if (cancelled) {
    return tl::unexpected(error ? *error
                                : SessionError{"", NodeErrorCode::cancelled, "the session was cancelled"});
  }
  if (input_closed[std::string(input)]) {
    return tl::unexpected(SessionError{"", NodeErrorCode::invalid_input,
                                       fmt::format("pipeline input '{}' is already closed", input)});
  }
  return &it->second;
}

namespace {

// Inline mode: runs `data` through the graph from the input's nodes (the caller holds
// inline_mutex).
SessionStatus push_inline(Session::State& s, std::string_view input, const DataPtr& data) {
  auto targets = s.input_targets(input);
  if (!targets) return tl::unexpected(targets.error());
  for (auto* a : **targets) {
    if (!s.run_inline(*a, data)) return tl::unexpected(ended_error(s));
  }
  return {};
}

}  // namespace

SessionStatus Session::push(std::string_view input, DataPtr data) {
  auto& s = *state_;
  if (!s.inputs.contains(input)) return tl::unexpected(s.input_targets(input).error());
  if (!data || data->is_end_of_stream()) return close_input(input);
  if (s.inline_mode) {
    std::lock_guard lock(s.inline_mutex);
    return push_inline(s, input, data);
  }
  if (auto st = s.check_contracts(); !st) return st;
  auto targets = s.input_targets(input);
  if (!targets) return tl::unexpected(targets.error());
  for (auto* a : **targets) {
    if (!a->queue->push(data)) return tl::unexpected(ended_error(s));
  }
  return {};
}

tl::expected<bool, SessionError> Session::try_push(std::string_view input, const DataPtr& data) {
  auto& s = *state_;
  if (!data || data->is_end_of_stream()) return false;  // close_input() may block
  if (s.inline_mode) {
    std::unique_lock lock(s.inline_mutex, std::try_to_lock);
    if (!lock.owns_lock()) return false;
    if (auto st = push_inline(s, input, data); !st) return tl::unexpected(st.error());
    return true;
  }
  auto targets = s.input_targets(input);
  if (!targets) return tl::unexpected(targets.error());
  if (s.contracts_pending && !s.contracts_checked.load(std::memory_order_acquire)) return false;
  std::vector<detail::Queue*> queues;
  queues.reserve((*targets)->size());
  for (auto* a : **targets) queues.push_back(a->queue.get());
  if (detail::Queue::try_push_all(std::move(queues), data)) return true;
  if (s.is_cancelled()) return tl::unexpected(ended_error(s));
  return false;
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
  if (s.inline_mode) {
    std::lock_guard lock(s.inline_mutex);
    for (auto* a : it->second) (void)s.run_inline(*a, eos);  // a failure has failed the session
    return {};
  }
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
        return tl::unexpected(SessionError{
            "", NodeErrorCode::invalid_input,
            fmt::format("an input item names no input, and the pipeline has {} inputs", s.inputs.size())});
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
  if (s.cancelled)
    return tl::unexpected(SessionError{"", NodeErrorCode::cancelled, "the session was cancelled"});
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
  if (s.cancelled)
    return tl::unexpected(SessionError{"", NodeErrorCode::cancelled, "the session was cancelled"});
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
  s.abort_nodes(AbortReason::cancelled);
  s.changed.notify_all();
}

bool Session::runs_inline() const {
  return state_->inline_mode;
}

bool Session::done() const {
  std::lock_guard lock(state_->mutex);
  return state_->ended_locked();
}

}  // namespace rm::runtime
