#include "compute/cpu/kernels.hpp"

#include "compute/cpu/vector_math.hpp"
#include "compute/ops_common.hpp"
#include "core/dtype.hpp"

#include <dnnl.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

namespace hades::cpu {

HADES_MULTIVERSION
void add_layer_norm_row(float* row, const float* residual, int64_t dim, const LayerNormParams& p) {
  if (residual != nullptr) {
    for (int64_t i = 0; i < dim; ++i) row[i] += residual[i];
  }
  // Two passes in double: the variance of a row with a large mean stays exact, which keeps the
  // result within float rounding of PyTorch's LayerNorm. The sums are vector reductions (omp
  // simd allows their reassociation): as scalar sums each add waits for the last.
  double sum = 0.0;
#pragma omp simd reduction(+ : sum)
  for (int64_t i = 0; i < dim; ++i) sum += row[i];
  const double mean = sum / static_cast<double>(dim);
  double sq = 0.0;
#pragma omp simd reduction(+ : sq)
  for (int64_t i = 0; i < dim; ++i) {
    const double d = row[i] - mean;
    sq += d * d;
  }
  const auto inv = static_cast<float>(1.0 / std::sqrt(sq / static_cast<double>(dim) + p.eps));
  const auto mean_f = static_cast<float>(mean);
  const float* gamma = p.gamma.data();
  if (p.beta.empty()) {
    for (int64_t i = 0; i < dim; ++i) row[i] = (row[i] - mean_f) * inv * gamma[i];
  } else {
    const float* beta = p.beta.data();
    for (int64_t i = 0; i < dim; ++i) row[i] = (row[i] - mean_f) * inv * gamma[i] + beta[i];
  }
}

namespace {

// Query rows per block: the scores of a block (64 × keys floats) stay in L2, and the two GEMMs of
// a block are large enough for oneDNN's sgemm kernels to run near their peak.
constexpr int64_t kQueryBlock = 64;

// The softmax's lanes: 16 floats, one AVX-512 register or two AVX2 ones (GCC's vector types are
// compiled for each clone's ISA). They never cross a function boundary, whose ABI for such types
// would depend on the ISA.
using Lanes = float __attribute__((vector_size(64)));
constexpr int64_t kLanes = 16;

// The lanes folded in halves: 4 dependent steps. An `omp simd` reduction ends in 16 scalar
// operations in a chain instead, which cost about a third of the softmax of a short row.
template <class Op>
__attribute__((always_inline)) inline float fold(float* lanes, Op op) {
  for (int64_t width = kLanes / 2; width > 0; width /= 2) {
    for (int64_t l = 0; l < width; ++l) lanes[l] = op(lanes[l], lanes[l + width]);
  }
  return lanes[0];
}

// Softmax of scores[first, last) in place (float32, max-subtracted, as PyTorch computes it); the
// rest of the row [0, width) becomes 0, which is how a band keeps out-of-window keys.
HADES_MULTIVERSION
void softmax_band(float* row, int64_t width, int64_t first, int64_t last) {
  const int64_t whole = first + (last - first) / kLanes * kLanes;
  // The tail (fewer than 16 keys) goes through a padded copy, so that every step is whole lanes.
  float tail[kLanes];
  std::fill(tail, tail + kLanes, -INFINITY);
  std::copy(row + whole, row + last, tail);
  Lanes lanes, v;
  std::memcpy(&lanes, tail, sizeof lanes);
  for (int64_t j = first; j < whole; j += kLanes) {
    std::memcpy(&v, row + j, sizeof v);
    lanes = lanes > v ? lanes : v;
  }
  float folded[kLanes];
  std::memcpy(folded, &lanes, sizeof lanes);
  const float max = fold(folded, [](float a, float b) { return a > b ? a : b; });
  lanes = Lanes{};
  for (int64_t j = first; j < whole; j += kLanes) {
#pragma omp simd
    for (int64_t l = 0; l < kLanes; ++l) row[j + l] = exp_nonpositive(row[j + l] - max);
    std::memcpy(&v, row + j, sizeof v);
    lanes += v;
  }
#pragma omp simd
  for (int64_t l = 0; l < kLanes; ++l) {
    tail[l] = l < last - whole ? exp_nonpositive(tail[l] - max) : 0.0f;
  }
  std::copy(tail, tail + (last - whole), row + whole);
  std::memcpy(&v, tail, sizeof v);
  lanes += v;
  std::memcpy(folded, &lanes, sizeof lanes);
  const float inv = 1.0f / fold(folded, [](float a, float b) { return a + b; });
  for (int64_t j = 0; j < first; ++j) row[j] = 0.0f;
  for (int64_t j = first; j < last; ++j) row[j] *= inv;
  for (int64_t j = last; j < width; ++j) row[j] = 0.0f;
}

}  // namespace

// Per block of query rows: scores = scale · Q Kᵀ over the keys the block can see, softmax per row
// inside each row's reach (window, causal), out = P V. Q, K and V are read in place from the fused
// qkv rows (leading dimension (heads + 2 kv_heads) · head_dim; the head's k and v are those of its
// group) and out is written in place (leading dimension heads · head_dim), so nothing is gathered.
// A sliding window or a causal mask computes only the band of keys each block needs.
void attention_head(const float* qkv, const AttentionParams& p, int64_t sequence, int64_t head,
                    float* out) {
  const int64_t kv_heads = kv_heads_of(p.num_heads, p.num_kv_heads);
  const int64_t hidden = p.num_heads * p.head_dim;
  const int64_t kv_width = kv_heads * p.head_dim;
  const int64_t stride = hidden + 2 * kv_width;
  const int64_t begin = p.cu_seqlens[sequence];
  const int64_t end = p.cu_seqlens[sequence + 1];
  const AttentionReach reach = attention_reach(p, end - begin);
  const float* q = qkv + head * p.head_dim;
  const float* k = qkv + hidden + head / (p.num_heads / kv_heads) * p.head_dim;
  const float* v = k + kv_width;
  // Scratch per pool thread, grown once and reused: no allocation per op in steady state.
  thread_local std::vector<float> scores;
  for (int64_t i0 = begin; i0 < end; i0 += kQueryBlock) {
    const int64_t i1 = std::min(end, i0 + kQueryBlock);
    const int64_t j0 = std::max(begin, i0 - reach.left);
    const int64_t j1 = std::min(end, i1 + reach.right);
    const int64_t rows = i1 - i0;
    const int64_t keys = j1 - j0;
    scores.resize(static_cast<size_t>(rows * keys));
    dnnl_sgemm('N', 'T', rows, keys, p.head_dim, p.scale, q + i0 * stride, stride, k + j0 * stride,
               stride, 0.0f, scores.data(), keys);
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t i = i0 + r;
      softmax_band(scores.data() + r * keys, keys, std::max(j0, i - reach.left) - j0,
                   std::min(j1, i + reach.right + 1) - j0);
    }
    dnnl_sgemm('N', 'N', rows, p.head_dim, keys, 1.0f, scores.data(), keys, v + j0 * stride, stride,
               0.0f, out + i0 * hidden + head * p.head_dim, hidden);
  }
}

