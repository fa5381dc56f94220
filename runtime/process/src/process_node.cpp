#include "process/process_node.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <future>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <boost/json/serialize.hpp>

#include "core/config.hpp"
#include "core/log.hpp"
#include "ipc/channel_names.hpp"
#include "process/install_layout.hpp"
#include "process/runner_link.hpp"
#include "process/stop_escalation.hpp"
#include "runtime/thread_boundary.hpp"

extern char** environ;

namespace rm::process {
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using runtime::node_error;
using runtime::NodeErrorCode;
using runtime::Status;

namespace {

constexpr std::size_t kStderrTail = 20;

std::string describe_status(int status) {
  if (WIFEXITED(status)) return fmt::format("exited with code {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const char* abbrev = ::sigabbrev_np(WTERMSIG(status));
    return fmt::format("was killed by signal {} (SIG{})", WTERMSIG(status), abbrev ? abbrev : "?");
  }
  return fmt::format("ended with status {}", status);
}

}  // namespace

ProcessNodeOptions ProcessNodeOptions::from_env(std::string node_id, std::string node_type,
                                                std::string session_id, boost::json::object params) {
  ProcessNodeOptions o;
  o.node_id = std::move(node_id);
  o.node_type = std::move(node_type);
  o.session_id = std::move(session_id);
  o.params = std::move(params);
  o.python = core::env_string("REMOTEMEDIA_PYTHON", "python3");
  if (auto sdk = find_python_sdk()) {
    o.sdk_dir = *sdk;
  } else {
    o.not_found = sdk.error();
  }
  if (auto lib = find_ipc_library()) {
    o.ipc_library = *lib;
  } else if (o.not_found.empty()) {
    o.not_found = lib.error();
  }
  o.ipc_root = ipc::ipc_root();
  if (auto t = core::env_int("RM_PROCESS_INIT_TIMEOUT_MS", 30000, 1, 24LL * 3600 * 1000)) {
    o.init_timeout = std::chrono::milliseconds(*t);
  } else {
    core::logger("process")->warn("{}; using 30000", t.error().message);
  }
  if (auto c = core::env_int("RM_PROCESS_CHANNEL_BYTES", 4 << 20, 4096, 1LL << 32)) {
    o.data_capacity = static_cast<std::uint64_t>(*c);
  } else {
    core::logger("process")->warn("{}; using 4 MiB", c.error().message);
  }
  if (auto c = core::env_int("RM_IPC_MAX_CHANNEL_BYTES", 256 << 20, 4096, 1LL << 32)) {
    o.max_channel_bytes = static_cast<std::uint64_t>(*c);
  } else {
    core::logger("process")->warn("{}; using 256 MiB", c.error().message);
  }
  return o;
}

struct ProcessNode::Impl {
  ProcessNodeOptions opts;
  std::shared_ptr<spdlog::logger> log = core::logger("process");
  // Channels, READY handshake and the data loop (shared with DockerNode).
  std::unique_ptr<RunnerLink> link;

  // Child state, shared with the supervisor thread.
  std::thread supervisor;
  std::atomic<int> pid{0};
  std::atomic<bool> exited{false};
  std::atomic<bool> stopping{false};
  std::mutex mu;
  std::condition_variable cv;
  int exit_status = 0;
  std::deque<std::string> stderr_tail;
  std::optional<runtime::NodeError> thread_error;  // the supervisor thread failed (guard_thread)

  std::string prefix() const { return "node " + opts.node_id; }

  std::string stderr_lines() {
    std::lock_guard lock(mu);
    std::string s;
    for (const auto& l : stderr_tail) s += "\n  | " + l;
    return s.empty() ? s : "; last stderr lines:" + s;
  }

  // An error describing why the child is gone (waits briefly for the supervisor to reap it).
  runtime::NodeError child_gone(std::string_view during) {
    std::unique_lock lock(mu);
    cv.wait_for(lock, 500ms, [&] { return exited.load(); });
    if (thread_error) return *thread_error;
    std::string what = exited ? describe_status(exit_status) : "closed its channels";
    lock.unlock();
    return runtime::NodeError{NodeErrorCode::remote_failed,
                              fmt::format("{}: python process for {} {} {}{}", prefix(), opts.node_type, what,
                                          during, stderr_lines())};
  }

