// Which path a float32 or bfloat16 linear layer runs on, chosen once when its weights are packed.
//
// oneDNN 2.6 runs a matmul whose row count is a runtime dimension through its gemm
// implementation; one created for a fixed row count runs through brgemm where the CPU has it
// (AVX-512). Where brgemm is available, the layer is a FixedRowsLinear (a primitive per chunk
// size); elsewhere a RuntimeRowsLinear (one primitive for every row count). Fixed row counts made
// short texts markedly faster, bf16 passes a little cheaper and float32 passes about as costly.
// In float32, a few rows go through panel_gemm or small_gemm instead (FewRowsLinear), which read
// the same packed weights and are faster still for them.
#include <string_view>

#include "compute/cpu/cpu_linear.hpp"
#include "compute/cpu/packed_matmul.hpp"

namespace hades::cpu {
namespace {

using DataType = dnnl::memory::data_type;

// In float32, a matmul that sums over more inputs than this stays on gemm: brgemm sums a long
// K in another order, which put MiniLM's feed-forward output (K = 1536) twice as far from
// sentence-transformers, past the parity test's bound.
constexpr int64_t kMaxFixedRowsF32Depth = 1024;

// Packs the weights in the layout of the path they run on: brgemm's where it runs them (the
// result), else gemm's.
bool pack_for_path(PackedMatmul& matmul, const LinearWeights& w) {
  const auto fixed =
      matmul.primitive_desc(kMaxChunkRows, matmul.any_weights(), MatmulVariant::plain);
  const bool fixed_rows =
      std::string_view(fixed.impl_info_str()).starts_with("brg") &&
      (matmul.type() == DataType::bf16 || w.in_features <= kMaxFixedRowsF32Depth);
  const dnnl::memory::desc packed =
      fixed_rows
          ? fixed.weights_desc()
          : matmul.primitive_desc(DNNL_RUNTIME_DIM_VAL, matmul.any_weights(), MatmulVariant::plain)
                .weights_desc();
  matmul.pack_weights(w, packed);
  return fixed_rows;
}

std::unique_ptr<CpuPackedLinear> make_path(PackedMatmul matmul, bool fixed_rows) {
  return fixed_rows ? make_fixed_rows_linear(std::move(matmul))
                    : make_runtime_rows_linear(std::move(matmul));
}

}  // namespace

std::unique_ptr<CpuPackedLinear> make_bf16_linear(const dnnl::engine& engine,
                                                  const LinearWeights& weights) {
  PackedMatmul matmul(engine, weights, DataType::bf16);
  const bool fixed_rows = pack_for_path(matmul, weights);
  return make_path(std::move(matmul), fixed_rows);
}

std::unique_ptr<CpuPackedLinear> make_f32_linear(const dnnl::engine& engine,
                                                 const LinearWeights& weights) {
  PackedMatmul matmul(engine, weights, DataType::f32);
  const bool fixed_rows = pack_for_path(matmul, weights);
  // The kernels point into the packed weights and the bias, which stay where they are when the
  // matmul moves into its path.
  std::optional<PanelLayer> panel;
  if (panel_gemm_supported()) panel = matmul.panel_layer();
  std::optional<SmallGemmLayer> small;
  if (small_gemm_supported()) small = matmul.small_gemm_layer();
  return make_few_rows_linear(make_path(std::move(matmul), fixed_rows), panel, small);
}

}  // namespace hades::cpu
