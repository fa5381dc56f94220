#include "detail/soxr_stream.hpp"

#include <soxr.h>

#include <cmath>

#include <fmt/format.h>

namespace rm::nodes::detail {

struct SoxrStream::Soxr {
  soxr_t handle;
};

tl::expected<std::unique_ptr<SoxrStream>, std::string> SoxrStream::create(std::uint32_t in_rate,
                                                                          std::uint32_t out_rate,
                                                                          std::uint16_t channels,
                                                                          unsigned long recipe) {
  soxr_error_t err = nullptr;
  const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
  const soxr_quality_spec_t q = soxr_quality_spec(recipe, 0);
  soxr_t h = soxr_create(double(in_rate), double(out_rate), channels, &err, &io, &q, nullptr);
  if (err || !h) {
    if (h) soxr_delete(h);
    return tl::unexpected(fmt::format("cannot resample {} Hz x{} to {} Hz: {}", in_rate, channels, out_rate,
                                      err ? err : "unknown error"));
  }
  return std::unique_ptr<SoxrStream>(new SoxrStream(new Soxr{h}, in_rate, out_rate, channels));
}

SoxrStream::~SoxrStream() {
  soxr_delete(soxr_->handle);
  delete soxr_;
}

tl::expected<void, std::string> SoxrStream::process(const float* in, std::size_t frames,
                                                    std::vector<float>& out) {
  const double ratio = double(out_rate_) / double(in_rate_);
  const std::size_t room = std::size_t(std::ceil(double(frames) * ratio)) + 256;  // frames per call
  std::size_t consumed = 0;
  for (;;) {
    const std::size_t old = out.size();
    out.resize(old + room * channels_);
    std::size_t idone = 0, odone = 0;
    soxr_error_t err = soxr_process(soxr_->handle, in ? in + consumed * channels_ : nullptr,
                                    in ? frames - consumed : 0, &idone, out.data() + old, room, &odone);
    out.resize(old + odone * channels_);
    if (err) return tl::unexpected(fmt::format("resampling failed: {}", err));
    consumed += idone;
    // Draining (no input) ends when soxr has nothing more to give.
    const bool input_done = in ? consumed == frames : odone == 0;
    if (!input_done && idone == 0 && odone == 0)
      return tl::unexpected(std::string("the resampler made no progress"));
    if (input_done && odone < room) return {};
  }
}

}  // namespace rm::nodes::detail
