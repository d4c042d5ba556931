#include "compute/cpu/kernels.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace hades::cpu {

#define HADES_MULTIVERSION __attribute__((target_clones("avx512f", "avx2", "default")))

HADES_MULTIVERSION
void add_layer_norm_row(float* row, const float* residual, int64_t dim, const LayerNormParams& p) {
  if (residual != nullptr) {
    for (int64_t i = 0; i < dim; ++i) row[i] += residual[i];
  }
  // Two passes in double: the variance of a row with a large mean stays exact, which keeps the
  // result within float rounding of PyTorch's LayerNorm.
  double sum = 0.0;
  for (int64_t i = 0; i < dim; ++i) sum += row[i];
  const double mean = sum / static_cast<double>(dim);
  double sq = 0.0;
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

HADES_MULTIVERSION
float dot(const float* a, const float* b, int64_t n) {
  float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
  for (int64_t i = 0; i < n; ++i) acc += a[i] * b[i];
  return acc;
}

HADES_MULTIVERSION
void axpy(float alpha, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

}  // namespace

void attention_head(const float* qkv, const AttentionParams& p, int64_t sequence, int64_t head,
                    float* out) {
  const int64_t hidden = p.num_heads * p.head_dim;
  const int64_t stride = 3 * hidden;
  const int64_t begin = p.cu_seqlens[sequence];
  const int64_t end = p.cu_seqlens[sequence + 1];
  const int64_t half = p.window > 0 ? p.window / 2 : end - begin;
  // Scratch per pool thread, grown once and reused: no allocation per op in steady state.
  thread_local std::vector<float> scores;
  scores.resize(static_cast<size_t>(std::min<int64_t>(end - begin, 2 * half + 1)));
  for (int64_t i = begin; i < end; ++i) {
    const float* q = qkv + i * stride + head * p.head_dim;
    const int64_t first = std::max(begin, i - half);
    const int64_t last = std::min(end, i + half + 1);
    float max = -INFINITY;
    for (int64_t j = first; j < last; ++j) {
      const float s = dot(q, qkv + j * stride + hidden + head * p.head_dim, p.head_dim) * p.scale;
      scores[j - first] = s;
      max = std::max(max, s);
    }
    float sum = 0.0f;
    for (int64_t j = first; j < last; ++j) {
      sum += (scores[j - first] = std::exp(scores[j - first] - max));
    }
    float* o = out + i * hidden + head * p.head_dim;
    std::fill(o, o + p.head_dim, 0.0f);
    const float inv = 1.0f / sum;
    for (int64_t j = first; j < last; ++j) {
      axpy(scores[j - first] * inv, qkv + j * stride + 2 * hidden + head * p.head_dim, o,
           p.head_dim);
    }
  }
}

HADES_MULTIVERSION
void rotate_token(float* token, int64_t heads, int64_t head_dim, const float* cos,
                  const float* sin) {
  const int64_t half = head_dim / 2;
  for (int64_t h = 0; h < 2 * heads; ++h) {  // the q heads, then the k heads
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
