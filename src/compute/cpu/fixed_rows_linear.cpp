// The float32 or bfloat16 linear layer on oneDNN's brgemm (AVX-512): a matmul created for a fixed
// row count runs through brgemm, which, unlike the gemm that a runtime row count gets (see
// runtime_rows_linear.cpp), neither copies the input into its own layout on every call nor applies
// bias and activation in a separate pass. A primitive is therefore created per chunk size (see
// for_each_chunk) on first use, and kept.
#include <algorithm>
#include <mutex>

#include "compute/cpu/kernels.hpp"
#include "compute/cpu/packed_matmul.hpp"

namespace hades::cpu {
namespace {

// Chunks are multiples of this many rows, plus one exact remainder below twice it.
constexpr int64_t kChunkStep = 32;

// The row counts a call of ROWS rows is cut into, first to last: at most 63 + 16 distinct sizes
// (1..63 and the multiples of 32 up to 512), whatever the batch. Each chunk keeps at least as
// many rows as a short text has, so none of them re-reads the weights for a row or two.
template <class Run>
void for_each_chunk(int64_t rows, Run run) {
  int64_t done = 0;
  while (done < rows) {
    const int64_t left = rows - done;
    int64_t n = left;
    if (left >= 2 * kChunkStep) {
      n = left % kChunkStep == 0 ? left : left / kChunkStep * kChunkStep - kChunkStep;
      n = std::min(n, kMaxChunkRows);
    }
    run(done, n);
    done += n;
  }
}

class FixedRowsLinear final : public CpuPackedLinear {
 public:
  explicit FixedRowsLinear(PackedMatmul matmul)
      : CpuPackedLinear(matmul.in_features(), matmul.out_features()), matmul_(std::move(matmul)) {
    set_held_bytes(matmul_.held_bytes());
  }

  void run(const float* x, int64_t rows, float* y, Activation act, bool accumulate) const override {
    const MatmulVariant variant = matmul_variant(act, accumulate);
    const auto* src = static_cast<const char*>(matmul_.input(x, rows));
    const bool bf16 = matmul_.type() == dnnl::memory::data_type::bf16;
    const size_t element = bf16 ? sizeof(uint16_t) : sizeof(float);
    // In bf16, GELU runs as a pass of its own over each chunk just written (gelu_erf_bf16):
    // it costs less than oneDNN's post-op did (perf).
    const bool own_gelu = bf16 && (act == Activation::gelu_erf || act == Activation::gelu_tanh);
    for_each_chunk(rows, [&](int64_t first, int64_t n) {
      float* out = y + first * out_features();
      matmul_.execute(primitive(n, own_gelu ? MatmulVariant::plain : variant),
                      src + first * in_features() * element, n, out);
      if (own_gelu && act == Activation::gelu_erf) {
        gelu_erf_bf16(out, n * out_features());
      } else if (own_gelu) {
        activate(out, n * out_features(), act);
      }
    });
  }

 private:
  // The primitive for chunks of ROWS rows (a size for_each_chunk makes), created on first use.
  const MatmulOp& primitive(int64_t rows, MatmulVariant variant) const {
    const size_t size = rows < 2 * kChunkStep
                            ? static_cast<size_t>(rows)
                            : static_cast<size_t>(2 * kChunkStep + rows / kChunkStep);
    const std::lock_guard lock(mutex_);
    MatmulOp& slot = ops_[size][static_cast<size_t>(variant)][matmul_team_index()];
    if (!slot.matmul) slot = matmul_.make_op(rows, variant);
    return slot;
  }

  PackedMatmul matmul_;
  // [chunk size][variant][single, team]: sizes 1..63, then 64 + rows / 32.
  mutable MatmulOp ops_[2 * kChunkStep + kMaxChunkRows / kChunkStep + 1][kMatmulVariants][2];
  mutable std::mutex mutex_;
};

}  // namespace

std::unique_ptr<CpuPackedLinear> make_fixed_rows_linear(PackedMatmul matmul) {
  return std::make_unique<FixedRowsLinear>(std::move(matmul));
}

}  // namespace hades::cpu
