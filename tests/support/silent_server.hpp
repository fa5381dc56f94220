#pragma once
// SilentServer: a TCP listener on 127.0.0.1 (a free port) that accepts every connection, holds
// it open and never answers, for tests of what a client does with a peer that hangs (a hung
// collector, a package index whose pip install never finishes). Counts the connections.
//
//   rm::test::SilentServer hung;
//   client.connect("127.0.0.1", hung.port());   // connects, then waits forever for a reply
//   EXPECT_GT(hung.accepted(), 0);
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

namespace rm::test {

class SilentServer {
 public:
  SilentServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    ok_ = fd_ >= 0 && ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
          ::listen(fd_, 128) == 0 && ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0;
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] {
      while (!stop_) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, 20) <= 0) continue;
        const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) continue;
        held_.push_back(c);  // only this thread touches it until the join
        accepted_++;
      }
    });
  }
  ~SilentServer() {
    stop_ = true;
    thread_.join();
    for (int c : held_) ::close(c);
    if (fd_ >= 0) ::close(fd_);
  }
  SilentServer(const SilentServer&) = delete;
  SilentServer& operator=(const SilentServer&) = delete;

  bool ok() const { return ok_; }
  std::uint16_t port() const { return port_; }
  int accepted() const { return accepted_.load(); }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
  bool ok_ = false;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::vector<int> held_;
  std::thread thread_;
};

}  // namespace rm::test
