#include "runtime/input_stream.hpp"

#include <algorithm>
#include <thread>

namespace rm::runtime {

void AudioInputStream::add(std::string input, AudioBuffer audio) {
  clips_.push_back(Clip{std::move(input), std::move(audio), 0});
}

double AudioInputStream::duration_s() const {
  double d = 0;
  for (const auto& c : clips_) d = std::max(d, c.audio.duration_s());
  return d;
}

std::optional<InputItem> AudioInputStream::next() {
  Clip* next = nullptr;
  double next_t = 0;
  for (auto& c : clips_) {
    if (c.pos >= c.audio.frames()) continue;
    double t = double(c.pos) / c.audio.sample_rate;
    if (!next || t < next_t) {
      next = &c;
      next_t = t;
    }
  }
  if (!next) return std::nullopt;
  if (!t0_) t0_ = std::chrono::steady_clock::now();
  const auto& a = next->audio;
  const auto chunk_frames = static_cast<std::size_t>(a.sample_rate * options_.chunk.count() / 1000);
  const std::size_t n = std::min(std::max<std::size_t>(1, chunk_frames), a.frames() - next->pos);
  std::vector<float> samples(a.samples.begin() + static_cast<std::ptrdiff_t>(next->pos * a.channels),
                             a.samples.begin() + static_cast<std::ptrdiff_t>((next->pos + n) * a.channels));
  const auto ts = static_cast<std::int64_t>(next->pos * 1'000'000ULL / a.sample_rate);
  if (options_.realtime) std::this_thread::sleep_until(*t0_ + std::chrono::microseconds(ts));
  next->pos += n;
  position_s_ = next_t;
  return InputItem{next->input, RuntimeData::make_audio(std::move(samples), a.sample_rate, a.channels, ts)};
}

}  // namespace rm::runtime
