#include "docker/runner_server.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <optional>
#include <thread>

#include <fmt/format.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace rm::docker {
namespace fs = std::filesystem;

std::string encode_runner_request(const RunnerRequest& r) {
  boost::json::object o;
  o["op"] = "start";
  o["session_id"] = r.session_id;
  o["node_id"] = r.node_id;
  o["node_type"] = r.node_type;
  o["ipc_dir"] = r.ipc_dir;
  o["params"] = r.params;
  return boost::json::serialize(o) + "\n";
}

Result<RunnerEvent> parse_runner_event(std::string_view line) {
  auto bad = [&](std::string_view why) {
    return docker_error(
        DockerErrorCode::protocol,
        fmt::format("runner server sent a malformed message ({}): {}", why, line.substr(0, 200)));
  };
  boost::system::error_code ec;
  auto v = boost::json::parse(line, ec);
  if (ec || !v.is_object()) return bad("not a JSON object");
  const auto& o = v.as_object();
  auto* ev = o.if_contains("ev");
  if (!ev || !ev->is_string()) return bad("no \"ev\"");
  auto integer = [&](const char* k) -> std::optional<std::int64_t> {
    auto* x = o.if_contains(k);
    if (!x || !x->is_int64()) return std::nullopt;
    return x->as_int64();
  };
  auto string = [&](const char* k) -> std::optional<std::string> {
    auto* x = o.if_contains(k);
    if (!x || !x->is_string()) return std::nullopt;
    return std::string(x->as_string());
  };
  RunnerEvent e;
  const std::string_view kind = ev->as_string();
  if (kind == "started") {
    auto pid = integer("pid");
    if (!pid) return bad("started without an integer pid");
    e.kind = RunnerEvent::Kind::started;
    e.pid = static_cast<long>(*pid);
  } else if (kind == "log") {
    auto fd = integer("fd");
    auto text = string("line");
    if (!fd || (*fd != 1 && *fd != 2) || !text) return bad("log needs fd 1 or 2 and a line");
    e.kind = RunnerEvent::Kind::log;
    e.fd = static_cast<int>(*fd);
    e.line = std::move(*text);
  } else if (kind == "exit") {
    auto code = integer("code");
    auto sig = integer("signal");
    if (!code || !sig) return bad("exit needs integer code and signal");
    e.kind = RunnerEvent::Kind::exit;
    e.code = static_cast<int>(*code);
    e.signal = static_cast<int>(*sig);
  } else if (kind == "error") {
    auto msg = string("message");
    if (!msg) return bad("error without a message");
    e.kind = RunnerEvent::Kind::error;
    e.message = std::move(*msg);
  } else {
    return bad("unknown event");
  }
  return e;
}

std::string runner_exit_message(std::string_view node_id, std::string_view container, int code, int signal,
                                std::uint64_t memory_mb, const std::vector<std::string>& last_lines) {
  std::string msg;
  if (signal == SIGKILL) {
    msg = fmt::format(
        "node {}: runner in shared container {} killed by signal 9 (SIGKILL: "
        "usually the kernel's OOM killer, memory limit {} MB exceeded)",
        node_id, container, memory_mb);
  } else if (signal != 0) {
    msg = fmt::format("node {}: runner in shared container {} killed by signal {} (exit code {})", node_id,
                      container, signal, code);
  } else if (code == 0) {
    msg = fmt::format(
        "node {}: runner in shared container {} exited (code 0) before the session "
        "ended",
        node_id, container);
  } else {
    msg = fmt::format("node {}: runner in shared container {} exited with code {}", node_id, container, code);
  }
  if (!last_lines.empty()) {
    msg += "; last log lines:";
    for (const auto& l : last_lines) msg += "\n  " + l;
  }
  return msg;
}

Result<int> connect_unix(const fs::path& socket_path) {
  auto fail = [&](int err) {
    return docker_error(DockerErrorCode::io,
                        fmt::format("connect to {}: {}", socket_path.string(), std::strerror(err)));
  };
  int dir_fd = -1;
  std::string addr = socket_path.string();
  sockaddr_un sa{};
  if (addr.size() >= sizeof sa.sun_path) {
    // Too long for an address: name it through an open descriptor of its directory.
    dir_fd = ::open(socket_path.parent_path().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd < 0) return fail(errno);
    addr = fmt::format("/proc/self/fd/{}/{}", dir_fd, socket_path.filename().string());
  }
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    const int err = errno;
    if (dir_fd >= 0) ::close(dir_fd);
    return fail(err);
  }
  sa.sun_family = AF_UNIX;
  std::memcpy(sa.sun_path, addr.data(), addr.size());
  int rc;
  do {
    rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa);
  } while (rc != 0 && errno == EINTR);
  const int err = errno;
  if (dir_fd >= 0) ::close(dir_fd);
  if (rc != 0) {
    ::close(fd);
    return fail(err);
  }
  return fd;
}

