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

#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include "core/config.hpp"
#include "core/log.hpp"
#include "ipc/channel_names.hpp"
#include "ipc/publisher.hpp"
#include "ipc/subscriber.hpp"
#include "process/session_dir.hpp"
#include "process/wire.hpp"

extern char** environ;

#ifndef RM_PROCESS_DEFAULT_SDK_DIR
#define RM_PROCESS_DEFAULT_SDK_DIR "/opt/remotemedia/python"
#endif
#ifndef RM_PROCESS_DEFAULT_IPC_LIBRARY
#define RM_PROCESS_DEFAULT_IPC_LIBRARY "/opt/remotemedia/lib/libremotemedia_ipc.so"
#endif

namespace rm::process {
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using runtime::NodeErrorCode;
using runtime::node_error;
using runtime::Status;

namespace {

constexpr auto kSlice = 20ms;   // how often a waiting call re-checks the child
constexpr std::size_t kStderrTail = 20;

std::string describe_status(int status) {
  if (WIFEXITED(status)) return fmt::format("exited with code {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const char* abbrev = ::sigabbrev_np(WTERMSIG(status));
    return fmt::format("was killed by signal {} (SIG{})", WTERMSIG(status), abbrev ? abbrev : "?");
  }
  return fmt::format("ended with status {}", status);
}

// PATH lookup done before fork (execvp is not async-signal-safe).
std::string resolve_program(const std::string& prog) {
  if (prog.find('/') != std::string::npos) return prog;
  auto path = core::env("PATH").value_or("/usr/local/bin:/usr/bin:/bin");
  std::size_t start = 0;
  while (start <= path.size()) {
    auto end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    auto cand = fs::path(path.substr(start, end - start)) / prog;
    if (::access(cand.c_str(), X_OK) == 0) return cand.string();
    start = end + 1;
  }
  return prog;
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
  o.sdk_dir = core::env_string("RM_PYTHON_SDK_DIR", RM_PROCESS_DEFAULT_SDK_DIR);
  o.ipc_library = core::env_string("RM_IPC_LIBRARY", RM_PROCESS_DEFAULT_IPC_LIBRARY);
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
  return o;
}

struct ProcessNode::Impl {
  ProcessNodeOptions opts;
  std::shared_ptr<spdlog::logger> log = core::logger("process");
  SessionDirLease lease;
  ipc::ChannelNames names;
  std::optional<ipc::Publisher> input;
  std::optional<ipc::Subscriber> output;
  std::optional<ipc::Publisher> control;
  boost::json::value contract;
  std::string last_remote_error;  // from rm.error, reported with the failed batch

  // Child state, shared with the supervisor thread.
  std::thread supervisor;
  std::atomic<int> pid{0};
  std::atomic<bool> exited{false};
  std::atomic<bool> stopping{false};
  std::mutex mu;
  std::condition_variable cv;
  int exit_status = 0;
  std::deque<std::string> stderr_tail;

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
    std::string what = exited ? describe_status(exit_status) : "closed its channels";
    lock.unlock();
    return runtime::NodeError{NodeErrorCode::remote_failed,
                              fmt::format("{}: python process for {} {} {}{}", prefix(),
                                          opts.node_type, what, during, stderr_lines())};
  }

