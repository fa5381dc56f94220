#pragma once
// ScriptedServer: a real HTTP peer on 127.0.0.1 (TCP) or on a unix socket that answers its
// connections, one after the other, with scripted bytes, so the client's behaviour on each kind of answer
// (complete, chunked, trickled, truncated, malformed, silent) can be tested against a real socket.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/http_exchange.hpp"
#include "support/temp_dir.hpp"

namespace rm::test {

enum class Transport { tcp, unix_socket };

class ScriptedServer {
 public:
  struct Step {
    std::string bytes;
    bool wait_for_release = false;       // before writing: block until release()
    std::chrono::milliseconds delay{0};  // before writing: sleep (for trickling)
  };
  // After the steps the connection is closed, or kept open silently until the server dies.
  enum class Then { close, stay_silent };

  struct Connection {
    std::vector<Step> steps;
    Then then = Then::close;
  };

  ScriptedServer(Transport t, std::vector<Step> steps, Then then = Then::close)
      : ScriptedServer(t, std::vector<Connection>{{std::move(steps), then}}) {}
  // Serves one connection per entry, in order.
  ScriptedServer(Transport t, std::vector<Connection> connections)
      : connections_(std::move(connections)), dir_("rm-http-server") {
    if (t == Transport::tcp) {
      listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      addr.sin_port = 0;
      if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
        throw std::runtime_error("bind 127.0.0.1:0 failed");
      socklen_t len = sizeof addr;
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
      endpoint_ = core::http::TcpEndpoint{"127.0.0.1", ntohs(addr.sin_port)};
    } else {
      const std::string path = (dir_.path() / "http.sock").string();
      listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM, 0);
      sockaddr_un addr{};
      addr.sun_family = AF_UNIX;
      std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
      if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
        throw std::runtime_error("bind " + path + " failed");
      endpoint_ = core::http::UnixEndpoint{path};
    }
    if (::listen(listen_fd_, 4) != 0) throw std::runtime_error("listen failed");
    if (::pipe(stop_pipe_) != 0) throw std::runtime_error("pipe failed");
    thread_ = std::thread([this] { serve(); });
  }

  ~ScriptedServer() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    (void)!::write(stop_pipe_[1], "x", 1);
    thread_.join();
    ::close(listen_fd_);
    ::close(stop_pipe_[0]);
    ::close(stop_pipe_[1]);
  }
  ScriptedServer(const ScriptedServer&) = delete;
  ScriptedServer& operator=(const ScriptedServer&) = delete;

  const core::http::Endpoint& endpoint() const { return endpoint_; }

  // Lets the next step waiting for a release write its bytes.
  void release() {
    {
      std::lock_guard lock(mu_);
      ++releases_;
    }
    cv_.notify_all();
  }
  // Blocks until the whole request head (and Content-Length body) of connection `index` has
  // arrived; returns it.
  std::string wait_for_request(std::size_t index = 0) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return requests_.size() > index || stopping_; });
    return requests_.size() > index ? requests_[index] : std::string();
  }

 private:
  // Waits for `fd` to be readable or the server to stop; false when stopping.
  bool readable(int fd) {
    pollfd p[2] = {{fd, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
    ::poll(p, 2, -1);
    return (p[1].revents & POLLIN) == 0;
  }

  void serve() {
    std::size_t released_used = 0;
    for (const auto& connection : connections_) {
      if (!readable(listen_fd_)) return;
      const int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) return;
      read_request(fd);
      answer(fd, connection, released_used);
      ::close(fd);
    }
  }

  void answer(int fd, const Connection& connection, std::size_t& released_used) {
    for (const auto& step : connection.steps) {
      std::unique_lock lock(mu_);
      if (step.wait_for_release) {
        cv_.wait(lock, [&] { return releases_ > released_used || stopping_; });
        ++released_used;
      } else if (step.delay.count() > 0) {
        cv_.wait_for(lock, step.delay, [&] { return stopping_; });
      }
      if (stopping_) break;
      lock.unlock();
      if (::send(fd, step.bytes.data(), step.bytes.size(), MSG_NOSIGNAL) < 0) break;
    }
    if (connection.then == Then::stay_silent) {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_; });
    }
  }

  void read_request(int fd) {
    std::string got;
    std::size_t need = std::string::npos;
    char buf[4096];
    while (got.size() < need) {
      if (!readable(fd)) break;
      const auto n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      got.append(buf, static_cast<std::size_t>(n));
      const auto end = got.find("\r\n\r\n");
      if (end != std::string::npos && need == std::string::npos) {
        std::size_t length = 0;
        if (auto cl = got.find("Content-Length: "); cl != std::string::npos && cl < end)
          length = std::stoul(got.substr(cl + 16));
        need = end + 4 + length;
      }
    }
    std::lock_guard lock(mu_);
    requests_.push_back(std::move(got));
    cv_.notify_all();
  }

  std::vector<Connection> connections_;
  TempDir dir_;
  int listen_fd_ = -1;
  int stop_pipe_[2] = {-1, -1};
  core::http::Endpoint endpoint_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::vector<std::string> requests_;
  std::size_t releases_ = 0;
  std::thread thread_;
};

}  // namespace rm::test
