#include "docker/container_manager.hpp"

#include <unistd.h>

#include <condition_variable>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "core/log.hpp"
#include "docker/image_builder.hpp"
#include "runtime/thread_boundary.hpp"

namespace rm::docker {

namespace {

std::string read_first_line(const std::string& path) {
  std::ifstream f(path);
  std::string line;
  std::getline(f, line);
  return line;
}

std::optional<std::uint64_t> start_ticks_of(long pid) {
  const std::string stat = read_first_line(fmt::format("/proc/{}/stat", pid));
  // Field 2 (comm) may contain spaces and parentheses: count fields after the last ')'.
  const auto close = stat.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream rest(stat.substr(close + 2));
  std::string field;
  for (int i = 3; i <= 22 && rest >> field; ++i) {
    if (i == 22) return std::strtoull(field.c_str(), nullptr, 10);
  }
  return std::nullopt;
}

std::string sanitize_name(std::string_view s) {
  std::string out;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                    c == '.' || c == '-';
    out += ok ? c : '_';
  }
  return out.substr(0, 60);
}

}  // namespace

OwnerId OwnerId::self() {
  OwnerId o;
  o.pid = static_cast<long>(::getpid());
  o.start_ticks = start_ticks_of(o.pid).value_or(0);
  o.boot_id = read_first_line("/proc/sys/kernel/random/boot_id");
  return o;
}

OwnerId OwnerId::from_labels(const std::map<std::string, std::string>& labels) {
  OwnerId o;
  auto get = [&](std::string_view k) {
    auto it = labels.find(std::string(k));
    return it == labels.end() ? std::string() : it->second;
  };
  o.pid = std::strtol(get(kLabelOwner).c_str(), nullptr, 10);
  o.start_ticks = std::strtoull(get(kLabelOwnerStart).c_str(), nullptr, 10);
  o.boot_id = get(kLabelBoot);
  return o;
}

bool OwnerId::alive() const {
  if (pid <= 0) return false;
  if (!boot_id.empty() && boot_id != read_first_line("/proc/sys/kernel/random/boot_id")) return false;
  auto ticks = start_ticks_of(pid);
  if (!ticks) return false;
  return start_ticks == 0 || *ticks == start_ticks;
}

std::string classify_exit(std::string_view node_id, int exit_code, bool oom_killed, std::uint64_t memory_mb,
                          const std::vector<std::string>& last_lines) {
  std::string msg;
  if (oom_killed || exit_code == 137) {
    msg = fmt::format("node {}: container killed, memory limit {} MB exceeded", node_id, memory_mb);
    if (!oom_killed) msg += " (exit code 137: SIGKILL, usually the kernel's OOM killer)";
  } else if (exit_code > 128 && exit_code < 160) {
    msg = fmt::format("node {}: container killed by signal {} (exit code {})", node_id, exit_code - 128,
                      exit_code);
  } else if (exit_code == 0) {
    msg = fmt::format("node {}: container exited (code 0) before the session ended", node_id);
  } else {
    msg = fmt::format("node {}: container exited with code {}", node_id, exit_code);
  }
  if (!last_lines.empty()) {
    msg += "; last log lines:";
    for (const auto& l : last_lines) msg += "\n  " + l;
  }
  return msg;
}

ContainerSpec node_container_spec(const NodeContainerSpec& s) {
  ContainerSpec c;
  c.image = s.image;
  c.cmd = s.command;
  c.working_dir = s.working_dir;
  c.env = s.config.env;
  for (const auto& [k, v] : s.extra_env) c.env[k] = v;
  c.memory_bytes = s.config.resource_limits.memory_mb * 1024ULL * 1024ULL;
  c.cpu_cores = s.config.resource_limits.cpu_cores;
  c.shm_bytes = s.config.shm_size_mb * 1024ULL * 1024ULL;
  c.init = true;
  c.network_mode = "none";
  c.gpus = s.config.gpus;
  c.interactive = s.interactive;
  c.tty = s.tty;
  if (!s.ipc_host_dir.empty()) {
    c.mounts.push_back(
        {s.ipc_host_dir, s.ipc_container_dir.empty() ? s.ipc_host_dir : s.ipc_container_dir, false});
  }
  if (!s.sdk_host_dir.empty()) c.mounts.push_back({s.sdk_host_dir, s.sdk_container_dir, true});
  for (const auto& m : s.extra_mounts) c.mounts.push_back(m);
  for (const auto& v : s.config.volumes) c.mounts.push_back({v.host_path, v.container_path, v.read_only});
  const OwnerId owner = OwnerId::self();
  c.labels = {
      {std::string(kLabelManaged), "1"},
      {std::string(kLabelSession), s.session_id},
      {std::string(kLabelNode), s.node_id},
      {std::string(kLabelOwner), std::to_string(owner.pid)},
      {std::string(kLabelOwnerStart), std::to_string(owner.start_ticks)},
      {std::string(kLabelBoot), owner.boot_id},
      {std::string(kLabelConfigHash), config_hash(s.config)},
  };
  if (s.keep) c.labels[std::string(kLabelKeep)] = "1";
  return c;
}

