// ipc_bench: one-way latency (1 KB, 1 MB) of shared-memory channels vs a Unix domain socket,
// throughput of 1 KB messages, and CPU use of an idle channel. Producer and consumer are two
// processes (fork).
//   one-way latency: CLOCK_MONOTONIC when the consumer holds the record minus the stamp the
//     producer wrote into the payload right before send (commit);
//   fill: the producer writing its own loaned record in place (loan -> commit), shown apart.
// Usage: ipc_bench [iterations_1k] [iterations_1m] [--only active|idle|socket|throughput|cpu]
//                  [--pin <producer_cpu>,<consumer_cpu>]
#include <sched.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "ipc/publisher.hpp"
#include "ipc/subscriber.hpp"

using namespace std::chrono_literals;
using rm::ipc::Publisher;
using rm::ipc::Subscriber;

namespace {

std::uint64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "ipc_bench: %s\n", what.c_str());
  std::exit(1);
}

template <typename T>
T must(T v, const char* what) {
  if (!v) die(std::string(what) + ": " + v.error().message);
  return v;
}

// Optional CPU affinity of the two processes (-1 = not pinned).
struct Pinning {
  int producer = -1, consumer = -1;
};
Pinning g_pin;

// Every endpoint of the bench: the library defaults, overridden by RM_IPC_SPIN_US,
// RM_IPC_LOAN_SPIN_US, RM_IPC_PEER_TIMEOUT_MS as in the Python SDK (same binary, both settings).
rm::ipc::ChannelOptions opts() {
  return rm::ipc::ChannelOptions::from_env();
}

struct Stats {
  double p50, p99, p999, mean;
};

Stats stats(std::vector<std::uint64_t> v) {
  std::sort(v.begin(), v.end());
  auto at = [&](double q) {
    return static_cast<double>(v[std::min(v.size() - 1, static_cast<std::size_t>(q * v.size()))]) / 1000.0;
  };
  double sum = 0;
  for (auto x : v) sum += static_cast<double>(x);
  return {at(0.50), at(0.99), at(0.999), sum / static_cast<double>(v.size()) / 1000.0};
}

void print(const char* name, std::size_t size, const Stats& s, std::size_t n) {
  std::printf("%-52s %8zu B  p50 %8.2f us  p99 %8.2f us  p99.9 %8.2f us  mean %8.2f us  (n=%zu)\n", name,
              size, s.p50, s.p99, s.p999, s.mean, n);
}

// Sends the consumer's latency samples back to the parent through a pipe.
void write_all(int fd, const void* p, std::size_t n) {
  auto* b = static_cast<const char*>(p);
  while (n > 0) {
    ssize_t w = ::write(fd, b, n);
    if (w <= 0) die("pipe write");
    b += w;
    n -= static_cast<std::size_t>(w);
  }
}
void read_all(int fd, void* p, std::size_t n) {
  auto* b = static_cast<char*>(p);
  while (n > 0) {
    ssize_t r = ::read(fd, b, n);
    if (r <= 0) die("pipe/socket read");
    b += r;
    n -= static_cast<std::size_t>(r);
  }
}

std::vector<std::uint64_t> collect(pid_t child, int fd, std::size_t n) {
  std::vector<std::uint64_t> lat(n);
  read_all(fd, lat.data(), n * sizeof(std::uint64_t));
  int status = 0;
  ::waitpid(child, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) die("consumer process failed");
  return lat;
}

// Shared-memory ping-pong. Per record the producer stamps t_loan (before loan()) and t_commit
// (right before send) into the payload; the consumer stamps t_held when receive() returns it.
//   one-way = t_held - t_commit: the transport's latency, the figure the goal is about;
//   fill    = t_commit - t_loan: the producer writing its own record in place (memset), which
//             any transport pays and a zero-copy one pays exactly once.
// `overlap`: the producer fills the next record while the consumer handles the current one
// ("consumer active"). Without it the producer fills only after the ack ("consumer idle while
// the producer fills"), so for 1 MB the consumer's 10 us spin has run out by the commit.
struct ShmRun {
  std::vector<std::uint64_t> oneway, fill;
  double consumer_sleeps_per_record = 0;  // voluntary context switches of the consumer thread
};

