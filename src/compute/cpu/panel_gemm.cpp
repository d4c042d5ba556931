// The float32 linear layer for a few rows on AVX-512, reading the weights in place in panels of 64
// columns (see panel_gemm.hpp).
//
// For each panel, a tile of up to 6 rows keeps 6 × 4 registers of sums while the panel's weight
// rows stream past, each 64-float row loaded once per tile and multiplied into every row of the
// tile (the x values broadcast from memory). The panel's rows are taken in steps of kStepRows:
// each step starts from zero sums and adds them into the panel's running sums at its end, so a
// sum over K = 1,536 is a sum of 12 partial sums, as a blocked GEMM's is, and a tile after the
// first finds the step's weights in L1. The threads of the team take runs of whole panels; the
// panels of one layer are one contiguous stream in oneDNN's brgemm layout.
#include "compute/cpu/panel_gemm.hpp"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>

#include "compute/cpu/vector_math.hpp"

// GCC 12 reports the _mm512_undefined_ps() inside its own AVX-512 intrinsics as maybe
// uninitialised once they are inlined (GCC bug 105593).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace hades::cpu {
namespace {

#define HADES_AVX512 __attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,fma")))

// Rows per tile: 6 × 4 registers of sums, 4 of weights (the broadcast comes from memory) of the
// 32 that AVX-512 has.
constexpr int64_t kTileRows = 6;
// Weight rows per step: 128 rows of a panel are 32 KiB, about L1.
constexpr int64_t kStepRows = 128;
// How many weight rows (of 256 bytes) ahead the kernel asks for the panel's lines, into L2. The
// hardware's prefetcher follows only the first tile's loads, and a tile after it reads L1: the
// memory would idle meanwhile (hades_bench_ops LinearStack shows the difference).
constexpr int64_t kPrefetchRows = 64;
// Below this many multiply-adds the product runs on the calling thread alone.
constexpr int64_t kMinParallelWork = int64_t{64} * 1024;

// sums[r][0, 64) += Σ_k x[r][k] · w[k][0, 64) over k in [k0, k1), for R rows of x (`ldx` apart)
// and a panel whose weight rows are `ldw` floats apart.
template <int R>
HADES_AVX512 __attribute__((always_inline)) inline void tile_step(const float* x, int64_t ldx,
                                                                  const float* w, int64_t ldw,
                                                                  int64_t k0, int64_t k1,
                                                                  float* sums) {
  __m512 acc[R][4];
  for (int r = 0; r < R; ++r) {
    for (int j = 0; j < 4; ++j) acc[r][j] = _mm512_setzero_ps();
  }
  for (int64_t k = k0; k < k1; ++k) {
    const float* row = w + k * ldw;
    for (int64_t line = 0; line < 4; ++line) {
      _mm_prefetch(reinterpret_cast<const char*>(row + kPrefetchRows * ldw + 16 * line),
                   _MM_HINT_T1);
    }
    const __m512 w0 = _mm512_loadu_ps(row);
    const __m512 w1 = _mm512_loadu_ps(row + 16);
    const __m512 w2 = _mm512_loadu_ps(row + 32);
    const __m512 w3 = _mm512_loadu_ps(row + 48);
    for (int r = 0; r < R; ++r) {
      const __m512 xv = _mm512_set1_ps(x[r * ldx + k]);
      acc[r][0] = _mm512_fmadd_ps(xv, w0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(xv, w1, acc[r][1]);
      acc[r][2] = _mm512_fmadd_ps(xv, w2, acc[r][2]);
      acc[r][3] = _mm512_fmadd_ps(xv, w3, acc[r][3]);
    }
  }
  for (int64_t r = 0; r < R; ++r) {
    for (int64_t j = 0; j < 4; ++j) {
      float* s = sums + r * kPanelColumns + 16 * j;
      _mm512_storeu_ps(s, _mm512_add_ps(_mm512_loadu_ps(s), acc[r][j]));
    }
  }
}

HADES_AVX512 void tile_step(int64_t rows, const float* x, int64_t ldx, const float* w, int64_t ldw,
                            int64_t k0, int64_t k1, float* sums) {
  switch (rows) {
    case 1: return tile_step<1>(x, ldx, w, ldw, k0, k1, sums);
    case 2: return tile_step<2>(x, ldx, w, ldw, k0, k1, sums);
    case 3: return tile_step<3>(x, ldx, w, ldw, k0, k1, sums);
    case 4: return tile_step<4>(x, ldx, w, ldw, k0, k1, sums);
    case 5: return tile_step<5>(x, ldx, w, ldw, k0, k1, sums);
    default: return tile_step<6>(x, ldx, w, ldw, k0, k1, sums);
  }
}

// y[:, 64p, 64p + 64) for panel p: the sums step by step, then bias and activation (or the add
// into y), as oneDNN applies them after the product.
HADES_AVX512 void run_panel(const PanelLayer& layer, int64_t p, const float* x, int64_t rows,
                            float* y, Activation act, bool accumulate) {
  alignas(64) float sums[kPanelGemmMaxRows * kPanelColumns];
  std::fill(sums, sums + rows * kPanelColumns, 0.0f);
  const float* panel = layer.weights + p * layer.panel_stride;
  // Rows split evenly into tiles of at most kTileRows (8 rows: two of 4, not 6 and 2).
  const int64_t tiles = (rows + kTileRows - 1) / kTileRows;
  for (int64_t k0 = 0; k0 < layer.in; k0 += kStepRows) {
    const int64_t k1 = std::min(layer.in, k0 + kStepRows);
    for (int64_t t = 0; t < tiles; ++t) {
      const int64_t r0 = rows * t / tiles;
      const int64_t r1 = rows * (t + 1) / tiles;
      tile_step(r1 - r0, x + r0 * layer.in, layer.in, panel, layer.row_stride, k0, k1,
                sums + r0 * kPanelColumns);
    }
  }
  const int64_t c0 = p * kPanelColumns;
  for (int64_t r = 0; r < rows; ++r) {
    finish_row(sums + r * kPanelColumns, layer.bias != nullptr ? layer.bias + c0 : nullptr,
               kPanelColumns, y + r * layer.out + c0, act, accumulate);
  }
}

}  // namespace

bool panel_gemm_supported() {
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
         __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw");
}

void panel_gemm(const PanelLayer& layer, const float* x, int64_t rows, float* y, Activation act,
                bool accumulate) {
  const int64_t panels = layer.out / kPanelColumns;
  const int64_t threads = rows * layer.in * layer.out >= kMinParallelWork
                              ? std::min<int64_t>(omp_get_max_threads(), panels)
                              : 1;
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    const int64_t team = omp_get_num_threads();
    const int64_t t = omp_get_thread_num();
    for (int64_t p = panels * t / team; p < panels * (t + 1) / team; ++p) {
      run_panel(layer, p, x, rows, y, act, accumulate);
    }
  }
}

}  // namespace hades::cpu