  Status spawn();
  void supervise(std::vector<std::string> argv, std::vector<std::string> envv,
                 std::promise<std::string>& started);
  void supervisor_failed(runtime::NodeError err, std::promise<std::string>& started);
  void stop_child();
};

Status ProcessNode::Impl::spawn() {
  if (opts.sdk_dir.empty() || opts.ipc_library.empty()) {
    return node_error(
        NodeErrorCode::init_failed,
        fmt::format("{}: cannot start python node {}: {}", prefix(), opts.node_type,
                    opts.not_found.empty() ? "no SDK directory / IPC library set" : opts.not_found));
  }
  const auto python = find_program(opts.python);
  std::vector<std::string> argv = {python.empty() ? opts.python : python,
                                   "-m",
                                   "remotemedia.runner",
                                   "--node-type",
                                   opts.node_type,
                                   "--node-id",
                                   opts.node_id,
                                   "--session-id",
                                   opts.session_id,
                                   "--ipc-dir",
                                   link->dir().string()};
  std::vector<std::string> envv;
  auto prepend = [](const std::string& first, const char* rest) {
    return rest && *rest ? first + ":" + rest : first;
  };
  std::string node_path;
  for (const auto& p : opts.node_path) node_path += (node_path.empty() ? "" : ":") + p.string();
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    auto key = kv.substr(0, kv.find('='));
    if (key == "PYTHONPATH" || key == "RM_IPC_LIBRARY" || key == "RM_NODE_PARAMS" ||
        key == "REMOTEMEDIA_NODE_PATH" || key == "PYTHONUNBUFFERED" || key == "RM_IPC_DIR")
      continue;
    envv.emplace_back(kv);
  }
  envv.push_back("PYTHONPATH=" + prepend(opts.sdk_dir.string(), std::getenv("PYTHONPATH")));
  envv.push_back("RM_IPC_LIBRARY=" + opts.ipc_library.string());
  envv.push_back("RM_IPC_DIR=" + opts.ipc_root.string());
  envv.push_back("RM_NODE_PARAMS=" + boost::json::serialize(opts.params));
  envv.push_back("PYTHONUNBUFFERED=1");
  const char* user_path = std::getenv("REMOTEMEDIA_NODE_PATH");
  if (!node_path.empty() || (user_path && *user_path))
    envv.push_back("REMOTEMEDIA_NODE_PATH=" +
                   (node_path.empty() ? std::string(user_path) : prepend(node_path, user_path)));
  std::promise<std::string> started;
  auto fut = started.get_future();
  supervisor = std::thread(
      [this, argv = std::move(argv), envv = std::move(envv), started = std::move(started)]() mutable {
        runtime::guard_thread(
            opts.node_id, "process supervisor", [&] { supervise(std::move(argv), std::move(envv), started); },
            [&](runtime::NodeError e) { supervisor_failed(std::move(e), started); });
      });
  auto err = fut.get();
  if (!err.empty())
    return node_error(NodeErrorCode::init_failed, err.rfind(prefix(), 0) == 0 ? err : prefix() + ": " + err);
  return {};
}

// The supervisor thread threw: the child is killed and reaped here (nobody else will), and the
// error is what the node reports from then on.
void ProcessNode::Impl::supervisor_failed(runtime::NodeError err, std::promise<std::string>& started) {
  try {
    started.set_value(err.message);  // spawn() is still waiting
  } catch (const std::future_error&) {
  }
  const int child = pid.load();
  if (child > 0 && !exited) {
    ::kill(child, SIGKILL);
    int status = 0;
    while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
  }
  {
    std::lock_guard lock(mu);
    thread_error = std::move(err);
    exited = true;
    pid = 0;
  }
  cv.notify_all();
}

