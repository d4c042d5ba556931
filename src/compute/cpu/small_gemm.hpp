// The float32 linear layer for a few rows (one short text, a search query), reading the weights in
// place in the K×N layout that oneDNN's matmul keeps on AVX2, so it needs no second copy of them.
// For 2 to 8 rows oneDNN 2.6 streams the weights well below the memory bandwidth. Here each
// thread sums over its own contiguous block of weight rows, prefetched ahead, and the threads'
// partial sums are added at the end (hades_bench_ops LinearStack). From about a dozen rows
// oneDNN's kernels are the faster.
#pragma once

#include <cstdint>

#include "compute/backend.hpp"

namespace hades::cpu {

// Row counts up to this take the kernel (measured crossover: 8 at par or better, 12 at par, 16
// worse).
constexpr int64_t kSmallGemmMaxRows = 8;

// One layer: W is K×N row-major (rows N apart); bias has N floats or is null.
struct SmallGemmLayer {
  const float* weights = nullptr;
  const float* bias = nullptr;
  int64_t in = 0;   // K
  int64_t out = 0;  // N
};

// Whether this CPU runs the kernel (it needs AVX2 and FMA).
bool small_gemm_supported();

// y[rows, N] = act(x[rows, K] · W + b), or y += x · W + b when `accumulate` (act is then none),
// over the calling thread's OpenMP team, each thread taking one band of columns.
void small_gemm(const SmallGemmLayer& layer, const float* x, int64_t rows, float* y, Activation act,
                bool accumulate);

}  // namespace hades::cpu
