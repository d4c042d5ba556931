// The float32 linear layer for a few rows (one short text, a search query): up to
// kPanelGemmMaxRows through panel_gemm (AVX-512), else up to kSmallGemmMaxRows through small_gemm
// (AVX2), both reading the weights that the oneDNN path beneath packed, in place; more rows go
// through that path.
#include "compute/cpu/packed_matmul.hpp"

namespace hades::cpu {
namespace {

class FewRowsLinear final : public CpuPackedLinear {
 public:
  FewRowsLinear(std::unique_ptr<CpuPackedLinear> rest, std::optional<PanelLayer> panel,
                std::optional<SmallGemmLayer> small)
      : CpuPackedLinear(rest->in_features(), rest->out_features()),
        rest_(std::move(rest)),
        panel_(panel),
        small_(small) {
    set_held_bytes(rest_->held_bytes());
  }

  void run(const float* x, int64_t rows, float* y, Activation act, bool accumulate) const override {
    if (panel_ && rows <= kPanelGemmMaxRows) {
      panel_gemm(*panel_, x, rows, y, act, accumulate);
    } else if (small_ && rows <= kSmallGemmMaxRows) {
      small_gemm(*small_, x, rows, y, act, accumulate);
    } else {
      rest_->run(x, rows, y, act, accumulate);
    }
  }

 private:
  std::unique_ptr<CpuPackedLinear> rest_;  // owns the weights the kernels read
  std::optional<PanelLayer> panel_;
  std::optional<SmallGemmLayer> small_;
};

}  // namespace

std::unique_ptr<CpuPackedLinear> make_few_rows_linear(std::unique_ptr<CpuPackedLinear> rest,
                                                      std::optional<PanelLayer> panel,
                                                      std::optional<SmallGemmLayer> small) {
  if (!panel && !small) return rest;
  return std::make_unique<FewRowsLinear>(std::move(rest), panel, small);
}

}  // namespace hades::cpu
