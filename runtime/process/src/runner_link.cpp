#include "process/runner_link.hpp"

#include <algorithm>
#include <optional>

#include <fmt/format.h>

#include "core/log.hpp"
#include "ipc/channel_names.hpp"
#include "ipc/publisher.hpp"
#include "ipc/subscriber.hpp"
#include "process/session_dir.hpp"
#include "process/wire.hpp"

namespace rm::process {
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using runtime::node_error;
using runtime::NodeErrorCode;
using runtime::Status;

namespace {
constexpr auto kSlice = 20ms;  // how often a waiting call re-checks the peer
constexpr auto kMoveTimeout = 10s;
constexpr std::string_view kMoved = "rm.channels_moved";
}  // namespace

std::uint64_t channel_bytes_for(std::uint64_t value_bytes, std::uint64_t floor) {
  const std::uint64_t need = 2 * ((value_bytes + 8 + 7) & ~std::uint64_t{7});  // two framed records
  std::uint64_t cap = 4096;
  while (cap < need) cap <<= 1;
  return std::max(cap, floor);
}

struct RunnerLink::Impl {
  RunnerLinkOptions opts;
  std::shared_ptr<spdlog::logger> log = core::logger("process");
  SessionDirLease lease;
  ipc::ChannelNames names;
  std::optional<ipc::Publisher> input;
  std::optional<ipc::Subscriber> output;
  std::optional<ipc::Publisher> control;
  boost::json::value contract;
  std::string last_remote_error;  // from rm.error, reported with the failed batch
  Peer peer;
  std::atomic<bool> cancelled{false};

  std::string prefix() const { return "node " + opts.node_id; }
  runtime::NodeError cancelled_error(std::string_view during) const {
    return runtime::NodeError{NodeErrorCode::cancelled, fmt::format("{}: cancelled {}", prefix(), during)};
  }
  bool exited() const { return peer.exited && peer.exited(); }
  runtime::NodeError gone(std::string_view during) const {
    if (peer.gone) return peer.gone(during);
    return runtime::NodeError{NodeErrorCode::remote_failed,
                              fmt::format("{}: {} for {} closed its channels {}", prefix(), opts.runner_name,
                                          opts.node_type, during)};
  }

  tl::expected<runtime::DataPtr, runtime::NodeError> next_record(
      std::string_view during, std::optional<std::chrono::steady_clock::time_point> deadline);
  Status send(const runtime::RuntimeData& d, std::string_view during);
  Status collect(runtime::Emitter& out, bool until_eos);
  // Grows the rings so a value of `size` bytes fits (RunnerLinkOptions::grow_channels).
  Status grow(std::uint64_t size, std::string_view during);
  std::string too_large(std::uint64_t size, const runtime::RuntimeData& d) const;