void pin_to(int cpu) {
  if (cpu < 0) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (::sched_setaffinity(0, sizeof set, &set) != 0) die("sched_setaffinity " + std::to_string(cpu));
}

// `written`: bytes of the record the producer writes (memset from the start, plus the last
// byte); the full record size by default. A 1 MB record with 4 KB written separates what the
// record's size costs the transport from what writing 1 MB does to the producer's caches.
ShmRun shm_latency(const std::filesystem::path& dir, std::size_t size, std::size_t iters, bool overlap,
                   std::size_t written = 0) {
  if (written == 0 || written > size) written = size;
  const std::string data = "bench_n_input", ack = "bench_n_output";
  std::uint64_t cap = std::max<std::uint64_t>(1 << 20, 4 * (size + 64));
  auto pub = must(Publisher::create(dir, data, cap, opts()), "create data");
  auto acks = must(Subscriber::create(dir, ack, 1 << 16, opts()), "create ack");
  int pfd[2];
  if (::pipe(pfd) != 0) die("pipe");
  pid_t child = ::fork();
  if (child == 0) {
    pin_to(g_pin.consumer);
    auto sub = must(Subscriber::open(dir, data, 5s, opts()), "open data");
    auto ackp = must(Publisher::open(dir, ack, 5s, opts()), "open ack");
    std::vector<std::uint64_t> out(2 * iters + 1);
    rusage before{}, after{};
    getrusage(RUSAGE_THREAD, &before);
    for (std::size_t i = 0; i < iters; ++i) {
      auto r = sub->receive(10s);
      std::uint64_t t_held = now_ns();
      if (!r || !*r) ::_exit(2);
      std::uint64_t t_commit = 0, t_loan = 0;
      std::memcpy(&t_commit, (*r)->payload().data(), 8);
      std::memcpy(&t_loan, (*r)->payload().data() + 8, 8);
      // Touch the last byte too: the consumer sees the whole record, written once in place.
      if ((*r)->payload()[size - 1] != static_cast<std::byte>(i & 0xFF)) ::_exit(3);
      out[i] = t_held - t_commit;
      out[iters + i] = t_commit - t_loan;
      r->reset();
      std::uint64_t one = i;
      if (!ackp->send_copy(std::as_bytes(std::span(&one, 1)), 10s)) ::_exit(4);
    }
    getrusage(RUSAGE_THREAD, &after);
    out[2 * iters] = static_cast<std::uint64_t>(after.ru_nvcsw - before.ru_nvcsw);
    write_all(pfd[1], out.data(), out.size() * sizeof(std::uint64_t));
    ::_exit(0);
  }
  ::close(pfd[1]);
  auto fill = [&](std::size_t i) {
    std::uint64_t t_loan = now_ns();
    auto loan = pub->loan(size, 10s);
    if (!loan || !*loan) die("loan");
    auto s = std::move(**loan);
    // The producer's real work: write the whole payload once, in place.
    std::memset(s.payload_mut().data(), static_cast<int>(i & 0xFF), written);
    s.payload_mut()[size - 1] = static_cast<std::byte>(i & 0xFF);
    std::memcpy(s.payload_mut().data() + 8, &t_loan, 8);
    return s;
  };
  std::optional<rm::ipc::SampleMut> next;
  for (std::size_t i = 0; i < iters; ++i) {
    if (i > 0) {
      auto a = acks->receive(10s);
      if (!a || !*a) die("ack");
    }
    if (!next) next.emplace(fill(i));
    std::uint64_t t_commit = now_ns();
    std::memcpy(next->payload_mut().data(), &t_commit, 8);
    must(pub->send(std::move(*next)), "send");
    next.reset();
    if (overlap && i + 1 < iters) next.emplace(fill(i + 1));
  }
  next.reset();
  { auto a = acks->receive(10s); }
  auto all = collect(child, pfd[0], 2 * iters + 1);
  ::close(pfd[0]);
  ShmRun run;
  run.oneway.assign(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(iters));
  run.fill.assign(all.begin() + static_cast<std::ptrdiff_t>(iters),
                  all.begin() + static_cast<std::ptrdiff_t>(2 * iters));
  run.consumer_sleeps_per_record = static_cast<double>(all[2 * iters]) / static_cast<double>(iters);
  return run;
}

