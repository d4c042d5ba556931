// Kernels written with AVX-512 intrinsics, for CPUs that also have AVX512-BF16 (the file is
// compiled for it): ragged attention with bfloat16 or float32 products, the GELU between the bf16
// feed-forward's matmuls, and bf16 rounding by the hardware's conversion.
//
// Attention, per (sequence, head), without sgemm calls (which pack their operands on every call,
// at about half of the FMA peak on short sequences): scores = scale · Q Kᵀ for 8 query rows × 32
// keys at a time, a float32 softmax per row, then P V for 8 rows × 32 dimensions.
//  - bf16: the products run on AVX512-BF16 dot products (vdpbf16ps: each float32 lane adds the
//    products of one pair of bf16 values), twice the multiply-adds of a float32 FMA. Q, K, V and
//    the softmax's probabilities are rounded to bf16 (nearest even), as in PyTorch's bf16
//    attention; the scores, the softmax and every sum stay float32, and each output row is divided
//    by its float32 sum at the end. K is laid out as pairs of dimensions by key, kp[p][j] =
//    (k[j][2p], k[j][2p+1]), so that 16 keys' pairs fill a register and a query's pair is
//    broadcast against them; V as pairs of keys by dimension, vp[m][d] = (v[2m][d], v[2m+1][d]).
//    Keys past the sequence's end are zero, and a band of keys starts on an even key: every pair
//    is whole, and a key outside a row's window gets probability 0.
//  - float32: float32 FMAs, K transposed (kt[d][j]), V read in place; the probabilities are
//    normalised before P V, as PyTorch's softmax does.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "compute/cpu/kernels.hpp"
#include "core/dtype.hpp"

// GCC 12 reports the _mm512_undefined_ps() inside its own AVX-512 intrinsics as maybe
// uninitialised once they are inlined (GCC bug 105593).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"  // the same, in the shuffles of transpose16
#endif

