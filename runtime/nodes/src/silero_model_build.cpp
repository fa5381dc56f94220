// SileroModel: laying out the tensors of a weights file for the forward pass.
#include <cstddef>
#include <string_view>

#include "detail/silero_kernels.hpp"
#include "detail/silero_stft.hpp"
#include "detail/silero_weights.hpp"

namespace rm::nodes {

using detail::load_error;
using detail::make_matrix;
using detail::setup_stft_fft;
using detail::shape_string;
constexpr std::size_t kHidden = detail::kSileroHidden;

tl::expected<std::shared_ptr<const SileroModel>, SileroWeightsLoadError> SileroModelBuilder::build(
    const std::filesystem::path& path, detail::SileroTensors& tensors, std::string metadata) {
  auto model = std::make_shared<SileroModel>();
  model->metadata_ = std::move(metadata);
  for (const bool is16 : {true, false}) {
    const std::string prefix = is16 ? "16k/" : "8k/";
    const std::uint32_t bins = is16 ? 129 : 65;
    const std::uint32_t n_fft = is16 ? 256 : 128;
    auto take = [&](std::string_view name, std::vector<std::uint32_t> shape)
        -> tl::expected<const detail::SileroTensor*, SileroWeightsLoadError> {
      const std::string full = prefix + std::string(name);
      auto it = tensors.find(full);
      if (it == tensors.end()) {
        return load_error(
            SileroWeightsError::missing_tensor,
            path.string() + ": tensor " + full + " is missing; re-run scripts/fetch-silero-model.sh");
      }
      if (it->second.shape != shape) {
        return load_error(SileroWeightsError::bad_shape, path.string() + ": tensor " + full + " has shape " +
                                                             shape_string(it->second.shape) + ", expected " +
                                                             shape_string(shape));
      }
      return &it->second;
    };
#define RM_TAKE(var, name, ...)                         \
  auto var##_r = take(name, {__VA_ARGS__});             \
  if (!var##_r) return tl::unexpected(var##_r.error()); \
  const detail::SileroTensor& var = **var##_r
    RM_TAKE(basis, "stft.forward_basis_buffer", 2 * bins, 1, n_fft);
    RM_TAKE(w0, "encoder.0.reparam_conv.weight", 128, bins, 3);
    RM_TAKE(b0, "encoder.0.reparam_conv.bias", 128);
    RM_TAKE(w1, "encoder.1.reparam_conv.weight", 64, 128, 3);
    RM_TAKE(b1, "encoder.1.reparam_conv.bias", 64);
    RM_TAKE(w2, "encoder.2.reparam_conv.weight", 64, 64, 3);
    RM_TAKE(b2, "encoder.2.reparam_conv.bias", 64);
    RM_TAKE(w3, "encoder.3.reparam_conv.weight", 128, 64, 3);
    RM_TAKE(b3, "encoder.3.reparam_conv.bias", 128);
    RM_TAKE(wih, "decoder.rnn.weight_ih", 512, 128);
    RM_TAKE(whh, "decoder.rnn.weight_hh", 512, 128);
    RM_TAKE(bih, "decoder.rnn.bias_ih", 512);
    RM_TAKE(bhh, "decoder.rnn.bias_hh", 512);
    RM_TAKE(hw, "decoder.decoder.2.weight", 1, 128, 1);
    RM_TAKE(hb, "decoder.decoder.2.bias", 1);
#undef RM_TAKE
    detail::SileroBranch& br = is16 ? model->b16_ : model->b8_;
    br.window = is16 ? 512 : 256;
    br.context = is16 ? 64 : 32;
    br.n_fft = n_fft;
    br.hop = n_fft / 2;
    br.bins = bins;
    br.stft = make_matrix(2 * bins, n_fft, basis.data.data(), nullptr);
    setup_stft_fft(br, basis.data.data());
    const detail::SileroTensor* ws[4] = {&w0, &w1, &w2, &w3};
    const detail::SileroTensor* bs[4] = {&b0, &b1, &b2, &b3};
    const std::size_t strides[4] = {1, 2, 2, 1};
    std::size_t t_in = 4;  // STFT frames per window, at both rates
    for (std::size_t i = 0; i < 4; ++i) {
      auto& conv = br.encoder[i];
      conv.in_channels = ws[i]->shape[1];
      conv.stride = strides[i];
      conv.t_in = t_in;
      conv.t_out = (t_in + 2 - 3) / conv.stride + 1;
      for (std::size_t k = 0; k < 3; ++k) {
        for (std::size_t t = 0; t < conv.t_out; ++t) {
          const std::ptrdiff_t src = static_cast<std::ptrdiff_t>(t * conv.stride + k) - 1;
          if (src >= 0 && src < static_cast<std::ptrdiff_t>(t_in)) {
            conv.taps.push_back(k);
            break;
          }
        }
      }
      const std::size_t out_ch = ws[i]->shape[0];
      const std::size_t nt = conv.taps.size();
      std::vector<float> w(out_ch * conv.in_channels * nt);
      for (std::size_t o = 0; o < out_ch; ++o) {
        for (std::size_t c = 0; c < conv.in_channels; ++c) {
          for (std::size_t j = 0; j < nt; ++j) {
            w[(o * nt + j) * conv.in_channels + c] =
                ws[i]->data[(o * conv.in_channels + c) * 3 + conv.taps[j]];
          }
        }
      }
      conv.m = make_matrix(out_ch, conv.in_channels * nt, w.data(), bs[i]->data.data());
      t_in = conv.t_out;
    }
    std::vector<float> cat(512 * 2 * kHidden);
    std::vector<float> bias(512);
    for (std::size_t r = 0; r < 512; ++r) {
      std::copy_n(wih.data.data() + r * kHidden, kHidden, cat.data() + r * 2 * kHidden);
      std::copy_n(whh.data.data() + r * kHidden, kHidden, cat.data() + r * 2 * kHidden + kHidden);
      bias[r] = bih.data[r] + bhh.data[r];
    }
    br.lstm = make_matrix(512, 2 * kHidden, cat.data(), bias.data());
    br.head_w = hw.data;
    br.head_b = hb.data[0];
  }
  return std::shared_ptr<const SileroModel>(std::move(model));
}

}  // namespace rm::nodes
