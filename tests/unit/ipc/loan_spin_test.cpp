// With ChannelOptions::loan_spin (on by default) the consumer spins instead of sleeping while the producer
// fills an open loan: the loan-open word in the segment, and the consumer's futex sleeps counted. In-process
// (threads), so these also run under ThreadSanitizer. No timing is asserted: the budgets are far larger than
// the test's pauses, so the outcome does not depend on scheduling.
#include <gtest/gtest.h>

#include <sched.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>

#include "channel.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;
using rm::ipc::ChannelOptions;
using rm::ipc::kForever;
using rm::ipc::detail::Channel;
using rm::ipc::detail::Role;
using rm::ipc::test::TempDir;

namespace {

// No initial spin (every wait goes straight to phase 2), poll slices and loan budget far
// longer than any pause below; the spin does not depend on which CPUs the threads run on.
ChannelOptions patient() {
  ChannelOptions o;
  o.spin = 0ns;
  o.poll_slice = 60s;
  o.loan_spin = 60s;
  o.spin_on_shared_cpu = true;
  return o;
}

// The first CPU this thread may run on (the machine's or container's cpuset).
int first_allowed_cpu() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) != 0) return -1;
  for (int c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &set)) return c;
  return -1;
}

// Pins the calling thread to one CPU for its scope, then restores its affinity.
class PinnedTo {
 public:
  explicit PinnedTo(int cpu) {
    ok_ = ::sched_getaffinity(0, sizeof saved_, &saved_) == 0;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    ok_ = ok_ && ::sched_setaffinity(0, sizeof one, &one) == 0;
  }
  ~PinnedTo() { ::sched_setaffinity(0, sizeof saved_, &saved_); }
  PinnedTo(const PinnedTo&) = delete;
  PinnedTo& operator=(const PinnedTo&) = delete;
  bool ok() const { return ok_; }

 private:
  cpu_set_t saved_{};
  bool ok_ = false;
};

struct Pair {
  std::unique_ptr<Channel> prod, cons;
};

Pair make_pair(const TempDir& dir, const char* name, const ChannelOptions& o) {
  auto p = Channel::create(dir.path(), name, 1 << 16, Role::producer, o);
  EXPECT_TRUE(p) << p.error().message;
  auto c = Channel::open(dir.path(), name, Role::consumer, 1s, o);
  EXPECT_TRUE(c) << c.error().message;
  if (!p || !c) return {};
  return {std::move(*p), std::move(*c)};
}

std::uint32_t loan_word(const Channel& ch) {
  return ch.header().producer.loan_open.load(std::memory_order_acquire);
}

TEST(IpcLoanSpin, a_loan_marks_itself_open_in_the_segment_until_it_is_sent_cancelled_or_closed) {
  TempDir dir;
  auto [prod, cons] = make_pair(dir, "ls1_n_input", patient());
  ASSERT_TRUE(prod && cons);
  EXPECT_EQ(loan_word(*cons), 0u);
  EXPECT_EQ(cons->header().consumer.spins_on_loans.load(), 1u) << "announced at attach";

  auto a = prod->loan(100, 0ns);
  ASSERT_TRUE(a && *a);
  std::uint32_t first = loan_word(*cons);
  EXPECT_NE(first, 0u);
  ASSERT_TRUE(prod->commit(100));
  EXPECT_EQ(loan_word(*cons), 0u);

  auto b = prod->loan(100, 0ns);
  ASSERT_TRUE(b && *b);
  EXPECT_NE(loan_word(*cons), 0u);
  EXPECT_NE(loan_word(*cons), first) << "each loan has its own generation";
  prod->cancel_loan();
  EXPECT_EQ(loan_word(*cons), 0u);

  auto c = prod->loan(100, 0ns);
  ASSERT_TRUE(c && *c);
  EXPECT_NE(loan_word(*cons), 0u);
  prod->close();
  EXPECT_EQ(loan_word(*cons), 0u) << "closing with a loan outstanding clears the word";

  // The one committed record arrived; nothing of the cancelled or closed loans.
  auto got = cons->receive(0ns);
  ASSERT_TRUE(got && *got);
  EXPECT_EQ((*got)->size(), 100u);
  cons->release();
  auto none = cons->receive(0ns);
  EXPECT_FALSE(none) << "the producer closed: peer gone after draining";
}

TEST(IpcLoanSpin, an_idle_consumer_with_no_loan_open_sleeps_on_the_futex) {
  TempDir dir;
  auto [prod, cons] = make_pair(dir, "ls2_n_input", patient());
  ASSERT_TRUE(prod && cons);
  auto got = cons->receive(30ms);
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_FALSE(*got);
  EXPECT_GE(cons->futex_waits(), 1u);
}

TEST(IpcLoanSpin, a_consumer_does_not_sleep_while_the_producer_fills_an_open_loan) {
  TempDir dir;
  auto [prod, cons] = make_pair(dir, "ls3_n_input", patient());
  ASSERT_TRUE(prod && cons);
  auto loan = prod->loan(4096, 0ns);
  ASSERT_TRUE(loan && *loan);
  std::optional<std::byte> first;
  std::thread consumer([&] {
    auto got = cons->receive(kForever);
    if (got && *got) first = (**got)[0];
  });
  // A slow fill: the consumer waits all along, spinning (its futex would need a wake-up).
  std::this_thread::sleep_for(50ms);
  std::memset(**loan, 7, 4096);
  ASSERT_TRUE(prod->commit(4096));
  consumer.join();
  ASSERT_TRUE(first);
  EXPECT_EQ(*first, std::byte{7});
  EXPECT_EQ(cons->futex_waits(), 0u);
}

