#include <cmath>
#include <random>

#include <gtest/gtest.h>

#include "node_test_util.hpp"

namespace rm::nodes {
namespace {

using namespace test;
using runtime::DataType;

std::int64_t i64(const boost::json::value& v) {
  return v.to_number<std::int64_t>();
}

struct Segment {
  std::int64_t start_us, end_us;
};

// Checks the event/audio sequence is start, audio, end per segment and returns the segments.
std::vector<Segment> segments_of(const std::vector<DataPtr>& out) {
  std::vector<Segment> segs;
  EXPECT_EQ(out.size() % 3, 0u);
  for (std::size_t i = 0; i + 2 < out.size(); i += 3) {
    EXPECT_EQ(out[i]->control() ? out[i]->control()->kind : "", "speech_start");
    EXPECT_EQ(out[i + 1]->type, DataType::audio);
    EXPECT_EQ(out[i + 2]->control() ? out[i + 2]->control()->kind : "", "speech_end");
    if (!out[i + 2]->control() || !out[i + 1]->audio()) continue;
    Segment s{i64(out[i + 2]->control()->payload.at("start_us")),
              i64(out[i + 2]->control()->payload.at("end_us"))};
    EXPECT_EQ(i64(out[i]->control()->payload.at("start_us")), s.start_us);
    EXPECT_EQ(out[i + 1]->timestamp_us, s.start_us);
    const auto* a = out[i + 1]->audio();
    EXPECT_NEAR(double(a->frames()), double(s.end_us - s.start_us) * a->sample_rate / 1e6, 1.0);
    segs.push_back(s);
  }
  return segs;
}

// Segments match where the speech energy is: same count, boundaries within 150 ms.
void expect_segments_match_speech(const std::vector<Segment>& segs, const Wav& wav) {
  const auto regions = energy_regions(wav);
  ASSERT_EQ(regions.size(), 3u) << "fixture should hold three words";
  ASSERT_EQ(segs.size(), regions.size());
  for (std::size_t i = 0; i < segs.size(); ++i) {
    EXPECT_NEAR(double(segs[i].start_us), double(regions[i].first), 150'000.0) << "segment " << i;
    EXPECT_NEAR(double(segs[i].end_us), double(regions[i].second), 150'000.0) << "segment " << i;
  }
}

TEST(WebRtcVAD, finds_the_three_spoken_words_in_16k_speech) {
  const auto wav = read_wav(speech_dir() / "three_words_16k.wav");
  auto node = make_node("WebRtcVAD", R"({"aggressiveness": 2, "min_speech_ms": 150, "min_silence_ms": 300})");
  auto out = run_node(*node, chunk_audio(wav.samples, 16000, 1, 320));
  expect_segments_match_speech(segments_of(out), wav);
}

TEST(WebRtcVAD, takes_48k_stereo_in_odd_chunk_sizes_and_gives_the_same_segments) {
  const auto wav = read_wav(speech_dir() / "three_words_48k_stereo.wav");
  const auto mono16 = read_wav(speech_dir() / "three_words_16k.wav");
  for (int frame_ms : {10, 20, 30}) {
    SCOPED_TRACE("frame_ms " + std::to_string(frame_ms));
    // No padding: the detector itself holds speech ~100 ms past its end (WebRTC's hangover).
    auto node = make_node("WebRtcVAD", R"({"padding_ms": 0, "frame_ms": )" + std::to_string(frame_ms) + "}");
    auto out = run_node(*node, chunk_audio(wav.samples, 48000, 2, 1234));
    auto segs = segments_of(out);
    expect_segments_match_speech(segs, mono16);
    for (const auto& d : out) {
      if (d->audio()) {
        EXPECT_EQ(d->audio()->channels, 1);
      }
    }
  }
}

TEST(WebRtcVAD, resample_then_vad_on_44k_speech_finds_the_words) {
  const auto wav = read_wav(speech_dir() / "three_words_44k_stereo.wav");
  auto resample = make_node("AudioResample", R"({"target_rate": 16000})");
  auto resampled = run_node(*resample, chunk_audio(wav.samples, 44100, 2, 882));
  auto vad = make_node("WebRtcVAD");
  expect_segments_match_speech(segments_of(run_node(*vad, resampled)),
                               read_wav(speech_dir() / "three_words_16k.wav"));
}

TEST(WebRtcVAD, silence_and_quiet_noise_give_no_segments) {
  std::mt19937 rng(7);
  std::normal_distribution<float> noise(0.0f, 0.0005f);
  std::vector<float> samples(16000 * 3);
  for (auto& s : samples) s = noise(rng);
  auto node = make_node("WebRtcVAD", R"({"aggressiveness": 3})");
  auto out = run_node(*node, chunk_audio(samples, 16000, 1, 320));
  EXPECT_TRUE(out.empty());
}

TEST(WebRtcVAD, forwards_non_audio_inputs) {
  auto node = make_node("WebRtcVAD");
  auto text = RuntimeData::make_text("hi", 0);
  auto out = run_node(*node, {text});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].get(), text.get());
}

TEST(WebRtcVAD, an_unsupported_rate_is_rejected_with_a_hint_to_resample) {
  auto node = make_node("WebRtcVAD");
  CollectingEmitter out;
  auto st = node->process(RuntimeData::make_audio(std::vector<float>(441, 0.0f), 44100, 1, 0), out);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, runtime::NodeErrorCode::invalid_input);
  EXPECT_NE(
      st.error().message.find("node n: WebRtcVAD needs 8000, 16000, 32000 or 48000 Hz audio, got 44100 Hz"),
      std::string::npos)
      << st.error().message;
  EXPECT_NE(st.error().message.find("AudioResample"), std::string::npos);
  node->close();
}

TEST(WebRtcVAD, bad_params_are_rejected_with_the_reason) {
  EXPECT_NE(make_error("WebRtcVAD", R"({"aggressiveness": 4})")
                .find("params.aggressiveness = 4 is out of range [0, 3]"),
            std::string::npos);
  EXPECT_NE(make_error("WebRtcVAD", R"({"frame_ms": 25})").find("params.frame_ms must be 10, 20 or 30"),
            std::string::npos);
  EXPECT_NE(make_error("WebRtcVAD", R"({"min_silence_ms": "long"})")
                .find("params.min_silence_ms must be an integer"),
            std::string::npos);
}

}  // namespace
}  // namespace rm::nodes
