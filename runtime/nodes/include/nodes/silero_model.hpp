#pragma once
// Silero VAD v5 inference without an ONNX runtime.
//
// SileroModel holds the weights of both branches of the v5 model (16 kHz and 8 kHz), loaded once
// from the compact weights file written by scripts/convert_silero_weights.py (format in
// docs/silero-vad.md) and shared, immutable, by every stream: it is safe to use one model from
// many threads at once. SileroStream is the per-stream state (context samples, LSTM state and
// scratch buffers, ~20 KB); it is thread-compatible: one thread at a time.
//
// The forward pass reproduces the ONNX graph: [context | window] -> reflect pad -> STFT as a
// strided convolution with the model's fixed basis -> magnitude -> four Conv1d+ReLU layers ->
// LSTM cell (hidden 128) -> ReLU -> 1x1 conv -> sigmoid.
#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <tl/expected.hpp>

namespace rm::nodes {

enum class SileroWeightsError {
  not_found,            // no file at the path (run scripts/fetch-silero-model.sh)
  io_error,             // the file exists but cannot be read
  bad_magic,            // not a weights file of this project
  unsupported_version,  // written by a newer converter
  truncated,            // the file ends inside a record
  bad_checksum,         // CRC-32 mismatch: the file is corrupt
  missing_tensor,       // a tensor the model needs is absent
  bad_shape,            // a tensor has the wrong shape or dtype
};

struct SileroWeightsLoadError {
  SileroWeightsError code = SileroWeightsError::io_error;
  std::string message;  // names the file, the offset or tensor, and what to do
};

// The two sample rates the model runs natively.
enum class SileroRate : std::uint32_t { k8000 = 8000, k16000 = 16000 };

constexpr std::size_t silero_window_samples(SileroRate r) {
  return r == SileroRate::k16000 ? 512 : 256;
}
constexpr std::size_t silero_context_samples(SileroRate r) {
  return r == SileroRate::k16000 ? 64 : 32;
}

namespace detail {
// A dense layer as a row-major matrix [rows x k_padded] (each row zero-padded to a multiple of
// 8 floats so the inner loop has no tail) plus a bias per row.
// With AVX2+FMA and rows a multiple of 64, the weights are instead kept packed in blocks of 8
// rows, each block [k][8 rows] (the order the kernel reads them), and w is empty.
struct SileroMatrix {
  std::vector<float> w;
  std::vector<float> packed;
  std::vector<float> b;
  std::size_t rows = 0;
  std::size_t k = 0;
  std::size_t k_padded = 0;
};

// Conv1d, kernel 3, padding 1, over a fixed input length. Taps that only ever see the zero
// padding at that length are dropped from the matrix (row layout [used tap][channel]; the used
// taps are always consecutive, since the middle one is).
struct SileroConv {
  SileroMatrix m;
  std::size_t in_channels = 0;
  std::size_t stride = 1;
  std::size_t t_in = 0;
  std::size_t t_out = 0;
  std::vector<std::size_t> taps;  // used kernel taps, ascending
};

struct SileroBranch {
  std::size_t window = 0;   // 512 / 256
  std::size_t context = 0;  // 64 / 32
  std::size_t n_fft = 0;    // 256 / 128 (STFT kernel)
  std::size_t hop = 0;      // 128 / 64
  std::size_t bins = 0;     // 129 / 65
  SileroMatrix stft;        // [2*bins x n_fft], no bias; empty when stft_fft
  // When the basis is a periodic-Hann-windowed DFT (it is in the released model; checked at
  // load time), the STFT runs as a real FFT: the window and the twiddles
  // exp(-2*pi*i*k/n_fft), k < n_fft/2 + 1 (cos in fft_cos, -sin in fft_msin).
  bool stft_fft = false;
  std::vector<float> fft_window;
  std::vector<float> fft_cos;
  std::vector<float> fft_msin;
  std::vector<std::uint16_t> fft_bitrev;  // n_fft/2 entries
  std::array<SileroConv, 4> encoder;
  SileroMatrix lstm;          // [512 x 256]: [W_ih | W_hh], bias b_ih + b_hh; gates i, f, g, o
  std::vector<float> head_w;  // 128
  float head_b = 0.0F;
};
}  // namespace detail

class SileroModel {
 public:
  // Reads and validates a weights file. Errors name the file and what is wrong.
  static tl::expected<std::shared_ptr<const SileroModel>, SileroWeightsLoadError> load(
      const std::filesystem::path& path);
  // Like load(), but each distinct path is loaded once per process and shared afterwards.
  static tl::expected<std::shared_ptr<const SileroModel>, SileroWeightsLoadError> load_shared(
      const std::filesystem::path& path);
  // $RM_SILERO_WEIGHTS if set, else ${XDG_CACHE_HOME:-$HOME/.cache}/remotemedia/silero_vad_v5.rmw
  // (where scripts/fetch-silero-model.sh writes it).
  static std::filesystem::path default_path();

  const detail::SileroBranch& branch(SileroRate r) const { return r == SileroRate::k16000 ? b16_ : b8_; }
  // The JSON metadata the converter stored (model name, source file hash).
  const std::string& metadata() const { return metadata_; }

 private:
  detail::SileroBranch b16_;
  detail::SileroBranch b8_;
  std::string metadata_;
  friend struct SileroModelBuilder;
};

// One audio stream through the model: carries the context samples and the LSTM state from
// window to window. reset() returns to the state of a new stream.
class SileroStream {
 public:
  SileroStream(std::shared_ptr<const SileroModel> model, SileroRate rate);

  SileroRate rate() const { return rate_; }
  std::size_t window_samples() const { return silero_window_samples(rate_); }

  // Runs one window (exactly window_samples() samples) and returns the speech probability.
  float process_window(std::span<const float> window);
  void reset();

  // LSTM state as the ONNX model's `state` tensor: [h(128), c(128)].
  std::span<const float> state() const { return state_; }

 private:
  std::shared_ptr<const SileroModel> model_;
  SileroRate rate_;
  std::array<float, 2 * 128> state_{};
  std::array<float, 64> context_{};
  // Scratch, sized for the 16 kHz branch (the larger one).
  std::array<float, 640> padded_{};
  std::array<float, 258 * 4> spec_{};
  // Activations time-major, [zero frame | 4 frames | zero frame] x channels.
  std::array<float, 129 * 6> mag_{};
  std::array<float, 128 * 6> act_a_{};
  std::array<float, 128 * 6> act_b_{};
  std::array<float, 2 * 128> lstm_in_{};
  std::array<float, 512> gates_{};
};

}  // namespace rm::nodes
