#include "server/protocol.hpp"

#include <gtest/gtest.h>

using namespace rm::server;
using rm::runtime::RuntimeData;

TEST(ServerProtocol, a_start_message_round_trips_with_pipeline_and_session) {
  auto m = parse_client_message(start_message("transcription", "abc"));
  ASSERT_TRUE(m) << m.error();
  EXPECT_EQ(m->kind, ClientMessage::Kind::start);
  EXPECT_EQ(m->start.pipeline, "transcription");
  EXPECT_EQ(m->start.session, "abc");
  auto e = parse_client_message(end_message("mic"));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, ClientMessage::Kind::end);
  EXPECT_EQ(e->end.input, "mic");
}

TEST(ServerProtocol, bad_control_messages_name_the_problem) {
  EXPECT_EQ(parse_client_message("[1]").error(), "control frame must be a JSON object");
  EXPECT_EQ(parse_client_message(R"({"pipeline":"x"})").error(), "control message lacks \"type\"");
  EXPECT_EQ(parse_client_message(R"({"type":"start"})").error(), "control message lacks \"pipeline\"");
  EXPECT_EQ(parse_client_message(R"({"type":"start","pipeline":3})").error(),
            "control message field \"pipeline\" must be a string");
  EXPECT_EQ(parse_client_message(R"({"type":"start","version":2,"pipeline":"p"})").error(),
            "protocol version 2 is not supported (this server speaks 1)");
  EXPECT_EQ(parse_client_message(R"({"type":"go"})").error(),
            "unknown control message type \"go\" (expected start or end)");
  EXPECT_EQ(parse_client_message("{").error().rfind("control frame is not JSON", 0), 0u);
}

TEST(ServerProtocol, close_reasons_fit_123_bytes_and_keep_utf8_whole) {
  EXPECT_EQ(close_reason("short"), "short");
  std::string long_text(200, 'a');
  EXPECT_EQ(close_reason(long_text).size(), 123u);
  std::string accents;
  for (int i = 0; i < 100; ++i) accents += "\xC3\xA9";  // é
  auto r = close_reason(accents);
  EXPECT_LE(r.size(), 123u);
  EXPECT_EQ(r.substr(r.size() - 3), "...");
  EXPECT_EQ((r.size() - 3) % 2, 0u);  // no é cut in half
}

TEST(ServerProtocol, an_audio_frame_round_trips_with_its_stream_name) {
  auto d = RuntimeData::make_audio(std::vector<float>{0.5f, -0.5f}, 16000, 1, 40'000);
  auto bytes = encode_data_frame("in", *d);
  auto f = decode_data_frame(bytes);
  ASSERT_TRUE(f) << f.error();
  EXPECT_EQ(f->stream, "in");
  ASSERT_NE(f->data->audio(), nullptr);
  EXPECT_EQ(f->data->audio()->view()[1], -0.5f);
  EXPECT_EQ(f->data->timestamp_us, 40'000);
}

TEST(ServerProtocol, s16_pcm_in_a_binary_envelope_becomes_f32_audio) {
  std::vector<std::int16_t> pcm{16384, -32768, 0, 32767};
  auto bytes = encode_data_frame("", *make_s16_audio(pcm, 8000, 2, 7));
  auto f = decode_data_frame(bytes);
  ASSERT_TRUE(f) << f.error();
  const auto* a = f->data->audio();
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->sample_rate, 8000u);
  EXPECT_EQ(a->channels, 2);
  EXPECT_EQ(a->frames(), 2u);
  EXPECT_FLOAT_EQ(a->view()[0], 0.5f);
  EXPECT_FLOAT_EQ(a->view()[1], -1.0f);
  EXPECT_EQ(f->data->timestamp_us, 7);
}

TEST(ServerProtocol, malformed_pcm_and_envelopes_are_errors_naming_the_field) {
  auto odd = RuntimeData::make_binary(rm::runtime::Bytes(std::vector<std::byte>(3)),
                                      "audio/pcm;format=s16le;rate=16000;channels=1", 0);
  EXPECT_EQ(decode_data_frame(encode_data_frame("", *odd)).error(),
            "s16 PCM of 3 bytes is not a whole number of 1-channel frames");
  auto f32 = RuntimeData::make_binary(rm::runtime::Bytes(std::vector<std::byte>(4)),
                                      "audio/pcm;format=f32le;rate=1;channels=1", 0);
  EXPECT_NE(decode_data_frame(encode_data_frame("", *f32)).error().find("only format=s16le"),
            std::string::npos);
  std::vector<std::byte> garbage{std::byte{1}, std::byte{0}};
  EXPECT_EQ(decode_data_frame(garbage).error().rfind("envelope", 0), 0u);
}

TEST(ServerProtocol, a_start_message_carries_session_params_both_ways) {
  auto m = parse_client_message(start_message("chunked", "s1", {{"chunker.chunk_size", 640}}));
  ASSERT_TRUE(m) << m.error();
  EXPECT_EQ(m->start.pipeline, "chunked");
  EXPECT_EQ(m->start.params.at("chunker.chunk_size").as_int64(), 640);
  EXPECT_TRUE(parse_client_message(start_message("chunked"))->start.params.empty());
  EXPECT_EQ(parse_client_message(R"({"type":"start","pipeline":"p","params":"x"})").error(),
            "control message field \"params\" must be an object {\"node.param\": value}");
  EXPECT_EQ(
      error_message("chunker", rm::runtime::NodeErrorCode::invalid_params, "no", "chunker.size"),
      R"({"type":"error","node":"chunker","code":"invalid_params","message":"no","param":"chunker.size"})");
}