TEST(IpcLoanSpin, a_loan_wakes_a_sleeping_consumer_which_then_spins_until_the_send) {
  TempDir dir;
  auto [prod, cons] = make_pair(dir, "ls4_n_input", patient());
  ASSERT_TRUE(prod && cons);
  std::optional<std::byte> first;
  std::atomic<bool> returned{false};
  std::thread consumer([&] {
    auto got = cons->receive(kForever);
    if (got && *got) first = (**got)[0];
    returned.store(true, std::memory_order_release);
  });
  // Wait (bounded) until the consumer is asleep on its futex; its poll slice is 60 s.
  for (int i = 0; i < 10000 && cons->futex_waits() == 0; ++i) std::this_thread::sleep_for(1ms);
  ASSERT_EQ(cons->futex_waits(), 1u);
  auto loan = prod->loan(64, 0ns);
  ASSERT_TRUE(loan && *loan);
  // The loan woke it: it leaves the futex and spins (waiting back to 0) before anything is sent.
  const auto& waiting = cons->header().consumer.waiting;
  for (int i = 0; i < 10000 && waiting.load(std::memory_order_acquire) != 0; ++i)
    std::this_thread::sleep_for(1ms);
  EXPECT_EQ(waiting.load(std::memory_order_acquire), 0u);
  const std::uint64_t woken_after = cons->futex_waits();
  EXPECT_FALSE(returned.load(std::memory_order_acquire)) << "nothing was sent yet";
  std::memset(**loan, 9, 64);
  ASSERT_TRUE(prod->commit(64));
  consumer.join();
  ASSERT_TRUE(first);
  EXPECT_EQ(*first, std::byte{9});
  EXPECT_EQ(cons->futex_waits(), woken_after) << "no further sleep while the loan was open";
}

TEST(IpcLoanSpin, a_loan_held_past_the_budget_lets_the_consumer_sleep_again) {
  TempDir dir;
  ChannelOptions o = patient();
  o.loan_spin = 1ms;
  o.poll_slice = 5ms;
  auto [prod, cons] = make_pair(dir, "ls5_n_input", o);
  ASSERT_TRUE(prod && cons);
  auto loan = prod->loan(64, 0ns);
  ASSERT_TRUE(loan && *loan);
  auto got = cons->receive(200ms);
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_FALSE(*got);
  EXPECT_GE(cons->futex_waits(), 1u) << "the spin is bounded: an open but idle loan costs no CPU";
  prod->cancel_loan();
}

TEST(IpcLoanSpin, a_loan_spin_of_zero_lets_the_consumer_sleep_through_an_open_loan) {
  TempDir dir;
  ChannelOptions o;
  o.spin = 0ns;
  o.poll_slice = 60s;
  o.loan_spin = 0ns;
  auto [prod, cons] = make_pair(dir, "ls6_n_input", o);
  ASSERT_TRUE(prod && cons);
  EXPECT_EQ(cons->header().consumer.spins_on_loans.load(), 0u);
  auto loan = prod->loan(64, 0ns);
  ASSERT_TRUE(loan && *loan);
  EXPECT_NE(loan_word(*cons), 0u) << "the loan is marked open whatever the consumer does";
  auto got = cons->receive(30ms);
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_FALSE(*got);
  EXPECT_GE(cons->futex_waits(), 1u);
  prod->cancel_loan();
}

TEST(IpcLoanSpin, by_default_a_consumer_spins_on_open_loans_for_at_most_a_millisecond_each) {
  ChannelOptions o;
  EXPECT_EQ(o.loan_spin, 1ms);
  EXPECT_FALSE(o.spin_on_shared_cpu);
  TempDir dir;
  auto [prod, cons] = make_pair(dir, "ls7_n_input", o);
  ASSERT_TRUE(prod && cons);
  EXPECT_EQ(cons->header().consumer.spins_on_loans.load(), 1u) << "announced at attach";
}

TEST(IpcLoanSpin, a_loan_records_the_producers_cpu_and_a_consumer_on_that_cpu_sleeps_instead_of_spinning) {
  int cpu = first_allowed_cpu();
  ASSERT_GE(cpu, 0);
  TempDir dir;
  ChannelOptions o = patient();
  o.spin_on_shared_cpu = false;
  o.poll_slice = 5ms;
  auto [prod, cons] = make_pair(dir, "ls8_n_input", o);
  ASSERT_TRUE(prod && cons);
  std::optional<std::byte*> loan;
  {
    PinnedTo here(cpu);
    ASSERT_TRUE(here.ok());
    auto l = prod->loan(64, 0ns);
    ASSERT_TRUE(l && *l);
    loan = *l;
  }
  EXPECT_EQ(cons->header().producer.loan_cpu.load(), static_cast<std::uint32_t>(cpu) + 1);
  std::uint64_t waits = 0;
  bool got_nothing = false;
  std::thread consumer([&] {
    PinnedTo here(cpu);
    if (!here.ok()) return;
    auto got = cons->receive(100ms);  // the loan stays open: nothing arrives
    got_nothing = got && !*got;
    waits = cons->futex_waits();
  });
  consumer.join();
  EXPECT_TRUE(got_nothing);
  EXPECT_GE(waits, 1u)
      << "on the producer's CPU the consumer slept although its 60 s loan budget was unspent";
  prod->cancel_loan();
}

}  // namespace
