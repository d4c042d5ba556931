// all-MiniLM-L6-v2 with int8 linear layers (dynamic per-token quantization) against the float32
// sentence-transformers embeddings of tests/data/minilm/reference.json: the accuracy the `dtype`
// option trades for speed, measured as the cosine of each text's embedding to float32's.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <vector>

#include "models/embedding_model.hpp"
#include "support/compare.hpp"
#include "support/minilm_reference.hpp"
#include "support/paths.hpp"

namespace hades {
namespace {

const test::MiniLmReference& reference() {
  return test::minilm_reference();
}

const EmbeddingModel& int8_model() {
  static const std::unique_ptr<EmbeddingModel> m =
      EmbeddingModel::load(test::minilm_dir(), {.precision = LinearPrecision::int8});
  return *m;
}

// Measured on this corpus (AVX2, 7-bit weight codes): mean cosine 0.9965, 129 of 136 texts at or
// above 0.99; the lowest, 0.9785, are the degenerate ones ("", " ", "?", "OK", "Thanks!") whose
// mean pools little more than [CLS] and [SEP], the tokens with BERT's outlier activations that
// per-token scales quantize coarsely. The bounds below sit just under those figures.
TEST(MiniLmInt8Parity, EveryEmbeddingIsCloseToFloat32) {
  const Embeddings e = int8_model().embed(reference().texts);
  ASSERT_EQ(e.count(), static_cast<int64_t>(reference().texts.size()));
  double worst = 1.0;
  double sum = 0.0;
  for (int64_t i = 0; i < e.count(); ++i) {
    const double cos = test::cosine(e.row(i), reference().embeddings[i]);
    EXPECT_GE(cos, 0.975) << "text " << i << ": " << reference().texts[i];
    worst = std::min(worst, cos);
    sum += cos;
  }
  EXPECT_GE(sum / static_cast<double>(e.count()), 0.995);
  RecordProperty("min_cosine", std::to_string(worst));
  std::printf(
      "all-MiniLM-L6-v2 int8: %lld texts, cosine to sentence-transformers fp32: min %.5f, "
      "mean %.5f\n",
      static_cast<long long>(e.count()), worst, sum / static_cast<double>(e.count()));
}

// Each row is quantized on its own and integer sums are exact, so batching changes only what the
// float32 ops between the linear layers round differently in a batch (a few 1e-7: other matmul
// kernels and thread splits for other row counts), and those can flip a re-quantized code by one
// step here and there: the embeddings agree to a cosine of 0.999, not bit for bit (the ASan
// build with 2 threads: max abs diff 2.3e-3, cosine 0.99992; the release build: identical).
TEST(MiniLmInt8Parity, ABatchMatchesEachTextAlone) {
  const Embeddings batch = int8_model().embed(reference().texts);
  float worst = 0.0f;
  double worst_cosine = 1.0;
  for (size_t i = 0; i < reference().texts.size(); i += 7) {
    const Embeddings alone = int8_model().embed(std::span(reference().texts).subspan(i, 1));
    worst = std::max(worst, test::max_abs_diff(batch.row(static_cast<int64_t>(i)), alone.row(0)));
    worst_cosine =
        std::min(worst_cosine, test::cosine(batch.row(static_cast<int64_t>(i)), alone.row(0)));
  }
  EXPECT_GE(worst_cosine, 0.999);
  EXPECT_LE(worst, 1e-2f);
  std::printf("int8 batch vs alone: max abs diff %.3g, min cosine %.7f\n", worst, worst_cosine);
}

// The linear layers (42 of MiniLM's 91 MB in float32) shrink fourfold; the embedding tables stay.
TEST(MiniLmInt8Parity, LinearLayersHoldAQuarterOfTheirFloat32Bytes) {
  const auto fp32 = EmbeddingModel::load(test::minilm_dir());
  EXPECT_LT(int8_model().weight_bytes(), fp32->weight_bytes() * 7 / 10);
  std::printf("weights held: fp32 %llu bytes, int8 %llu bytes\n",
              static_cast<unsigned long long>(fp32->weight_bytes()),
              static_cast<unsigned long long>(int8_model().weight_bytes()));
}

}  // namespace
}  // namespace hades
