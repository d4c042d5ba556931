// The float32 linear layer for a few rows (one short text, a search query) on AVX-512, reading the
// weights in place in the layout oneDNN's matmul keeps them in, so it needs no second copy.
//
// For a few rows oneDNN 2.6's brgemm neither reaches the FMA peak nor streams the weights at the
// memory's speed, and a short text's linear layers are bound by streaming their weights (larger
// than the L3 for MiniLM in float32). Here each weight row streams once past a tile of rows' sums
// held in registers, the next weights prefetched to L2 meanwhile (hades_bench_ops LinearStack;
// docs/performance.md).
#pragma once

#include <cstdint>

#include "compute/backend.hpp"

namespace hades::cpu {

// Columns per panel: oneDNN's float32 brgemm weights (BA16a64b) hold each run of 64 columns as
// K rows of 64 floats, one contiguous block.
constexpr int64_t kPanelColumns = 64;

// Row counts up to this take the kernel. It is faster than brgemm on weights that come from memory
// up to here (LinearStack, ms: 16 rows 1.75 against 2.2, 32 rows 3.2 against 3.7, 64 rows 6.45
// against 6.8). Longer inputs stay on brgemm, whose 512-row chunks run at the GEMM peak.
constexpr int64_t kPanelGemmMaxRows = 64;

// One layer whose weights are panels of 64 columns: column c of weight row k is at
// weights[(c / 64) · panel_stride + k · row_stride + c % 64]. oneDNN's brgemm layout has
// panel_stride 64 K and row_stride 64; the plain K×N matrix, panel_stride 64 and row_stride N.
struct PanelLayer {
  const float* weights = nullptr;
  const float* bias = nullptr;  // N floats, or null
  int64_t in = 0;               // K
  int64_t out = 0;              // N, a multiple of 64
  int64_t panel_stride = 0;
  int64_t row_stride = 0;
};

// Whether this CPU runs the kernel (AVX-512 F, VL, DQ and BW).
bool panel_gemm_supported();

// y[rows, N] = act(x[rows, K] · W + b), or y += x · W + b when `accumulate` (act is then none),
// for rows <= kPanelGemmMaxRows, over the calling thread's OpenMP team, each thread taking a run
// of panels.
void panel_gemm(const PanelLayer& layer, const float* x, int64_t rows, float* y, Activation act,
                bool accumulate);

}  // namespace hades::cpu