// Two passes in double, as add_layer_norm_row: the sum of squares is a vector reduction.
HADES_MULTIVERSION
void rms_norm_row(const float* x, int64_t dim, const RmsNormParams& p, float* out) {
  double sq = 0.0;
#pragma omp simd reduction(+ : sq)
  for (int64_t i = 0; i < dim; ++i) sq += static_cast<double>(x[i]) * x[i];
  const auto inv = static_cast<float>(1.0 / std::sqrt(sq / static_cast<double>(dim) + p.eps));
  const float* gamma = p.gamma.data();
  for (int64_t i = 0; i < dim; ++i) out[i] = x[i] * inv * gamma[i];
}

HADES_MULTIVERSION
void activate(float* y, int64_t count, Activation act) {
  activate_row(y, count, act);
}

// Vectorised as activate() is: as a scalar loop over libm's erf, ModernBERT's GeGLU was a visible
// share of a pass over chonky's windows (perf).
HADES_MULTIVERSION
void gated_activate_row(const float* x, int64_t width, Activation act, float* out) {
  for (int64_t i = 0; i < width; ++i) out[i] = x[i];
  activate_row(out, width, act);
  for (int64_t i = 0; i < width; ++i) out[i] *= x[width + i];
}

// A plain loop over dtype.hpp's scalar rounding, which the compiler vectorises in each clone
// (std::transform in the linear layer stayed scalar).
HADES_MULTIVERSION
void round_to_bf16(const float* x, int64_t count, uint16_t* out) {
  for (int64_t i = 0; i < count; ++i) out[i] = f32_to_bf16(x[i]);
}

HADES_MULTIVERSION
void rotate_token(float* token, int64_t heads, int64_t head_dim, const float* cos,
                  const float* sin) {
  const int64_t half = head_dim / 2;
  for (int64_t h = 0; h < heads; ++h) {
    float* x = token + h * head_dim;
    for (int64_t i = 0; i < half; ++i) {
      const float x1 = x[i];
      const float x2 = x[i + half];
      x[i] = x1 * cos[i] - x2 * sin[i];
      x[i + half] = x2 * cos[i] + x1 * sin[i];
    }
  }
}

}  // namespace hades::cpu
