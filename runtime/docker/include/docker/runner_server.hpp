#pragma once
// The host side of the resident runner server of a shared node container
// (`python3 -m remotemedia.runner --serve DIR`, python/remotemedia/server.py, which documents
// the protocol). DIR is a host directory inside the IPC root, bind-mounted at the same path, so
// DIR/runner.sock is the same socket on both sides. Each session opens one connection, asks
// for a runner with one JSON line, and from then on hears its runner's output lines and, last,
// its exit status; the server forks the runner from an interpreter that has already imported
// the SDK and the node, so a session starts in milliseconds instead of a `docker exec` plus an
// interpreter start.
//
// Threading: RunnerServerSession runs one reader thread; the callbacks run on it, in the order
// the server sent the messages, and on_end runs exactly once, last. signal() may be called
// from any thread. The destructor closes the connection (a runner still running then gets
// SIGTERM from the server) and joins the reader: no callback runs after it returns.
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "docker/docker_error.hpp"

namespace rm::docker {

inline constexpr std::string_view kRunnerSocketName = "runner.sock";

struct RunnerRequest {
  std::string session_id;
  std::string node_id;
  std::string node_type;
  std::string ipc_dir;  // the session's IPC directory (same path in the container)
  boost::json::object params;
};

// The "start" line (pure; ends with '\n').
std::string encode_runner_request(const RunnerRequest& request);

struct RunnerEvent {
  enum class Kind { started, log, exit, error };
  Kind kind = Kind::log;
  long pid = 0;         // started
  int fd = 1;           // log: 1 stdout, 2 stderr
  std::string line;     // log
  int code = 0;         // exit: the exit code, 128 + signal when killed by one
  int signal = 0;       // exit: the signal number, 0 when it exited
  std::string message;  // error: why the server refused the request
};

// One line from the server (pure). Errors name what is wrong with the line.
Result<RunnerEvent> parse_runner_event(std::string_view line);

// How a runner's end reads to the user (pure): "node <id>: runner exited with code 3 in shared
// container <name>" or "... killed by signal 9 (SIGKILL: ... memory limit <N> MB ...)", then the
// last log lines.
std::string runner_exit_message(std::string_view node_id, std::string_view container, int code, int signal,
                                std::uint64_t memory_mb, const std::vector<std::string>& last_lines);

// Connects to a unix socket, also when its path is longer than a socket address allows (through
// /proc/self/fd of its directory). Returns the connected descriptor.
Result<int> connect_unix(const std::filesystem::path& socket_path);

// Blocks until `socket_path` accepts connections (polls every 5 ms), `alive` turns false or the
// timeout passes.
Status wait_for_runner_server(const std::filesystem::path& socket_path, std::chrono::milliseconds timeout,
                              const std::function<bool()>& alive);

class RunnerServerSession {
 public:
  struct End {
    enum class How {
      exited,       // the server reported the runner's exit (code / signal)
      refused,      // the server refused the request (message)
      server_gone,  // the connection ended without either: the server died
    };
    How how = How::server_gone;
    int code = -1;
    int signal = 0;
    std::string message;
  };
  struct Callbacks {
    std::function<void(int fd, std::string_view line)> on_log;
    std::function<void(const End&)> on_end;
  };

  // Connects, sends the request and starts the reader; fails (naming the socket) when the
  // server does not accept the connection.
  static Result<std::unique_ptr<RunnerServerSession>> start(const std::filesystem::path& socket_path,
                                                            const RunnerRequest& request,
                                                            Callbacks callbacks);
  ~RunnerServerSession();
  RunnerServerSession(const RunnerServerSession&) = delete;
  RunnerServerSession& operator=(const RunnerServerSession&) = delete;

  // Asks the server to send `signal` (SIGTERM, SIGKILL or SIGINT) to this session's runner.
  Status signal(int signal);
  long pid() const;  // the runner's pid inside the container, 0 until the server said

  struct State;

 private:
  explicit RunnerServerSession(std::shared_ptr<State> state);
  std::shared_ptr<State> state_;
};

}  // namespace rm::docker