void report_shm(const std::string& mode, std::size_t size, const ShmRun& r) {
  std::string a = std::string("shm one-way (commit -> held), ") + mode;
  std::string b = std::string("  producer fill (loan -> commit), ") + mode;
  print(a.c_str(), size, stats(r.oneway), r.oneway.size());
  print(b.c_str(), size, stats(r.fill), r.fill.size());
  std::printf("  consumer slept %.2f times per record\n", r.consumer_sleeps_per_record);
}

// The same ping-pong over a Unix domain stream socket: write the message, read it fully.
std::vector<std::uint64_t> uds_latency(std::size_t size, std::size_t iters) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) die("socketpair");
  int pfd[2];
  if (::pipe(pfd) != 0) die("pipe");
  pid_t child = ::fork();
  if (child == 0) {
    pin_to(g_pin.consumer);
    ::close(sv[0]);
    std::vector<char> buf(size);
    std::vector<std::uint64_t> lat(iters);
    for (std::size_t i = 0; i < iters; ++i) {
      read_all(sv[1], buf.data(), size);
      std::uint64_t t1 = now_ns(), t0 = 0;
      std::memcpy(&t0, buf.data(), 8);
      lat[i] = t1 - t0;
      char a = 'a';
      write_all(sv[1], &a, 1);
    }
    write_all(pfd[1], lat.data(), lat.size() * sizeof(std::uint64_t));
    ::_exit(0);
  }
  ::close(sv[1]);
  ::close(pfd[1]);
  std::vector<char> buf(size);
  for (std::size_t i = 0; i < iters; ++i) {
    std::memset(buf.data(), static_cast<int>(i & 0xFF), size);
    std::uint64_t t0 = now_ns();
    std::memcpy(buf.data(), &t0, 8);
    write_all(sv[0], buf.data(), size);
    char a;
    read_all(sv[0], &a, 1);
  }
  auto lat = collect(child, pfd[0], iters);
  ::close(pfd[0]);
  ::close(sv[0]);
  return lat;
}

void throughput(const std::filesystem::path& dir, std::size_t n) {
  const std::size_t size = 1024;
  auto sub = must(Subscriber::create(dir, "tp_n_input", 1 << 20, opts()), "create");
  pid_t child = ::fork();
  if (child == 0) {
    pin_to(g_pin.consumer);
    auto pub = must(Publisher::open(dir, "tp_n_input", 5s, opts()), "open");
    for (std::size_t i = 0; i < n; ++i) {
      auto loan = pub->loan(size, 10s);
      if (!loan || !*loan) ::_exit(2);
      auto s = std::move(**loan);
      std::memset(s.payload_mut().data(), static_cast<int>(i & 0xFF), size);
      std::memcpy(s.payload_mut().data(), &i, 8);
      if (!pub->send(std::move(s))) ::_exit(3);
    }
    ::_exit(0);
  }
  std::uint64_t t0 = 0;
  for (std::size_t i = 0; i < n; ++i) {
    auto r = sub->receive(10s);
    if (!r || !*r) die("throughput receive");
    if (i == 0) t0 = now_ns();
    std::uint64_t seq;
    std::memcpy(&seq, (*r)->payload().data(), 8);
    if (seq != i) die("throughput: out of order");
  }
  double secs = static_cast<double>(now_ns() - t0) / 1e9;
  int status;
  ::waitpid(child, &status, 0);
  std::printf("%-52s %8zu B  %.2f M msg/s  %.2f GB/s  (n=%zu)\n", "shm throughput, 2 processes", size,
              static_cast<double>(n - 1) / secs / 1e6, static_cast<double>(n - 1) * size / secs / 1e9, n);
}

