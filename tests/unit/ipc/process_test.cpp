// Two real processes (fork) on one channel: stress with checksums, and a peer that dies.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "ipc/publisher.hpp"
#include "ipc/subscriber.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;
using rm::ipc::IpcErrc;
using rm::ipc::PeerState;
using rm::ipc::Publisher;
using rm::ipc::Subscriber;
using rm::ipc::test::TempDir;

namespace {

// One-byte pipe signal between parent and child ("I am at the interesting point").
struct Pipe {
  int fd[2] = {-1, -1};
  Pipe() { EXPECT_EQ(::pipe(fd), 0); }
  ~Pipe() {
    for (int f : fd)
      if (f >= 0) ::close(f);
  }
  void signal() { (void)!::write(fd[1], "x", 1); }
  bool wait() {
    char c;
    return ::read(fd[0], &c, 1) == 1;
  }
};

// fork_first: every test forks before this process creates its endpoint, so the child starts
// from a process with one thread. A child forked while the parent's heartbeat keeper runs may
// find an allocator lock held for ever (seen under ASan: the child blocked in the sanitizer's
// allocator); the child's open() waits for the parent's create.

int reap(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return status;
}

TEST(IpcProcess, many_messages_cross_processes_in_order_with_intact_checksums) {
  TempDir dir;
  constexpr std::uint64_t kCount = 200000;
  constexpr std::size_t kMax = 2000;
  pid_t child = ::fork();  // before this process's endpoint exists (fork_first, above)
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto pub = Publisher::open(dir.path(), "p1_n_output", 5s);
    if (!pub) ::_exit(2);
    for (std::uint64_t i = 0; i < kCount; ++i) {
      std::size_t n = rm::ipc::test::message_size(i, kMax);
      auto loan = pub->loan(n, 10s);
      if (!loan || !*loan) ::_exit(3);
      auto s = std::move(**loan);
      rm::ipc::test::fill_message(s.payload_mut().data(), n, i);
      if (!pub->send(std::move(s))) ::_exit(4);
    }
    pub->close();
    ::_exit(0);
  }
  auto sub = Subscriber::create(dir.path(), "p1_n_output", 64 * 1024);
  ASSERT_TRUE(sub) << sub.error().message;
  std::uint64_t received = 0;
  for (std::uint64_t i = 0; i < kCount; ++i) {
    auto got = sub->receive(30s);
    ASSERT_TRUE(got) << got.error().message << " at message " << i;
    ASSERT_TRUE(*got) << "timed out at message " << i;
    ASSERT_TRUE(rm::ipc::test::check_message((*got)->payload().data(), (*got)->size(), i))
        << "corrupt message " << i;
    ++received;
  }
  auto end = sub->receive(30s);
  ASSERT_FALSE(end);
  EXPECT_EQ(end.error().code, IpcErrc::peer_gone);
  int status = reap(child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
  EXPECT_EQ(received, kCount);
}

TEST(IpcProcess, a_producer_killed_mid_write_leaves_no_partial_record_and_is_reported_gone) {
  TempDir dir;
  Pipe ready;
  pid_t child = ::fork();  // before this process's endpoint exists (fork_first, above)
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto pub = Publisher::open(dir.path(), "p2_n_input", 5s);
    if (!pub) ::_exit(2);
    for (std::uint64_t i = 0; i < 3; ++i) {
      auto loan = pub->loan(100, 1s);
      if (!loan || !*loan) ::_exit(3);
      auto s = std::move(**loan);
      rm::ipc::test::fill_message(s.payload_mut().data(), 100, i);
      (void)pub->send(std::move(s));
    }
    auto loan = pub->loan(1000, 1s);
    if (!loan || !*loan) ::_exit(4);
    std::memset((*loan)->payload_mut().data(), 0xAB, 500);  // half written
    ready.signal();
    for (;;) ::pause();
  }
  auto sub = Subscriber::create(dir.path(), "p2_n_input", 64 * 1024);
  ASSERT_TRUE(sub);
  ASSERT_TRUE(ready.wait());
  ::kill(child, SIGKILL);
  // Not reaped yet on purpose: a zombie must count as dead, too.
  for (std::uint64_t i = 0; i < 3; ++i) {
    auto got = sub->receive(5s);
    ASSERT_TRUE(got && *got) << "complete record " << i << " must still arrive";
    EXPECT_TRUE(rm::ipc::test::check_message((*got)->payload().data(), (*got)->size(), i));
  }
  auto gone = sub->receive(rm::ipc::kForever);
  ASSERT_FALSE(gone) << "received a record the producer never sent";
  EXPECT_EQ(gone.error().code, IpcErrc::peer_gone);
  EXPECT_EQ(sub->peer_state(), PeerState::gone);
  reap(child);
}

