#include <gtest/gtest.h>

#include "support/telemetry_test_util.hpp"
#include "telemetry/wire/protocol.hpp"

using namespace rm::telemetry;

namespace {
std::string two_publishes(const GpuInfo& a, const GpuInfo& b) {
  PublishEncoder enc;
  std::string out;
  encode_hello(out, Hello{kProtocolVersion, "p1"});
  enc.encode(out, 1, {{&a, "util", 10, 1.5}, {&b, "temp", 11, 70}});
  enc.encode(out, 2, {{&b, "util", 12, 2.5}});
  encode_ack(out, Ack{2, true});
  encode_credit(out, 8);
  encode_error(out, ErrorFrame{ErrorCode::credit_exceeded, 3, "too many"});
  return out;
}
}  // namespace

TEST(Protocol, publishes_round_trip_with_per_connection_interning) {
  auto a = test::gpu("GPU-a", "h1");
  auto b = test::gpu("GPU-b", "h2");
  const std::string bytes = two_publishes(*a, *b);
  FrameDecoder dec;
  dec.feed(bytes);
  PublishDecoder pd;
  auto f = dec.next();
  ASSERT_TRUE(f && *f);
  auto hello = decode_hello((*f)->payload);
  ASSERT_TRUE(hello);
  EXPECT_EQ(hello->producer_id, "p1");
  f = dec.next();
  auto b1 = pd.decode((*f)->payload, "p1");
  ASSERT_TRUE(b1) << b1.error().message;
  EXPECT_EQ(b1->seq, 1u);
  ASSERT_EQ(b1->gpus.size(), 2u);
  EXPECT_EQ(*b1->gpus[1], *b);
  f = dec.next();
  auto b2 = pd.decode((*f)->payload, "p1");
  ASSERT_TRUE(b2) << b2.error().message;
  ASSERT_EQ(b2->samples.size(), 1u);
  EXPECT_EQ(b2->gpus[b2->samples[0].gpu]->id, "GPU-b");  // defined in the first batch only
  EXPECT_EQ(b2->metrics[b2->samples[0].metric], "util");
  EXPECT_DOUBLE_EQ(b2->samples[0].value, 2.5);
  f = dec.next();
  auto ack = decode_ack((*f)->payload);
  ASSERT_TRUE(ack);
  EXPECT_TRUE(ack->duplicate);
  f = dec.next();
  EXPECT_EQ(*decode_credit((*f)->payload), 8u);
  f = dec.next();
  auto err = decode_error((*f)->payload);
  ASSERT_TRUE(err);
  EXPECT_EQ(err->code, ErrorCode::credit_exceeded);
  EXPECT_EQ(err->message, "too many");
  f = dec.next();
  ASSERT_TRUE(f);
  EXPECT_FALSE(*f);
}

TEST(Protocol, splitting_the_stream_at_every_byte_gives_the_same_frames) {
  auto a = test::gpu("GPU-a");
  auto b = test::gpu("GPU-b");
  const std::string bytes = two_publishes(*a, *b);
  std::vector<std::pair<FrameType, std::string>> whole;
  {
    FrameDecoder dec;
    dec.feed(bytes);
    while (auto f = dec.next()) {
      if (!*f) break;
      whole.emplace_back((*f)->type, (*f)->payload);
    }
  }
  ASSERT_EQ(whole.size(), 6u);
  for (std::size_t cut = 0; cut <= bytes.size(); ++cut) {
    FrameDecoder dec;
    std::vector<std::pair<FrameType, std::string>> got;
    for (auto part : {std::string_view(bytes).substr(0, cut), std::string_view(bytes).substr(cut)}) {
      dec.feed(part);
      while (true) {
        auto f = dec.next();
        ASSERT_TRUE(f);
        if (!*f) break;
        got.emplace_back((*f)->type, (*f)->payload);
      }
    }
    ASSERT_EQ(got, whole) << "split at byte " << cut;
  }
}

TEST(Protocol, a_frame_above_the_size_limit_is_rejected_before_it_is_buffered) {
  FrameDecoder dec(1024);
  std::string big;
  encode_frame(big, FrameType::publish, std::string(2000, 'x'));
  dec.feed(big.substr(0, 8));
  auto f = dec.next();
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().code, ErrorCode::frame_too_large);
}

TEST(Protocol, unknown_frame_types_and_zero_lengths_are_errors) {
  for (std::string bytes : {std::string("\x01\x00\x00\x00\x09", 5), std::string("\x00\x00\x00\x00", 4)}) {
    FrameDecoder dec;
    dec.feed(bytes);
    auto f = dec.next();
    ASSERT_FALSE(f);
    EXPECT_EQ(f.error().code, ErrorCode::bad_frame);
  }
}

TEST(Protocol, samples_referring_to_undefined_gpus_are_a_bad_batch) {
  std::string payload;
  // seq 1, 0 gpu defs, 1 metric def (ref 0 "m"), 1 sample referring to GPU ref 5.
  auto put32 = [&](std::uint32_t v) { payload.append(reinterpret_cast<const char*>(&v), 4); };
  auto put64 = [&](std::uint64_t v) { payload.append(reinterpret_cast<const char*>(&v), 8); };
  put64(1);
  put32(0);
  put32(1);
  put32(0);
  put32(1);
  payload += "m";
  put32(1);
  put32(5);
  put32(0);
  put64(0);
  put64(0);
  PublishDecoder pd;
  auto b = pd.decode(payload, "p");
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().code, ErrorCode::bad_batch);
  EXPECT_NE(b.error().message.find("undefined GPU ref 5"), std::string::npos);
}

TEST(Protocol, truncated_payloads_never_decode) {
  auto a = test::gpu("GPU-a");
  PublishEncoder enc;
  std::string frame;
  enc.encode(frame, 7, {{a.get(), "util", 1, 2.0}, {a.get(), "temp", 1, 3.0}});
  const std::string payload = frame.substr(5);
  for (std::size_t len = 0; len < payload.size(); ++len) {
    PublishDecoder pd;
    EXPECT_FALSE(pd.decode(payload.substr(0, len), "p")) << "length " << len;
  }
  PublishDecoder pd;
  EXPECT_TRUE(pd.decode(payload, "p"));
}