void idle_cpu(const std::filesystem::path& dir) {
  auto pub = must(Publisher::create(dir, "idle_n_input", 1 << 16, opts()), "create");
  auto sub = must(Subscriber::open(dir, "idle_n_input", 1s, opts()), "open");
  rusage before{}, after{};
  getrusage(RUSAGE_THREAD, &before);
  std::uint64_t t0 = now_ns();
  auto r = sub->receive(1s);  // nothing arrives: spin briefly, then sleep on the futex
  std::uint64_t wall = now_ns() - t0;
  getrusage(RUSAGE_THREAD, &after);
  if (!r || *r) die("idle receive");
  auto us = [](const timeval& t) { return t.tv_sec * 1'000'000.0 + t.tv_usec; };
  double cpu = (us(after.ru_utime) - us(before.ru_utime)) + (us(after.ru_stime) - us(before.ru_stime));
  std::printf("%-52s %.3f s wall, %.0f us CPU (%.3f%% of one core)\n", "idle channel, waiting consumer",
              static_cast<double>(wall) / 1e9, cpu, 100.0 * cpu / (static_cast<double>(wall) / 1e3));
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> pos;
  std::string only;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--only" && i + 1 < argc) {
      only = argv[++i];
    } else if (a == "--pin" && i + 1 < argc) {
      if (std::sscanf(argv[++i], "%d,%d", &g_pin.producer, &g_pin.consumer) != 2) die("--pin wants P,C");
    } else {
      pos.push_back(a);
    }
  }
  std::size_t n1k = pos.size() > 0 ? std::strtoull(pos[0].c_str(), nullptr, 10) : 100000;
  std::size_t n1m = pos.size() > 1 ? std::strtoull(pos[1].c_str(), nullptr, 10) : 5000;
  auto want = [&](const char* c) { return only.empty() || only == c; };
  std::string tmpl = "/dev/shm/rm-ipc-bench-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) die("mkdtemp");
  std::filesystem::path dir = tmpl;
  const rm::ipc::ChannelOptions o = opts();
  std::string pinned = g_pin.producer < 0 ? "not pinned"
                                          : "producer on cpu " + std::to_string(g_pin.producer) +
                                                ", consumer on cpu " + std::to_string(g_pin.consumer);
  std::printf("one-way latency (wait: spin %lld us, then futex; loan spin %lld us; %s)\n",
              static_cast<long long>(o.spin.count() / 1000),
              static_cast<long long>(o.loan_spin.count() / 1000), pinned.c_str());
  pin_to(g_pin.producer);
  if (want("active")) {
    report_shm("consumer active", 1024, shm_latency(dir, 1024, n1k, true));
    report_shm("consumer active", 1 << 20, shm_latency(dir, 1 << 20, n1m, true));
  }
  if (want("idle")) {
    report_shm("fill after ack", 1024, shm_latency(dir, 1024, n1k, false));
    report_shm("fill after ack", 1 << 20, shm_latency(dir, 1 << 20, n1m, false));
    report_shm("fill after ack, 4 KB of it written", 1 << 20, shm_latency(dir, 1 << 20, n1m, false, 4096));
  }
  if (want("socket")) {
    print("unix socket (baseline)", 1024, stats(uds_latency(1024, n1k)), n1k);
    print("unix socket (baseline)", 1 << 20, stats(uds_latency(1 << 20, n1m)), n1m);
  }
  if (want("throughput")) throughput(dir, 5'000'000);
  if (want("cpu")) idle_cpu(dir);
  std::filesystem::remove_all(dir);
  return 0;
}
