#include "docker/docker_node.hpp"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <mutex>
#include <optional>
#include <thread>

#include <fmt/format.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "core/config.hpp"
#include "core/log.hpp"
#include "docker/container_manager.hpp"
#include "docker/container_pool.hpp"
#include "docker/image_builder.hpp"
#include "docker/runner_server.hpp"
#include "ipc/channel_names.hpp"
#include "process/process_node.hpp"
#include "process/runner_link.hpp"
#include "process/session_dir.hpp"
#include "process/stop_escalation.hpp"

namespace rm::docker {
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using runtime::node_error;
using runtime::NodeErrorCode;
using NodeStatus = runtime::Status;

namespace {

constexpr std::size_t kTailLines = 20;

std::chrono::milliseconds env_ms(std::string_view name, long long fallback) {
  if (auto v = core::env_int(name, fallback, 1, 24LL * 3600 * 1000)) return std::chrono::milliseconds(*v);
  core::logger("docker")->warn("{}: invalid value; using {}", name, fallback);
  return std::chrono::milliseconds(fallback);
}

// The process-wide pool of shared containers (created on first use, destroyed -- which stops
// its containers -- by shutdown_shared_containers() or at exit).
std::mutex g_pool_mu;
std::unique_ptr<ContainerPool> g_pool;
ContainerPool& shared_pool() {
  std::lock_guard lock(g_pool_mu);
  if (!g_pool) g_pool = std::make_unique<ContainerPool>(env_ms("RM_DOCKER_WARM_IDLE_MS", 30000));
  return *g_pool;
}

// The last client that connected (ping and API version negotiated). A session on a warm shared
// container reuses it instead of connecting again: that container proves the daemon answered.
std::mutex g_client_mu;
std::optional<DockerClient> g_client;

Result<DockerClient> connect_client(bool warm) {
  if (warm) {
    if (auto ep = endpoint_from_env()) {
      std::lock_guard lock(g_client_mu);
      if (g_client && g_client->endpoint().socket_path == ep->socket_path) return *g_client;
    }
  }
  auto c = DockerClient::connect_from_env();
  if (c) {
    std::lock_guard lock(g_client_mu);
    g_client = *c;
  }
  return c;
}

// A container start that a cancel ended is the session's cancel, not the node's failure.
NodeErrorCode start_error_code(const DockerError& e) {
  return e.code == DockerErrorCode::cancelled ? NodeErrorCode::cancelled : NodeErrorCode::init_failed;
}

}  // namespace

std::map<std::string, std::string> runner_env(const DockerNodeOptions& opts) {
  return {
      {"PYTHONPATH", opts.sdk_container_dir},
      {"RM_IPC_LIBRARY", opts.lib_container_dir + "/" + opts.ipc_library.filename().string()},
      {"RM_IPC_ROOT", opts.ipc_root.string()},
      {"RM_IPC_DIR", opts.ipc_root.string()},
      {"RM_NODE_PARAMS", boost::json::serialize(opts.params)},
      {"REMOTEMEDIA_NODE_PATH", "/app/nodes"},
      {"PYTHONUNBUFFERED", "1"},
  };
}

NodeContainerSpec node_container_spec_for(const DockerNodeOptions& opts, const std::string& image,
                                          const std::string& ipc_dir) {
  NodeContainerSpec s;
  s.session_id = opts.session_id;
  s.node_id = opts.node_id;
  s.image = image;
  s.config = opts.config;
  // Same path on both sides, so channel paths mean the same in the container.
  s.ipc_host_dir = ipc_dir;
  s.ipc_container_dir = ipc_dir;
  s.sdk_host_dir = opts.sdk_dir.string();
  s.sdk_container_dir = opts.sdk_container_dir;
  s.extra_mounts.push_back(
      {opts.ipc_library.string(), opts.lib_container_dir + "/" + opts.ipc_library.filename().string(), true});
  s.extra_env = runner_env(opts);
  s.stop_grace = opts.stop_grace;
  return s;
}

DockerNodeOptions DockerNodeOptions::from_env(std::string node_id, std::string node_type,
                                              std::string session_id, boost::json::object params,
                                              runtime::DockerConfig config) {
  // The SDK / library locations and channel sizes are the process runtime's settings.
  auto p = process::ProcessNodeOptions::from_env(node_id, node_type, session_id, {});
  DockerNodeOptions o;
  o.node_id = std::move(node_id);
  o.node_type = std::move(node_type);
  o.session_id = std::move(session_id);
  o.params = std::move(params);
  o.config = std::move(config);
  if (!p.sdk_dir.empty()) o.sdk_dir = fs::absolute(p.sdk_dir);
  if (!p.ipc_library.empty()) o.ipc_library = fs::absolute(p.ipc_library);
  o.not_found = p.not_found;
  o.ipc_root = p.ipc_root;
  o.data_capacity = p.data_capacity;
  o.max_channel_bytes = p.max_channel_bytes;
  o.init_timeout = env_ms("RM_DOCKER_INIT_TIMEOUT_MS", 60000);
  o.stop_grace = std::chrono::seconds(env_ms("RM_DOCKER_STOP_GRACE_S", 2).count());
  o.fallback = docker_fallback_from_env().value_or(DockerFallback::error);  // make_docker_node rejects it
  o.share = core::env_bool("RM_DOCKER_SHARE", false).value_or(false);
  o.keep = keep_containers_from_env().value_or(KeepContainers::never);  // make_docker_node rejects it
  return o;
}

Result<DockerFallback> docker_fallback_from_env() {
  const auto fb = core::env_string("RM_DOCKER_FALLBACK", "error");
  if (fb == "error" || fb.empty()) return DockerFallback::error;
  if (fb == "process") return DockerFallback::process;
  return docker_error(
      DockerErrorCode::invalid_argument,
      fmt::format("RM_DOCKER_FALLBACK='{}' is not a valid value: use error (the default) or process", fb));
}

Result<KeepContainers> keep_containers_from_env() {
  const auto keep = core::env_string("RM_DOCKER_KEEP", "never");
  if (keep == "never" || keep.empty()) return KeepContainers::never;
  if (keep == "on-failure") return KeepContainers::on_failure;
  if (keep == "always") return KeepContainers::always;
  return docker_error(DockerErrorCode::invalid_argument,
                      fmt::format("RM_DOCKER_KEEP='{}' is not a valid value: use never (the default), "
                                  "on-failure or always",
                                  keep));
}

struct DockerNode::Impl {
  DockerNodeOptions opts;
  std::shared_ptr<spdlog::logger> log = core::logger("docker");
  std::unique_ptr<process::ProcessNode> fallback;  // set when the policy chose a host process
  std::optional<DockerClient> client;
  std::string image;
  std::unique_ptr<process::RunnerLink> link;

