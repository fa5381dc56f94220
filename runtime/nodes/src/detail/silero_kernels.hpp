#pragma once
// The Silero forward pass's numeric kernels: dense layers (GEMM over a few time steps) and the
// LSTM cell. AVX2+FMA kernels are chosen at run time when the CPU has them and
// RM_SILERO_NO_SIMD is not 1; the portable code gives the same results to float rounding.
#include <cmath>
#include <cstddef>

#include "nodes/silero_model.hpp"

namespace rm::nodes::detail {

constexpr std::size_t kSileroHidden = 128;  // LSTM state size

// Where a GEMM writes: y[r][t] goes to p[r * rs + t * ts], after ReLU if relu.
struct GemmOut {
  float* p;
  std::size_t rs;
  std::size_t ts;
  bool relu;
};

// A matrix [rows x k] in the layout the kernels read (rows padded to 8 floats, or packed in
// blocks of 8 rows when the AVX2 kernels run and rows is a multiple of 64); b may be null.
SileroMatrix make_matrix(std::size_t rows, std::size_t k, const float* w, const float* b);

// For r < rows, t < t_count: y = b[r] + sum_{k < m.k} W[r][k] * X[t * x_stride + k]. Only the
// first m.k floats of each X column are read.
void gemm_any(std::size_t t_count, const SileroMatrix& m, const float* x, std::size_t x_stride,
              const GemmOut& out);

// The LSTM cell update from the gate pre-activations (i, f, g, o) of kSileroHidden each, in
// place on h and c, and the head's dot product with ReLU(h); returns the logit.
float lstm_cell(const float* gates, float* h, float* c, const float* head_w, float head_b);

inline float sigmoid(float x) {
  return 1.0F / (1.0F + std::exp(-x));
}

}  // namespace rm::nodes::detail