namespace hades::cpu {
namespace {

#define HADES_AVX512_BF16 \
  __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512bf16,fma")))

constexpr int64_t kLanes = 16;
// Query rows per tile: 8 rows × 2 registers of sums, and each loaded register feeds 8 rows.
constexpr int64_t kTileRows = 8;
// The widest head the kernel takes (BERT-large and ModernBERT use 64).
constexpr int64_t kMaxHeadDim = 256;
// Rows ahead that the packing of K asks the cache for.
constexpr int64_t kPrefetchRows = 8;
// Query rows whose scores and probabilities are held at once.
constexpr int64_t kQueryBlock = 32;

struct HeadBuffers {
  std::vector<uint32_t> kp;       // bf16: [head_dim / 2][ld], pairs of dimensions by key
  std::vector<uint32_t> vp;       // bf16: [ld / 2][head_dim], pairs of keys by dimension
  std::vector<float> kt;          // float32: [head_dim][ld], K transposed
  std::vector<float> scores;      // [kQueryBlock][ld]
  std::vector<uint16_t> probs16;  // bf16: [kQueryBlock][ld]
  std::vector<float> probs32;     // float32: [kQueryBlock][ld]
  std::vector<float> inv_sums;    // [kQueryBlock]
};

// T: the element of qkv, uint16_t (bf16 products) or float (float32 multiply-adds).
template <class T>
constexpr bool kBf16 = std::is_same_v<T, uint16_t>;

// e^x for x <= 0 (Cephes' expf, as exp_nonpositive in vector_math.hpp), 16 lanes at a time.
// Coarse: a degree-4 polynomial for e^r instead of degree 6, within 5.3e-6 relative (fitted for
// the least relative error on |r| <= ln2 / 2), for values that are rounded to bfloat16 (a step of
// 2^-9 = 2e-3) or only scale such values: two fewer multiply-adds.
template <bool Coarse = false>
HADES_AVX512_BF16 inline __m512 exp16(__m512 x) {
  x = _mm512_max_ps(x, _mm512_set1_ps(-87.0f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fmadd_ps(n, _mm512_set1_ps(2.12194440e-4f), r);
  __m512 p;
  if constexpr (Coarse) {
    p = _mm512_set1_ps(4.127745e-2f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6753466e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0005114e-1f));
  } else {
    p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  }
  p = _mm512_fmadd_ps(_mm512_mul_ps(p, r), r, _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  return _mm512_scalef_ps(p, n);
}

// 32 bf16 values seen as the 16 pairs a dot-product instruction takes.
HADES_AVX512_BF16 inline __m512bh as_pairs(__m512i v) {
  return __builtin_bit_cast(__m512bh, v);
}

// The largest and the sum of 16 lanes, folded in halves.
HADES_AVX512_BF16 inline float max16(__m512 v) {
  __m256 a = _mm256_max_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
  __m128 b = _mm_max_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
  b = _mm_max_ps(b, _mm_movehl_ps(b, b));
  return _mm_cvtss_f32(_mm_max_ss(b, _mm_movehdup_ps(b)));
}
HADES_AVX512_BF16 inline float sum16(__m512 v) {
  __m256 a = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
  __m128 b = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
  b = _mm_add_ps(b, _mm_movehl_ps(b, b));
  return _mm_cvtss_f32(_mm_add_ss(b, _mm_movehdup_ps(b)));
}

// The lanes of block `b` (keys 16b .. 16b+15 of a row) that fall in [first, last).
inline __mmask16 lanes_in(int64_t b, int64_t first, int64_t last) {
  if (b * kLanes >= first && (b + 1) * kLanes <= last) return 0xffff;  // most blocks
  const int64_t lo = std::clamp<int64_t>(first - b * kLanes, 0, kLanes);
  const int64_t hi = std::clamp<int64_t>(last - b * kLanes, 0, kLanes);
  return static_cast<__mmask16>(((1u << hi) - 1u) & ~((1u << lo) - 1u));
}

// Transposes the 16 × 16 32-bit values of r: r[i] lane c becomes r[c] lane i.
HADES_AVX512_BF16 inline void transpose16(__m512i (&r)[kLanes]) {
  __m512i t[kLanes];
  for (int i = 0; i < kLanes; i += 2) {  // per 128-bit lane: [a0 b0 a1 b1], [a2 b2 a3 b3]
    t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
  }
  __m512i u[kLanes];  // u[4g + q], 128-bit lane L: column 4L + q of rows 4g .. 4g + 3
  for (ptrdiff_t g = 0; g < 4; ++g) {
    u[4 * g] = _mm512_unpacklo_epi64(t[4 * g], t[4 * g + 2]);
    u[4 * g + 1] = _mm512_unpackhi_epi64(t[4 * g], t[4 * g + 2]);
    u[4 * g + 2] = _mm512_unpacklo_epi64(t[4 * g + 1], t[4 * g + 3]);
    u[4 * g + 3] = _mm512_unpackhi_epi64(t[4 * g + 1], t[4 * g + 3]);
  }
  for (int q = 0; q < 4; ++q) {  // the 4 × 4 128-bit lanes of u[q], u[4 + q], ...: transposed
    const __m512i a = _mm512_shuffle_i32x4(u[q], u[4 + q], 0x44);
    const __m512i b = _mm512_shuffle_i32x4(u[q], u[4 + q], 0xee);
    const __m512i c = _mm512_shuffle_i32x4(u[8 + q], u[12 + q], 0x44);
    const __m512i d = _mm512_shuffle_i32x4(u[8 + q], u[12 + q], 0xee);
    r[q] = _mm512_shuffle_i32x4(a, c, 0x88);
    r[4 + q] = _mm512_shuffle_i32x4(a, c, 0xdd);
    r[8 + q] = _mm512_shuffle_i32x4(b, d, 0x88);
    r[12 + q] = _mm512_shuffle_i32x4(b, d, 0xdd);
  }
}

// kp[p][j] = pair p0 + p of key j, for KEYS keys (k: the first one's row, rows `stride` apart;
// the block's other keys up to 16 are zero) and PAIRS pairs from p0 (kp: pair p0's first key).
HADES_AVX512_BF16 void pack_key_block(const uint16_t* k, int64_t stride, int64_t keys, int64_t p0,
                                      int64_t pairs, uint32_t* kp, int64_t ld) {
  const auto mask = static_cast<__mmask16>((1u << pairs) - 1u);
  __m512i r[kLanes];
  for (int64_t j = 0; j < kLanes; ++j) {
    r[j] =
        j < keys ? _mm512_maskz_loadu_epi32(mask, k + j * stride + 2 * p0) : _mm512_setzero_si512();
  }
  transpose16(r);
  for (int64_t p = 0; p < pairs; ++p) _mm512_storeu_si512(kp + p * ld, r[p]);
}

// K and V of one (sequence, head) in the pair layouts above, from their bf16 rows (`stride`
// apart); ld >= length + 32, even. K goes by blocks of 16 keys × 16 pairs, transposed in
// registers. Not inlined: the transpose's registers stay out of the dot-product loops'
// allocation.
HADES_AVX512_BF16 __attribute__((noinline)) void pack_keys_values(const uint16_t* k,
                                                                  const uint16_t* v, int64_t stride,
                                                                  int64_t length, int64_t head_dim,
                                                                  int64_t ld, HeadBuffers& b) {
  const int64_t pairs = head_dim / 2;
  const int64_t packed = (length + kLanes - 1) / kLanes * kLanes;  // keys written by blocks
  b.kp.resize(static_cast<size_t>(pairs * ld));
  b.vp.resize(static_cast<size_t>(ld / 2 * head_dim));
  for (int64_t p = 0; p < pairs; ++p) {
    std::fill(b.kp.begin() + p * ld + packed, b.kp.begin() + (p + 1) * ld, 0u);
  }
  for (int64_t j0 = 0; j0 < length; j0 += kLanes) {
    for (int64_t p0 = 0; p0 < pairs; p0 += kLanes) {
      pack_key_block(k + j0 * stride, stride, std::min(kLanes, length - j0), p0,
                     std::min(kLanes, pairs - p0), b.kp.data() + p0 * ld + j0, ld);
    }
  }
  const __m256i zero = _mm256_setzero_si256();
  for (int64_t m = 0; m < ld / 2; ++m) {
    const int64_t j = 2 * m;
    for (int64_t d = 0; d < head_dim; d += kLanes) {
      const __m256i even =
          j < length ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(v + j * stride + d))
                     : zero;
      const __m256i odd =
          j + 1 < length
              ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(v + (j + 1) * stride + d))
              : zero;
      const __m512i pair = _mm512_or_si512(_mm512_cvtepu16_epi32(even),
                                           _mm512_slli_epi32(_mm512_cvtepu16_epi32(odd), 16));
      _mm512_storeu_si512(b.vp.data() + m * head_dim + d, pair);
    }
  }
}

// K of one (sequence, head) transposed, for float32 products; ld >= length + 32.
HADES_AVX512_BF16 void pack_keys_f32(const float* k, int64_t stride, int64_t length,
                                     int64_t head_dim, int64_t ld, HeadBuffers& b) {
  b.kt.assign(static_cast<size_t>(head_dim * ld), 0.0f);
  for (int64_t j = 0; j < length; ++j) {
    __builtin_prefetch(k + (j + kPrefetchRows) * stride);  // rows are 3 hidden widths apart
    for (int64_t d = 0; d < head_dim; ++d)
      b.kt[static_cast<size_t>(d * ld + j)] = k[j * stride + d];
  }
}

// scores[r][16c ..] = scale · q[r] · k for BLOCKS blocks of 16 keys starting at key `key`, r < 4
// (q[r]: a query's row of qkv).
template <int Blocks, class T>
HADES_AVX512_BF16 void score_tile(const T* const* q, int64_t head_dim, const HeadBuffers& b,
                                  int64_t ld, int64_t key, float scale, float* scores,
                                  int64_t lds) {
  __m512 acc[kTileRows][Blocks];
  for (auto& row : acc) {
    for (__m512& a : row) a = _mm512_setzero_ps();
  }
  if constexpr (kBf16<T>) {
    for (int64_t p = 0; p < head_dim / 2; ++p) {
      __m512bh keys[Blocks];
      for (int c = 0; c < Blocks; ++c) {
        keys[c] = as_pairs(_mm512_loadu_si512(b.kp.data() + p * ld + key + c * kLanes));
      }
      for (int64_t r = 0; r < kTileRows; ++r) {
        uint32_t pair;
        std::memcpy(&pair, q[r] + 2 * p, sizeof pair);
        const __m512bh query = as_pairs(_mm512_set1_epi32(static_cast<int>(pair)));
        for (int c = 0; c < Blocks; ++c) acc[r][c] = _mm512_dpbf16_ps(acc[r][c], query, keys[c]);
      }
    }
  } else {
    for (int64_t d = 0; d < head_dim; ++d) {
      __m512 keys[Blocks];
      for (int c = 0; c < Blocks; ++c)
        keys[c] = _mm512_loadu_ps(b.kt.data() + d * ld + key + c * kLanes);
      for (int64_t r = 0; r < kTileRows; ++r) {
        const __m512 query = _mm512_set1_ps(q[r][d]);
        for (int c = 0; c < Blocks; ++c) acc[r][c] = _mm512_fmadd_ps(query, keys[c], acc[r][c]);
      }
    }
  }
  const __m512 s = _mm512_set1_ps(scale);
  for (int64_t r = 0; r < kTileRows; ++r) {
    for (int c = 0; c < Blocks; ++c) {
      _mm512_storeu_ps(scores + r * lds + c * kLanes, _mm512_mul_ps(acc[r][c], s));
    }
  }
}

// One row's softmax over keys [first, last) of `keys` scores: unnormalised probabilities, in bf16
// or float32 as P is (0 outside the window), and 1 / their float32 sum.
template <class P>
HADES_AVX512_BF16 float softmax_row(const float* scores, int64_t keys, int64_t first, int64_t last,
                                    P* probs) {
  const int64_t blocks = (keys + 2 * kLanes - 1) / (2 * kLanes) * 2;
  __m512 max = _mm512_set1_ps(-INFINITY);
  for (int64_t b = 0; b < blocks; ++b) {
    max = _mm512_mask_max_ps(max, lanes_in(b, first, last), max,
                             _mm512_loadu_ps(scores + b * kLanes));
  }
  const __m512 m = _mm512_set1_ps(max16(max));
  __m512 sum = _mm512_setzero_ps();
  for (int64_t b = 0; b < blocks; b += 2) {
    // bf16 probabilities take the coarse e^x; float32's, the one within 2 ulp.
    const __m512 e0 = _mm512_maskz_mov_ps(
        lanes_in(b, first, last),
        exp16<kBf16<P>>(_mm512_sub_ps(_mm512_loadu_ps(scores + b * kLanes), m)));
    const __m512 e1 = _mm512_maskz_mov_ps(
        lanes_in(b + 1, first, last),
        exp16<kBf16<P>>(_mm512_sub_ps(_mm512_loadu_ps(scores + (b + 1) * kLanes), m)));
    sum = _mm512_add_ps(sum, _mm512_add_ps(e0, e1));
    if constexpr (kBf16<P>) {
      const __m512bh pair = _mm512_cvtne2ps_pbh(e1, e0);  // e0 in the low half
      std::memcpy(probs + b * kLanes, &pair, sizeof pair);
    } else {
      _mm512_storeu_ps(probs + b * kLanes, e0);
      _mm512_storeu_ps(probs + (b + 1) * kLanes, e1);
    }
  }
  const float inv = 1.0f / sum16(sum);
  if constexpr (!kBf16<P>) {
    // float32 normalises the probabilities before P V, as PyTorch's softmax does: the same
    // roundings as the reference, where bf16's rounding step would hide the difference.
    const __m512 scale = _mm512_set1_ps(inv);
    for (int64_t b = 0; b < blocks; ++b) {
      _mm512_storeu_ps(probs + b * kLanes,
                       _mm512_mul_ps(_mm512_loadu_ps(probs + b * kLanes), scale));
    }
    return 1.0f;
  }
  return inv;
}

// out[r][d ..] = probs[r] · V / sum, for 4 rows and BLOCKS blocks of 16 dimensions from `dim`,
// over key pairs [pair0, pair0 + pairs).
template <int Blocks>
HADES_AVX512_BF16 void value_tile(const uint16_t* probs, int64_t ldp, const uint32_t* vp,
                                  int64_t head_dim, int64_t pair0, int64_t pairs, int64_t dim,
                                  const float* inv_sums, float* out, int64_t ldo, int64_t rows) {
  __m512 acc[kTileRows][Blocks];
  for (auto& row : acc) {
    for (__m512& a : row) a = _mm512_setzero_ps();
  }
  for (int64_t m = 0; m < pairs; ++m) {
    __m512bh values[Blocks];
    for (int c = 0; c < Blocks; ++c) {
      values[c] = as_pairs(_mm512_loadu_si512(vp + (pair0 + m) * head_dim + dim + c * kLanes));
    }
    for (int64_t r = 0; r < kTileRows; ++r) {
      uint32_t pair;
      std::memcpy(&pair, probs + r * ldp + 2 * m, sizeof pair);
      const __m512bh p = as_pairs(_mm512_set1_epi32(static_cast<int>(pair)));
      for (int c = 0; c < Blocks; ++c) acc[r][c] = _mm512_dpbf16_ps(acc[r][c], p, values[c]);
    }
  }
  for (int64_t r = 0; r < rows; ++r) {
    const __m512 inv = _mm512_set1_ps(inv_sums[r]);
    for (int c = 0; c < Blocks; ++c) {
      _mm512_storeu_ps(out + r * ldo + dim + c * kLanes, _mm512_mul_ps(acc[r][c], inv));
    }
  }
}

// value_tile for float32: out[r][d ..] = probs[r] · V (probabilities already normalised) over
// keys [0, keys) of V's rows (v: the first key's row, rows `stride` apart).
template <int Blocks>
HADES_AVX512_BF16 void value_tile_f32(const float* probs, int64_t ldp, const float* v,
                                      int64_t stride, int64_t keys, int64_t dim, float* out,
                                      int64_t ldo, int64_t rows) {
  __m512 acc[kTileRows][Blocks];
  for (auto& row : acc) {
    for (__m512& a : row) a = _mm512_setzero_ps();
  }
  for (int64_t j = 0; j < keys; ++j) {
    __m512 values[Blocks];
    for (int c = 0; c < Blocks; ++c) values[c] = _mm512_loadu_ps(v + j * stride + dim + c * kLanes);
    for (int64_t r = 0; r < kTileRows; ++r) {
      const __m512 p = _mm512_set1_ps(probs[r * ldp + j]);
      for (int c = 0; c < Blocks; ++c) acc[r][c] = _mm512_fmadd_ps(p, values[c], acc[r][c]);
    }
  }
  for (int64_t r = 0; r < rows; ++r) {
    for (int c = 0; c < Blocks; ++c) _mm512_storeu_ps(out + r * ldo + dim + c * kLanes, acc[r][c]);
  }
}

// GELU(x) = x/2 · (1 + erf(x / sqrt 2)), erf by Abramowitz & Stegun 7.1.26 as in vector_math.hpp,
// but 1 / (1 + p·|x|) from the hardware's reciprocal estimate with one Newton step (relative
// error below 1e-7) instead of a division, which is the slowest instruction of the loop, and
// e^(-z²) from the coarse exp16: the result is the input of a bf16 matmul.
HADES_AVX512_BF16 void gelu_erf_avx512(float* y, int64_t count) {
  const __m512 sign_mask = _mm512_castsi512_ps(_mm512_set1_epi32(0x7fffffff));
  const __m512 one = _mm512_set1_ps(1.0f);
  const __m512 two = _mm512_set1_ps(2.0f);
  int64_t i = 0;
  for (; i + kLanes <= count; i += kLanes) {
    const __m512 x = _mm512_loadu_ps(y + i);
    const __m512 z = _mm512_mul_ps(x, _mm512_set1_ps(0.70710678118654752f));
    const __m512 a = _mm512_and_ps(z, sign_mask);
    const __m512 d = _mm512_fmadd_ps(a, _mm512_set1_ps(0.3275911f), one);
    __m512 t = _mm512_rcp14_ps(d);
    t = _mm512_mul_ps(t, _mm512_fnmadd_ps(d, t, two));
    __m512 p = _mm512_set1_ps(1.061405429f);
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-1.453152027f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(1.421413741f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-0.284496736f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(0.254829592f));
    const __m512 e = _mm512_mul_ps(
        _mm512_mul_ps(p, t), exp16<true>(_mm512_mul_ps(_mm512_sub_ps(_mm512_setzero_ps(), a), a)));
    // erf(|z|) = 1 - e; GELU = x/2 · (1 ± (1 - e)): x · (1 - e/2) for z >= 0, x · e/2 below.
    const __m512 half_e = _mm512_mul_ps(e, _mm512_set1_ps(0.5f));
    const __mmask16 negative = _mm512_cmp_ps_mask(z, _mm512_setzero_ps(), _CMP_LT_OQ);
    const __m512 factor = _mm512_mask_blend_ps(negative, _mm512_sub_ps(one, half_e), half_e);
    _mm512_storeu_ps(y + i, _mm512_mul_ps(x, factor));
  }
  if (i < count) activate(y + i, count - i, Activation::gelu_erf);
}

// x rounded to bf16 by the hardware's conversion (nearest even; subnormal inputs become 0).
HADES_AVX512_BF16 void round_bf16_avx512(const float* x, int64_t count, uint16_t* out) {
  int64_t i = 0;
  for (; i + 2 * kLanes <= count; i += 2 * kLanes) {
    const __m512bh h = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(x + i + kLanes), _mm512_loadu_ps(x + i));
    std::memcpy(out + i, &h, sizeof h);
  }
  for (; i < count; ++i) out[i] = f32_to_bf16(x[i]);
}

}  // namespace