  // Dedicated mode.
  std::unique_ptr<NodeContainer> container;
  // Shared mode.
  ContainerPool::Lease lease;
  std::string shared_name;  // the shared container's name, for messages
  std::unique_ptr<RunnerServerSession> server;

  // The runner's end, from the exit watcher (dedicated) or the runner server (shared).
  std::atomic<bool> exited{false};
  std::atomic<bool> stopping{false};
  // abort() from another thread: every wait of initialize() watches this token.
  CancelToken cancel;
  std::atomic<bool> ready{false};           // READY arrived: the runner may have state to clean up
  std::atomic<bool> failed{false};          // this node's own step failed or its runner died
  std::atomic<bool> session_failed{false};  // abort(node_failed): another node failed
  std::mutex fallback_mu;                   // guards `fallback` against abort()
  std::mutex mu;
  std::condition_variable cv;
  std::optional<std::string> exit_message;
  std::deque<std::string> tail;

  std::string prefix() const { return "node " + opts.node_id; }

  void on_exit(std::string message) {
    if (!stopping) failed = true;
    {
      std::lock_guard lock(mu);
      if (!exit_message) exit_message = std::move(message);
    }
    exited = true;
    cv.notify_all();
  }

  runtime::NodeError gone(std::string_view during) {
    std::unique_lock lock(mu);
    // The channel may notice before the watcher has the reason: wait for it briefly.
    cv.wait_for(lock, 1s, [&] { return exit_message.has_value(); });
    std::string msg = exit_message
                          ? *exit_message
                          : fmt::format("{}: the runner in the container stopped answering", prefix());
    return runtime::NodeError{NodeErrorCode::remote_failed, fmt::format("{} ({})", msg, during)};
  }

