#pragma once
// Reading and writing audio files for the CLI and tests (libsndfile, linked privately: only
// this module sees it).
// read_audio_file() takes WAV, FLAC and the other formats libsndfile reads, and returns
// interleaved 32-bit float samples in [-1, 1]; write_wav() writes 16-bit PCM or float WAV.
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "runtime/audio_buffer.hpp"

namespace rm::media {

using runtime::AudioBuffer;

enum class AudioFileErrorCode {
  not_found,           // the file does not exist
  unsupported_format,  // not an audio format libsndfile can read (WAV, FLAC, ...)
  read_failed,         // I/O error while reading
  write_failed,        // cannot create or write the output file
};

struct AudioFileError {
  AudioFileErrorCode code = AudioFileErrorCode::read_failed;
  std::string message;  // names the file and what to do
};

tl::expected<AudioBuffer, AudioFileError> read_audio_file(const std::filesystem::path& path);

enum class WavEncoding { pcm16, float32 };
tl::expected<void, AudioFileError> write_wav(const std::filesystem::path& path, std::span<const float> samples,
                                             std::uint32_t sample_rate, std::uint16_t channels,
                                             WavEncoding encoding = WavEncoding::pcm16);

}  // namespace rm::media