struct NodeContainer::State {
  State(DockerClient c, NodeContainerSpec s, Callbacks b)
      : client(std::move(c)), spec(std::move(s)), cb(std::move(b)) {}
  DockerClient client;
  NodeContainerSpec spec;
  Callbacks cb;
  std::string id, name;

  mutable std::mutex mu;
  mutable std::condition_variable cv;
  std::deque<std::string> tail;
  std::optional<ExitReport> report;
  bool stopping = false;
  bool removed = false;
  bool logs_done = false;
  CancelToken log_cancel, wait_cancel;
  std::thread log_thread, wait_thread;

  void on_line(LogStream stream, std::string_view line) {
    {
      std::lock_guard lock(mu);
      tail.emplace_back(line);
      while (tail.size() > spec.log_tail_lines) tail.pop_front();
    }
    if (cb.on_log) {
      cb.on_log(stream, line);
    } else if (stream == LogStream::stderr_stream) {
      core::logger("docker")->warn("[{}] {}", spec.node_id, line);
    } else {
      core::logger("docker")->info("[{}] {}", spec.node_id, line);
    }
  }

  void follow_logs() {
    auto st = client.container_logs(
        id, true, [this](LogStream s, std::string_view l) { on_line(s, l); }, &log_cancel);
    if (!st && st.error().code != DockerErrorCode::cancelled) {
      core::logger("docker")->debug("node {}: log stream ended: {}", spec.node_id, st.error().message);
    }
    std::lock_guard lock(mu);
    logs_done = true;
    cv.notify_all();
  }

  void watch_exit() {
    auto code = client.container_wait(id, std::chrono::hours(24 * 365), &wait_cancel);
    if (!code && code.error().code == DockerErrorCode::cancelled) return;
    ExitReport r;
    r.node_id = spec.node_id;
    r.container_id = id;
    r.exit_code = code ? *code : -1;
    if (auto info = client.container_inspect(id)) {
      r.oom_killed = info->oom_killed;
      r.exit_code = info->exit_code;
    }
    {
      // The log stream closes right after the exit; give it a moment so the error message
      // carries the container's last words.
      std::unique_lock lock(mu);
      cv.wait_for(lock, std::chrono::milliseconds(300), [&] { return logs_done; });
      r.last_lines.assign(tail.begin(), tail.end());
      r.requested = stopping;
    }
    if (!r.requested) {
      r.message =
          classify_exit(spec.node_id, r.exit_code, r.oom_killed, spec.config.resource_limits.memory_mb,
                        std::vector<std::string>(
                            r.last_lines.end() - std::min<std::ptrdiff_t>(
                                                     10, static_cast<std::ptrdiff_t>(r.last_lines.size())),
                            r.last_lines.end()));
      if (!code) r.message += " (waiting for the container failed: " + code.error().message + ")";
      core::logger("docker")->error("{}", r.message);
    }
    {
      std::lock_guard lock(mu);
      report = r;
      cv.notify_all();
    }
    if (!r.requested && cb.on_exit) cb.on_exit(r);
  }

  // A watcher thread threw (guard_thread): the node can no longer see its container's logs or
  // exit, so it is reported like an unrequested exit naming the node, and the session fails.
  void thread_failed(runtime::NodeError err, bool log_thread) {
    ExitReport r;
    r.node_id = spec.node_id;
    r.container_id = id;
    r.exit_code = -1;
    r.message = std::move(err.message);
    {
      std::lock_guard lock(mu);
      if (log_thread) logs_done = true;
      r.requested = stopping;
      r.last_lines.assign(tail.begin(), tail.end());
      if (!report) report = r;
      cv.notify_all();
    }
    if (!r.requested && cb.on_exit) cb.on_exit(r);
  }
};

NodeContainer::NodeContainer(std::shared_ptr<State> state) : state_(std::move(state)) {}

