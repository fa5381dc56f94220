#include <cmath>

#include <gtest/gtest.h>

#include "node_test_util.hpp"

namespace rm::nodes {
namespace {

using namespace test;

struct Joined {
  std::vector<float> samples;
  std::uint16_t channels = 0;
  std::uint32_t rate = 0;
  std::size_t frames() const { return samples.size() / channels; }
};

// Joins the output chunks and checks every timestamp is where the frames before it end.
Joined join_checking_timestamps(const std::vector<DataPtr>& out, std::int64_t t0_us) {
  Joined j;
  for (const auto& d : out) {
    const auto* a = d->audio();
    EXPECT_NE(a, nullptr);
    if (!a) continue;
    j.channels = a->channels;
    j.rate = a->sample_rate;
    EXPECT_EQ(d->timestamp_us, t0_us + std::int64_t(j.frames()) * 1'000'000 / std::int64_t(a->sample_rate));
    j.samples.insert(j.samples.end(), a->view().begin(), a->view().end());
  }
  return j;
}

std::size_t zero_crossings(const std::vector<float>& mono) {
  std::size_t n = 0;
  for (std::size_t i = 1; i < mono.size(); ++i) n += (mono[i - 1] < 0) != (mono[i] < 0);
  return n;
}

TEST(AudioResample, stereo_48k_speech_becomes_16k_with_a_third_of_the_frames_and_contiguous_timestamps) {
  const auto wav = read_wav(speech_dir() / "three_words_48k_stereo.wav");
  auto node = make_node("AudioResample", R"({"target_rate": 16000})");
  auto out = run_node(*node, chunk_audio(wav.samples, wav.sample_rate, wav.channels, 960, 250'000));
  auto j = join_checking_timestamps(out, 250'000);
  EXPECT_EQ(j.rate, 16000u);
  EXPECT_EQ(j.channels, 2);
  EXPECT_NEAR(double(j.frames()), double(wav.frames()) / 3.0, 2.0);
}

TEST(AudioResample, a_1khz_sine_keeps_its_frequency) {
  const auto wav = read_wav(speech_dir() / "sine_1k_48k.wav");
  ASSERT_EQ(wav.sample_rate, 48000u);
  for (const char* target : {"16000", "22050", "44100"}) {
    auto node = make_node("AudioResample", std::string(R"({"target_rate": )") + target + "}");
    auto j = join_checking_timestamps(run_node(*node, chunk_audio(wav.samples, 48000, 1, 960)), 0);
    const double seconds = double(j.frames()) / double(j.rate);
    EXPECT_NEAR(seconds, 2.0, 0.001) << target;
    // 1 kHz = 2000 zero crossings per second
    EXPECT_NEAR(double(zero_crossings(j.samples)) / seconds, 2000.0, 4.0) << target;
  }
}

TEST(AudioResample, chunking_does_not_change_the_output) {
  const auto wav = read_wav(speech_dir() / "three_words_44k_stereo.wav");
  auto one = make_node("AudioResample", R"({"target_rate": 16000})");
  auto whole = join_checking_timestamps(run_node(*one, chunk_audio(wav.samples, 44100, 2, wav.frames())), 0);
  auto many = make_node("AudioResample", R"({"target_rate": 16000})");
  auto parts = join_checking_timestamps(run_node(*many, chunk_audio(wav.samples, 44100, 2, 441)), 0);
  ASSERT_EQ(whole.samples.size(), parts.samples.size());
  double max_diff = 0;
  for (std::size_t i = 0; i < whole.samples.size(); ++i)
    max_diff = std::max(max_diff, double(std::fabs(whole.samples[i] - parts.samples[i])));
  EXPECT_LT(max_diff, 1e-5);
}

TEST(AudioResample, upsampling_16k_speech_to_48k_triples_the_frames) {
  const auto wav = read_wav(speech_dir() / "three_words_16k.wav");
  auto node = make_node("AudioResample", R"({"target_rate": 48000, "quality": "quick"})");
  auto j = join_checking_timestamps(run_node(*node, chunk_audio(wav.samples, 16000, 1, 320)), 0);
  EXPECT_EQ(j.channels, 1);
  EXPECT_NEAR(double(j.frames()), double(wav.frames()) * 3.0, 3.0);
}

TEST(AudioResample, audio_already_at_the_target_rate_passes_through_as_the_same_value) {
  auto node = make_node("AudioResample", R"({"target_rate": 16000})");
  auto in = RuntimeData::make_audio(std::vector<float>(320, 0.5f), 16000, 1, 0);
  auto text = RuntimeData::make_text("x", 0);
  auto out = run_node(*node, {in, text});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].get(), in.get());
  EXPECT_EQ(out[1].get(), text.get());
}

TEST(AudioResample, bad_params_are_rejected_with_what_is_allowed) {
  auto q = make_error("AudioResample", R"({"quality": "best"})");
  EXPECT_NE(q.find("params.quality has 'best', expected one of: quick, low, medium, high, very_high"),
            std::string::npos)
      << q;
  auto r = make_error("AudioResample", R"({"target_rate": 10})");
  EXPECT_NE(r.find("params.target_rate = 10 is out of range"), std::string::npos) << r;
}

}  // namespace
}  // namespace rm::nodes
