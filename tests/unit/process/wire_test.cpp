// The C++ envelope codec against the byte fixtures the Python SDK is tested with
// (python/tests/fixtures/envelopes.json), so both sides provably speak the same format.
#include <cstring>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>

#include "process/wire.hpp"

namespace {
using rm::process::decode;
using rm::process::DecodeMode;
using rm::process::encode;
using rm::runtime::Bytes;
using rm::runtime::DataPtr;
using rm::runtime::DataType;
using rm::runtime::RuntimeData;

boost::json::object fixtures() {
  std::ifstream in(std::string(RM_SOURCE_DIR) + "/python/tests/fixtures/envelopes.json");
  std::stringstream ss;
  ss << in.rdbuf();
  return boost::json::parse(ss.str()).as_object();
}

std::vector<std::byte> from_hex(std::string_view hex) {
  std::vector<std::byte> out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<std::byte>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  return out;
}

std::string to_hex(const std::vector<std::byte>& b) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (auto x : b) {
    auto v = std::to_integer<unsigned>(x);
    s += d[v >> 4];
    s += d[v & 15];
  }
  return s;
}

std::string str(const boost::json::object& o, const char* k) {
  return std::string(o.at(k).as_string());
}

DataPtr value_of(const boost::json::object& c) {
  auto type = str(c, "type");
  auto ts = c.at("timestamp_us").to_number<std::int64_t>();
  if (type == "audio") {
    std::vector<float> s;
    for (const auto& v : c.at("samples").as_array()) s.push_back(v.to_number<float>());
    boost::json::object meta;
    if (auto* m = c.if_contains("metadata")) meta = m->as_object();
    return RuntimeData::make_audio(std::move(s), c.at("sample_rate").to_number<std::uint32_t>(),
                                   c.at("channels").to_number<std::uint16_t>(), ts, meta);
  }
  if (type == "text") return RuntimeData::make_text(str(c, "text"), ts);
  if (type == "json") return RuntimeData::make_json(c.at("json"), ts);
  if (type == "binary")
    return RuntimeData::make_binary(Bytes(from_hex(str(c, "binary_hex"))), str(c, "mime_type"), ts);
  if (type == "tensor") {
    std::vector<std::int64_t> shape;
    for (const auto& v : c.at("shape").as_array()) shape.push_back(v.to_number<std::int64_t>());
    std::vector<std::byte> data;
    for (const auto& v : c.at("values").as_array()) {
      auto x = v.to_number<std::int16_t>();
      std::byte b[2];
      std::memcpy(b, &x, 2);
      data.insert(data.end(), b, b + 2);
    }
    return RuntimeData::make_tensor(shape, str(c, "dtype"), Bytes(std::move(data)), ts);
  }
  if (type == "video") {
    auto format = rm::ipc::pixel_format_from_name(str(c, "pixel_format"));
    EXPECT_TRUE(format);
    auto v = RuntimeData::make_video(Bytes(from_hex(str(c, "pixels_hex"))),
                                     c.at("width").to_number<std::uint32_t>(),
                                     c.at("height").to_number<std::uint32_t>(), *format,
                                     c.at("frame_number").to_number<std::uint64_t>(), ts);
    EXPECT_TRUE(v) << v.error();
    return *v;
  }
  if (type == "control") return RuntimeData::make_control(str(c, "kind"), c.at("payload").as_object(), ts);
  return RuntimeData::make_end_of_stream(ts);
}

TEST(Wire, encoder_writes_exactly_the_bytes_of_every_python_fixture) {
  const auto fx = fixtures();
  for (const auto& v : fx.at("valid").as_array()) {
    const auto& c = v.as_object();
    SCOPED_TRACE(str(c, "name"));
    EXPECT_EQ(to_hex(encode(str(c, "session"), *value_of(c))), str(c, "hex"));
  }
}

TEST(Wire, decoder_reads_every_python_fixture_back_to_the_same_value) {
  const auto fx = fixtures();
  for (const auto& v : fx.at("valid").as_array()) {
    const auto& c = v.as_object();
    SCOPED_TRACE(str(c, "name"));
    auto raw = from_hex(str(c, "hex"));
    auto env = decode(raw);
    ASSERT_TRUE(env) << env.error().message;
    EXPECT_EQ(env->session, str(c, "session"));
    EXPECT_EQ(rm::runtime::to_string(env->data->type), str(c, "type"));
    EXPECT_EQ(env->data->timestamp_us, c.at("timestamp_us").to_number<std::int64_t>());
    // Re-encoding the decoded value gives the same bytes: nothing was lost.
    EXPECT_EQ(to_hex(encode(env->session, *env->data)), str(c, "hex"));
  }
}

TEST(Wire, decoder_rejects_every_malformed_fixture_with_a_message) {
  const auto fx = fixtures();
  for (const auto& v : fx.at("invalid").as_array()) {
    const auto& c = v.as_object();
    SCOPED_TRACE(str(c, "name"));
    auto env = decode(from_hex(str(c, "hex")));
    ASSERT_FALSE(env);
    EXPECT_NE(env.error().message.find("envelope"), std::string::npos);
  }
}

