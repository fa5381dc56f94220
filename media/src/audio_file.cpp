#include "media/audio_file.hpp"

#include <fmt/format.h>
#include <sndfile.h>

namespace rm::media {

tl::expected<AudioBuffer, AudioFileError> read_audio_file(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return tl::unexpected(AudioFileError{AudioFileErrorCode::not_found,
                                         fmt::format("audio file {} does not exist", path.string())});
  }
  if (std::filesystem::is_directory(path, ec)) {
    return tl::unexpected(AudioFileError{AudioFileErrorCode::unsupported_format,
                                         fmt::format("{} is a directory, not an audio file", path.string())});
  }
  SF_INFO info{};
  SNDFILE* f = sf_open(path.c_str(), SFM_READ, &info);
  if (!f) {
    int err = sf_error(nullptr);
    auto code = err == SF_ERR_UNRECOGNISED_FORMAT || err == SF_ERR_MALFORMED_FILE || err == SF_ERR_UNSUPPORTED_ENCODING
                    ? AudioFileErrorCode::unsupported_format
                    : AudioFileErrorCode::read_failed;
    return tl::unexpected(AudioFileError{
        code, code == AudioFileErrorCode::unsupported_format
                  ? fmt::format("unsupported audio format in {} ({}); use a WAV or FLAC file", path.string(),
                                sf_strerror(nullptr))
                  : fmt::format("cannot read audio file {}: {}", path.string(), sf_strerror(nullptr))});
  }
  AudioBuffer out;
  out.sample_rate = static_cast<std::uint32_t>(info.samplerate);
  out.channels = static_cast<std::uint16_t>(info.channels);
  if (info.channels <= 0 || info.samplerate <= 0) {
    sf_close(f);
    return tl::unexpected(AudioFileError{AudioFileErrorCode::unsupported_format,
                                         fmt::format("{} has no audio channels", path.string())});
  }
  out.samples.resize(static_cast<std::size_t>(info.frames) * static_cast<std::size_t>(info.channels));
  sf_count_t got = sf_readf_float(f, out.samples.data(), info.frames);
  sf_close(f);
  if (got < 0) {
    return tl::unexpected(AudioFileError{AudioFileErrorCode::read_failed,
                                         fmt::format("cannot read audio samples from {}", path.string())});
  }
  out.samples.resize(static_cast<std::size_t>(got) * static_cast<std::size_t>(info.channels));
  return out;
}

tl::expected<void, AudioFileError> write_wav(const std::filesystem::path& path, std::span<const float> samples,
                                             std::uint32_t sample_rate, std::uint16_t channels, WavEncoding encoding) {
  if (channels == 0 || sample_rate == 0) {
    return tl::unexpected(AudioFileError{AudioFileErrorCode::write_failed,
                                         fmt::format("cannot write {}: sample rate and channels must be > 0",
                                                     path.string())});
  }
  SF_INFO info{};
  info.samplerate = static_cast<int>(sample_rate);
  info.channels = channels;
  info.format = SF_FORMAT_WAV | (encoding == WavEncoding::pcm16 ? SF_FORMAT_PCM_16 : SF_FORMAT_FLOAT);
  SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
  if (!f) {
    return tl::unexpected(AudioFileError{AudioFileErrorCode::write_failed,
                                         fmt::format("cannot create {}: {}", path.string(), sf_strerror(nullptr))});
  }
  sf_command(f, SFC_SET_CLIPPING, nullptr, SF_TRUE);
  auto frames = static_cast<sf_count_t>(samples.size() / channels);
  sf_count_t put = sf_writef_float(f, samples.data(), frames);
  sf_close(f);
  if (put != frames) {
    return tl::unexpected(AudioFileError{AudioFileErrorCode::write_failed,
                                         fmt::format("short write to {} (disk full?)", path.string())});
  }
  return {};
}

}  // namespace rm::media
