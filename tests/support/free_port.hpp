#pragma once
// Ports for servers that tests start as separate processes (which must be told a port up front).
// Ports are drawn at random from below the kernel's ephemeral range (32768-60999 by default), so
// no outgoing connection of a concurrently running test can take one between the check here and
// the server's bind, and a port is never handed out twice by one test process.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <mutex>
#include <random>
#include <set>
#include <stdexcept>

namespace rm::test {

inline bool port_is_free(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

inline std::uint16_t free_port() {
  static std::mutex mutex;
  static std::set<std::uint16_t> handed_out;
  static std::mt19937 rng{std::random_device{}() ^ static_cast<unsigned>(::getpid())};
  std::lock_guard lock(mutex);
  std::uniform_int_distribution<int> dist(20000, 32000);
  for (int attempt = 0; attempt < 1000; ++attempt) {
    auto port = static_cast<std::uint16_t>(dist(rng));
    if (handed_out.count(port) || !port_is_free(port)) continue;
    handed_out.insert(port);
    return port;
  }
  throw std::runtime_error("no free port found in 20000-32000");
}

}  // namespace rm::test
