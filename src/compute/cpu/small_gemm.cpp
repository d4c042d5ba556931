#include "compute/cpu/small_gemm.hpp"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <vector>

#include "compute/cpu/vector_math.hpp"

namespace hades::cpu {
namespace {

// The kernels use AVX2 and FMA, which small_gemm_supported() checks before any of them runs.
#define HADES_AVX2 __attribute__((target("avx2,fma")))

// Columns per panel: two registers, a cache line of each weight row.
constexpr int64_t kPanel = 16;
// Rows per tile: 6 rows × 2 registers of sums, 2 of weights and a broadcast fit in AVX2's 16
// registers, and each weight load feeds 6 multiply-adds.
constexpr int64_t kTileRows = 6;
// Weight rows per step. A step sweeps all columns panel by panel, so its rows are read as
// kStepRows sequential streams, and the next step's lines are prefetched meanwhile.
constexpr int64_t kStepRows = 8;
// Columns a finishing pass holds at a time (on the stack).
constexpr int64_t kFinishColumns = 256;
// Below this many multiply-adds the product runs on the calling thread alone.
constexpr int64_t kMinParallelWork = int64_t{64} * 1024;

// sums[R][16] += x · W over weight rows [0, k) of one panel. xt is x transposed (K × ldx, the
// tile's rows at [0, R)), W's rows are `ld` apart, sums' rows `lds` apart.
template <int R>
HADES_AVX2 __attribute__((always_inline)) inline void tile_step(const float* xt, int64_t ldx,
                                                                const float* w, int64_t ld,
                                                                int64_t k, float* sums,
                                                                int64_t lds) {
  __m256 acc[R][2];
  for (int r = 0; r < R; ++r) {
    acc[r][0] = _mm256_loadu_ps(sums + r * lds);
    acc[r][1] = _mm256_loadu_ps(sums + r * lds + 8);
  }
  for (int64_t i = 0; i < k; ++i) {
    const __m256 w0 = _mm256_loadu_ps(w + i * ld);
    const __m256 w1 = _mm256_loadu_ps(w + i * ld + 8);
    const float* xi = xt + i * ldx;
    for (int r = 0; r < R; ++r) {
      const __m256 xv = _mm256_broadcast_ss(xi + r);
      acc[r][0] = _mm256_fmadd_ps(xv, w0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(xv, w1, acc[r][1]);
    }
  }
  for (int r = 0; r < R; ++r) {
    _mm256_storeu_ps(sums + r * lds, acc[r][0]);
    _mm256_storeu_ps(sums + r * lds + 8, acc[r][1]);
  }
}

HADES_AVX2 __attribute__((always_inline)) inline void tile_step(int64_t rows, const float* xt,
                                                                int64_t ldx, const float* w,
                                                                int64_t ld, int64_t k, float* sums,
                                                                int64_t lds) {
  switch (rows) {
    case 1: return tile_step<1>(xt, ldx, w, ld, k, sums, lds);
    case 2: return tile_step<2>(xt, ldx, w, ld, k, sums, lds);
    case 3: return tile_step<3>(xt, ldx, w, ld, k, sums, lds);
    case 4: return tile_step<4>(xt, ldx, w, ld, k, sums, lds);
    case 5: return tile_step<5>(xt, ldx, w, ld, k, sums, lds);
    default: return tile_step<6>(xt, ldx, w, ld, k, sums, lds);
  }
}

// sums[rows, N] = x · W over weight rows [k0, k1): whole panels step by step, then any tail
// columns (N not a multiple of 16: a classifier head's few) as plain dot products. The rows
// [k0, k1) of W are one contiguous block, which the hardware prefetchers stream.
HADES_AVX2 void partial_sums(const SmallGemmLayer& layer, const float* xt, int64_t rows, int64_t k0,
                             int64_t k1, float* sums) {
  const int64_t n = layer.out;
  std::fill(sums, sums + rows * n, 0.0f);
  // Rows split evenly into tiles of at most kTileRows (8 rows: two of 4, not 6 and 2).
  const int64_t tiles = (rows + kTileRows - 1) / kTileRows;
  const int64_t full = n / kPanel * kPanel;
  for (int64_t ks = k0; ks < k1; ks += kStepRows) {
    const int64_t k = std::min(kStepRows, k1 - ks);
    const float* w = layer.weights + ks * n;
    // The next step's lines of this panel go to L2 while this step's are summed.
    const int64_t ahead = std::min(kStepRows, k1 - ks - k);
    for (int64_t c = 0; c < full; c += kPanel) {
      for (int64_t j = 0; j < ahead; ++j) {
        _mm_prefetch(reinterpret_cast<const char*>(w + (k + j) * n + c), _MM_HINT_T1);
      }
      for (int64_t t = 0; t < tiles; ++t) {
        const int64_t r0 = rows * t / tiles;
        const int64_t r1 = rows * (t + 1) / tiles;
        tile_step(r1 - r0, xt + ks * rows + r0, rows, w + c, n, k, sums + r0 * n + c, n);
      }
    }
  }
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = full; c < n; ++c) {
      float sum = 0.0f;
      for (int64_t k = k0; k < k1; ++k) sum += xt[k * rows + r] * layer.weights[k * n + c];
      sums[r * n + c] = sum;
    }
  }
}

// y[:, c0, c1) from the parts' partial sums (`parts` blocks of [rows, N], added in order):
// plus bias, then act, stored or added to y.
HADES_AVX2 void finish_columns(const SmallGemmLayer& layer, const float* partials, int64_t parts,
                               int64_t rows, int64_t c0, int64_t c1, float* y, Activation act,
                               bool accumulate) {
  const int64_t n = layer.out;
  float row[kFinishColumns];
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = c0; c < c1; c += kFinishColumns) {
      const int64_t w = std::min(kFinishColumns, c1 - c);
      std::copy(partials + r * n + c, partials + r * n + c + w, row);
      for (int64_t p = 1; p < parts; ++p) {
        const float* part = partials + p * rows * n + r * n + c;
        for (int64_t j = 0; j < w; ++j) row[j] += part[j];
      }
      finish_row(row, layer.bias != nullptr ? layer.bias + c : nullptr, w, y + r * n + c, act,
                 accumulate);
    }
  }
}

}  // namespace

