#include <gtest/gtest.h>

#include "node_test_util.hpp"

namespace rm::nodes {
namespace {

using namespace test;

TEST(AudioBufferAccumulator, collects_20ms_chunks_of_speech_into_one_second_chunks) {
  const auto wav = read_wav(speech_dir() / "three_words_16k.wav");
  auto node = make_node("AudioBufferAccumulator", R"({"target_duration_ms": 1000})");
  auto out = run_node(*node, chunk_audio(wav.samples, 16000, 1, 320, 3'000'000));
  // 4.48 s -> four 1 s chunks and a 0.48 s remainder
  ASSERT_EQ(out.size(), 5u);
  std::vector<float> joined;
  for (std::size_t i = 0; i < out.size(); ++i) {
    const auto* a = out[i]->audio();
    EXPECT_EQ(out[i]->timestamp_us, 3'000'000 + std::int64_t(i) * 1'000'000);
    if (i < 4) {
      EXPECT_EQ(a->frames(), 16000u);
    }
    joined.insert(joined.end(), a->view().begin(), a->view().end());
  }
  EXPECT_EQ(joined, wav.samples);
}

TEST(AudioBufferAccumulator, inputs_are_never_split_so_a_chunk_may_exceed_the_target_by_one_input) {
  auto node = make_node("AudioBufferAccumulator", R"({"target_duration_ms": 50, "emit_partial": false})");
  // 30 ms inputs at 16 kHz: 2 inputs = 60 ms >= 50 ms
  auto out = run_node(*node, chunk_audio(std::vector<float>(480 * 5, 0.1f), 16000, 1, 480));
  ASSERT_EQ(out.size(), 2u);  // the fifth input alone is below target and dropped
  for (const auto& d : out) EXPECT_EQ(d->audio()->frames(), 960u);
  EXPECT_EQ(out[1]->timestamp_us, 60'000);
}

TEST(AudioBufferAccumulator, a_change_of_format_emits_what_was_accumulated_first) {
  auto node = make_node("AudioBufferAccumulator", R"({"target_duration_ms": 1000})");
  auto a = RuntimeData::make_audio(std::vector<float>(1600, 0.1f), 16000, 1, 0);
  auto b = RuntimeData::make_audio(std::vector<float>(4800 * 2, 0.2f), 48000, 2, 100'000);
  auto out = run_node(*node, {a, b});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0]->audio()->sample_rate, 16000u);
  EXPECT_EQ(out[0]->audio()->frames(), 1600u);
  EXPECT_EQ(out[1]->audio()->sample_rate, 48000u);
  EXPECT_EQ(out[1]->timestamp_us, 100'000);
}

TEST(AudioBufferAccumulator, target_duration_must_be_positive) {
  auto err = make_error("AudioBufferAccumulator", R"({"target_duration_ms": -5})");
  EXPECT_NE(err.find("params.target_duration_ms = -5 is out of range"), std::string::npos) << err;
}

}  // namespace
}  // namespace rm::nodes