  int generation = 0;
};

std::string RunnerLink::Impl::too_large(std::uint64_t size, const runtime::RuntimeData& d) const {
  std::string why;
  if (opts.grow_channels)
    why = fmt::format("; channels grow with the data only up to {} bytes (RM_IPC_MAX_CHANNEL_BYTES)",
                      opts.max_channel_bytes);
  return fmt::format(
      "{}: an input of {} bytes ({}) does not fit the node's input "
      "channel (largest value {} bytes){}; raise ipc.input_bytes of node {} "
      "in the manifest (or RM_PROCESS_CHANNEL_BYTES for every node)",
      prefix(), size, runtime::summarize(d), input->max_record(), why, opts.node_id);
}

Status RunnerLink::Impl::grow(std::uint64_t size, std::string_view during) {
  const auto cap = channel_bytes_for(size, input->capacity());
  const bool with_output = !opts.fixed_output && output->capacity() < cap;
  ++generation;
  const auto suffix = fmt::format("_g{}", generation);
  const std::string in_name = names.input + suffix;
  const std::string out_name = with_output ? names.output + suffix : std::string();
  const auto& dir = lease.path();
  auto in = ipc::Publisher::create(dir, in_name, cap);
  if (!in)
    return node_error(NodeErrorCode::process_failed,
                      prefix() + ": growing the input channel: " + in.error().message);
  std::optional<ipc::Subscriber> out;
  if (with_output) {
    auto o = ipc::Subscriber::create(dir, out_name, cap);
    if (!o) {
      std::error_code ec;
      fs::remove(dir / in_name, ec);
      return node_error(NodeErrorCode::process_failed,
                        prefix() + ": growing the output channel: " + o.error().message);
    }
    out.emplace(std::move(*o));
  }
  log->info("{}: a value of {} bytes: channels grow to {} bytes (input{})", prefix(), size, cap,
            with_output ? " and output" : "");
  boost::json::object p{{"input", in_name}, {"output", out_name}, {"bytes", cap}};
  if (auto s = send(*runtime::RuntimeData::make_control(std::string(kMoved), std::move(p), 0), during); !s)
    return s;
  // The runner opens the new rings, then acknowledges on the old output ring.
  const auto deadline = std::chrono::steady_clock::now() + kMoveTimeout;
  for (;;) {
    auto rec = next_record(during, deadline);
    if (!rec) return tl::unexpected(rec.error());
    if (!*rec)
      return node_error(NodeErrorCode::remote_failed,
                        fmt::format("{}: the runner did not move to the grown channels within {} s", prefix(),
                                    std::chrono::duration_cast<std::chrono::seconds>(kMoveTimeout).count()));
    const auto* c = (*rec)->control();
    if (c && c->kind == kMoved) break;
    if (c && c->kind == "rm.error") {
      auto* m = c->payload.if_contains("message");
      return node_error(NodeErrorCode::remote_failed,
                        fmt::format("{}: the runner could not move to the grown channels: {}", prefix(),
                                    m && m->is_string() ? std::string(m->as_string()) : std::string("?")));
    }
  }
  // The runner has the new rings open: the old files can go (its mappings stay valid).
  auto retire = [&](const std::string& name) {
    std::error_code ec;
    fs::remove(dir / name, ec);
  };
  input->close();
  retire(names.input);
  input.emplace(std::move(*in));
  names.input = in_name;
  if (out) {
    output->close();
    retire(names.output);
    output.emplace(std::move(*out));
    names.output = out_name;
  }
  return {};
}

tl::expected<runtime::DataPtr, runtime::NodeError> RunnerLink::Impl::next_record(
    std::string_view during, std::optional<std::chrono::steady_clock::time_point> deadline) {
  for (;;) {
    auto r = output->receive(kSlice);
    if (!r) {
      if (r.error().code == ipc::IpcErrc::peer_gone) return tl::unexpected(gone(during));
      return node_error(NodeErrorCode::remote_failed,
                        fmt::format("{}: output channel: {}", prefix(), r.error().message));
    }
    if (*r) {
      auto& sample = **r;
      auto env = decode(sample.payload(), DecodeMode::copy);
      if (!env)
        return node_error(
            NodeErrorCode::remote_failed,
            fmt::format("{}: the python node sent a malformed record: {}", prefix(), env.error().message));
      return std::move(env->data);
    }
    if (exited()) return tl::unexpected(gone(during));
    if (cancelled) return tl::unexpected(cancelled_error(during));
    if (deadline && std::chrono::steady_clock::now() >= *deadline) return runtime::DataPtr{};
  }
}

Status RunnerLink::Impl::send(const runtime::RuntimeData& d, std::string_view during) {
  auto size = encoded_size(opts.session_id, d);
  if (size > input->max_record()) {
    if (!opts.grow_channels || channel_bytes_for(size, 0) > opts.max_channel_bytes)
      return node_error(NodeErrorCode::invalid_input, too_large(size, d));
    if (auto g = grow(size, during); !g) return g;
  }
  for (;;) {
    auto loan = input->loan(size, kSlice);
    if (!loan) {
      if (loan.error().code == ipc::IpcErrc::peer_gone) return tl::unexpected(gone(during));
      return node_error(NodeErrorCode::remote_failed,
                        fmt::format("{}: input channel: {}", prefix(), loan.error().message));
    }
    if (*loan) {
      auto sample = std::move(**loan);
      auto n = encode_into(sample.payload_mut(), opts.session_id, d);
      if (!n)
        return node_error(NodeErrorCode::invalid_input, fmt::format("{}: {}", prefix(), n.error().message));
      sample.truncate(*n);
      auto s = input->send(std::move(sample));
      if (!s) {
        if (s.error().code == ipc::IpcErrc::peer_gone) return tl::unexpected(gone(during));
        return node_error(NodeErrorCode::remote_failed,
                          fmt::format("{}: input channel: {}", prefix(), s.error().message));
      }
      return {};
    }
    if (exited()) return tl::unexpected(gone(during));
    if (cancelled) return tl::unexpected(cancelled_error(during));
  }
}

Status RunnerLink::Impl::collect(runtime::Emitter& out, bool until_eos) {
  std::string_view during = until_eos ? "while flushing" : "while processing";
  for (;;) {
    auto rec = next_record(during, std::nullopt);
    if (!rec) return tl::unexpected(rec.error());
    const auto& d = **rec;
    if (const auto* c = d.control(); c && c->kind.rfind("rm.", 0) == 0) {
      if (c->kind == "rm.batch_end") {
        auto* e = c->payload.if_contains("error");
        if (e && e->is_bool() && e->as_bool()) {
          auto msg = last_remote_error.empty() ? prefix() + ": the python node failed" : last_remote_error;
          last_remote_error.clear();
          return node_error(NodeErrorCode::process_failed, msg);
        }
        if (!until_eos) return {};
        continue;
      }
      if (c->kind == "rm.error") {
        auto str = [&](const char* k) {
          auto* v = c->payload.if_contains(k);
          return v && v->is_string() ? std::string(v->as_string()) : std::string();
        };
        // Not logged here: the runner printed the traceback on its stderr, which is already the
        // node's log; the error returned with the batch carries it to the caller.
        last_remote_error = str("message");
        auto tb = str("traceback");
        if (!tb.empty()) last_remote_error += "\n" + tb;
      }
      continue;  // rm.progress and unknown protocol messages are not data
    }
    if (d.is_end_of_stream()) {
      if (until_eos) return {};
      continue;
    }
    if (auto s = out.emit(*rec); !s) return s;
  }
}

RunnerLink::RunnerLink(RunnerLinkOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->opts = std::move(options);
}

RunnerLink::~RunnerLink() {
  close();
}

Status RunnerLink::open() {
  auto& m = *impl_;
  auto names = ipc::channel_names(m.opts.session_id, m.opts.node_id);
  if (!names) return node_error(NodeErrorCode::invalid_params, m.prefix() + ": " + names.error().message);
  m.names = *names;
  auto lease = SessionDirLease::acquire(m.opts.ipc_root, m.opts.session_id);
  if (!lease) return node_error(NodeErrorCode::init_failed, m.prefix() + ": " + lease.error().message);
  m.lease = std::move(*lease);
  const auto& dir = m.lease.path();
  auto fail = [&](const ipc::IpcError& e) {
    return node_error(NodeErrorCode::init_failed, m.prefix() + ": " + e.message);
  };
  auto in = ipc::Publisher::create(dir, m.names.input, m.opts.data_capacity);
  if (!in) return fail(in.error());
  m.input.emplace(std::move(*in));
  auto out = ipc::Subscriber::create(dir, m.names.output,
                                     m.opts.output_capacity ? m.opts.output_capacity : m.opts.data_capacity);
  if (!out) return fail(out.error());
  m.output.emplace(std::move(*out));
  auto ctl = ipc::Publisher::create(dir, m.names.control, m.opts.control_capacity);
  if (!ctl) return fail(ctl.error());
  m.control.emplace(std::move(*ctl));
  return {};
}

const fs::path& RunnerLink::dir() const {
  return impl_->lease.path();
}
void RunnerLink::set_peer(Peer peer) {
  impl_->peer = std::move(peer);
}
bool RunnerLink::is_open() const {
  return impl_->input.has_value();
}
const boost::json::value& RunnerLink::contract() const {
  return impl_->contract;
}
const RunnerLinkOptions& RunnerLink::options() const {
  return impl_->opts;
}

Status RunnerLink::wait_ready(std::chrono::milliseconds timeout, std::string_view timeout_hint) {
  auto& m = *impl_;
  if (!m.output) return node_error(NodeErrorCode::init_failed, m.prefix() + ": channels not open");
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string last_progress = "none";
  for (;;) {
    auto rec = m.next_record("before it was ready", deadline);
    if (!rec) {
      auto e = rec.error();
      if (e.code == NodeErrorCode::cancelled) return tl::unexpected(e);
      e.code = NodeErrorCode::init_failed;
      if (!m.last_remote_error.empty()) e.message = m.last_remote_error;
      return tl::unexpected(e);
    }
    if (!*rec)
      return node_error(
          NodeErrorCode::timeout,
          fmt::format("{}: python node {} did not signal READY within {} ms (last "
                      "progress: {}); {}",
                      m.prefix(), m.opts.node_type, timeout.count(), last_progress, timeout_hint));
    const auto* c = (*rec)->control();
    if (!c) {
      m.log->warn("{}: ignoring {} before READY", m.prefix(), runtime::summarize(**rec));
      continue;
    }
    auto str = [&](const char* k) {
      auto* v = c->payload.if_contains(k);
      return v && v->is_string() ? std::string(v->as_string()) : std::string();
    };
    if (c->kind == "rm.progress") {
      last_progress = str("message");
      m.log->info("{}: {}", m.prefix(), last_progress);
    } else if (c->kind == "rm.ready") {
      if (auto* k = c->payload.if_contains("contract")) m.contract = *k;
      m.log->info("{}: python node {} is ready", m.prefix(), m.opts.node_type);
      return {};
    } else if (c->kind == "rm.error") {
      m.last_remote_error = str("message");
      if (auto tb = str("traceback"); !tb.empty()) m.last_remote_error += "\n" + tb;
      return node_error(NodeErrorCode::init_failed, m.last_remote_error);
    }
  }
}

Status RunnerLink::process(const runtime::DataPtr& input, runtime::Emitter& out) {
  auto& m = *impl_;
  if (!m.input) return node_error(NodeErrorCode::process_failed, m.prefix() + ": not initialized");
  if (m.exited()) return tl::unexpected(m.gone("before this input"));
  if (auto s = m.send(*input, "while processing"); !s) return s;
  return m.collect(out, false);
}

Status RunnerLink::flush(runtime::Emitter& out) {
  auto& m = *impl_;
  if (!m.input) return {};
  if (m.exited()) return tl::unexpected(m.gone("before end of stream"));
  if (auto s = m.send(*runtime::RuntimeData::make_end_of_stream(), "while flushing"); !s) return s;
  return m.collect(out, true);
}

void RunnerLink::request_stop() {
  auto& m = *impl_;
  if (!m.control || m.exited()) return;
  auto stop = runtime::RuntimeData::make_control("rm.stop", {}, 0);
  auto bytes = encode(m.opts.session_id, *stop);
  (void)m.control->send_copy(bytes, 0ms);
}

void RunnerLink::cancel() {
  impl_->cancelled = true;
}

void RunnerLink::close() {
  if (!impl_) return;
  auto& m = *impl_;
  for (auto* p : {&m.input, &m.control}) {
    if (*p) (*p)->close();
    p->reset();
  }
  if (m.output) m.output->close();
  m.output.reset();
  if (!m.lease.path().empty()) {
    for (const auto& n : {m.names.input, m.names.output, m.names.control}) {
      std::error_code ec;
      if (!n.empty()) fs::remove(m.lease.path() / n, ec);
    }
  }
  m.lease.release();
}

}  // namespace rm::process
