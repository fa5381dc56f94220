#include "detail/silero_kernels.hpp"

#include <algorithm>
#include <cstdlib>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define RM_SILERO_X86 1
#endif

namespace rm::nodes::detail {

namespace {

constexpr std::size_t kHidden = kSileroHidden;

std::size_t round_up8(std::size_t n) {
  return (n + 7) / 8 * 8;
}

#ifdef RM_SILERO_X86
bool have_avx2_fma();
constexpr std::size_t kPackRows = 64;  // packed rows % kPackRows == 0 suits every T
#endif

template <std::size_t T>
inline __attribute__((always_inline)) void gemm_generic_t(const SileroMatrix& m, const float* x,
                                                          std::size_t x_stride, const GemmOut& out) {
  for (std::size_t r = 0; r < m.rows; ++r) {
    const float* w = m.w.data() + r * m.k_padded;
    float acc[T][8] = {};
    for (std::size_t k = 0; k < m.k; ++k) {
      for (std::size_t t = 0; t < T; ++t) acc[t][k & 7U] += w[k] * x[t * x_stride + k];
    }
    for (std::size_t t = 0; t < T; ++t) {
      float s = 0.0F;
      for (std::size_t j = 0; j < 8; ++j) s += acc[t][j];
      const float y = m.b[r] + s;
      out.p[r * out.rs + t * out.ts] = out.relu ? std::max(y, 0.0F) : y;
    }
  }
}

#ifdef RM_SILERO_X86
__attribute__((target("avx2,fma"))) inline float hsum256(__m256 v) {
  __m128 lo = _mm256_castps256_ps128(v);
  __m128 hi = _mm256_extractf128_ps(v, 1);
  lo = _mm_add_ps(lo, hi);
  __m128 sh = _mm_movehdup_ps(lo);
  __m128 sums = _mm_add_ps(lo, sh);
  sh = _mm_movehl_ps(sh, sums);
  sums = _mm_add_ss(sums, sh);
  return _mm_cvtss_f32(sums);
}

// R rows at a time so each X load feeds R FMAs and each W load feeds T FMAs (R * T
// independent accumulators hide the FMA latency).
template <std::size_t R, std::size_t T>
__attribute__((target("avx2,fma"))) void gemm_avx2_rt(const SileroMatrix& m, const float* x,
                                                      std::size_t x_stride, const GemmOut& out) {
  std::size_t r = 0;
  for (; r + R <= m.rows; r += R) {
    const float* w = m.w.data() + r * m.k_padded;
    __m256 acc[R][T];
    for (std::size_t i = 0; i < R; ++i) {
      for (std::size_t t = 0; t < T; ++t) acc[i][t] = _mm256_setzero_ps();
    }
    for (std::size_t k = 0; k < m.k_padded; k += 8) {
      __m256 vx[T];
      for (std::size_t t = 0; t < T; ++t) vx[t] = _mm256_loadu_ps(x + t * x_stride + k);
      for (std::size_t i = 0; i < R; ++i) {
        const __m256 vw = _mm256_loadu_ps(w + i * m.k_padded + k);
        for (std::size_t t = 0; t < T; ++t) acc[i][t] = _mm256_fmadd_ps(vw, vx[t], acc[i][t]);
      }
    }
    for (std::size_t i = 0; i < R; ++i) {
      for (std::size_t t = 0; t < T; ++t) {
        const float y = m.b[r + i] + hsum256(acc[i][t]);
        out.p[(r + i) * out.rs + t * out.ts] = out.relu ? std::max(y, 0.0F) : y;
      }
    }
  }
  for (; r < m.rows; ++r) {
    const float* w0 = m.w.data() + r * m.k_padded;
    for (std::size_t t = 0; t < T; ++t) {
      __m256 a = _mm256_setzero_ps();
      for (std::size_t k = 0; k < m.k_padded; k += 8) {
        a = _mm256_fmadd_ps(_mm256_loadu_ps(w0 + k), _mm256_loadu_ps(x + t * x_stride + k), a);
      }
      const float y = m.b[r] + hsum256(a);
      out.p[r * out.rs + t * out.ts] = out.relu ? std::max(y, 0.0F) : y;
    }
  }
}

// Packed weights: the 8 lanes of an accumulator are 8 output rows, so a broadcast input value
// feeds RB row blocks and each weight vector feeds T columns; RB * T = 8 accumulators in
// registers, no horizontal sums. Needs rows % (8 * RB) == 0 (checked at pack time).
template <std::size_t RB, std::size_t T>
__attribute__((target("avx2,fma"))) void gemm_packed_rt(const SileroMatrix& m, const float* x,
                                                        std::size_t x_stride, const GemmOut& out) {
  const std::size_t k_len = m.k;
  for (std::size_t r0 = 0; r0 < m.rows; r0 += 8 * RB) {
    const float* w = m.packed.data() + r0 * k_len;
    __m256 acc[RB * T];
#pragma GCC unroll 8
    for (std::size_t i = 0; i < RB * T; ++i) acc[i] = _mm256_setzero_ps();
    for (std::size_t k = 0; k < k_len; ++k) {
      __m256 vx[T];
#pragma GCC unroll 8
      for (std::size_t t = 0; t < T; ++t) vx[t] = _mm256_broadcast_ss(x + t * x_stride + k);
#pragma GCC unroll 8
      for (std::size_t b = 0; b < RB; ++b) {
        const __m256 vw = _mm256_loadu_ps(w + (b * k_len + k) * 8);
#pragma GCC unroll 8
        for (std::size_t t = 0; t < T; ++t) acc[b * T + t] = _mm256_fmadd_ps(vw, vx[t], acc[b * T + t]);
      }
    }
#pragma GCC unroll 8
    for (std::size_t b = 0; b < RB; ++b) {
      const __m256 bias = _mm256_loadu_ps(m.b.data() + r0 + 8 * b);
#pragma GCC unroll 8
      for (std::size_t t = 0; t < T; ++t) {
        __m256 v = _mm256_add_ps(acc[b * T + t], bias);
        if (out.relu) v = _mm256_max_ps(v, _mm256_setzero_ps());
        float* dst = out.p + (r0 + 8 * b) * out.rs + t * out.ts;
        if (out.rs == 1) {
          _mm256_storeu_ps(dst, v);
        } else {
          alignas(32) float tmp[8];
          _mm256_store_ps(tmp, v);
          for (std::size_t j = 0; j < 8; ++j) dst[j * out.rs] = tmp[j];
        }
      }
    }
  }
}

template <std::size_t T>
void gemm_packed_t(const SileroMatrix& m, const float* x, std::size_t x_stride, const GemmOut& out) {
  gemm_packed_rt<8 / T, T>(m, x, x_stride, out);
}

template <std::size_t T>
void gemm_avx2_t(const SileroMatrix& m, const float* x, std::size_t x_stride, const GemmOut& out) {
  if constexpr (T == 1) {
    gemm_avx2_rt<4, 1>(m, x, x_stride, out);
  } else {
    gemm_avx2_rt<2, T>(m, x, x_stride, out);
  }
}

// exp(x) for 8 floats: range reduction by ln 2 (split constant) and the Cephes degree-6
// polynomial; relative error ~2 ulp over the clamped range [-88.37, 88.37].
__attribute__((target("avx2,fma"))) inline __m256 exp256(__m256 x) {
  x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-88.3762626647949F)), _mm256_set1_ps(88.3762626647949F));
  const __m256 fx = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341F)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375F), x);
  x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4F), x);
  __m256 p = _mm256_set1_ps(1.9875691500e-4F);
  p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(1.3981999507e-3F));
  p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(8.3334519073e-3F));
  p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(4.1665795894e-2F));
  p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(1.6666665459e-1F));
  p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(5.0000001201e-1F));
  const __m256 y = _mm256_add_ps(_mm256_fmadd_ps(p, _mm256_mul_ps(x, x), x), _mm256_set1_ps(1.0F));
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(fx), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(y, _mm256_castsi256_ps(e));
}