Status wait_for_runner_server(const fs::path& socket_path, std::chrono::milliseconds timeout,
                              const std::function<bool()>& alive) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto fd = connect_unix(socket_path);
    if (fd) {
      // An empty connection: the server sees EOF before any request and forgets it.
      ::close(*fd);
      return {};
    }
    if (alive && !alive())
      return docker_error(DockerErrorCode::container_failed,
                          "the container ended before its runner server listened on " + socket_path.string());
    if (std::chrono::steady_clock::now() >= deadline)
      return docker_error(DockerErrorCode::timeout,
                          fmt::format("the runner server did not listen on {} within {} ms ({})",
                                      socket_path.string(), timeout.count(), fd.error().message));
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

struct RunnerServerSession::State {
  int fd = -1;
  Callbacks cb;
  std::mutex write_mu;
  std::thread reader;
  std::atomic<long> pid{0};

  bool write_all(std::string_view data) {
    std::lock_guard lock(write_mu);
    while (!data.empty()) {
      const auto n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        return false;
      }
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  void read_loop() {
    End end;
    bool ended = false;
    std::string buf;
    char chunk[16384];
    while (!ended) {
      const auto n = ::recv(fd, chunk, sizeof chunk, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        end.message = n < 0 ? std::string("reading the connection: ") + std::strerror(errno)
                            : "the connection closed without an exit status";
        break;
      }
      buf.append(chunk, static_cast<std::size_t>(n));
      std::size_t start = 0;
      for (auto nl = buf.find('\n'); nl != std::string::npos && !ended; nl = buf.find('\n', start)) {
        auto e = parse_runner_event(std::string_view(buf).substr(start, nl - start));
        start = nl + 1;
        if (!e) {
          if (cb.on_log) cb.on_log(2, e.error().message);
          continue;
        }
        switch (e->kind) {
          case RunnerEvent::Kind::started:
            pid = e->pid;
            break;
          case RunnerEvent::Kind::log:
            if (cb.on_log) cb.on_log(e->fd, e->line);
            break;
          case RunnerEvent::Kind::exit:
            end.how = End::How::exited;
            end.code = e->code;
            end.signal = e->signal;
            ended = true;
            break;
          case RunnerEvent::Kind::error:
            end.how = End::How::refused;
            end.message = e->message;
            ended = true;
            break;
        }
      }
      buf.erase(0, start);
    }
    if (cb.on_end) cb.on_end(end);
  }
};

RunnerServerSession::RunnerServerSession(std::shared_ptr<State> state) : state_(std::move(state)) {}

Result<std::unique_ptr<RunnerServerSession>> RunnerServerSession::start(const fs::path& socket_path,
                                                                        const RunnerRequest& request,
                                                                        Callbacks callbacks) {
  auto fd = connect_unix(socket_path);
  if (!fd) return tl::unexpected(fd.error());
  auto st = std::make_shared<State>();
  st->fd = *fd;
  st->cb = std::move(callbacks);
  if (!st->write_all(encode_runner_request(request))) {
    const int err = errno;
    ::close(st->fd);
    return docker_error(DockerErrorCode::io, fmt::format("sending the request to {}: {}",
                                                         socket_path.string(), std::strerror(err)));
  }
  State* raw = st.get();
  st->reader = std::thread([raw] { raw->read_loop(); });
  return std::unique_ptr<RunnerServerSession>(new RunnerServerSession(std::move(st)));
}

RunnerServerSession::~RunnerServerSession() {
  if (!state_) return;
  ::shutdown(state_->fd, SHUT_RDWR);  // wakes the reader; the server sees the host leave
  if (state_->reader.joinable()) state_->reader.join();
  ::close(state_->fd);
}

Status RunnerServerSession::signal(int sig) {
  if (!state_->write_all(fmt::format("{{\"op\":\"signal\",\"signal\":{}}}\n", sig)))
    return docker_error(DockerErrorCode::io,
                        std::string("asking the runner server for a signal: ") + std::strerror(errno));
  return {};
}

long RunnerServerSession::pid() const {
  return state_->pid.load();
}

}  // namespace rm::docker
