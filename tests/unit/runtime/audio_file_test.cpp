#include "media/audio_file.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <vector>

namespace rm::media {
namespace {

class AudioFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("rm_audio_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

std::vector<float> tone(std::size_t frames, std::uint16_t channels, float freq, std::uint32_t rate) {
  std::vector<float> s(frames * channels);
  for (std::size_t i = 0; i < frames; ++i)
    for (std::uint16_t c = 0; c < channels; ++c)
      s[i * channels + c] = 0.5f * std::sin(2.0f * 3.14159265f * freq * float(i) / float(rate));
  return s;
}

TEST_F(AudioFile, float_wav_round_trips_exactly) {
  auto s = tone(4800, 2, 440.f, 48000);
  ASSERT_TRUE(write_wav(dir_ / "a.wav", s, 48000, 2, WavEncoding::float32));
  auto r = read_audio_file(dir_ / "a.wav");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->sample_rate, 48000u);
  EXPECT_EQ(r->channels, 2);
  EXPECT_EQ(r->frames(), 4800u);
  EXPECT_EQ(r->samples, s);
}

TEST_F(AudioFile, pcm16_wav_round_trips_within_quantisation) {
  auto s = tone(1600, 1, 300.f, 16000);
  ASSERT_TRUE(write_wav(dir_ / "b.wav", s, 16000, 1));
  auto r = read_audio_file(dir_ / "b.wav");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->samples.size(), s.size());
  for (std::size_t i = 0; i < s.size(); ++i) EXPECT_NEAR(r->samples[i], s[i], 1.0 / 16384);
}

TEST_F(AudioFile, missing_file_is_not_found_naming_the_path) {
  auto r = read_audio_file(dir_ / "nope.wav");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, AudioFileErrorCode::not_found);
  EXPECT_NE(r.error().message.find("nope.wav"), std::string::npos);
}

TEST_F(AudioFile, text_file_is_an_unsupported_format) {
  std::ofstream(dir_ / "notes.wav") << "this is not audio at all, just some text that is long enough\n";
  auto r = read_audio_file(dir_ / "notes.wav");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, AudioFileErrorCode::unsupported_format);
  EXPECT_NE(r.error().message.find("unsupported audio format"), std::string::npos);
}

TEST_F(AudioFile, writing_into_a_missing_directory_fails_cleanly) {
  std::vector<float> s(10, 0.f);
  auto w = write_wav(dir_ / "no" / "such" / "x.wav", s, 16000, 1);
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().code, AudioFileErrorCode::write_failed);
}

}  // namespace
}  // namespace rm::media