// Runs for the child's whole life: the child's PDEATHSIG is tied to the thread that forked it,
// so fork happens here and this thread ends only after the child was reaped.
void ProcessNode::Impl::supervise(std::vector<std::string> argv, std::vector<std::string> envv,
                                  std::promise<std::string>& started) {
  std::vector<char*> av, ev;
  for (auto& a : argv) av.push_back(a.data());
  av.push_back(nullptr);
  for (auto& e : envv) ev.push_back(e.data());
  ev.push_back(nullptr);
  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) {
    started.set_value(fmt::format("pipe failed: {}", std::strerror(errno)));
    return;
  }
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    started.set_value(fmt::format("pipe failed: {}", std::strerror(errno)));
    return;
  }
  int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  pid_t parent = ::getpid();
  pid_t child = ::fork();
  if (child == 0) {
    // Only async-signal-safe calls from here to exec.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    if (devnull >= 0) ::dup2(devnull, 0);
    ::dup2(out_pipe[1], 1);
    ::dup2(err_pipe[1], 2);
    ::syscall(SYS_close_range, 3U, UINT_MAX, 0U);
    ::execve(av[0], av.data(), ev.data());
    const char msg[] = "remotemedia: exec of the python interpreter failed\n";
    [[maybe_unused]] auto w = ::write(2, msg, sizeof msg - 1);
    ::_exit(127);
  }
  int fork_errno = errno;
  if (devnull >= 0) ::close(devnull);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (child < 0) {
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    started.set_value(fmt::format("fork failed: {}", std::strerror(fork_errno)));
    return;
  }
  pid = child;
  log->info("{}: started python node {} (pid {}): {}", prefix(), opts.node_type, child, fmt::join(argv, " "));
  started.set_value({});

  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, child, 0));
  std::string partial[2];
  bool open_fd[2] = {true, true};
  int fds[2] = {out_pipe[0], err_pipe[0]};
  bool reaped = false;
  auto forward = [&](int i, bool final) {
    char buf[4096];
    for (;;) {
      auto n = ::read(fds[i], buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        if (n == 0 || errno != EAGAIN) open_fd[i] = false;
        break;
      }
      partial[i].append(buf, static_cast<std::size_t>(n));
      std::size_t pos;
      while ((pos = partial[i].find('\n')) != std::string::npos) {
        auto line = partial[i].substr(0, pos);
        partial[i].erase(0, pos + 1);
        log->info("[{}] {}", opts.node_id, line);
        if (i == 1) {
          std::lock_guard lock(mu);
          stderr_tail.push_back(std::move(line));
          if (stderr_tail.size() > kStderrTail) stderr_tail.pop_front();
        }
      }
      if (!final) break;
    }
  };
  auto reap = [&] {
    int status = 0;
    pid_t r;
    do {
      r = ::waitpid(child, &status, reaped ? WNOHANG : WNOHANG);
    } while (r < 0 && errno == EINTR);
    if (r != child) return false;
    reaped = true;
    {
      std::lock_guard lock(mu);
      exit_status = status;
    }
    return true;
  };
  while (!reaped) {
    pollfd pf[3];
    nfds_t n = 0;
    int idx[2] = {-1, -1};
    for (int i = 0; i < 2; ++i)
      if (open_fd[i]) {
        idx[i] = static_cast<int>(n);
        pf[n++] = {fds[i], POLLIN, 0};
      }
    int pidfd_slot = -1;
    if (pidfd >= 0) {
      pidfd_slot = static_cast<int>(n);
      pf[n++] = {pidfd, POLLIN, 0};
    }
    int rc = ::poll(pf, n, pidfd >= 0 ? 1000 : 50);
    if (rc < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i)
      if (idx[i] >= 0 && (pf[idx[i]].revents & (POLLIN | POLLHUP | POLLERR))) forward(i, false);
    if (pidfd_slot < 0 || (rc > 0 && (pf[pidfd_slot].revents & POLLIN)) || !open_fd[0]) reap();
  }
  if (!reaped) {  // poll failed: fall back to a blocking wait
    int status = 0;
    while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    std::lock_guard lock(mu);
    exit_status = status;
  }
  // The child is gone; its pipes may still hold the last lines (a grandchild could keep them
  // open, so read what is there without waiting for EOF).
  for (int i = 0; i < 2; ++i) {
    ::fcntl(fds[i], F_SETFL, O_NONBLOCK);
    if (open_fd[i]) forward(i, true);
    if (!partial[i].empty()) {
      log->info("[{}] {}", opts.node_id, partial[i]);
      if (i == 1) {
        std::lock_guard lock(mu);
        stderr_tail.push_back(partial[i]);
      }
    }
    ::close(fds[i]);
  }
  if (pidfd >= 0) ::close(pidfd);
  int status;
  {
    std::lock_guard lock(mu);
    status = exit_status;
    exited = true;
    pid = 0;
  }
  cv.notify_all();
  if (stopping) {
    log->info("{}: python process {} {}", prefix(), child, describe_status(status));
  } else {
    log->error("{}: python process {} {} unexpectedly{}", prefix(), child, describe_status(status),
               stderr_lines());
  }
}

