#pragma once
// Child processes for the ingest integration tests: fork/exec with extra environment, wait
// with a timeout, signals by pid. Free ports come from binding port 0 on 127.0.0.1.
// A child gets SIGKILL when the thread that started it ends (PR_SET_PDEATHSIG), so a test
// process that crashes or is killed leaves no server or collector running behind it.
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "core/http_client.hpp"
#include "support/free_port.hpp"

namespace rm::telemetry::test {

using rm::test::free_port;

class Process {
 public:
  // stdout goes to `stdout_path` when given (else inherited), stderr to `stderr_path`;
  // `max_fds` > 0 sets the child's RLIMIT_NOFILE.
  Process(const std::string& exe, std::vector<std::string> args,
          std::vector<std::pair<std::string, std::string>> env, const std::string& stdout_path = {},
          const std::string& stderr_path = {}, rlim_t max_fds = 0) {
    const pid_t parent = ::getpid();
    pid_ = ::fork();
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);  // the parent died before prctl took effect
      for (auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
      if (!stdout_path.empty()) {
        const int fd = ::open(stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        ::dup2(fd, 1);
      }
      if (!stderr_path.empty()) {
        const int fd = ::open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        ::dup2(fd, 2);
      }
      if (max_fds > 0) {
        rlimit rl{max_fds, max_fds};
        ::setrlimit(RLIMIT_NOFILE, &rl);
      }
      std::vector<char*> argv;
      argv.push_back(const_cast<char*>(exe.c_str()));
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(exe.c_str(), argv.data());
      ::_exit(127);
    }
  }
  ~Process() {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  void signal(int sig) { ::kill(pid_, sig); }
  pid_t pid() const { return pid_; }
  // Exit status (128+signal when killed), or nullopt on timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      int st = 0;
      const pid_t r = ::waitpid(pid_, &st, WNOHANG);
      if (r == pid_) {
        exited_ = true;
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      }
      if (std::chrono::steady_clock::now() > deadline) return std::nullopt;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

 private:
  pid_t pid_ = -1;
  bool exited_ = false;
};

inline std::string bin(const std::string& app) {
  return fmt::format("{}/apps/{}/{}", RM_BINARY_DIR, app, app);
}

struct CollectorPorts {
  std::uint16_t broker = free_port();
  std::uint16_t health = free_port();
  std::uint16_t metrics = free_port();
};

inline std::unique_ptr<Process> start_collector(const std::filesystem::path& data_dir,
                                                const CollectorPorts& p,
                                                std::vector<std::pair<std::string, std::string>> extra = {},
                                                const std::string& stderr_path = {}, rlim_t max_fds = 0) {
  std::vector<std::pair<std::string, std::string>> env = {{"DATA_DIR", data_dir.string()},
                                                          {"BROKER_PORT", std::to_string(p.broker)},
                                                          {"HEALTH_PORT", std::to_string(p.health)},
                                                          {"METRICS_PORT", std::to_string(p.metrics)},
                                                          {"COLLECTOR_ID", "collector-test"},
                                                          {"BIND", "127.0.0.1"},
                                                          {"WORKERS", "2"}};
  for (auto& e : extra) env.push_back(e);
  auto proc = std::make_unique<Process>(bin("telemetry-collector"), std::vector<std::string>{}, env,
                                        std::string{}, stderr_path, max_fds);
  // Ready once /ready answers 200 (recovery finished, broker listening).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    auto r = core::http::get("127.0.0.1", p.health, "/ready", std::chrono::milliseconds(500));
    if (r && r->status == 200) return proc;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return nullptr;
}

}  // namespace rm::telemetry::test