__attribute__((target("avx2,fma"))) inline __m256 sigmoid256(__m256 x) {
  const __m256 one = _mm256_set1_ps(1.0F);
  return _mm256_div_ps(one, _mm256_add_ps(one, exp256(_mm256_sub_ps(_mm256_setzero_ps(), x))));
}

// tanh(x) = 2 / (1 + exp(-2x)) - 1 (absolute error ~1e-7, which is what the model needs).
__attribute__((target("avx2,fma"))) inline __m256 tanh256(__m256 x) {
  const __m256 one = _mm256_set1_ps(1.0F);
  const __m256 e = exp256(_mm256_mul_ps(x, _mm256_set1_ps(-2.0F)));
  return _mm256_sub_ps(_mm256_div_ps(_mm256_set1_ps(2.0F), _mm256_add_ps(one, e)), one);
}

// The LSTM cell update from the gate pre-activations (i, f, g, o) and the head's dot product
// with ReLU(h); returns the logit.
__attribute__((target("avx2,fma"))) float lstm_cell_avx2(const float* gates, float* h, float* c,
                                                         const float* head_w, float head_b) {
  __m256 acc = _mm256_setzero_ps();
  for (std::size_t j = 0; j < kHidden; j += 8) {
    const __m256 ig = sigmoid256(_mm256_loadu_ps(gates + j));
    const __m256 fg = sigmoid256(_mm256_loadu_ps(gates + kHidden + j));
    const __m256 gg = tanh256(_mm256_loadu_ps(gates + 2 * kHidden + j));
    const __m256 og = sigmoid256(_mm256_loadu_ps(gates + 3 * kHidden + j));
    const __m256 cn = _mm256_fmadd_ps(fg, _mm256_loadu_ps(c + j), _mm256_mul_ps(ig, gg));
    const __m256 hn = _mm256_mul_ps(og, tanh256(cn));
    _mm256_storeu_ps(c + j, cn);
    _mm256_storeu_ps(h + j, hn);
    acc = _mm256_fmadd_ps(_mm256_loadu_ps(head_w + j), _mm256_max_ps(hn, _mm256_setzero_ps()), acc);
  }
  return head_b + hsum256(acc);
}