void gelu_erf_bf16(float* y, int64_t count) {
  gelu_erf_avx512(y, count);
}

void round_qkv_bf16(const float* qkv, int64_t count, uint16_t* out) {
  round_bf16_avx512(qkv, count, out);
}

bool attention_avx512_supported(int64_t head_dim) {
  return head_dim % kLanes == 0 && head_dim <= kMaxHeadDim && __builtin_cpu_supports("avx512bf16");
}

namespace {

// One (sequence, head): where its rows are, and how far each query sees.
template <class T>
struct HeadView {
  const T* q;  // the sequence's first query row of this head; k and v follow at +hidden, +2 hidden
  float* out;  // the sequence's first output row of this head
  int64_t hidden, stride, head_dim, length, half, ld;
  float scale;
};

// Query rows [i0, i0 + rows), which see keys [j0, j0 + keys) (j0 and keys even).
struct QueryBlock {
  int64_t i0, rows, j0, keys;
};

template <class T>
HADES_AVX512_BF16 void block_scores(const HeadView<T>& h, const QueryBlock& qb, HeadBuffers& b) {
  static const T kZeroRow[kMaxHeadDim] = {};
  const int64_t key_blocks = (qb.keys + kLanes - 1) / kLanes;
  for (int64_t r = 0; r < qb.rows; r += kTileRows) {
    const T* tile[kTileRows];
    for (int64_t t = 0; t < kTileRows; ++t) {
      tile[t] = r + t < qb.rows ? h.q + (qb.i0 + r + t) * h.stride : kZeroRow;
    }
    for (int64_t c = 0; c < key_blocks; c += 2) {
      float* s = b.scores.data() + r * h.ld + c * kLanes;
      const int64_t key = qb.j0 + c * kLanes;
      if (c + 1 < key_blocks) {
        score_tile<2>(tile, h.head_dim, b, h.ld, key, h.scale, s, h.ld);
      } else {
        score_tile<1>(tile, h.head_dim, b, h.ld, key, h.scale, s, h.ld);
      }
    }
  }
}

template <class T>
HADES_AVX512_BF16 void block_softmax(const HeadView<T>& h, const QueryBlock& qb, HeadBuffers& b) {
  for (int64_t r = 0; r < qb.rows; ++r) {
    const int64_t i = qb.i0 + r;
    const int64_t first = std::max<int64_t>(0, i - h.half) - qb.j0;
    const int64_t last = std::min(h.length, i + h.half + 1) - qb.j0;
    float* scores = b.scores.data() + r * h.ld;
    b.inv_sums[static_cast<size_t>(r)] =
        kBf16<T> ? softmax_row(scores, qb.keys, first, last, b.probs16.data() + r * h.ld)
                 : softmax_row(scores, qb.keys, first, last, b.probs32.data() + r * h.ld);
  }
}

template <class T>
HADES_AVX512_BF16 void block_values(const HeadView<T>& h, const QueryBlock& qb,
                                    const HeadBuffers& b) {
  const int64_t hd = h.head_dim;
  for (int64_t r = 0; r < qb.rows; r += kTileRows) {
    const int64_t tile = std::min(kTileRows, qb.rows - r);
    float* orow = h.out + (qb.i0 + r) * h.hidden;
    for (int64_t d = 0; d < hd; d += 2 * kLanes) {
      const bool two = d + kLanes < hd;
      if constexpr (kBf16<T>) {
        const uint16_t* pr = b.probs16.data() + r * h.ld;
        const float* inv = b.inv_sums.data() + r;
        const int64_t pair0 = qb.j0 / 2, pairs = qb.keys / 2;
        if (two) {
          value_tile<2>(pr, h.ld, b.vp.data(), hd, pair0, pairs, d, inv, orow, h.hidden, tile);
        } else {
          value_tile<1>(pr, h.ld, b.vp.data(), hd, pair0, pairs, d, inv, orow, h.hidden, tile);
        }
      } else {
        // Only the sequence's own rows of V: past its end is the next sequence, or nothing.
        const float* pr = b.probs32.data() + r * h.ld;
        const float* v = h.q + 2 * h.hidden + qb.j0 * h.stride;
        const int64_t n = std::min(qb.keys, h.length - qb.j0);
        if (two) {
          value_tile_f32<2>(pr, h.ld, v, h.stride, n, d, orow, h.hidden, tile);
        } else {
          value_tile_f32<1>(pr, h.ld, v, h.stride, n, d, orow, h.hidden, tile);
        }
      }
    }
  }
}

template <class T>
HADES_AVX512_BF16 void attention_head_avx512(const T* qkv, const AttentionParams& p,
                                             int64_t sequence, int64_t head, float* out) {
  const int64_t hidden = p.num_heads * p.head_dim;
  const int64_t begin = p.cu_seqlens[sequence];
  const int64_t length = p.cu_seqlens[sequence + 1] - begin;
  const HeadView<T> h{qkv + begin * 3 * hidden + head * p.head_dim,
                      out + begin * hidden + head * p.head_dim,
                      hidden,
                      3 * hidden,
                      p.head_dim,
                      length,
                      p.window > 0 ? p.window / 2 : length,
                      (length + 1) / 2 * 2 + 2 * kLanes,
                      p.scale};
  thread_local HeadBuffers b;
  b.scores.resize(static_cast<size_t>(kQueryBlock * h.ld));
  b.inv_sums.resize(kQueryBlock);
  if constexpr (kBf16<T>) {
    b.probs16.resize(static_cast<size_t>(kQueryBlock * h.ld));
    pack_keys_values(h.q + hidden, h.q + 2 * hidden, h.stride, length, h.head_dim, h.ld, b);
  } else {
    b.probs32.resize(static_cast<size_t>(kQueryBlock * h.ld));
    pack_keys_f32(h.q + hidden, h.stride, length, h.head_dim, h.ld, b);
  }
  for (int64_t i0 = 0; i0 < length; i0 += kQueryBlock) {
    const int64_t rows = std::min(kQueryBlock, length - i0);
    const int64_t j0 = std::max<int64_t>(0, i0 - h.half) / 2 * 2;  // whole pairs of keys
    const int64_t j1 = std::min(length, i0 + rows + h.half);
    const QueryBlock qb{i0, rows, j0, (j1 - j0 + 1) / 2 * 2};
    block_scores(h, qb, b);
    block_softmax(h, qb, b);
    block_values(h, qb, b);
  }
}

}  // namespace

void attention_head_bf16(const uint16_t* qkv, const AttentionParams& p, int64_t sequence,
                         int64_t head, float* out) {
  attention_head_avx512(qkv, p, sequence, head, out);
}

void attention_head_f32(const float* qkv, const AttentionParams& p, int64_t sequence, int64_t head,
                        float* out) {
  attention_head_avx512(qkv, p, sequence, head, out);
}

}  // namespace hades::cpu
