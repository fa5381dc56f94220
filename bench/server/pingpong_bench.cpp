// What the kernel and the VM take of a loopback round trip, without any of the project's code:
// a thread writes 1.3 KB (one 20 ms chunk's frame) on a TCP connection on 127.0.0.1, an echo
// thread reads and writes it back, paced at 20 ms like server_bench, blocking sockets. Run with
// both threads on one CPU, on two different CPUs, and where the scheduler puts them.
//   pingpong_bench [--rounds 250]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

using namespace std::chrono;

namespace {

constexpr std::size_t kFrame = 1328;

void pin(int cpu) {
  if (cpu < 0) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

bool read_all(int fd, char* p, std::size_t n) {
  while (n > 0) {
    auto r = ::read(fd, p, n);
    if (r <= 0) return false;
    p += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

// p50 / p99 in us of `rounds` round trips with the client on `client_cpu` and the echo on
// `echo_cpu` (-1: not pinned).
std::pair<double, double> run(int client_cpu, int echo_cpu, int rounds) {
  int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listener, 1) != 0 ||
      ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    std::perror("listen");
    std::exit(1);
  }
  std::thread echo([&] {
    pin(echo_cpu);
    int fd = ::accept(listener, nullptr, nullptr);
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char buf[kFrame];
    while (read_all(fd, buf, kFrame)) {
      if (::write(fd, buf, kFrame) != static_cast<ssize_t>(kFrame)) break;
    }
    ::close(fd);
  });
  pin(client_cpu);
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    std::perror("connect");
    std::exit(1);
  }
  std::vector<double> us;
  char buf[kFrame];
  std::memset(buf, 1, sizeof buf);
  auto t0 = steady_clock::now();
  for (int k = 0; k < rounds; ++k) {
    std::this_thread::sleep_until(t0 + microseconds(20'000LL * k));
    auto sent = steady_clock::now();
    if (::write(fd, buf, kFrame) != static_cast<ssize_t>(kFrame) || !read_all(fd, buf, kFrame)) break;
    us.push_back(duration<double, std::micro>(steady_clock::now() - sent).count());
  }
  ::close(fd);
  echo.join();
  ::close(listener);
  std::sort(us.begin(), us.end());
  if (us.empty()) return {0, 0};
  return {us[us.size() / 2], us[std::min(us.size() - 1, us.size() * 99 / 100)]};
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 250;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--rounds")) rounds = std::atoi(argv[i + 1]);
  }
  std::printf("TCP loopback ping-pong of %zu bytes, paced at 20 ms, %d rounds each\n", kFrame, rounds);
  struct Case {
    const char* name;
    int client, echo;
  };
  const int last = static_cast<int>(std::thread::hardware_concurrency()) - 1;
  for (auto c : {Case{"one CPU (0, 0)", 0, 0}, Case{"two CPUs (0, 1)", 0, std::max(last, 0)},
                 Case{"not pinned", -1, -1}}) {
    auto [p50, p99] = run(c.client, c.echo, rounds);
    std::printf("  %-16s p50 %.0f us  p99 %.0f us\n", c.name, p50, p99);
  }
  return 0;
}
