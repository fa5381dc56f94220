#pragma once
// The Silero model's STFT magnitude: the model multiplies frames by a fixed basis; when that
// basis is a periodic-Hann-windowed DFT (it is in the released model), a real FFT computes the
// same magnitudes at a fraction of the cost.
#include <cstddef>

#include "nodes/silero_model.hpp"

namespace rm::nodes::detail {

constexpr std::size_t kSileroFrames = 4;  // STFT frames per window, at both rates

// Switches the branch to the FFT (window, twiddles, bit reversal; the basis matrix dropped) if
// the basis rows are w[n] * cos(2*pi*k*n/N) then -w[n] * sin(2*pi*k*n/N), w the periodic Hann
// window, to float rounding; otherwise leaves the matrix in place.
void setup_stft_fft(SileroBranch& br, const float* basis);

// |STFT| of the kSileroFrames frames x[f * hop + i], i < n_fft, into mag[(f + 1) * bins + k].
// spec is scratch for the matrix path ([2 * bins x kSileroFrames]).
void stft_magnitude(const SileroBranch& br, const float* x, float* spec, float* mag);

}  // namespace rm::nodes::detail
