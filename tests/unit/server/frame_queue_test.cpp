#include "server/frame_queue.hpp"

#include <atomic>
#include <thread>

#include <gtest/gtest.h>

using rm::server::Frame;
using rm::server::FrameQueue;

TEST(FrameQueue, a_push_over_the_byte_bound_waits_until_the_writer_takes_frames) {
  std::atomic<int> wakes{0};
  FrameQueue q(10, [&] { ++wakes; });
  ASSERT_TRUE(q.push(Frame{Frame::Kind::binary, std::string(8, 'a'), 0}));
  EXPECT_EQ(wakes, 1);
  std::atomic<bool> pushed{false};
  std::thread t([&] { pushed = q.push(Frame{Frame::Kind::binary, std::string(8, 'b'), 0}); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(pushed);  // 16 bytes would exceed 10: blocked
  EXPECT_EQ(q.try_pop()->bytes, std::string(8, 'a'));
  t.join();
  EXPECT_TRUE(pushed);
  EXPECT_EQ(q.bytes(), 8u);
}

TEST(FrameQueue, close_frames_and_unbounded_pushes_never_wait_and_close_wakes_blocked_pushers) {
  FrameQueue q(4, [] {});
  ASSERT_TRUE(q.push(Frame{Frame::Kind::binary, "12345", 0}));  // one frame always fits
  EXPECT_TRUE(q.push(Frame{Frame::Kind::text, "{}", 0}, true));
  EXPECT_TRUE(q.push(Frame{Frame::Kind::close, "bye", 1000}));
  std::thread t([&] { EXPECT_FALSE(q.push(Frame{Frame::Kind::binary, "x", 0})); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  q.close();
  t.join();
  EXPECT_EQ(q.try_pop()->bytes, "12345");
  EXPECT_EQ(q.try_pop()->bytes, "{}");
  EXPECT_EQ(q.try_pop()->kind, Frame::Kind::close);
  EXPECT_FALSE(q.try_pop());
}

TEST(FrameQueue, try_push_on_a_full_queue_leaves_the_frame_with_the_caller_and_fails_once_closed) {
  std::atomic<int> wakes{0};
  FrameQueue q(11, [&] { ++wakes; });
  Frame a{Frame::Kind::binary, std::string(8, 'a'), 0};
  EXPECT_EQ(q.try_push(a), std::optional<bool>(true));
  EXPECT_EQ(wakes, 1);
  Frame b{Frame::Kind::binary, std::string(8, 'b'), 0};
  EXPECT_EQ(q.try_push(b), std::nullopt);  // 16 bytes would exceed 11
  EXPECT_EQ(b.bytes, std::string(8, 'b')) << "the refused frame is left as it was";
  Frame bye{Frame::Kind::close, "bye", 1000};
  EXPECT_EQ(q.try_push(bye), std::optional<bool>(true)) << "close frames always go in";
  EXPECT_EQ(q.try_pop()->bytes, std::string(8, 'a'));
  EXPECT_EQ(q.try_push(b), std::optional<bool>(true));  // 3 + 8 bytes fit
  q.close();
  Frame late{Frame::Kind::binary, "x", 0};
  EXPECT_EQ(q.try_push(late), std::optional<bool>(false));
  EXPECT_EQ(q.try_pop()->kind, Frame::Kind::close);
  EXPECT_EQ(q.try_pop()->bytes, std::string(8, 'b'));
  EXPECT_FALSE(q.try_pop());
  EXPECT_EQ(wakes, 1) << "woken only when the queue went from empty to not empty";
}
