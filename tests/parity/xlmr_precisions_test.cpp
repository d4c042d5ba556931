// XLM-RoBERTa with int8 and bf16 linear layers, as BERT has them: the multilingual-e5-style fixture
// saved by sentence-transformers 6 (tests/data/models/tiny-st6-xlmr-e5) embeds texts in several
// scripts, some past its positions, close to encode()'s float32 embeddings, and its linear layers
// really run in the lower precision. The raw encoder outputs of the other tiny XLM-Rs at int8 are
// in int8_architectures_test.cpp. bf16 runs only where the CPU has it natively (AVX512-BF16 or
// AMX); elsewhere its test skips, as minilm_bf16_test.cpp's do.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "compute/backend.hpp"
#include "models/embedding_model.hpp"
#include "support/compare.hpp"
#include "support/paths.hpp"

namespace hades {
namespace {

std::filesystem::path folder() {
  return test::data_dir() / "models" / "tiny-st6-xlmr-e5";
}

const nlohmann::json& reference() {
  static const nlohmann::json ref = [] {
    std::ifstream in(folder() / "reference.json");
    return nlohmann::json::parse(in);
  }();
  return ref;
}

// The lowest cosine of PRECISION's embeddings to sentence-transformers' float32 ones, after
// checking that they differ from hades's own float32 embeddings (the precision was really used).
double worst_cosine(LinearPrecision precision) {
  const auto texts = reference().at("texts").get<std::vector<std::string>>();
  const auto expected = reference().at("embeddings").get<std::vector<std::vector<float>>>();
  const auto lower = EmbeddingModel::load(folder(), {.precision = precision});
  const Embeddings got = lower->embed(texts);
  const Embeddings fp32 = EmbeddingModel::load(folder())->embed(texts);
  double worst = 1.0;
  float differs = 0.0F;
  for (size_t i = 0; i < texts.size(); ++i) {
    const auto row = static_cast<int64_t>(i);
    worst = std::min(worst, test::cosine(got.row(row), expected[i]));
    differs = std::max(differs, test::max_abs_diff(got.row(row), fp32.row(row)));
  }
  EXPECT_GT(differs, 0.0F) << "the embeddings equal float32's bit for bit";
  std::printf("tiny-st6-xlmr-e5 %s: min cosine to sentence-transformers fp32 %.5f\n",
              std::string(linear_precision_name(precision)).c_str(), worst);
  return worst;
}

TEST(XlmRobertaPrecisions, Int8EmbeddingsStayCloseToFloat32) {
  EXPECT_GE(worst_cosine(LinearPrecision::int8), 0.99);
}

TEST(XlmRobertaPrecisions, Bf16EmbeddingsStayCloseToFloat32) {
  const std::string why = cpu_precision_unavailable(LinearPrecision::bf16);
  if (!why.empty()) GTEST_SKIP() << why;
  EXPECT_GE(worst_cosine(LinearPrecision::bf16), 0.999);
}

}  // namespace
}  // namespace hades
