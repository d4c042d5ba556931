// What the float32 and bfloat16 linear layers share: the weights packed once into the layout a
// oneDNN matmul chose, the bias, and the matmul primitives that read them (the post-op each
// applies, their scratchpads, the bf16 rounding of the input). The paths that run them are types
// of their own, chosen once at packing (make_f32_linear, make_bf16_linear in cpu_linear.cpp):
// FixedRowsLinear (brgemm), RuntimeRowsLinear (gemm) and FewRowsLinear (panel_gemm, small_gemm).
#pragma once

#include <dnnl.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "compute/backend.hpp"
#include "compute/cpu/cpu_linear.hpp"
#include "compute/cpu/panel_gemm.hpp"
#include "compute/cpu/small_gemm.hpp"
#include "core/paged_array.hpp"

namespace hades::cpu {

// What a primitive does after the product: one of the activations, or adding into y.
enum class MatmulVariant : uint8_t { plain, gelu_erf, gelu_tanh, relu, tanh, silu, accumulate };
constexpr size_t kMatmulVariants = 7;
static_assert(static_cast<int>(Activation::none) == 0 && static_cast<int>(Activation::silu) == 5);

// y += x · Wᵀ + b goes through the matmul's "sum" post-op: no temporary, one pass over y.
inline MatmulVariant matmul_variant(Activation act, bool accumulate) {
  return accumulate ? MatmulVariant::accumulate : static_cast<MatmulVariant>(act);
}

// A primitive with the scratchpad size it asks for.
struct MatmulOp {
  dnnl::matmul matmul;  // empty until created
  size_t scratchpad_bytes = 0;
};

// oneDNN fixes a primitive's thread count when it is created, so each op exists twice: for the
// calling thread's OpenMP team (1), and for one thread (0; what parallel_forward asks for).
size_t matmul_team_index();

// One layer's weights and bias for oneDNN matmuls. `type` is f32, or bf16 (weights and inputs
// bf16; accumulation, bias and output f32). Built in two steps, because the packed layout is
// the one a primitive desc chooses: construct, ask primitive_desc for the layout, pack_weights.
// Moving it keeps every pointer into the weights and bias valid: both live on the heap.
class PackedMatmul {
 public:
  PackedMatmul(dnnl::engine engine, const LinearWeights& w, dnnl::memory::data_type type);

  // The weights in `packed`, re-laid out from nn.Linear's [out, in].
  void pack_weights(const LinearWeights& w, const dnnl::memory::desc& packed);

  // A matmul of ROWS rows (or DNNL_RUNTIME_DIM_VAL) on weights in `weights` (a layout, or any).
  dnnl::matmul::primitive_desc primitive_desc(dnnl::memory::dim rows,
                                              const dnnl::memory::desc& weights,
                                              MatmulVariant variant) const;
  // The weights as oneDNN may lay them out (format any), for primitive_desc.
  dnnl::memory::desc any_weights() const;
  // A primitive on the packed weights.
  MatmulOp make_op(dnnl::memory::dim rows, MatmulVariant variant) const;
  // y[rows, out] from x[rows, in], x in the matmul's input type (see input()).
  void execute(const MatmulOp& op, const void* x, int64_t rows, float* y) const;
  // x as the matmul reads it: itself in f32; in bf16, rounded into a buffer of the calling
  // thread, reused by later calls.
  const void* input(const float* x, int64_t rows) const;

  dnnl::memory::data_type type() const { return type_; }
  int64_t in_features() const { return in_features_; }
  int64_t out_features() const { return out_features_; }
  uint64_t held_bytes() const;
  // The float32 weights as the few-row kernels read them, where they are in a layout they take.
  std::optional<PanelLayer> panel_layer() const;
  std::optional<SmallGemmLayer> small_gemm_layer() const;

 private:
  dnnl::memory::desc bias_desc() const;

  dnnl::engine engine_;
  dnnl::memory::data_type type_;
  int64_t in_features_;
  int64_t out_features_;
  std::vector<float> bias_;
  PagedMemory packed_storage_;  // what packed_weights_ points into
  dnnl::memory packed_weights_;
};

// Row counts up to this run as one matmul call in FixedRowsLinear; longer inputs are cut into
// chunks of it.
constexpr int64_t kMaxChunkRows = 512;

// The paths, each given the packed matmul it runs on.
std::unique_ptr<CpuPackedLinear> make_fixed_rows_linear(PackedMatmul matmul);
std::unique_ptr<CpuPackedLinear> make_runtime_rows_linear(PackedMatmul matmul);
// A few rows through panel_gemm or small_gemm (whichever is set), more through `rest`.
std::unique_ptr<CpuPackedLinear> make_few_rows_linear(std::unique_ptr<CpuPackedLinear> rest,
                                                      std::optional<PanelLayer> panel,
                                                      std::optional<SmallGemmLayer> small);

}  // namespace hades::cpu
