// The CPU backend's packed linear layers: one interface, one type per matmul path, chosen when
// the weights are packed (float32 and bfloat16 in cpu_linear.cpp, int8 in int8_linear.cpp).
#pragma once

#include <dnnl.hpp>

#include <cstdint>
#include <memory>

#include "compute/backend.hpp"
#include "compute/threads.hpp"

namespace hades::cpu {

class CpuPackedLinear : public PackedLinear {
 public:
  using PackedLinear::PackedLinear;
  // y[rows, out] = act(x · Wᵀ + b), or y += x · Wᵀ + b when `accumulate` (act is then none).
  virtual void run(const float* x, int64_t rows, float* y, Activation act,
                   bool accumulate) const = 0;
};

// Weights and inputs float32: oneDNN's matmuls, and panel_gemm or small_gemm for a few rows.
std::unique_ptr<CpuPackedLinear> make_f32_linear(const dnnl::engine& engine,
                                                 const LinearWeights& weights);
// Weights and inputs rounded to bfloat16; accumulation, bias and output float32.
std::unique_ptr<CpuPackedLinear> make_bf16_linear(const dnnl::engine& engine,
                                                  const LinearWeights& weights);
// Weights quantized to s8 per output channel; inputs quantized to u8 per row at run time.
std::unique_ptr<CpuPackedLinear> make_int8_linear(const dnnl::engine& engine,
                                                  const LinearWeights& weights);

}  // namespace hades::cpu