bool have_avx2_fma() {
  static const bool yes = [] {
    if (const char* e = std::getenv("RM_SILERO_NO_SIMD"); e != nullptr && *e == '1') return false;
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }();
  return yes;
}
#endif

template <std::size_t T>
void gemm(const SileroMatrix& m, const float* x, std::size_t x_stride, const GemmOut& out) {
#ifdef RM_SILERO_X86
  if (!m.packed.empty()) {
    gemm_packed_t<T>(m, x, x_stride, out);
    return;
  }
  if (have_avx2_fma() && m.k == m.k_padded) {  // this kernel reads whole padded rows
    gemm_avx2_t<T>(m, x, x_stride, out);
    return;
  }
#endif
  gemm_generic_t<T>(m, x, x_stride, out);
}

float lstm_cell_scalar(const float* gates, float* h, float* c, const float* head_w, float head_b) {
  float logit = head_b;
  for (std::size_t j = 0; j < kHidden; ++j) {
    const float ig = sigmoid(gates[j]);
    const float fg = sigmoid(gates[kHidden + j]);
    const float gg = std::tanh(gates[2 * kHidden + j]);
    const float og = sigmoid(gates[3 * kHidden + j]);
    c[j] = fg * c[j] + ig * gg;
    h[j] = og * std::tanh(c[j]);
    logit += head_w[j] * std::max(h[j], 0.0F);
  }
  return logit;
}

}  // namespace

SileroMatrix make_matrix(std::size_t rows, std::size_t k, const float* w, const float* b) {
  SileroMatrix m;
  m.rows = rows;
  m.k = k;
  m.k_padded = round_up8(k);
  m.w.assign(rows * m.k_padded, 0.0F);
  for (std::size_t r = 0; r < rows; ++r) std::copy_n(w + r * k, k, m.w.data() + r * m.k_padded);
  m.b.assign(rows, 0.0F);
  if (b != nullptr) std::copy_n(b, rows, m.b.data());
#ifdef RM_SILERO_X86
  if (have_avx2_fma() && rows % kPackRows == 0) {
    m.packed.resize(rows * k);
    for (std::size_t r = 0; r < rows; ++r) {
      for (std::size_t c = 0; c < k; ++c) m.packed[((r / 8) * k + c) * 8 + r % 8] = w[r * k + c];
    }
    m.w.clear();
    m.w.shrink_to_fit();
  }
#endif
  return m;
}

void gemm_any(std::size_t t_count, const SileroMatrix& m, const float* x, std::size_t x_stride,
              const GemmOut& out) {
  switch (t_count) {
    case 1:
      gemm<1>(m, x, x_stride, out);
      break;
    case 2:
      gemm<2>(m, x, x_stride, out);
      break;
    case 4:
      gemm<4>(m, x, x_stride, out);
      break;
    default:
      for (std::size_t t = 0; t < t_count; ++t) {
        gemm<1>(m, x + t * x_stride, x_stride, GemmOut{out.p + t * out.ts, out.rs, 0, out.relu});
      }
  }
}

float lstm_cell(const float* gates, float* h, float* c, const float* head_w, float head_b) {
#ifdef RM_SILERO_X86
  if (have_avx2_fma()) return lstm_cell_avx2(gates, h, c, head_w, head_b);
#endif
  return lstm_cell_scalar(gates, h, c, head_w, head_b);
}

}  // namespace rm::nodes::detail
