// all-MiniLM-L6-v2 with bf16 linear layers (bf16 weights and inputs, float32 accumulation, float32
// LayerNorm, softmax and everything between) against the float32 sentence-transformers embeddings
// of tests/data/minilm/reference.json: issue 6 asks for a cosine of at least 0.999 on every text.
// bf16 runs only where the CPU has it natively (AVX512-BF16 or AMX); elsewhere these tests skip.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <vector>

#include "compute/backend.hpp"
#include "models/embedding_model.hpp"
#include "support/compare.hpp"
#include "support/minilm_reference.hpp"
#include "support/paths.hpp"

namespace hades {
namespace {

const test::MiniLmReference& reference() {
  return test::minilm_reference();
}

class MiniLmBf16Parity : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string why = cpu_precision_unavailable(LinearPrecision::bf16);
    if (!why.empty()) GTEST_SKIP() << why;
  }

  static const EmbeddingModel& model() {
    static const std::unique_ptr<EmbeddingModel> m =
        EmbeddingModel::load(test::minilm_dir(), {.precision = LinearPrecision::bf16});
    return *m;
  }
};

// Measured on AVX512-BF16 (AMD EPYC, Zen 4): see the printed figures; the bound is the issue's.
TEST_F(MiniLmBf16Parity, EveryEmbeddingIsWithinCosine0999OfFloat32) {
  const Embeddings e = model().embed(reference().texts);
  ASSERT_EQ(e.count(), static_cast<int64_t>(reference().texts.size()));
  double worst = 1.0;
  double sum = 0.0;
  for (int64_t i = 0; i < e.count(); ++i) {
    const double cos = test::cosine(e.row(i), reference().embeddings[i]);
    EXPECT_GE(cos, 0.999) << "text " << i << ": " << reference().texts[i];
    worst = std::min(worst, cos);
    sum += cos;
  }
  RecordProperty("min_cosine", std::to_string(worst));
  std::printf(
      "all-MiniLM-L6-v2 bf16: %lld texts, cosine to sentence-transformers fp32: min %.5f, "
      "mean %.5f\n",
      static_cast<long long>(e.count()), worst, sum / static_cast<double>(e.count()));
}

// The linear layers' weights (42 of MiniLM's 91 MB in float32) are held at half their bytes.
TEST_F(MiniLmBf16Parity, LinearLayersHoldHalfTheirFloat32Bytes) {
  const auto fp32 = EmbeddingModel::load(test::minilm_dir());
  const uint64_t linear_fp32 = 42'467'328;  // 6 layers × (4 · 384² + 2 · 384 · 1536) floats
  EXPECT_LE(model().weight_bytes(), fp32->weight_bytes() - linear_fp32 / 2 + 1'000'000);
  std::printf("weights held: fp32 %llu bytes, bf16 %llu bytes\n",
              static_cast<unsigned long long>(fp32->weight_bytes()),
              static_cast<unsigned long long>(model().weight_bytes()));
}

}  // namespace
}  // namespace hades
