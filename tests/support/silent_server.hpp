#pragma once
// SilentServer: a TCP listener on 127.0.0.1 (a free port) that accepts every connection, holds
// it open and never answers, for tests of what a client does with a peer that hangs (a hung
// collector, a package index whose pip install never finishes). Counts the connections, and
// those still open (a peer's close, or half-close, is noticed without reading what it sent,
// so a peer that writes still fills the socket buffers and blocks as with a real hung server).
//
//   rm::test::SilentServer hung;
//   client.connect("127.0.0.1", hung.port());   // connects, then waits forever for a reply
//   EXPECT_GT(hung.accepted(), 0);
//   ... the client gives up ...; EXPECT_EQ(hung.open(), 0);
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
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
        // [0] the listener, then every held connection (POLLRDHUP: the peer closed).
        std::vector<pollfd> p{{fd_, POLLIN, 0}};
        for (int c : held_) p.push_back({c, POLLRDHUP, 0});
        if (::poll(p.data(), p.size(), 20) <= 0) continue;
        for (std::size_t i = p.size() - 1; i > 0; --i) {
          if ((p[i].revents & (POLLRDHUP | POLLHUP | POLLERR)) == 0) continue;
          ::close(p[i].fd);
          held_.erase(held_.begin() + static_cast<std::ptrdiff_t>(i - 1));
          open_--;
        }
        if ((p[0].revents & POLLIN) == 0) continue;
        const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) continue;
        held_.push_back(c);  // only this thread touches it until the join
        accepted_++;
        open_++;
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
  int open() const { return open_.load(); }  // accepted and not yet closed by the peer

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
  bool ok_ = false;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::atomic<int> open_{0};
  std::vector<int> held_;
  std::thread thread_;
};

}  // namespace rm::test
