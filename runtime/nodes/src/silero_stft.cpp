#include "detail/silero_stft.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "detail/silero_kernels.hpp"

namespace rm::nodes::detail {

namespace {
constexpr std::size_t kFrames = kSileroFrames;

// |STFT| of the kFrames frames x[f * hop + i], i < n_fft, into mag[(f + 1) * bins + k], via one
// complex FFT of n_fft/2 points per frame (even samples as real, odd as imaginary part) and the
// usual split into the spectrum of a real signal. The four frames run side by side as one
// 4-float vector (SSE / NEON where available, scalar code otherwise).
using V4 = float __attribute__((vector_size(4 * sizeof(float))));
static_assert(kFrames == 4);

void stft_fft_mag(const SileroBranch& br, const float* x, float* mag) {
  constexpr std::size_t kMaxM = 128;
  V4 zr[kMaxM];
  V4 zi[kMaxM];
  const std::size_t m = br.n_fft / 2;
  const float* w = br.fft_window.data();
  const std::size_t hop = br.hop;
  for (std::size_t i = 0; i < m; ++i) {
    const std::size_t d = br.fft_bitrev[i];
    const float* e = x + 2 * i;
    zr[d] = V4{e[0], e[hop], e[2 * hop], e[3 * hop]} * w[2 * i];
    zi[d] = V4{e[1], e[hop + 1], e[2 * hop + 1], e[3 * hop + 1]} * w[2 * i + 1];
  }
  // Radix-2 decimation in time; the twiddle exp(-2*pi*i*j/len) is entry j * (n_fft/len) of
  // the n_fft table.
  for (std::size_t len = 2; len <= m; len *= 2) {
    const std::size_t half = len / 2;
    const std::size_t step = br.n_fft / len;
    for (std::size_t base = 0; base < m; base += len) {
      for (std::size_t j = 0; j < half; ++j) {
        const float wr = br.fft_cos[j * step];
        const float wi = br.fft_msin[j * step];
        const std::size_t a = base + j;
        const std::size_t c = a + half;
        const V4 tr = zr[c] * wr - zi[c] * wi;
        const V4 ti = zr[c] * wi + zi[c] * wr;
        zr[c] = zr[a] - tr;
        zi[c] = zi[a] - ti;
        zr[a] += tr;
        zi[a] += ti;
      }
    }
  }
  // X[k] = E[k] + W^k O[k], E = (Z[k] + conj Z[m-k]) / 2, O = (Z[k] - conj Z[m-k]) / (2i).
  for (std::size_t k = 0; k <= m; ++k) {
    const std::size_t a = k % m;
    const std::size_t b = (m - k) % m;
    const float wr = br.fft_cos[k];
    const float wi = br.fft_msin[k];
    const V4 er = 0.5F * (zr[a] + zr[b]);
    const V4 ei = 0.5F * (zi[a] - zi[b]);
    const V4 or_ = 0.5F * (zi[a] + zi[b]);
    const V4 oi = -0.5F * (zr[a] - zr[b]);
    const V4 re = er + wr * or_ - wi * oi;
    const V4 im = ei + wr * oi + wi * or_;
    const V4 p = re * re + im * im;
    for (std::size_t f = 0; f < kFrames; ++f) mag[(f + 1) * br.bins + k] = std::sqrt(p[f]);
  }
}

}  // namespace

void setup_stft_fft(SileroBranch& br, const float* basis) {
  const std::size_t n = br.n_fft;
  const std::size_t bins = br.bins;
  constexpr double kPi = 3.14159265358979323846;
  std::vector<double> win(n);
  for (std::size_t i = 0; i < n; ++i) {
    win[i] = 0.5 - 0.5 * std::cos(2.0 * kPi * static_cast<double>(i) / static_cast<double>(n));
  }
  double err = 0.0;
  for (std::size_t k = 0; k < bins; ++k) {
    for (std::size_t i = 0; i < n; ++i) {
      const double a = 2.0 * kPi * static_cast<double>((k * i) % n) / static_cast<double>(n);
      err = std::max(err, std::abs(basis[k * n + i] - win[i] * std::cos(a)));
      err = std::max(err, std::abs(basis[(bins + k) * n + i] + win[i] * std::sin(a)));
    }
  }
  if (err > 1e-6) return;  // some other basis: keep the matrix
  br.stft_fft = true;
  br.fft_window.assign(win.begin(), win.end());
  br.fft_cos.resize(bins);
  br.fft_msin.resize(bins);
  for (std::size_t k = 0; k < bins; ++k) {
    const double a = 2.0 * kPi * static_cast<double>(k) / static_cast<double>(n);
    br.fft_cos[k] = static_cast<float>(std::cos(a));
    br.fft_msin[k] = static_cast<float>(-std::sin(a));
  }
  const std::size_t m = n / 2;
  std::size_t bits = 0;
  while ((std::size_t{1} << bits) < m) ++bits;
  br.fft_bitrev.resize(m);
  for (std::size_t i = 0; i < m; ++i) {
    std::size_t r = 0;
    for (std::size_t b = 0; b < bits; ++b) r |= ((i >> b) & 1U) << (bits - 1 - b);
    br.fft_bitrev[i] = static_cast<std::uint16_t>(r);
  }
  br.stft = SileroMatrix{};
}

void stft_magnitude(const SileroBranch& br, const float* x, float* spec, float* mag) {
  constexpr std::size_t frames = kFrames;
  if (br.stft_fft) {
    stft_fft_mag(br, x, mag);
    return;
  }
  gemm_any(frames, br.stft, x, br.hop, GemmOut{spec, frames, 1, false});
  for (std::size_t k = 0; k < br.bins; ++k) {
    for (std::size_t f = 0; f < frames; ++f) {
      const float re = spec[k * frames + f];
      const float im = spec[(br.bins + k) * frames + f];
      mag[(f + 1) * br.bins + k] = std::sqrt(re * re + im * im);
    }
  }
}

}  // namespace rm::nodes::detail
