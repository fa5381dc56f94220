#pragma once
// AudioBuffer: a whole clip of interleaved 32-bit float samples in [-1, 1], as read from a file
// (media/audio_file.hpp) or made by a test, before it is cut into RuntimeData chunks.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace rm::runtime {

struct AudioBuffer {
  std::vector<float> samples;  // interleaved
  std::uint32_t sample_rate = 0;
  std::uint16_t channels = 0;
  std::size_t frames() const { return channels ? samples.size() / channels : 0; }
  double duration_s() const { return sample_rate ? double(frames()) / sample_rate : 0.0; }
};

}  // namespace rm::runtime
