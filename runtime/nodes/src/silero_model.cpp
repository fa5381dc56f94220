#include "nodes/silero_model.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <string_view>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define RM_SILERO_X86 1
#endif

namespace rm::nodes {

namespace {

constexpr char kMagic[8] = {'R', 'M', 'W', 'E', 'I', 'G', 'H', 'T'};
constexpr std::uint32_t kVersion = 1;
constexpr std::size_t kHidden = 128;

tl::unexpected<SileroWeightsLoadError> load_error(SileroWeightsError code, std::string msg) {
  return tl::unexpected(SileroWeightsLoadError{code, std::move(msg)});
}

std::uint32_t crc32(const unsigned char* p, std::size_t n) {
  static const auto table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1U) ? 0xEDB88320U ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  std::uint32_t c = 0xFFFFFFFFU;
  for (std::size_t i = 0; i < n; ++i) c = table[(c ^ p[i]) & 0xFFU] ^ (c >> 8);
  return c ^ 0xFFFFFFFFU;
}

struct Tensor {
  std::vector<std::uint32_t> shape;
  std::vector<float> data;
};

// Reads little-endian fields from the file image; every read is bounds-checked so a
// truncated or hostile file yields an error naming the offset, never a crash.
class Reader {
 public:
  Reader(const std::vector<unsigned char>& buf, std::size_t end) : buf_(buf), end_(end) {}
  std::size_t offset() const { return pos_; }
  bool has(std::size_t n) const { return n <= end_ - pos_; }
  template <typename T>
  bool read(T& out) {
    if (!has(sizeof(T))) return false;
    std::memcpy(&out, buf_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }
  bool read_bytes(std::size_t n, std::string& out) {
    if (!has(n)) return false;
    out.assign(reinterpret_cast<const char*>(buf_.data() + pos_), n);
    pos_ += n;
    return true;
  }
  bool read_floats(std::size_t n, std::vector<float>& out) {
    if (n > (end_ - pos_) / sizeof(float)) return false;
    out.resize(n);
    std::memcpy(out.data(), buf_.data() + pos_, n * sizeof(float));
    pos_ += n * sizeof(float);
    return true;
  }

 private:
  const std::vector<unsigned char>& buf_;
  std::size_t end_;
  std::size_t pos_ = 0;
};

std::string shape_string(const std::vector<std::uint32_t>& s) {
  std::string out = "(";
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(s[i]);
  }
  return out + ")";
}

std::size_t round_up8(std::size_t n) {
  return (n + 7) / 8 * 8;
}

#ifdef RM_SILERO_X86
bool have_avx2_fma();
constexpr std::size_t kPackRows = 64;  // packed rows % kPackRows == 0 suits every T
#endif

detail::SileroMatrix make_matrix(std::size_t rows, std::size_t k, const float* w, const float* b) {
  detail::SileroMatrix m;
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

// ---- kernels ------------------------------------------------------------------------------
// For r < rows, t < T: y = b[r] + sum_{k < m.k} W[r][k] * X[t * x_stride + k], written to
// out.p[r * out.rs + t * out.ts] (after ReLU if out.relu). Only the first m.k floats of each X
// column are read.
struct GemmOut {
  float* p;
  std::size_t rs;
  std::size_t ts;
  bool relu;
};

template <std::size_t T>
inline __attribute__((always_inline)) void gemm_generic_t(const detail::SileroMatrix& m, const float* x,
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
__attribute__((target("avx2,fma"))) void gemm_avx2_rt(const detail::SileroMatrix& m, const float* x,
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
__attribute__((target("avx2,fma"))) void gemm_packed_rt(const detail::SileroMatrix& m, const float* x,
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
void gemm_packed_t(const detail::SileroMatrix& m, const float* x, std::size_t x_stride, const GemmOut& out) {
  gemm_packed_rt<8 / T, T>(m, x, x_stride, out);
}

template <std::size_t T>
void gemm_avx2_t(const detail::SileroMatrix& m, const float* x, std::size_t x_stride, const GemmOut& out) {
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
void gemm(const detail::SileroMatrix& m, const float* x, std::size_t x_stride, const GemmOut& out) {
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

void gemm_any(std::size_t t_count, const detail::SileroMatrix& m, const float* x, std::size_t x_stride,
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

float sigmoid(float x) {
  return 1.0F / (1.0F + std::exp(-x));
}

constexpr std::size_t kFrames = 4;  // STFT frames per window, at both rates

// Sets up the real-FFT STFT if the basis rows are w[n] * cos(2*pi*k*n/N) (first bins rows) and
// -w[n] * sin(2*pi*k*n/N) (next bins rows) with w the periodic Hann window, to float rounding.
void setup_stft_fft(detail::SileroBranch& br, const float* basis) {
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
  br.stft = detail::SileroMatrix{};
}

// |STFT| of the kFrames frames x[f * hop + i], i < n_fft, into mag[(f + 1) * bins + k], via one
// complex FFT of n_fft/2 points per frame (even samples as real, odd as imaginary part) and the
// usual split into the spectrum of a real signal. The four frames run side by side as one
// 4-float vector (SSE / NEON where available, scalar code otherwise).
using V4 = float __attribute__((vector_size(4 * sizeof(float))));
static_assert(kFrames == 4);

void stft_fft_mag(const detail::SileroBranch& br, const float* x, float* mag) {
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

// ---- loading --------------------------------------------------------------------------------

struct SileroModelBuilder {
  static tl::expected<std::shared_ptr<const SileroModel>, SileroWeightsLoadError> build(
      const std::filesystem::path& path, std::map<std::string, Tensor, std::less<>>& tensors,
      std::string metadata) {
    auto model = std::make_shared<SileroModel>();
    model->metadata_ = std::move(metadata);
    for (const bool is16 : {true, false}) {
      const std::string prefix = is16 ? "16k/" : "8k/";
      const std::uint32_t bins = is16 ? 129 : 65;
      const std::uint32_t n_fft = is16 ? 256 : 128;
      auto take =
          [&](std::string_view name,
              std::vector<std::uint32_t> shape) -> tl::expected<const Tensor*, SileroWeightsLoadError> {
        const std::string full = prefix + std::string(name);
        auto it = tensors.find(full);
        if (it == tensors.end()) {
          return load_error(
              SileroWeightsError::missing_tensor,
              path.string() + ": tensor " + full + " is missing; re-run scripts/fetch-silero-model.sh");
        }
        if (it->second.shape != shape) {
          return load_error(SileroWeightsError::bad_shape,
                            path.string() + ": tensor " + full + " has shape " +
                                shape_string(it->second.shape) + ", expected " + shape_string(shape));
        }
        return &it->second;
      };
#define RM_TAKE(var, name, ...)                         \
  auto var##_r = take(name, {__VA_ARGS__});             \
  if (!var##_r) return tl::unexpected(var##_r.error()); \
  const Tensor& var = **var##_r
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
      const Tensor* ws[4] = {&w0, &w1, &w2, &w3};
      const Tensor* bs[4] = {&b0, &b1, &b2, &b3};
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
};

tl::expected<std::shared_ptr<const SileroModel>, SileroWeightsLoadError> SileroModel::load(
    const std::filesystem::path& path) {
  const std::string p = path.string();
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return load_error(SileroWeightsError::not_found,
                      "Silero VAD weights not found at " + p +
                          "; run scripts/fetch-silero-model.sh or set RM_SILERO_WEIGHTS");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return load_error(SileroWeightsError::io_error, "cannot open " + p + " for reading");
  std::vector<unsigned char> buf((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return load_error(SileroWeightsError::io_error, "cannot read " + p);

  if (buf.size() < sizeof(kMagic) || std::memcmp(buf.data(), kMagic, sizeof(kMagic)) != 0) {
    return load_error(SileroWeightsError::bad_magic,
                      p + " is not a weights file (magic RMWEIGHT missing); convert the model "
                          "with scripts/convert_silero_weights.py");
  }
  if (buf.size() < sizeof(kMagic) + 4 + 4) {
    return load_error(SileroWeightsError::truncated, p + " is truncated after the magic");
  }
  Reader r(buf, buf.size() - 4);
  std::string skip;
  r.read_bytes(sizeof(kMagic), skip);
  std::uint32_t version = 0;
  r.read(version);
  if (version != kVersion) {
    return load_error(SileroWeightsError::unsupported_version,
                      p + " has format version " + std::to_string(version) + ", this build reads " +
                          std::to_string(kVersion) + "; re-run scripts/fetch-silero-model.sh");
  }
  auto truncated = [&](const std::string& what) {
    return load_error(SileroWeightsError::truncated, p + " is truncated at offset " +
                                                         std::to_string(r.offset()) + " (" + what +
                                                         "); re-run scripts/fetch-silero-model.sh");
  };
  std::uint32_t meta_len = 0;
  std::string metadata;
  if (!r.read(meta_len) || !r.read_bytes(meta_len, metadata)) return truncated("metadata");
  std::uint32_t count = 0;
  if (!r.read(count)) return truncated("tensor count");
  std::map<std::string, Tensor, std::less<>> tensors;
  for (std::uint32_t i = 0; i < count; ++i) {
    std::uint16_t name_len = 0;
    std::string name;
    std::uint8_t dtype = 0;
    std::uint8_t ndim = 0;
    if (!r.read(name_len) || !r.read_bytes(name_len, name) || !r.read(dtype) || !r.read(ndim)) {
      return truncated("tensor header " + std::to_string(i));
    }
    if (dtype != 1) {
      return load_error(SileroWeightsError::bad_shape, p + ": tensor " + name + " has dtype " +
                                                           std::to_string(dtype) + ", expected 1 (float32)");
    }
    Tensor t;
    std::size_t elems = 1;
    for (std::uint8_t d = 0; d < ndim; ++d) {
      std::uint32_t dim = 0;
      if (!r.read(dim)) return truncated("shape of " + name);
      t.shape.push_back(dim);
      elems *= dim;
      if (elems > buf.size()) return truncated("data of " + name);
    }
    if (!r.read_floats(elems, t.data)) return truncated("data of " + name);
    tensors[name] = std::move(t);
  }
  std::uint32_t stored = 0;
  std::memcpy(&stored, buf.data() + buf.size() - 4, 4);
  if (r.offset() != buf.size() - 4) {
    return load_error(SileroWeightsError::truncated, p + ": " + std::to_string(buf.size() - 4 - r.offset()) +
                                                         " unexpected bytes after the last tensor (offset " +
                                                         std::to_string(r.offset()) + ")");
  }
  if (crc32(buf.data(), buf.size() - 4) != stored) {
    return load_error(SileroWeightsError::bad_checksum, p + ": CRC-32 mismatch, the file is corrupt; re-run "
                                                            "scripts/fetch-silero-model.sh");
  }
  return SileroModelBuilder::build(path, tensors, std::move(metadata));
}

tl::expected<std::shared_ptr<const SileroModel>, SileroWeightsLoadError> SileroModel::load_shared(
    const std::filesystem::path& path) {
  static std::mutex mu;
  static std::map<std::string, std::weak_ptr<const SileroModel>> cache;
  std::error_code ec;
  auto canon = std::filesystem::weakly_canonical(path, ec);
  const std::string key = ec ? path.string() : canon.string();
  std::lock_guard lock(mu);
  if (auto it = cache.find(key); it != cache.end()) {
    if (auto sp = it->second.lock()) return sp;
  }
  auto loaded = load(path);
  if (loaded) cache[key] = *loaded;
  return loaded;
}

std::filesystem::path SileroModel::default_path() {
  if (const char* e = std::getenv("RM_SILERO_WEIGHTS"); e != nullptr && *e != '\0') return e;
  std::filesystem::path base;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x != nullptr && *x != '\0') {
    base = x;
  } else if (const char* h = std::getenv("HOME"); h != nullptr && *h != '\0') {
    base = std::filesystem::path(h) / ".cache";
  } else {
    base = "/tmp";
  }
  return base / "remotemedia" / "silero_vad_v5.rmw";
}

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

  constexpr std::size_t frames = kFrames;
  if (br.stft_fft) {
    stft_fft_mag(br, padded_.data(), mag_.data());
  } else {
    gemm<frames>(br.stft, padded_.data(), br.hop, GemmOut{spec_.data(), frames, 1, false});
    for (std::size_t k = 0; k < br.bins; ++k) {
      for (std::size_t f = 0; f < frames; ++f) {
        const float re = spec_[k * frames + f];
        const float im = spec_[(br.bins + k) * frames + f];
        mag_[(f + 1) * br.bins + k] = std::sqrt(re * re + im * im);
      }
    }
  }
  conv_relu(br.encoder[0], mag_.data(), act_a_.data());
  conv_relu(br.encoder[1], act_a_.data(), act_b_.data());
  conv_relu(br.encoder[2], act_b_.data(), act_a_.data());
  conv_relu(br.encoder[3], act_a_.data(), act_b_.data());
  // The last layer has one output step: act_b_ holds the 128 encoder features after the
  // leading zero frame.

  float* x = lstm_in_.data();
  std::copy_n(act_b_.data() + kHidden, kHidden, x);
  std::copy_n(state_.data(), kHidden, x + kHidden);  // h
  gemm<1>(br.lstm, x, br.lstm.k, GemmOut{gates_.data(), 1, 0, false});
  float* h = state_.data();
  float* c = state_.data() + kHidden;
#ifdef RM_SILERO_X86
  if (have_avx2_fma()) return sigmoid(lstm_cell_avx2(gates_.data(), h, c, br.head_w.data(), br.head_b));
#endif
  float logit = br.head_b;
  for (std::size_t j = 0; j < kHidden; ++j) {
    const float ig = sigmoid(gates_[j]);
    const float fg = sigmoid(gates_[kHidden + j]);
    const float gg = std::tanh(gates_[2 * kHidden + j]);
    const float og = sigmoid(gates_[3 * kHidden + j]);
    c[j] = fg * c[j] + ig * gg;
    h[j] = og * std::tanh(c[j]);
    logit += br.head_w[j] * std::max(h[j], 0.0F);
  }
  return sigmoid(logit);
}

}  // namespace rm::nodes