  Status spawn();
  void supervise(std::vector<std::string> argv, std::vector<std::string> envv,
                 std::promise<std::string> started);
  tl::expected<runtime::DataPtr, runtime::NodeError> next_record(std::string_view during,
                                                                 std::optional<std::chrono::steady_clock::time_point> deadline);
  Status send(const runtime::RuntimeData& d, std::string_view during);
  Status collect(runtime::Emitter& out, bool until_eos);
  void stop_child();
};

Status ProcessNode::Impl::spawn() {
  std::vector<std::string> argv = {resolve_program(opts.python), "-m", "remotemedia.runner",
                                   "--node-type", opts.node_type, "--node-id", opts.node_id,
                                   "--session-id", opts.session_id, "--ipc-dir",
                                   lease.path().string()};
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
    envv.push_back("REMOTEMEDIA_NODE_PATH=" + (node_path.empty() ? std::string(user_path)
                                                                 : prepend(node_path, user_path)));
  std::promise<std::string> started;
  auto fut = started.get_future();
  supervisor = std::thread(&Impl::supervise, this, std::move(argv), std::move(envv),
                           std::move(started));
  auto err = fut.get();
  if (!err.empty()) return node_error(NodeErrorCode::init_failed, prefix() + ": " + err);
  return {};
}

// Runs for the child's whole life: the child's PDEATHSIG is tied to the thread that forked it,
// so fork happens here and this thread ends only after the child was reaped.
void ProcessNode::Impl::supervise(std::vector<std::string> argv, std::vector<std::string> envv,
                                  std::promise<std::string> started) {
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
  log->info("{}: started python node {} (pid {}): {}", prefix(), opts.node_type, child,
            fmt::join(argv, " "));
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

tl::expected<runtime::DataPtr, runtime::NodeError> ProcessNode::Impl::next_record(
    std::string_view during, std::optional<std::chrono::steady_clock::time_point> deadline) {
  for (;;) {
    auto r = output->receive(kSlice);
    if (!r) {
      if (r.error().code == ipc::IpcErrc::peer_gone) return tl::unexpected(child_gone(during));
      return node_error(NodeErrorCode::remote_failed,
                        fmt::format("{}: output channel: {}", prefix(), r.error().message));
    }
    if (*r) {
      auto& sample = **r;
      auto env = decode(sample.payload(), DecodeMode::copy);
      if (!env)
        return node_error(NodeErrorCode::remote_failed,
                          fmt::format("{}: the python node sent a malformed record: {}", prefix(),
                                      env.error().message));
      return std::move(env->data);
    }
    if (exited) return tl::unexpected(child_gone(during));
    if (deadline && std::chrono::steady_clock::now() >= *deadline) return runtime::DataPtr{};
  }
}

Status ProcessNode::Impl::send(const runtime::RuntimeData& d, std::string_view during) {
  auto size = encoded_size(opts.session_id, d);
  if (size > input->max_record())
    return node_error(NodeErrorCode::invalid_input,
                      fmt::format("{}: input of {} bytes exceeds the channel's largest record ({} "
                                  "bytes); raise RM_PROCESS_CHANNEL_BYTES",
                                  prefix(), size, input->max_record()));
  for (;;) {
    auto loan = input->loan(size, kSlice);
    if (!loan) {
      if (loan.error().code == ipc::IpcErrc::peer_gone) return tl::unexpected(child_gone(during));
      return node_error(NodeErrorCode::remote_failed,
                        fmt::format("{}: input channel: {}", prefix(), loan.error().message));
    }
    if (*loan) {
      auto sample = std::move(**loan);
      auto n = encode_into(sample.payload_mut(), opts.session_id, d);
      if (!n)
        return node_error(NodeErrorCode::invalid_input,
                          fmt::format("{}: {}", prefix(), n.error().message));
      sample.truncate(*n);
      auto s = input->send(std::move(sample));
      if (!s) {
        if (s.error().code == ipc::IpcErrc::peer_gone) return tl::unexpected(child_gone(during));
        return node_error(NodeErrorCode::remote_failed,
                          fmt::format("{}: input channel: {}", prefix(), s.error().message));
      }
      return {};
    }
    if (exited) return tl::unexpected(child_gone(during));
  }
}

Status ProcessNode::Impl::collect(runtime::Emitter& out, bool until_eos) {
  std::string_view during = until_eos ? "while flushing" : "while processing";
  for (;;) {
    auto rec = next_record(during, std::nullopt);
    if (!rec) return tl::unexpected(rec.error());
    const auto& d = **rec;
    if (const auto* c = d.control(); c && c->kind.rfind("rm.", 0) == 0) {
      if (c->kind == "rm.batch_end") {
        auto* e = c->payload.if_contains("error");
        if (e && e->is_bool() && e->as_bool()) {
          auto msg = last_remote_error.empty() ? prefix() + ": the python node failed"
                                               : last_remote_error;
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
        last_remote_error = str("message");
        auto tb = str("traceback");
        if (!tb.empty()) last_remote_error += "\n" + tb;
        log->error("{}", last_remote_error);
        continue;
      }
      if (c->kind == "rm.progress") continue;
      continue;
    }
    if (d.is_end_of_stream()) {
      if (until_eos) return {};
      continue;
    }
    if (auto s = out.emit(*rec); !s) return s;
  }
}

void ProcessNode::Impl::stop_child() {
  if (!supervisor.joinable()) return;
  stopping = true;
  auto wait_exit = [&](std::chrono::milliseconds d) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, d, [&] { return exited.load(); });
  };
  if (!exited && control) {
    auto stop = runtime::RuntimeData::make_control("rm.stop", {}, 0);
    auto bytes = encode(opts.session_id, *stop);
    (void)control->send_copy(bytes, 0ms);
  }
  if (!wait_exit(opts.stop_grace)) {
    if (int p = pid.load(); p > 0) ::kill(p, SIGTERM);
    if (!wait_exit(opts.stop_grace)) {
      if (int p = pid.load(); p > 0) {
        log->warn("{}: python process {} ignored SIGTERM; killing it", prefix(), p);
        ::kill(p, SIGKILL);
      }
    }
  }
  supervisor.join();
}

ProcessNode::ProcessNode(ProcessNodeOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->opts = std::move(options);
}

ProcessNode::~ProcessNode() { close(); }

Status ProcessNode::initialize() {
  auto& m = *impl_;
  auto names = ipc::channel_names(m.opts.session_id, m.opts.node_id);
  if (!names)
    return node_error(NodeErrorCode::invalid_params, m.prefix() + ": " + names.error().message);
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
  auto out = ipc::Subscriber::create(dir, m.names.output, m.opts.data_capacity);
  if (!out) return fail(out.error());
  m.output.emplace(std::move(*out));
  auto ctl = ipc::Publisher::create(dir, m.names.control, m.opts.control_capacity);
  if (!ctl) return fail(ctl.error());
  m.control.emplace(std::move(*ctl));

  if (auto s = m.spawn(); !s) return s;
  auto deadline = std::chrono::steady_clock::now() + m.opts.init_timeout;
  std::string last_progress = "none";
  for (;;) {
    auto rec = m.next_record("before it was ready", deadline);
    if (!rec) {
      auto e = rec.error();
      e.code = NodeErrorCode::init_failed;
      if (!m.last_remote_error.empty()) e.message = m.last_remote_error;
      return tl::unexpected(e);
    }
    if (!*rec)
      return node_error(NodeErrorCode::timeout,
                        fmt::format("{}: python node {} did not signal READY within {} ms (last "
                                    "progress: {}); raise RM_PROCESS_INIT_TIMEOUT_MS if it needs "
                                    "longer to load",
                                    m.prefix(), m.opts.node_type, m.opts.init_timeout.count(),
                                    last_progress));
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

Status ProcessNode::process(const runtime::DataPtr& input, runtime::Emitter& out) {
  auto& m = *impl_;
  if (!m.input || !m.supervisor.joinable())
    return node_error(NodeErrorCode::process_failed, m.prefix() + ": not initialized");
  if (m.exited) return tl::unexpected(m.child_gone("before this input"));
  if (auto s = m.send(*input, "while processing"); !s) return s;
  return m.collect(out, false);
}

Status ProcessNode::flush(runtime::Emitter& out) {
  auto& m = *impl_;
  if (!m.input || !m.supervisor.joinable()) return {};
  if (m.exited) return tl::unexpected(m.child_gone("before end of stream"));
  if (auto s = m.send(*runtime::RuntimeData::make_end_of_stream(), "while flushing"); !s) return s;
  return m.collect(out, true);
}

void ProcessNode::close() {
  if (!impl_) return;
  auto& m = *impl_;
  m.stop_child();
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

const boost::json::value& ProcessNode::announced_contract() const { return impl_->contract; }
int ProcessNode::pid() const { return impl_->pid.load(); }
const ProcessNodeOptions& ProcessNode::options() const { return impl_->opts; }

}  // namespace rm::process
