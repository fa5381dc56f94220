// In-process tests of the ring (producer and consumer on two threads of one process), so they
// also run under ThreadSanitizer.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "ipc/publisher.hpp"
#include "ipc/subscriber.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;
using rm::ipc::IpcErrc;
using rm::ipc::Publisher;
using rm::ipc::Subscriber;
using rm::ipc::test::TempDir;

namespace {

TEST(IpcRing, a_record_round_trips_in_place) {
  TempDir dir;
  auto pub = Publisher::create(dir.path(), "s1_n_input", 4096);
  ASSERT_TRUE(pub) << pub.error().message;
  auto sub = Subscriber::open(dir.path(), "s1_n_input", 1s);
  ASSERT_TRUE(sub) << sub.error().message;
  auto loan = pub->loan(5, 0ns);
  ASSERT_TRUE(loan && *loan);
  auto sample = std::move(**loan);
  std::memcpy(sample.payload_mut().data(), "hello", 5);
  ASSERT_TRUE(pub->send(std::move(sample)));
  auto got = sub->receive(1s);
  ASSERT_TRUE(got) << got.error().message;
  ASSERT_TRUE(*got);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>((*got)->payload().data()), (*got)->size()), "hello");
}

TEST(IpcRing, receive_on_an_empty_channel_is_nothing_yet_not_an_error) {
  TempDir dir;
  auto pub = Publisher::create(dir.path(), "s2_n_input", 4096);
  auto sub = Subscriber::open(dir.path(), "s2_n_input", 1s);
  ASSERT_TRUE(pub && sub);
  auto got = sub->receive(0ns);
  ASSERT_TRUE(got);
  EXPECT_FALSE(*got);
  got = sub->receive(5ms);
  ASSERT_TRUE(got);
  EXPECT_FALSE(*got);
}

TEST(IpcRing, variable_size_records_wrap_around_in_order_with_intact_checksums) {
  TempDir dir;
  constexpr std::uint64_t kCount = 50000;
  constexpr std::size_t kMax = 3000;
  auto pub = Publisher::create(dir.path(), "s3_n_input", 8192);
  auto sub = Subscriber::open(dir.path(), "s3_n_input", 1s);
  ASSERT_TRUE(pub && sub);
  std::thread producer([&] {
    for (std::uint64_t i = 0; i < kCount; ++i) {
      std::size_t n = rm::ipc::test::message_size(i, kMax);
      auto loan = pub->loan(n, 10s);
      if (!loan || !*loan) return;
      auto s = std::move(**loan);
      rm::ipc::test::fill_message(s.payload_mut().data(), n, i);
      if (!pub->send(std::move(s))) return;
    }
  });
  std::uint64_t ok = 0;
  for (std::uint64_t i = 0; i < kCount; ++i) {
    auto got = sub->receive(10s);
    ASSERT_TRUE(got) << got.error().message;
    ASSERT_TRUE(*got) << "timed out at message " << i;
    ASSERT_EQ((*got)->size(), rm::ipc::test::message_size(i, kMax));
    ASSERT_TRUE(rm::ipc::test::check_message((*got)->payload().data(), (*got)->size(), i)) << "message " << i;
    ++ok;
  }
  producer.join();
  EXPECT_EQ(ok, kCount);
}

TEST(IpcRing, a_full_ring_times_out_the_loan_and_never_overwrites_unread_records) {
  TempDir dir;
  auto pub = Publisher::create(dir.path(), "s4_n_input", 1024);
  auto sub = Subscriber::open(dir.path(), "s4_n_input", 1s);
  ASSERT_TRUE(pub && sub);
  std::uint64_t sent = 0;
  for (;;) {
    auto loan = pub->loan(100, 0ns);
    ASSERT_TRUE(loan) << loan.error().message;
    if (!*loan) break;
    auto s = std::move(**loan);
    rm::ipc::test::fill_message(s.payload_mut().data(), 100, sent);
    ASSERT_TRUE(pub->send(std::move(s)));
    ++sent;
  }
  ASSERT_GT(sent, 0u);
  auto blocked = pub->loan(100, 20ms);
  ASSERT_TRUE(blocked) << blocked.error().message;
  EXPECT_FALSE(*blocked) << "a loan succeeded although the ring was full";
  for (std::uint64_t i = 0; i < sent; ++i) {
    auto got = sub->receive(0ns);
    ASSERT_TRUE(got && *got) << "record " << i;
    EXPECT_TRUE(rm::ipc::test::check_message((*got)->payload().data(), (*got)->size(), i));
  }
  auto again = pub->loan(100, 0ns);
  ASSERT_TRUE(again && *again) << "space was not returned after the consumer released";
}

TEST(IpcRing, a_blocked_producer_resumes_when_the_consumer_releases) {
  TempDir dir;
  auto pub = Publisher::create(dir.path(), "s5_n_input", 256);
  auto sub = Subscriber::open(dir.path(), "s5_n_input", 1s);
  ASSERT_TRUE(pub && sub);
  // Ring holds one 200-byte record; the second send must wait for the release.
  ASSERT_TRUE(pub->send_copy(std::vector<std::byte>(200, std::byte{1}), 0ns).value());
  std::atomic<bool> second_sent{false};
  std::thread producer([&] {
    auto r = pub->send_copy(std::vector<std::byte>(200, std::byte{2}), 10s);
    second_sent = r && *r;
  });
  {
    auto got = sub->receive(1s);
    ASSERT_TRUE(got && *got);
    EXPECT_EQ((*got)->payload()[0], std::byte{1});
  }
  auto got = sub->receive(10s);
  producer.join();
  ASSERT_TRUE(second_sent.load());
  ASSERT_TRUE(got && *got);
  EXPECT_EQ((*got)->payload()[199], std::byte{2});
}

