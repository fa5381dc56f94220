#pragma once
// examples/docker-node/serve-index.sh on a free port: a PEP 503 index on 127.0.0.1 serving the
// `rmdemo 1.0` wheel, for docker nodes' python_packages (there is no PyPI here). The server
// runs in its own process group for the object's lifetime.
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "support/free_port.hpp"

namespace rm::test {

class LocalIndex {
 public:
  LocalIndex() : port_(free_port()) {
    pid_ = ::fork();
    if (pid_ == 0) {
      ::setpgid(0, 0);
      const std::string script = std::string(RM_SOURCE_DIR) + "/examples/docker-node/serve-index.sh";
      const std::string port = std::to_string(port_);
      int devnull = ::open("/dev/null", O_WRONLY);
      ::dup2(devnull, 1);
      ::execl("/bin/bash", "bash", script.c_str(), port.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    for (int i = 0; i < 200; ++i) {
      const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(static_cast<std::uint16_t>(port_));
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
      ::close(fd);
      if (ok) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  ~LocalIndex() {
    if (pid_ > 0) {
      ::kill(-pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  LocalIndex(const LocalIndex&) = delete;
  LocalIndex& operator=(const LocalIndex&) = delete;
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/simple"; }

 private:
  int port_;
  pid_t pid_ = -1;
};

}  // namespace rm::test
