// The float32 or bfloat16 linear layer where oneDNN 2.6 has no brgemm (AVX2), or float32 keeps a
// long K on gemm (see cpu_linear.cpp): one primitive with a runtime row count serves every call,
// created at load. oneDNN runs it through its gemm implementation, which copies the input into its
// own layout on every call and applies bias and activation in a separate pass.
#include <omp.h>

#include "compute/cpu/packed_matmul.hpp"

namespace hades::cpu {
namespace {

class RuntimeRowsLinear final : public CpuPackedLinear {
 public:
  explicit RuntimeRowsLinear(PackedMatmul matmul)
      : CpuPackedLinear(matmul.in_features(), matmul.out_features()), matmul_(std::move(matmul)) {
    set_held_bytes(matmul_.held_bytes());
    const int threads = omp_get_max_threads();
    for (const int team : {1, threads}) {
      omp_set_num_threads(team);
      for (size_t v = 0; v < kMatmulVariants; ++v) {
        ops_[matmul_team_index()][v] =
            matmul_.make_op(DNNL_RUNTIME_DIM_VAL, static_cast<MatmulVariant>(v));
      }
    }
    omp_set_num_threads(threads);
  }

  void run(const float* x, int64_t rows, float* y, Activation act, bool accumulate) const override {
    const MatmulOp& op =
        ops_[matmul_team_index()][static_cast<size_t>(matmul_variant(act, accumulate))];
    matmul_.execute(op, matmul_.input(x, rows), rows, y);
  }

 private:
  PackedMatmul matmul_;
  MatmulOp ops_[2][kMatmulVariants];  // [single, team][variant]
};

}  // namespace

std::unique_ptr<CpuPackedLinear> make_runtime_rows_linear(PackedMatmul matmul) {
  return std::make_unique<RuntimeRowsLinear>(std::move(matmul));
}

}  // namespace hades::cpu
