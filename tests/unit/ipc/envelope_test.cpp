// Envelope codec: round trips for every payload layout, a table of malformed inputs, and every
// prefix of valid envelopes rejected cleanly (split at every byte).
#include <gtest/gtest.h>

#include <cstring>
#include <ostream>
#include <string>
#include <vector>

#include "ipc/envelope.hpp"

using rm::ipc::EnvelopeType;
using rm::ipc::IpcErrc;

namespace {

using Bytes = std::vector<std::byte>;

Bytes envelope(EnvelopeType type, std::string_view session, std::uint64_t ts,
               std::span<const std::byte> payload) {
  Bytes out(rm::ipc::envelope_size(session.size(), payload.size()));
  auto region = rm::ipc::encode_envelope_header(out, type, session, ts, payload.size());
  EXPECT_TRUE(region);
  if (region && !payload.empty()) std::memcpy(region->data(), payload.data(), payload.size());
  return out;
}

Bytes text_bytes(std::string_view s) {
  auto b = std::as_bytes(std::span(s.data(), s.size()));
  return Bytes(b.begin(), b.end());
}

Bytes audio_payload() {
  std::vector<float> samples = {0.0f, 0.5f, -0.25f, 1.0f};
  rm::ipc::AudioPayload a{16000, 2, R"({"lang":"en"})", samples.size()};
  Bytes out(a.encoded_size());
  EXPECT_TRUE(a.encode_into(out, samples));
  return out;
}

Bytes tensor_payload() {
  std::vector<std::int64_t> dims = {2, 3};
  rm::ipc::TensorPayload t{"float32", dims, 24};
  Bytes out(t.encoded_size());
  auto data = t.encode_header_into(out);
  EXPECT_TRUE(data);
  for (std::size_t i = 0; i < data->size(); ++i) (*data)[i] = static_cast<std::byte>(i);
  return out;
}

Bytes video_payload(rm::ipc::PixelFormat f = rm::ipc::PixelFormat::yuv420p, std::uint32_t w = 5,
                    std::uint32_t h = 3) {
  rm::ipc::VideoPayload v{f, w, h, 123456789012ULL};
  Bytes out(v.encoded_size());
  auto px = v.encode_header_into(out);
  EXPECT_TRUE(px);
  for (std::size_t i = 0; i < px->size(); ++i) (*px)[i] = static_cast<std::byte>(255 - i);
  return out;
}

Bytes binary_payload() {
  Bytes bytes = {std::byte{0}, std::byte{0xFF}, std::byte{7}};
  rm::ipc::BinaryPayload b{"image/png", bytes};
  Bytes out(b.encoded_size());
  EXPECT_TRUE(b.encode_into(out));
  return out;
}

Bytes control_payload() {
  rm::ipc::ControlPayload c{"ready", R"({"progress":1.0})"};
  Bytes out(c.encoded_size());
  EXPECT_TRUE(c.encode_into(out));
  return out;
}

// One valid envelope of every type that has a payload layout.
std::vector<Bytes> valid_envelopes() {
  return {
      envelope(EnvelopeType::audio, "sess", 1, audio_payload()),
      envelope(EnvelopeType::text, "sess", 2, text_bytes("héllo wörld")),
      envelope(EnvelopeType::json, "sess", 3, text_bytes(R"({"transcript":"hi"})")),
      envelope(EnvelopeType::binary, "sess", 4, binary_payload()),
      envelope(EnvelopeType::tensor, "sess", 5, tensor_payload()),
      envelope(EnvelopeType::numpy, "sess", 6, tensor_payload()),
      envelope(EnvelopeType::control, "sess", 7, control_payload()),
      envelope(EnvelopeType::end_of_input, "sess", 8, {}),
      envelope(EnvelopeType::video, "sess", 9, video_payload()),
  };
}

TEST(Envelope, the_header_round_trips_with_session_timestamp_and_payload) {
  auto env = envelope(EnvelopeType::text, "session-42", 123456789, text_bytes("abc"));
  // Little-endian layout, byte for byte.
  EXPECT_EQ(env[0], std::byte{3});
  EXPECT_EQ(env[1], std::byte{10});
  EXPECT_EQ(env[2], std::byte{0});
  auto v = rm::ipc::decode_envelope(env);
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_EQ(v->type, EnvelopeType::text);
  EXPECT_EQ(v->session, "session-42");
  EXPECT_EQ(v->timestamp_us, 123456789u);
  EXPECT_EQ(v->payload.size(), 3u);
}

TEST(Envelope, audio_round_trips_rate_channels_meta_and_samples) {
  auto env = envelope(EnvelopeType::audio, "s", 9, audio_payload());
  auto v = rm::ipc::decode_envelope_checked(env);
  ASSERT_TRUE(v) << v.error().message;
  auto a = rm::ipc::decode_audio(v->payload);
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_EQ(a->sample_rate, 16000u);
  EXPECT_EQ(a->channels, 2u);
  EXPECT_EQ(a->meta, R"({"lang":"en"})");
  ASSERT_EQ(a->sample_count(), 4u);
  EXPECT_EQ(a->sample(1), 0.5f);
  EXPECT_EQ(a->sample(2), -0.25f);
}

TEST(Envelope, tensor_binary_and_control_round_trip) {
  // Views point into the buffers, so keep them alive.
  const Bytes tp = tensor_payload(), bp = binary_payload(), cp = control_payload();
  auto t = rm::ipc::decode_tensor(tp);
  ASSERT_TRUE(t) << t.error().message;
  EXPECT_EQ(t->dtype, "float32");
  EXPECT_EQ(t->dims, (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(t->data.size(), 24u);
  auto b = rm::ipc::decode_binary(bp);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->mime, "image/png");
  EXPECT_EQ(b->bytes.size(), 3u);
  auto c = rm::ipc::decode_control(cp);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->kind, "ready");
  EXPECT_EQ(c->payload, R"({"progress":1.0})");
}

TEST(Envelope, video_round_trips_format_size_frame_number_and_pixels_for_every_format) {
  using rm::ipc::PixelFormat;
  struct Case {
    PixelFormat f;
    std::uint32_t w, h;
    std::size_t bytes;
  };
  for (auto c : {Case{PixelFormat::rgb24, 1920, 1080, 6220800}, Case{PixelFormat::rgba, 4, 2, 32},
                 Case{PixelFormat::gray, 7, 3, 21}, Case{PixelFormat::yuv420p, 1920, 1080, 3110400},
                 Case{PixelFormat::yuv420p, 5, 3, 15 + 2 * 3 * 2}}) {
    SCOPED_TRACE(std::string(rm::ipc::to_string(c.f)));
    EXPECT_EQ(rm::ipc::video_frame_bytes(c.f, c.w, c.h), c.bytes);
    auto p = video_payload(c.f, c.w, c.h);
    ASSERT_EQ(p.size(), rm::ipc::kVideoHeaderSize + c.bytes);
    EXPECT_EQ(p[0], std::byte{rm::ipc::kVideoPayloadVersion});
    auto v = rm::ipc::decode_video(p);
    ASSERT_TRUE(v) << v.error().message;
    EXPECT_EQ(v->format, c.f);
    EXPECT_EQ(v->width, c.w);
    EXPECT_EQ(v->height, c.h);
    EXPECT_EQ(v->frame_number, 123456789012ULL);
    ASSERT_EQ(v->pixels.size(), c.bytes);
    EXPECT_EQ(v->pixels.data(), p.data() + rm::ipc::kVideoHeaderSize);  // a view, not a copy
    EXPECT_EQ(v->pixels[c.bytes - 1], static_cast<std::byte>(255 - (c.bytes - 1)));
    EXPECT_EQ(rm::ipc::pixel_format_from_name(rm::ipc::to_string(c.f)), c.f);
  }
  EXPECT_FALSE(rm::ipc::pixel_format_from_name("bgr24"));
}

TEST(Envelope, encoding_a_video_frame_with_a_zero_dimension_is_an_error) {
  rm::ipc::VideoPayload v{rm::ipc::PixelFormat::rgb24, 0, 10, 0};
  Bytes out(64);
  auto r = v.encode_header_into(out);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, IpcErrc::invalid_argument);
}

