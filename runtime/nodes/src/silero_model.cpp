// SileroStream: the forward pass of one audio stream, window by window. The weights are read
// in silero_weights.cpp and laid out in silero_model_build.cpp; the numeric kernels are in
// silero_kernels.cpp and the STFT in silero_stft.cpp.
#include "nodes/silero_model.hpp"

#include <algorithm>

#include "detail/silero_kernels.hpp"
#include "detail/silero_stft.hpp"

namespace rm::nodes {

using detail::gemm_any;
using detail::GemmOut;
using detail::lstm_cell;
using detail::sigmoid;
constexpr std::size_t kHidden = detail::kSileroHidden;

namespace {

// Conv1d (kernel 3, padding 1) + ReLU. Activations are time-major with one zero frame on each
// side: in[(t + 1) * C + c], t < t_in (frames 0 and t_in + 1 are zeroed here). The matrix
// columns are [used tap][channel] and the used taps are consecutive, so the input of output
// step t is the contiguous run starting at padded frame t * stride + taps[0]: no copy.
void conv_relu(const detail::SileroConv& conv, float* in, float* out) {
  const std::size_t c_in = conv.in_channels;
  std::fill_n(in, c_in, 0.0F);
  std::fill_n(in + (conv.t_in + 1) * c_in, c_in, 0.0F);
  const std::size_t c_out = conv.m.rows;
  gemm_any(conv.t_out, conv.m, in + conv.taps.front() * c_in, conv.stride * c_in,
           GemmOut{out + c_out, 1, c_out, true});
}

}  // namespace

// ---- streaming forward pass ------------------------------------------------------------------

SileroStream::SileroStream(std::shared_ptr<const SileroModel> model, SileroRate rate)
    : model_(std::move(model)), rate_(rate) {}

void SileroStream::reset() {
  state_.fill(0.0F);
  context_.fill(0.0F);
}

float SileroStream::process_window(std::span<const float> window) {
  const detail::SileroBranch& br = model_->branch(rate_);
  const std::size_t n = br.context + br.window;  // 576 / 288
  // [context | window], then reflect-pad the right edge by `context` samples (the model's
  // STFT padding), which gives exactly 4 frames of n_fft with hop n_fft/2.
  std::copy_n(context_.data(), br.context, padded_.data());
  std::copy_n(window.data(), br.window, padded_.data() + br.context);
  for (std::size_t i = 0; i < br.context; ++i) padded_[n + i] = padded_[n - 2 - i];
  std::copy_n(window.data() + br.window - br.context, br.context, context_.data());

  detail::stft_magnitude(br, padded_.data(), spec_.data(), mag_.data());
  conv_relu(br.encoder[0], mag_.data(), act_a_.data());
  conv_relu(br.encoder[1], act_a_.data(), act_b_.data());
  conv_relu(br.encoder[2], act_b_.data(), act_a_.data());
  conv_relu(br.encoder[3], act_a_.data(), act_b_.data());
  // The last layer has one output step: act_b_ holds the 128 encoder features after the
  // leading zero frame.

  float* x = lstm_in_.data();
  std::copy_n(act_b_.data() + kHidden, kHidden, x);
  std::copy_n(state_.data(), kHidden, x + kHidden);  // h
  gemm_any(1, br.lstm, x, br.lstm.k, GemmOut{gates_.data(), 1, 0, false});
  float* h = state_.data();
  float* c = state_.data() + kHidden;
  return sigmoid(lstm_cell(gates_.data(), h, c, br.head_w.data(), br.head_b));
}

}  // namespace rm::nodes