TEST(Wire, every_truncation_of_a_valid_envelope_is_an_error_not_a_crash) {
  const auto fx = fixtures();
  for (const auto& v : fx.at("valid").as_array()) {
    auto raw = from_hex(str(v.as_object(), "hex"));
    for (std::size_t cut = 0; cut < raw.size(); ++cut) {
      std::vector<std::byte> part(raw.begin(), raw.begin() + static_cast<std::ptrdiff_t>(cut));
      EXPECT_FALSE(decode(part)) << "cut at " << cut;
    }
  }
}

TEST(Wire, borrowed_audio_views_the_record_and_keeps_it_alive) {
  auto raw = encode("sess", *RuntimeData::make_audio(std::vector<float>{1.f, 2.f, 3.f}, 16000, 1, 5));
  auto buf = std::make_shared<std::vector<std::byte>>(raw);
  int released = 0;
  {
    auto env = decode(*buf, DecodeMode::borrow, [&released] { ++released; });
    ASSERT_TRUE(env);
    auto view = env->data->audio()->view();
    ASSERT_EQ(view.size(), 3u);
    EXPECT_EQ(view[2], 3.f);
    EXPECT_GE(reinterpret_cast<const std::byte*>(view.data()), buf->data());
    EXPECT_LT(reinterpret_cast<const std::byte*>(view.data()), buf->data() + buf->size());
    EXPECT_EQ(released, 0);
  }
  EXPECT_EQ(released, 1);
}

TEST(Wire, a_1080p_rgb_frame_round_trips_as_a_borrowed_view_of_the_record) {
  std::vector<std::byte> pixels(1920 * 1080 * 3);
  for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<std::byte>(i * 31 + 7);
  auto frame =
      RuntimeData::make_video(Bytes(pixels), 1920, 1080, rm::runtime::PixelFormat::rgb24, 41, 1'366'666);
  ASSERT_TRUE(frame) << frame.error();
  auto raw = std::make_shared<std::vector<std::byte>>(encode("sess", **frame));
  ASSERT_EQ(raw->size(), rm::ipc::envelope_size(4, rm::ipc::kVideoHeaderSize + pixels.size()));
  bool released = false;
  auto env = decode(*raw, DecodeMode::borrow, [raw, &released]() mutable { released = true; });
  ASSERT_TRUE(env) << env.error().message;
  const auto* v = env->data->video();
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->width, 1920u);
  EXPECT_EQ(v->height, 1080u);
  EXPECT_EQ(v->format, rm::runtime::PixelFormat::rgb24);
  EXPECT_EQ(v->frame_number, 41u);
  EXPECT_EQ(env->data->timestamp_us, 1'366'666);
  // A view into the record, not a copy, with the same bytes.
  EXPECT_GE(v->pixels.data(), raw->data());
  EXPECT_LT(v->pixels.data(), raw->data() + raw->size());
  ASSERT_EQ(v->pixels.size(), pixels.size());
  EXPECT_EQ(std::memcmp(v->pixels.data(), pixels.data(), pixels.size()), 0);
  EXPECT_EQ(rm::runtime::summarize(*env->data), "video 1920x1080 rgb24 #41 (6220800 bytes)");
  EXPECT_FALSE(released);
  env->data.reset();
  EXPECT_TRUE(released);
}

TEST(Wire, a_video_frame_whose_pixels_do_not_match_its_size_cannot_be_built) {
  auto v =
      RuntimeData::make_video(Bytes(std::vector<std::byte>(11)), 2, 2, rm::runtime::PixelFormat::rgb24, 0, 0);
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error(), "video frame: 11 bytes of pixels, but a 2x2 rgb24 frame is 12 bytes");
  auto zero = RuntimeData::make_video(Bytes(), 0, 2, rm::runtime::PixelFormat::gray, 0, 0);
  ASSERT_FALSE(zero);
  EXPECT_NE(zero.error().find("zero dimension"), std::string::npos);
}

TEST(Wire, audio_samples_start_aligned_for_any_session_length) {
  for (int n = 1; n < 12; ++n) {
    std::string sid(static_cast<std::size_t>(n), 'x');
    auto raw = encode(sid, *RuntimeData::make_audio(std::vector<float>{0.5f}, 8000, 1, 0));
    ASSERT_EQ(raw.size() % 4, 0u) << sid;
    EXPECT_TRUE(decode(raw));
  }
}

TEST(Wire, encode_into_a_too_small_buffer_is_an_error_naming_the_sizes) {
  auto d = RuntimeData::make_text("hello", 0);
  std::vector<std::byte> small(4);
  auto r = rm::process::encode_into(small, "s", *d);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("smaller than"), std::string::npos);
}

}  // namespace