TEST(IpcProcess, a_killed_consumer_turns_a_blocked_producer_into_peer_gone) {
  TempDir dir;
  Pipe ready;
  pid_t child = ::fork();  // before this process's endpoint exists (fork_first, above)
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto sub = Subscriber::open(dir.path(), "p3_n_input", 5s);
    if (!sub) ::_exit(2);
    ready.signal();
    for (;;) ::pause();  // attached, never reads
  }
  auto pub = Publisher::create(dir.path(), "p3_n_input", 4096);
  ASSERT_TRUE(pub);
  ASSERT_TRUE(ready.wait());
  std::thread killer([&] {
    std::this_thread::sleep_for(50ms);
    ::kill(child, SIGKILL);
    reap(child);
  });
  // Fill the ring, then block forever (by request) on the next loan: death must end it.
  tl::expected<std::optional<rm::ipc::SampleMut>, rm::ipc::IpcError> loan;
  for (;;) {
    loan = pub->loan(1000, rm::ipc::kForever);
    if (!loan) break;
    ASSERT_TRUE(*loan);
    ASSERT_TRUE(pub->send(std::move(**loan)));
  }
  killer.join();
  EXPECT_EQ(loan.error().code, IpcErrc::peer_gone) << loan.error().message;
}

TEST(IpcProcess, a_peer_whose_heartbeat_stops_counts_as_gone_even_though_its_pid_exists) {
  // A stopped process keeps its pid but stops stamping heartbeats, like a peer in another pid
  // namespace whose pid we cannot check.
  TempDir dir;
  rm::ipc::ChannelOptions opts;
  opts.peer_timeout = 500ms;
  Pipe ready;
  pid_t child = ::fork();  // before this process's endpoint exists (fork_first, above)
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto pub = Publisher::open(dir.path(), "p4_n_input", 5s);
    if (!pub) ::_exit(2);
    ready.signal();
    for (;;) ::pause();
  }
  auto sub = Subscriber::create(dir.path(), "p4_n_input", 4096, opts);
  ASSERT_TRUE(sub);
  ASSERT_TRUE(ready.wait());
  EXPECT_EQ(sub->peer_state(), PeerState::alive);
  ::kill(child, SIGSTOP);
  auto r = sub->receive(30s);
  ::kill(child, SIGKILL);
  reap(child);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, IpcErrc::peer_gone);
}

TEST(IpcProcess, an_idle_but_living_peer_stays_alive_past_the_heartbeat_limit) {
  TempDir dir;
  rm::ipc::ChannelOptions opts;
  // The keeper stamps every 200 ms; 1 s leaves room for a loaded machine (sanitizers, parallel
  // tests on 2 cores) to deschedule it, while the 3 s idle is still well past the limit.
  opts.peer_timeout = 1000ms;
  Pipe ready;
  pid_t child = ::fork();  // before this process's endpoint exists (fork_first, above)
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto pub = Publisher::open(dir.path(), "p5_n_input", 5s);
    if (!pub) ::_exit(2);
    ready.signal();
    ::sleep(3);  // idle: only the background heartbeat keeps it visible
    (void)pub->send_copy(std::vector<std::byte>(4, std::byte{1}), 1s);
    ::_exit(0);
  }
  auto sub = Subscriber::create(dir.path(), "p5_n_input", 4096, opts);
  ASSERT_TRUE(sub);
  ASSERT_TRUE(ready.wait());
  auto r = sub->receive(30s);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(*r);
  reap(child);
}

}  // namespace