Result<std::unique_ptr<NodeContainer>> NodeContainer::start(const DockerClient& client,
                                                            NodeContainerSpec spec, Callbacks callbacks,
                                                            const CancelToken* cancel) {
  if (spec.node_id.empty() || spec.session_id.empty()) {
    return docker_error(DockerErrorCode::invalid_argument,
                        "a node container needs a session id and a node id");
  }
  auto state = std::make_shared<State>(client, std::move(spec), std::move(callbacks));
  ContainerSpec cs = node_container_spec(state->spec);
  std::random_device rd;
  cs.name = sanitize_name(fmt::format("rm-{}-{}", state->spec.session_id, state->spec.node_id)) +
            fmt::format("-{:06x}", rd() & 0xffffff);
  state->name = cs.name;
  auto id = client.container_create(cs);
  if (!id) {
    auto e = id.error();
    e.message = fmt::format("node {}: {}", state->spec.node_id, e.message);
    return tl::unexpected(std::move(e));
  }
  state->id = *id;
  core::logger("docker")->debug("node {}: created container {} ({})", state->spec.node_id, state->name,
                                state->id.substr(0, 12));
  if (cancel != nullptr && cancel->cancelled()) {
    (void)client.container_remove(state->id, true, true);
    return docker_error(DockerErrorCode::cancelled,
                        fmt::format("node {}: cancelled; container {} was removed before it started",
                                    state->spec.node_id, state->name));
  }
  if (auto ok = client.container_start(state->id); !ok) {
    (void)client.container_remove(state->id, true, true);
    auto e = ok.error();
    e.message = fmt::format("node {}: {}", state->spec.node_id, e.message);
    return tl::unexpected(std::move(e));
  }
  core::logger("docker")->debug("node {}: started container {} ({})", state->spec.node_id, state->name,
                                state->id.substr(0, 12));
  State* raw = state.get();
  state->log_thread = std::thread([raw] {
    runtime::guard_thread(
        raw->spec.node_id, "container log follower", [raw] { raw->follow_logs(); },
        [raw](runtime::NodeError e) { raw->thread_failed(std::move(e), true); });
  });
  state->wait_thread = std::thread([raw] {
    runtime::guard_thread(
        raw->spec.node_id, "container exit watcher", [raw] { raw->watch_exit(); },
        [raw](runtime::NodeError e) { raw->thread_failed(std::move(e), false); });
  });
  return std::unique_ptr<NodeContainer>(new NodeContainer(std::move(state)));
}

NodeContainer::~NodeContainer() {
  if (auto ok = stop(); !ok) {
    core::logger("docker")->warn("node {}: {}", state_->spec.node_id, ok.error().message);
  }
}

const std::string& NodeContainer::id() const {
  return state_->id;
}
const std::string& NodeContainer::name() const {
  return state_->name;
}
const NodeContainerSpec& NodeContainer::spec() const {
  return state_->spec;
}

std::optional<ExitReport> NodeContainer::exit_report() const {
  std::lock_guard lock(state_->mu);
  return state_->report;
}

std::optional<ExitReport> NodeContainer::wait_exit(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(state_->mu);
  state_->cv.wait_for(lock, timeout, [&] { return state_->report.has_value(); });
  return state_->report;
}

std::vector<std::string> NodeContainer::last_log_lines() const {
  std::lock_guard lock(state_->mu);
  return {state_->tail.begin(), state_->tail.end()};
}

Status NodeContainer::stop(bool remove, std::optional<std::chrono::seconds> grace) {
  State& s = *state_;
  {
    std::lock_guard lock(s.mu);
    if (s.removed) return {};
    s.stopping = true;
  }
  Status result;
  bool exited;
  {
    std::lock_guard lock(s.mu);
    exited = s.report.has_value();
  }
  if (!exited) {
    auto st = s.client.container_stop(s.id, grace.value_or(s.spec.stop_grace));
    if (!st && st.error().code != DockerErrorCode::not_found) result = st;
  }
  // The watchers end on their own once the container has stopped; cancel covers a daemon that
  // does not answer any more.
  {
    std::unique_lock lock(s.mu);
    s.cv.wait_for(lock, std::chrono::seconds(5), [&] { return s.report.has_value(); });
  }
  s.wait_cancel.cancel();
  s.log_cancel.cancel();
  if (s.wait_thread.joinable()) s.wait_thread.join();
  if (s.log_thread.joinable()) s.log_thread.join();
  if (remove) {
    auto rm = s.client.container_remove(s.id, true, true);
    if (!rm && rm.error().code != DockerErrorCode::not_found && result) result = rm;
  }
  if (!s.spec.owned_dir.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(s.spec.owned_dir, ec);
    if (ec)
      core::logger("docker")->warn("node {}: cannot remove {}: {}", s.spec.node_id, s.spec.owned_dir,
                                   ec.message());
  }
  {
    std::lock_guard lock(s.mu);
    s.removed = true;
  }
  return result;
}

Result<SweepReport> sweep_orphans(const DockerClient& client, bool include_live, bool include_kept) {
  auto list = client.container_list({{std::string(kLabelOwner), ""}}, true);
  if (!list) return tl::unexpected(list.error());
  SweepReport report;
  const OwnerId me = OwnerId::self();
  for (const auto& c : *list) {
    const OwnerId owner = OwnerId::from_labels(c.labels);
    const bool mine = owner == me;
    const bool live = owner.alive();
    const bool kept = c.labels.count(std::string(kLabelKeep)) > 0 && c.state != "running";
    if (mine || (live && !include_live) || (kept && !include_kept)) {
      report.kept.push_back(c.name);
      continue;
    }
    if (auto ok = client.container_remove(c.id, true, true);
        !ok && ok.error().code != DockerErrorCode::not_found) {
      report.errors.push_back(c.name + ": " + ok.error().message);
      continue;
    }
    report.removed.push_back(c.name);
  }
  if (!report.removed.empty()) {
    core::logger("docker")->info("removed {} orphaned node container(s)", report.removed.size());
  }
  return report;
}

}  // namespace rm::docker