bool small_gemm_supported() {
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

// Each thread of the team sums over its own run of weight rows (one contiguous block of W), then,
// after a barrier, finishes its own run of columns from every thread's partial sums.
void small_gemm(const SmallGemmLayer& layer, const float* x, int64_t rows, float* y, Activation act,
                bool accumulate) {
  if (rows == 0) return;
  const int64_t threads =
      rows * layer.in * layer.out >= kMinParallelWork ? omp_get_max_threads() : 1;
  // Per calling thread, grown once: no allocation per call in steady state.
  thread_local std::vector<float> xt;        // x transposed: a tile's rows at one k are adjacent
  thread_local std::vector<float> partials;  // [threads][rows, N]
  xt.resize(static_cast<size_t>(rows * layer.in));
  partials.resize(static_cast<size_t>(threads * rows * layer.out));
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t k = 0; k < layer.in; ++k) xt[k * rows + r] = x[r * layer.in + k];
  }
  const float* transposed = xt.data();
  float* sums = partials.data();
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    const int64_t team = omp_get_num_threads();
    const int64_t t = omp_get_thread_num();
    partial_sums(layer, transposed, rows, layer.in * t / team, layer.in * (t + 1) / team,
                 sums + t * rows * layer.out);
#pragma omp barrier
    finish_columns(layer, sums, team, rows, layer.out * t / team, layer.out * (t + 1) / team, y,
                   act, accumulate);
  }
}

}  // namespace hades::cpu