TEST(Envelope, every_valid_envelope_decodes_with_full_payload_checks) {
  for (const auto& env : valid_envelopes()) {
    auto v = rm::ipc::decode_envelope_checked(env);
    EXPECT_TRUE(v) << v.error().message;
  }
}

TEST(Envelope, every_prefix_of_a_valid_envelope_is_rejected_with_a_format_error) {
  for (const auto& env : valid_envelopes()) {
    for (std::size_t cut = 0; cut < env.size(); ++cut) {
      auto v = rm::ipc::decode_envelope_checked(std::span(env).first(cut));
      ASSERT_FALSE(v) << "prefix of " << cut << " bytes accepted";
      EXPECT_EQ(v.error().code, IpcErrc::format);
      EXPECT_NE(v.error().message.find("field '"), std::string::npos) << v.error().message;
      EXPECT_NE(v.error().message.find("offset"), std::string::npos) << v.error().message;
    }
  }
}

struct Malformed {
  const char* name;
  Bytes input;
  const char* mentions;
};

void PrintTo(const Malformed& m, std::ostream* os) {
  *os << m.name;
}

Bytes with_byte(Bytes b, std::size_t at, std::uint8_t v) {
  b.at(at) = std::byte{v};
  return b;
}

Bytes shortened(Bytes b, std::size_t n) {
  b.resize(b.size() - n);
  return b;
}

Bytes appended(Bytes b, std::size_t n) {
  b.resize(b.size() + n);
  return b;
}

