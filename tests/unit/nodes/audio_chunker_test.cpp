#include <gtest/gtest.h>

#include "node_test_util.hpp"

namespace rm::nodes {
namespace {

using namespace test;

TEST(AudioChunker, rechunks_real_speech_into_exact_chunks_with_exact_timestamps) {
  const auto wav = read_wav(speech_dir() / "three_words_48k_stereo.wav");
  ASSERT_EQ(wav.channels, 2);
  auto node = make_node("AudioChunker", R"({"chunk_size": 960})");
  // Odd input sizes so chunks straddle input boundaries.
  auto out = run_node(*node, chunk_audio(wav.samples, wav.sample_rate, wav.channels, 777, 1'000'000));
  const std::size_t full = wav.frames() / 960;
  ASSERT_EQ(out.size(), full + (wav.frames() % 960 ? 1 : 0));
  std::vector<float> joined;
  for (std::size_t i = 0; i < out.size(); ++i) {
    const auto* a = out[i]->audio();
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(a->sample_rate, 48000u);
    EXPECT_EQ(a->channels, 2);
    EXPECT_EQ(a->frames(), i < full ? 960u : wav.frames() % 960) << "chunk " << i;
    EXPECT_EQ(out[i]->timestamp_us, 1'000'000 + std::int64_t(i) * 20'000) << "chunk " << i;
    joined.insert(joined.end(), a->view().begin(), a->view().end());
  }
  EXPECT_EQ(joined, wav.samples);  // nothing lost, duplicated or reordered
}

TEST(AudioChunker, an_input_that_is_already_one_chunk_is_forwarded_as_the_same_value) {
  auto node = make_node("AudioChunker", R"({"chunk_size": 320})");
  auto in = RuntimeData::make_audio(std::vector<float>(320, 0.25f), 16000, 1, 40'000);
  auto out = run_node(*node, {in});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].get(), in.get());
}

TEST(AudioChunker, remainder_is_dropped_when_emit_partial_is_false) {
  auto node = make_node("AudioChunker", R"({"chunk_size": 320, "emit_partial": false})");
  auto out = run_node(*node, chunk_audio(std::vector<float>(1000, 0.1f), 16000, 1, 100));
  ASSERT_EQ(out.size(), 3u);
  for (const auto& d : out) EXPECT_EQ(d->audio()->frames(), 320u);
}

TEST(AudioChunker, a_jump_in_time_starts_a_new_run_with_the_new_timestamp) {
  auto node = make_node("AudioChunker", R"({"chunk_size": 160})");
  auto a = chunk_audio(std::vector<float>(200, 0.1f), 16000, 1, 200, 0);          // 0..12.5 ms
  auto b = chunk_audio(std::vector<float>(200, 0.2f), 16000, 1, 200, 5'000'000);  // a separate segment
  std::vector<DataPtr> in{a[0], RuntimeData::make_control("speech_end", {}, 12'500), b[0]};
  auto out = run_node(*node, in);
  // 160 from a, the control event, a's 40-frame remainder, 160 from b, b's 40-frame remainder
  ASSERT_EQ(out.size(), 5u);
  EXPECT_EQ(out[0]->timestamp_us, 0);
  EXPECT_EQ(out[1]->type, runtime::DataType::control);
  EXPECT_EQ(out[2]->audio()->frames(), 40u);
  EXPECT_EQ(out[2]->timestamp_us, 10'000);
  EXPECT_EQ(out[3]->timestamp_us, 5'000'000);
  EXPECT_EQ(out[3]->audio()->view()[0], 0.2f);
  EXPECT_EQ(out[4]->timestamp_us, 5'010'000);
}

TEST(AudioChunker, chunk_size_must_be_a_positive_integer) {
  EXPECT_NE(make_error("AudioChunker", R"({"chunk_size": 0})").find("params.chunk_size = 0 is out of range"),
            std::string::npos);
  EXPECT_NE(
      make_error("AudioChunker", R"({"chunk_size": "big"})").find("params.chunk_size must be an integer"),
      std::string::npos);
  EXPECT_NE(make_error("AudioChunker", R"({"chunk_size": 2.5})").find("must be an integer"),
            std::string::npos);
}

}  // namespace
}  // namespace rm::nodes