void ProcessNode::Impl::stop_child() {
  if (!supervisor.joinable()) return;
  stopping = true;
  auto wait_exit = [&](std::chrono::milliseconds d) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, d, [&] { return exited.load(); });
  };
  (void)escalate_stop({.request_stop =
                           [&] {
                             if (!exited && link) link->request_stop();
                           },
                       .signal =
                           [&](int sig) {
                             const int p = pid.load();
                             return p > 0 && ::kill(p, sig) == 0;
                           },
                       .wait_exit = wait_exit},
                      opts.stop_grace, prefix());
  supervisor.join();
}

ProcessNode::ProcessNode(ProcessNodeOptions options) : impl_(std::make_unique<Impl>()) {
  auto& m = *impl_;
  m.opts = std::move(options);
  // Made here, not in initialize(): abort() may reach it from another thread at any time.
  RunnerLinkOptions lo;
  lo.node_id = m.opts.node_id;
  lo.node_type = m.opts.node_type;
  lo.session_id = m.opts.session_id;
  lo.ipc_root = m.opts.ipc_root;
  lo.data_capacity = m.opts.input_capacity ? m.opts.input_capacity : m.opts.data_capacity;
  lo.output_capacity = m.opts.output_capacity;
  lo.grow_channels = m.opts.input_capacity == 0;
  lo.fixed_output = m.opts.output_capacity != 0;
  lo.max_channel_bytes = m.opts.max_channel_bytes;
  lo.control_capacity = m.opts.control_capacity;
  m.link = std::make_unique<RunnerLink>(std::move(lo));
  m.link->set_peer(
      {[&m] { return m.exited.load(); }, [&m](std::string_view during) { return m.child_gone(during); }});
}

ProcessNode::~ProcessNode() {
  close();
}

void ProcessNode::abort(runtime::AbortReason) {
  impl_->link->cancel();
}

Status ProcessNode::initialize() {
  auto& m = *impl_;
  if (auto s = m.link->open(); !s) return s;
  if (auto s = m.spawn(); !s) return s;
  return m.link->wait_ready(m.opts.init_timeout,
                            "raise RM_PROCESS_INIT_TIMEOUT_MS if it needs longer to load");
}

Status ProcessNode::process(const runtime::DataPtr& input, runtime::Emitter& out) {
  auto& m = *impl_;
  if (!m.link || !m.link->is_open() || !m.supervisor.joinable())
    return node_error(NodeErrorCode::process_failed, m.prefix() + ": not initialized");
  return m.link->process(input, out);
}

Status ProcessNode::flush(runtime::Emitter& out) {
  auto& m = *impl_;
  if (!m.link || !m.link->is_open() || !m.supervisor.joinable()) return {};
  return m.link->flush(out);
}

void ProcessNode::close() {
  if (!impl_) return;
  auto& m = *impl_;
  m.stop_child();
  if (m.link) m.link->close();
}

const boost::json::value& ProcessNode::announced_contract() const {
  static const boost::json::value null;
  return impl_->link ? impl_->link->contract() : null;
}
int ProcessNode::pid() const {
  return impl_->pid.load();
}
const ProcessNodeOptions& ProcessNode::options() const {
  return impl_->opts;
}

}  // namespace rm::process