std::vector<Malformed> malformed_cases() {
  auto text = envelope(EnvelopeType::text, "s", 1, text_bytes("hi"));  // payload_len at 12
  std::vector<float> three = {1, 2, 3};
  rm::ipc::AudioPayload stereo{48000, 2, "", 3};
  Bytes odd(stereo.encoded_size());
  (void)stereo.encode_header_into(odd);
  std::vector<std::int64_t> neg = {-1};
  rm::ipc::TensorPayload tneg{"int8", neg, 0};
  Bytes tn(tneg.encoded_size());
  (void)tneg.encode_header_into(tn);
  return {
      {"empty", {}, "field 'type' at offset 0"},
      {"unknown_type_0", with_byte(text, 0, 0), "unknown type tag 0"},
      {"unknown_type_11", with_byte(text, 0, 11), "unknown type tag 11"},
      {"unknown_type_255", with_byte(text, 0, 255), "unknown type tag 255"},
      {"session_len_beyond_buffer", with_byte(text, 1, 200), "field 'session' at offset 3"},
      {"payload_len_beyond_buffer", with_byte(text, 12, 3), "field 'payload' at offset 16"},
      {"payload_len_huge", with_byte(text, 15, 0xFF), "exceeds"},
      {"trailing_bytes", appended(text, 5), "5 trailing bytes"},
      {"invalid_utf8_text", envelope(EnvelopeType::text, "s", 1, Bytes{std::byte{0xC3}}), "invalid UTF-8"},
      {"overlong_utf8_text", envelope(EnvelopeType::text, "s", 1, Bytes{std::byte{0xC0}, std::byte{0xAF}}),
       "invalid UTF-8"},
      {"audio_samples_not_whole_f32", envelope(EnvelopeType::audio, "s", 1, appended(audio_payload(), 3)),
       "audio.samples"},
      {"audio_samples_not_divisible_by_channels", envelope(EnvelopeType::audio, "s", 1, odd),
       "do not divide into 2 channels"},
      {"tensor_negative_dim", envelope(EnvelopeType::tensor, "s", 1, tn), "negative dimension"},
      {"tensor_data_mismatch", envelope(EnvelopeType::numpy, "s", 1, appended(tensor_payload(), 4)),
       "do not match"},
      {"control_empty_kind",
       envelope(EnvelopeType::control, "s", 1, text_bytes(R"({"kind":"","payload":{}})")), "kind is empty"},
      {"video_unknown_version", envelope(EnvelopeType::video, "s", 1, with_byte(video_payload(), 0, 2)),
       "unknown video payload version 2 (this build reads version 1)"},
      {"video_unknown_pixel_format", envelope(EnvelopeType::video, "s", 1, with_byte(video_payload(), 1, 9)),
       "field 'video.pixel_format' at offset 1: unknown pixel format 9"},
      {"video_zero_height", envelope(EnvelopeType::video, "s", 1, with_byte(video_payload(), 6, 0)),
       "field 'video.height' at offset 6: dimension is 0"},
      {"video_pixels_short", envelope(EnvelopeType::video, "s", 1, shortened(video_payload(), 1)),
       "field 'video.pixels' at offset 18: 26 bytes, but a 5x3 yuv420p frame is 27 bytes"},
      {"video_pixels_long", envelope(EnvelopeType::video, "s", 1, appended(video_payload(), 1)),
       "28 bytes, but a 5x3 yuv420p frame is 27 bytes"},
      {"video_width_huge", envelope(EnvelopeType::video, "s", 1, with_byte(video_payload(), 5, 0xFF)),
       "bytes, but a"},
      {"end_of_input_with_payload", envelope(EnvelopeType::end_of_input, "s", 1, Bytes(1)), "must be empty"},
  };
}

class EnvelopeMalformed : public ::testing::TestWithParam<Malformed> {};

TEST_P(EnvelopeMalformed, is_rejected_with_an_error_naming_the_problem) {
  const auto& m = GetParam();
  auto v = rm::ipc::decode_envelope_checked(m.input);
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().code, IpcErrc::format);
  EXPECT_NE(v.error().message.find(m.mentions), std::string::npos) << v.error().message;
}

INSTANTIATE_TEST_SUITE_P(Table, EnvelopeMalformed, ::testing::ValuesIn(malformed_cases()),
                         [](const auto& param_info) { return std::string(param_info.param.name); });

TEST(Envelope, encoding_into_a_too_small_buffer_is_an_error_not_an_overflow) {
  Bytes small(5);
  auto r = rm::ipc::encode_envelope_header(small, EnvelopeType::text, "sess", 0, 10);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, IpcErrc::invalid_argument);
  rm::ipc::BinaryPayload b{"x", {}};
  auto rb = b.encode_into(std::span(small).first(2));
  ASSERT_FALSE(rb);
}

}  // namespace