TEST(IpcRing, dropping_an_unsent_loan_returns_its_space_and_sends_nothing) {
  TempDir dir;
  auto pub = Publisher::create(dir.path(), "s6_n_input", 512);
  auto sub = Subscriber::open(dir.path(), "s6_n_input", 1s);
  ASSERT_TRUE(pub && sub);
  for (int i = 0; i < 10; ++i) {
    auto loan = pub->loan(400, 0ns);
    ASSERT_TRUE(loan && *loan) << "loan " << i;
  }
  auto got = sub->receive(0ns);
  ASSERT_TRUE(got);
  EXPECT_FALSE(*got);
}

TEST(IpcRing, truncate_sends_only_the_bytes_written) {
  TempDir dir;
  auto pub = Publisher::create(dir.path(), "s7_n_input", 4096);
  auto sub = Subscriber::open(dir.path(), "s7_n_input", 1s);
  ASSERT_TRUE(pub && sub);
  auto loan = pub->loan(1000, 0ns);
  ASSERT_TRUE(loan && *loan);
  auto s = std::move(**loan);
  std::memcpy(s.payload_mut().data(), "abc", 3);
  s.truncate(3);
  ASSERT_TRUE(pub->send(std::move(s)));
  auto got = sub->receive(1s);
  ASSERT_TRUE(got && *got);
  EXPECT_EQ((*got)->size(), 3u);
}

TEST(IpcRing, a_record_larger_than_the_ring_is_rejected_with_the_largest_size) {
  TempDir dir;
  auto pub = Publisher::create(dir.path(), "s8_n_input", 1024);
  ASSERT_TRUE(pub);
  EXPECT_EQ(pub->max_record(), 1016u);
  auto loan = pub->loan(1017, 0ns);
  ASSERT_FALSE(loan);
  EXPECT_EQ(loan.error().code, IpcErrc::invalid_argument);
  EXPECT_NE(loan.error().message.find("1016"), std::string::npos) << loan.error().message;
  auto max = pub->loan(1016, 0ns);
  ASSERT_TRUE(max && *max);
}

TEST(IpcRing, a_record_of_maximum_size_fits_after_the_ring_has_wrapped) {
  TempDir dir;
  auto pub = Publisher::create(dir.path(), "s9_n_input", 1024);
  auto sub = Subscriber::open(dir.path(), "s9_n_input", 1s);
  ASSERT_TRUE(pub && sub);
  ASSERT_TRUE(pub->send_copy(std::vector<std::byte>(300, std::byte{7}), 0ns).value());
  {
    auto got = sub->receive(0ns);
    ASSERT_TRUE(got && *got);
  }
  std::thread consumer([&] {
    auto got = sub->receive(10s);
    ASSERT_TRUE(got && *got) << (got ? "timeout" : got.error().message);
    EXPECT_EQ((*got)->size(), pub->max_record());
  });
  auto r = pub->send_copy(std::vector<std::byte>(pub->max_record(), std::byte{9}), 10s);
  consumer.join();
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(*r);
}

TEST(IpcRing, a_second_loan_while_one_is_outstanding_is_a_state_error) {
  TempDir dir;
  auto pub = Publisher::create(dir.path(), "s10_n_input", 4096);
  ASSERT_TRUE(pub);
  auto first = pub->loan(10, 0ns);
  ASSERT_TRUE(first && *first);
  auto second = pub->loan(10, 0ns);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, IpcErrc::state);
}

TEST(IpcRing, the_consumer_drains_sent_records_before_reporting_the_closed_producer) {
  TempDir dir;
  auto pub = Publisher::create(dir.path(), "s11_n_input", 4096);
  auto sub = Subscriber::open(dir.path(), "s11_n_input", 1s);
  ASSERT_TRUE(pub && sub);
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(pub->send_copy(std::vector<std::byte>(10, std::byte(i)), 0ns).value());
  pub->close();
  for (int i = 0; i < 3; ++i) {
    auto got = sub->receive(1s);
    ASSERT_TRUE(got && *got) << "record " << i;
  }
  auto end = sub->receive(rm::ipc::kForever);
  ASSERT_FALSE(end);
  EXPECT_EQ(end.error().code, IpcErrc::peer_gone);
}

TEST(IpcRing, the_producer_sees_peer_gone_after_the_consumer_closes) {
  TempDir dir;
  auto pub = Publisher::create(dir.path(), "s12_n_input", 4096);
  auto sub = Subscriber::open(dir.path(), "s12_n_input", 1s);
  ASSERT_TRUE(pub && sub);
  sub->close();
  auto loan = pub->loan(10, 1s);
  ASSERT_FALSE(loan);
  EXPECT_EQ(loan.error().code, IpcErrc::peer_gone);
}

TEST(IpcRing, a_sleeping_consumer_is_woken_by_a_send_from_another_thread) {
  TempDir dir;
  rm::ipc::ChannelOptions opts;
  opts.spin = 0ns;  // force the futex path
  opts.poll_slice = std::chrono::seconds(5);
  auto pub = Publisher::create(dir.path(), "s13_n_input", 4096, opts);
  auto sub = Subscriber::open(dir.path(), "s13_n_input", 1s, opts);
  ASSERT_TRUE(pub && sub);
  std::thread producer([&] {
    std::this_thread::sleep_for(30ms);
    (void)pub->send_copy(std::vector<std::byte>(8, std::byte{5}), 1s);
  });
  auto got = sub->receive(30s);
  producer.join();
  ASSERT_TRUE(got && *got);
  EXPECT_EQ((*got)->payload()[0], std::byte{5});
}

}  // namespace
