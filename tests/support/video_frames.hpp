#pragma once
// 1080p rgb24 test frames whose bytes depend on the frame number (byte i of frame n is
// (i + n) mod 256), so a swapped, repeated or torn frame cannot pass, and an exact check of a
// returned frame (the same or its negative) is one memcmp against a precomputed pattern.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "runtime/runtime_data.hpp"

namespace rm::test {

class FullHdFrames {
 public:
  static constexpr std::uint32_t kWidth = 1920, kHeight = 1080;
  static constexpr std::size_t kBytes = std::size_t{kWidth} * kHeight * 3;

  FullHdFrames() : plain_(kBytes + 256), negative_(kBytes + 256) {
    for (std::size_t i = 0; i < plain_.size(); ++i) {
      plain_[i] = static_cast<std::byte>(i & 0xFF);
      negative_[i] = static_cast<std::byte>(255 - (i & 0xFF));
    }
  }

  // Frame n at 30 fps media time.
  runtime::DataPtr frame(std::uint64_t n) const {
    auto from = plain_.begin() + static_cast<std::ptrdiff_t>(n % 256);
    auto f = runtime::RuntimeData::make_video(runtime::Bytes(std::vector<std::byte>(from, from + kBytes)),
                                              kWidth, kHeight, runtime::PixelFormat::rgb24, n,
                                              static_cast<std::int64_t>(n) * 33'333);
    return f ? *f : nullptr;
  }

  // True if `d` is frame n (negated: every byte 255 - the original), with its number and time.
  bool matches(const runtime::RuntimeData& d, std::uint64_t n, bool negated) const {
    const auto* v = d.video();
    if (v == nullptr || v->width != kWidth || v->height != kHeight ||
        v->format != runtime::PixelFormat::rgb24 || v->frame_number != n ||
        d.timestamp_us != static_cast<std::int64_t>(n) * 33'333 || v->pixels.size() != kBytes)
      return false;
    const auto& want = negated ? negative_ : plain_;
    return std::memcmp(v->pixels.data(), want.data() + n % 256, kBytes) == 0;
  }

 private:
  std::vector<std::byte> plain_, negative_;
};

}  // namespace rm::test
