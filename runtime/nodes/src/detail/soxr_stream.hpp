#pragma once
// SoxrStream: one libsoxr streaming resampler (float32 interleaved in and out), shared by the
// nodes that resample (AudioResample, SileroVAD). Filter state carries across process() calls;
// drain() returns the tail once the input has ended.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <tl/expected.hpp>

namespace rm::nodes::detail {

class SoxrStream {
 public:
  // recipe: a SOXR_* quality recipe (SOXR_HQ = libsoxr's default). The error is a sentence
  // such as "cannot resample 44100 Hz x2 to 16000 Hz: <soxr's reason>".
  static tl::expected<std::unique_ptr<SoxrStream>, std::string> create(std::uint32_t in_rate,
                                                                       std::uint32_t out_rate,
                                                                       std::uint16_t channels,
                                                                       unsigned long recipe);
  ~SoxrStream();
  SoxrStream(const SoxrStream&) = delete;
  SoxrStream& operator=(const SoxrStream&) = delete;

  // Appends the output for `frames` interleaved input frames to `out`.
  tl::expected<void, std::string> process(const float* in, std::size_t frames, std::vector<float>& out);
  // Appends the remaining output after the last input to `out`.
  tl::expected<void, std::string> drain(std::vector<float>& out) { return process(nullptr, 0, out); }

 private:
  struct Soxr;
  SoxrStream(Soxr* s, std::uint32_t in_rate, std::uint32_t out_rate, std::uint16_t channels)
      : soxr_(s), in_rate_(in_rate), out_rate_(out_rate), channels_(channels) {}
  Soxr* soxr_;
  std::uint32_t in_rate_, out_rate_;
  std::uint16_t channels_;
};

}  // namespace rm::nodes::detail
