#include "runtime/executor.hpp"

#include <algorithm>
#include <map>
#include <mutex>
#include <random>

#include <fmt/format.h>

#include "detail/session_state.hpp"
#include "runtime/node_provider.hpp"
#include "runtime/node_registry.hpp"

namespace rm::runtime {

std::string make_session_id() {
  static std::mutex m;
  static std::mt19937_64 rng{
      std::random_device{}() ^
      static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count())};
  std::lock_guard lock(m);
  return fmt::format("{:016x}", rng());
}

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
    return node_error(
        NodeErrorCode::init_failed,
        spec.kind == NodeKind::process
            ? fmt::format("node {} needs the python process runtime, which is not linked into this program",
                          spec.id)
            : fmt::format("node {} needs the docker runtime, which is not linked into this program",
                          spec.id));
  }
  return provider(spec, ctx);
}

}  // namespace

tl::expected<std::unique_ptr<Session>, SessionError> PipelineExecutor::start_session(
    SessionOptions options) const {
  auto state = std::make_shared<Session::State>();
  state->id = options.session_id.empty() ? make_session_id() : options.session_id;
  state->options = std::move(options);
  const auto& opt = state->options;
  if (!opt.on_output)
    state->output_queue = std::make_unique<detail::BoundedQueue<Output>>(opt.output_capacity, opt.spin);

  SessionContext ctx;
  ctx.session_id = state->id;
  ctx.manifest_source = manifest_.source();
  if (manifest_.source() != "<string>")
    ctx.manifest_dir = std::filesystem::absolute(manifest_.source()).parent_path();

  std::map<std::string, Session::State::Actor*, std::less<>> by_id;
  auto outputs = manifest_.outputs();
  for (const auto& spec : manifest_.nodes()) {
    auto node = build_node(spec, ctx);
    if (!node || !*node) {
      for (auto& a : state->actors) a->node->close();
      NodeError err = node ? NodeError{NodeErrorCode::init_failed,
                                       fmt::format("node {}: factory returned no node", spec.id)}
                           : node.error();
      return tl::unexpected(SessionError{spec.id, err.code, err.message});
    }
    auto a = std::make_unique<Session::State::Actor>();
    a->id = spec.id;
    a->node = std::move(*node);
    a->queue = std::make_unique<detail::Queue>(opt.queue_capacity, opt.spin);
    a->is_output = std::find(outputs.begin(), outputs.end(), spec.id) != outputs.end();
    a->kind = spec.kind;
    a->declared = spec.contract;
    if (spec.kind != NodeKind::native) state->contracts_pending = true;
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
      state->edges.emplace_back(it->second, to);
    } else {
      state->inputs[c.from].push_back(to);
      state->input_closed[c.from] = false;
    }
  }
  state->outputs_open = outputs.size();
  state->inline_mode = opt.inline_nodes &&
                       std::all_of(state->actors.begin(), state->actors.end(),
                                   [](auto& a) { return a->kind == NodeKind::native && a->open_inputs > 0; });
  if (state->inline_mode) {
    state->initialize_inline();
    return std::make_unique<Session>(std::move(state));
  }
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