  std::vector<std::string> runner_command(const std::string& ipc_dir) const {
    return {"python3",    "-m",           "remotemedia.runner", "--node-type", opts.node_type, "--node-id",
            opts.node_id, "--session-id", opts.session_id,      "--ipc-dir",   ipc_dir};
  }

  std::map<std::string, std::string> runner_env() const { return docker::runner_env(opts); }

  // Shared containers are interchangeable when image and config are: the node type is not part
  // of the key (the runner server imports each node class once, on first use).
  std::string shared_key() const { return image + "|" + config_hash(opts.config); }

  // control_dir: shared only, the runner server's control directory.
  NodeContainerSpec container_spec(bool shared, const std::string& control_dir = {}) const {
    NodeContainerSpec s =
        node_container_spec_for(opts, image, shared ? opts.ipc_root.string() : link->dir().string());
    if (shared) s.session_id = "shared";
    s.keep = !shared && opts.keep != KeepContainers::never;
    s.command = shared ? std::vector<std::string>{"python3",   "-m",        "remotemedia.runner", "--serve",
                                                  control_dir, "--preload", opts.node_type}
                       : runner_command(link->dir().string());
    s.owned_dir = control_dir;
    return s;
  }

  NodeStatus start_dedicated();
  NodeStatus start_shared();
  Result<std::unique_ptr<NodeContainer>> start_server_container();
  void on_runner_log(int fd, std::string_view line);
  void on_runner_end(const RunnerServerSession::End& end);
  void stop_runner();
};

NodeStatus DockerNode::Impl::start_dedicated() {
  NodeContainer::Callbacks cb;
  cb.on_exit = [this](const ExitReport& r) { on_exit(r.message); };
  auto c = NodeContainer::start(*client, container_spec(false), std::move(cb), &cancel);
  if (!c) return node_error(start_error_code(c.error()), c.error().message);
  container = std::move(*c);
  log->info("{}: container {} started from {}", prefix(), container->name(), image);
  return {};
}

// The factory of a shared container: its command is the runner server, which listens on
// <control dir>/runner.sock once it has imported the SDK and the first node's class. The
// container is handed out only after that, so a later failure to connect means the server died.
Result<std::unique_ptr<NodeContainer>> DockerNode::Impl::start_server_container() {
  static std::atomic<unsigned> counter{0};
  // Inside the IPC root, which the container mounts at the same path. The owner file lets
  // sweep_stale_sessions() remove it when this process dies without stopping the container.
  const fs::path dir = opts.ipc_root / fmt::format("rms-{}-{}", ::getpid(), counter++);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (!ec) {
    std::ofstream owner(dir / "owner", std::ios::trunc);
    owner << process::owner_record() << '\n';
    if (!owner) ec = std::make_error_code(std::errc::io_error);
  }
  if (ec) {
    fs::remove_all(dir, ec);
    return docker_error(DockerErrorCode::io, fmt::format("{}: cannot create the runner server directory {}",
                                                         prefix(), dir.string()));
  }
  auto c = NodeContainer::start(*client, container_spec(true, dir.string()), {}, &cancel);
  if (!c) {
    fs::remove_all(dir, ec);
    return c;
  }
  auto& container = **c;
  auto up = wait_for_runner_server(dir / kRunnerSocketName, opts.init_timeout,
                                   [&] { return !container.exit_report() && !cancel.cancelled(); });
  if (!up) {
    std::string why = up.error().message;
    if (auto r = container.exit_report(); r && !r->message.empty()) {
      why += "; " + r->message;
    } else if (auto last = container.last_log_lines(); !last.empty()) {
      why += "; last log lines:";
      for (const auto& l : last) why += "\n  " + l;
    }
    const std::string name = container.name();
    // Also removes dir; a cancelled start-up does not wait for the grace period.
    (void)container.stop(true, cancel.cancelled() ? std::optional(0s) : std::nullopt);
    if (cancel.cancelled())
      return docker_error(DockerErrorCode::cancelled,
                          fmt::format("{}: cancelled while shared container {} started", prefix(), name));
    return docker_error(DockerErrorCode::container_failed,
                        fmt::format("{}: shared container {}: {}", prefix(), name, why));
  }
  return c;
}

NodeStatus DockerNode::Impl::start_shared() {
  auto l = shared_pool().acquire(shared_key(), [this]() { return start_server_container(); });
  if (!l) return node_error(start_error_code(l.error()), l.error().message);
  lease = std::move(*l);
  shared_name = lease->name();
  // One runner per session, forked by the server in the running container.
  RunnerRequest req{opts.session_id, opts.node_id, opts.node_type, link->dir().string(), opts.params};
  RunnerServerSession::Callbacks cb;
  cb.on_log = [this](int fd, std::string_view line) { on_runner_log(fd, line); };
  cb.on_end = [this](const RunnerServerSession::End& e) { on_runner_end(e); };
  auto s =
      RunnerServerSession::start(fs::path(lease->spec().owned_dir) / kRunnerSocketName, req, std::move(cb));
  if (!s) {
    lease.discard();
    lease.release();
    return node_error(NodeErrorCode::init_failed,
                      fmt::format("{}: the runner server in shared container {} is not answering "
                                  "({}); that container will not be used for new sessions",
                                  prefix(), shared_name, s.error().message));
  }
  server = std::move(*s);
  log->info("{}: runner started in {} container {}", prefix(), lease.reused() ? "warm" : "new", shared_name);
  return {};
}

// The runner's output is the node's log, tagged with the node id.
void DockerNode::Impl::on_runner_log(int fd, std::string_view line) {
  if (fd == 2) {
    log->warn("[{}] {}", opts.node_id, line);
  } else {
    log->info("[{}] {}", opts.node_id, line);
  }
  std::lock_guard lock(mu);
  tail.emplace_back(line);
  if (tail.size() > kTailLines) tail.pop_front();
}

// Runs once, on the session's reader thread, when the runner has ended or the server is gone.
void DockerNode::Impl::on_runner_end(const RunnerServerSession::End& end) {
  if (stopping && end.how == RunnerServerSession::End::How::exited) {
    on_exit(prefix() + ": runner stopped");
    return;
  }
  std::vector<std::string> last;
  {
    std::lock_guard lock(mu);
    last.assign(tail.begin(), tail.end());
  }
  std::string msg;
  switch (end.how) {
    case RunnerServerSession::End::How::exited:
      msg = runner_exit_message(opts.node_id, shared_name, end.code, end.signal,
                                opts.config.resource_limits.memory_mb, last);
      break;
    case RunnerServerSession::End::How::refused:
      msg = fmt::format("{}: the runner server in shared container {} refused the session: {}", prefix(),
                        shared_name, end.message);
      break;
    case RunnerServerSession::End::How::server_gone:
      // The container will not be handed out again; sessions running in it see the same.
      lease.discard();
      msg = fmt::format(
          "{}: the runner server in shared container {} went away ({}); that "
          "container will not be used for new sessions",
          prefix(), shared_name, end.message);
      if (auto r = lease->wait_exit(std::chrono::milliseconds(500)); r && !r->message.empty())
        msg += "; " + r->message;
      break;
  }
  if (stopping) {
    on_exit(msg);
    return;
  }
  log->error("{}", msg);
  on_exit(std::move(msg));
}

void DockerNode::Impl::stop_runner() {
  stopping = true;
  if (container) {
    // SIGTERM through the container's init reaches the runner, which runs cleanup() and exits;
    // stop() marks the exit as requested first, so it is not reported as a failure.
    const bool keep = opts.keep == KeepContainers::always ||
                      (opts.keep == KeepContainers::on_failure && (failed || session_failed));
    const std::string name = container->name();
    // Aborted before READY (Ctrl-C, a sibling failed): nothing to clean up gracefully, and an
    // initialize() that never returns must not hold the session for the grace period.
    const auto grace = cancel.cancelled() && !ready ? std::optional(std::chrono::seconds(0)) : std::nullopt;
    if (auto s = container->stop(!keep, grace); !s) log->warn("{}: {}", prefix(), s.error().message);
    if (keep) {
      log->info(
          "{}: container {} kept (stopped, RM_DOCKER_KEEP): `docker logs {}`, `docker "
          "inspect {}`; `remotemedia cleanup` removes it",
          prefix(), name, name, name);
    }
    container.reset();
  }
  if (server) {
    // rm.stop first (the runner cleans up and exits), then signals through the server.
    auto wait = [&](std::chrono::milliseconds d) {
      std::unique_lock lock(mu);
      return cv.wait_for(lock, d, [&] { return exited.load(); });
    };
    (void)process::escalate_stop({.request_stop =
                                      [&] {
                                        if (link) link->request_stop();
                                      },
                                  .signal = [&](int sig) { return server->signal(sig).has_value(); },
                                  .wait_exit = wait},
                                 opts.stop_grace, prefix());
    server.reset();  // closes the connection (a runner still there gets SIGTERM) and joins
  }
  lease.release();
}

DockerNode::DockerNode(DockerNodeOptions options) : impl_(std::make_unique<Impl>()) {
  auto& m = *impl_;
  m.opts = std::move(options);
  // Made here, not in initialize(): abort() may reach it from another thread at any time.
  process::RunnerLinkOptions lo;
  lo.node_id = m.opts.node_id;
  lo.node_type = m.opts.node_type;
  lo.session_id = m.opts.session_id;
  lo.ipc_root = m.opts.ipc_root;
  lo.data_capacity = m.opts.input_capacity ? m.opts.input_capacity : m.opts.data_capacity;
  lo.output_capacity = m.opts.output_capacity;
  lo.grow_channels = m.opts.input_capacity == 0;
  lo.fixed_output = m.opts.output_capacity != 0;
  lo.max_channel_bytes = m.opts.max_channel_bytes;
  lo.runner_name = "container";
  m.link = std::make_unique<process::RunnerLink>(std::move(lo));
  m.link->set_peer(
      {[&m] { return m.exited.load(); }, [&m](std::string_view during) { return m.gone(during); }});
}

DockerNode::~DockerNode() {
  close();
}

void DockerNode::abort(runtime::AbortReason why) {
  auto& m = *impl_;
  if (why == runtime::AbortReason::node_failed) m.session_failed = true;
  m.cancel.cancel();
  m.link->cancel();
  std::lock_guard lock(m.fallback_mu);
  if (m.fallback) m.fallback->abort(why);
}

// Records a failure of this node's own steps (for RM_DOCKER_KEEP=on-failure).
static NodeStatus noted(std::atomic<bool>& failed, NodeStatus st) {
  if (!st && st.error().code != NodeErrorCode::cancelled) failed = true;
  return st;
}

NodeStatus DockerNode::initialize() {
  return noted(impl_->failed, initialize_steps());
}

NodeStatus DockerNode::initialize_steps() {
  auto& m = *impl_;
  if (m.opts.sdk_dir.empty() || m.opts.ipc_library.empty()) {
    return node_error(NodeErrorCode::init_failed,
                      fmt::format("node {}: cannot mount the Python runtime into the container: {}",
                                  m.opts.node_id, m.opts.not_found));
  }
  // A warm shared container for this config means the daemon answered and the image exists:
  // the session goes straight to that container's runner server.
  std::string warm_image;
  if (m.opts.share) {
    auto tag = image_tag(m.opts.config);
    if (shared_pool().has_live(tag + "|" + config_hash(m.opts.config))) warm_image = std::move(tag);
  }
  auto c = connect_client(!warm_image.empty());
  if (!c) {
    if (m.opts.fallback == DockerFallback::process) {
      m.log->warn(
          "{}: {}; RM_DOCKER_FALLBACK=process: running {} as a host process instead "
          "(no container limits, host Python packages)",
          m.prefix(), c.error().message, m.opts.node_type);
      auto po = process::ProcessNodeOptions::from_env(m.opts.node_id, m.opts.node_type, m.opts.session_id,
                                                      m.opts.params);
      if (!m.opts.manifest_dir.empty()) po.node_path.push_back(m.opts.manifest_dir);
      // Node code the manifest mounts at /app/nodes is found at its host path.
      for (const auto& v : m.opts.config.volumes)
        if (v.container_path.rfind("/app/nodes", 0) == 0) {
          fs::path hp(v.host_path);
          po.node_path.push_back(fs::is_directory(hp) ? hp : hp.parent_path());
        }
      {
        std::lock_guard lock(m.fallback_mu);
        m.fallback = std::make_unique<process::ProcessNode>(std::move(po));
        if (m.cancel.cancelled()) m.fallback->abort(runtime::AbortReason::cancelled);
      }
      return m.fallback->initialize();
    }
    return node_error(NodeErrorCode::init_failed,
                      fmt::format("{}: {} (or set RM_DOCKER_FALLBACK=process to run docker nodes "
                                  "as host processes)",
                                  m.prefix(), c.error().message));
  }
  m.client.emplace(std::move(*c));

  if (!warm_image.empty()) {
    m.image = warm_image;  // the config was checked when that container was made
  } else {
    ImageBuilder builder(*m.client, BuildSettings::from_env());
    auto img = builder.ensure_image(
        m.opts.config, m.opts.node_id,
        [&m](std::string_view line) { m.log->info("[{}] build: {}", m.opts.node_id, line); }, &m.cancel);
    if (!img) {
      if (img.error().code == DockerErrorCode::cancelled)
        return node_error(NodeErrorCode::cancelled, m.prefix() + ": cancelled while preparing its image");
      return node_error(NodeErrorCode::init_failed, img.error().message);  // names the node already
    }
    if (m.cancel.cancelled()) return node_error(NodeErrorCode::cancelled, m.prefix() + ": cancelled");
    m.image = img->tag;  // the builder logged whether it built or reused it
  }

  if (auto s = m.link->open(); !s) return s;
  if (auto s = m.opts.share ? m.start_shared() : m.start_dedicated(); !s) return s;
  if (m.cancel.cancelled()) return node_error(NodeErrorCode::cancelled, m.prefix() + ": cancelled");
  auto st =
      m.link->wait_ready(m.opts.init_timeout, "raise RM_DOCKER_INIT_TIMEOUT_MS if it needs longer to load");
  if (st) m.ready = true;
  return st;
}

NodeStatus DockerNode::process(const runtime::DataPtr& input, runtime::Emitter& out) {
  auto& m = *impl_;
  if (m.fallback) return m.fallback->process(input, out);
  if (!m.link || !m.link->is_open())
    return node_error(NodeErrorCode::process_failed, m.prefix() + ": not initialized");
  return noted(m.failed, m.link->process(input, out));
}

NodeStatus DockerNode::flush(runtime::Emitter& out) {
  auto& m = *impl_;
  if (m.fallback) return m.fallback->flush(out);
  if (!m.link || !m.link->is_open()) return {};
  return noted(m.failed, m.link->flush(out));
}

void DockerNode::close() {
  if (!impl_) return;
  auto& m = *impl_;
  if (m.fallback) {
    m.fallback->close();
    return;
  }
  if (m.client) m.stop_runner();
  if (m.link) m.link->close();
}

boost::json::value DockerNode::reported_contract() const {
  if (impl_->fallback) return impl_->fallback->reported_contract();
  return impl_->link ? impl_->link->contract() : boost::json::value();
}

const DockerNodeOptions& DockerNode::options() const {
  return impl_->opts;
}
bool DockerNode::fell_back_to_process() const {
  return impl_->fallback != nullptr;
}
std::string DockerNode::container_id() const {
  if (impl_->container) return impl_->container->id();
  if (impl_->lease) return impl_->lease->id();
  return {};
}
std::string DockerNode::image() const {
  return impl_->image;
}
bool DockerNode::reused_container() const {
  return impl_->lease && impl_->lease.reused();
}

void shutdown_shared_containers() {
  std::unique_ptr<ContainerPool> pool;
  {
    std::lock_guard lock(g_pool_mu);
    pool = std::move(g_pool);
  }
  pool.reset();
}

}  // namespace rm::docker
