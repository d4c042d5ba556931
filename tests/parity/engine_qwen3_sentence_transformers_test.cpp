// Model parity on a Qwen3-Embedding-style decoder saved by sentence-transformers 6: Qwen3 layers
// (RMSNorm, per-head q/k norms, RoPE, grouped-query causal attention, SwiGLU) under last-token
// pooling and Normalize, the Qwen2-style byte-level BPE tokenizer appending <|endoftext|>, and
// Qwen3-Embedding's prompts. Texts shorter and longer than max_seq_length (600, past one query
// block and one sequence group) equal SentenceTransformer.encode through the engine, with and
// without the query prompt; a batch equals its texts alone (tests/data/models/tiny-st6-qwen3,
// made by tools/fixtures/gen_qwen3_fixtures.py). int8 and bf16 stay close to float32.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "engine/runtime.hpp"
#include "models/embedding_model.hpp"
#include "support/compare.hpp"
#include "support/paths.hpp"

namespace hades {
namespace {

using test::max_abs_diff;

std::filesystem::path folder() {
  return test::data_dir() / "models" / "tiny-st6-qwen3";
}

const nlohmann::json& reference() {
  static const nlohmann::json ref = [] {
    std::ifstream in(folder() / "reference.json");
    return nlohmann::json::parse(in);
  }();
  return ref;
}

std::vector<std::string> texts() {
  return reference().at("texts").get<std::vector<std::string>>();
}

runtime::Engine cpu_engine() {
  runtime::EngineConfig config;
  config.default_device = "cpu";
  return runtime::Engine(config);
}

// The largest difference of any row of GOT from REFERENCE[KEY], which must stay within 1e-4.
float expect_rows(const runtime::EmbeddingResult& got, const char* key) {
  const auto expected = reference().at(key).get<std::vector<std::vector<float>>>();
  EXPECT_EQ(got.values.size(), expected.size() * expected[0].size()) << key;
  float worst = 0.0F;
  for (size_t i = 0; i < expected.size() && (i + 1) * expected[i].size() <= got.values.size();
       ++i) {
    const std::span<const float> row(got.values.data() + i * expected[i].size(),
                                     expected[i].size());
    const float diff = max_abs_diff(row, expected[i]);
    EXPECT_LE(diff, 1e-4F) << key << ", text " << i;
    worst = std::max(worst, diff);
  }
  return worst;
}

TEST(Qwen3SentenceTransformersParity, LoadsWithTheSavedSettings) {
  const std::unique_ptr<EmbeddingModel> model = EmbeddingModel::load(folder());
  EXPECT_EQ(model->max_sequence_length(), reference().at("max_seq_length").get<int64_t>());
  EXPECT_EQ(model->dimension(), 32);
  EXPECT_TRUE(model->normalizes());
  EXPECT_EQ(model->pooling_modes(), std::vector<PoolingMode>{PoolingMode::last_token});
}

TEST(Qwen3SentenceTransformersParity, IdsAndEmbeddingsEqualSentenceTransformers) {
  const std::unique_ptr<EmbeddingModel> model = EmbeddingModel::load(folder());
  const std::vector<std::string> inputs = texts();
  const auto ids = reference().at("input_ids").get<std::vector<std::vector<int32_t>>>();
  const auto expected = reference().at("embeddings").get<std::vector<std::vector<float>>>();
  const auto encodings = model->tokenize(inputs);
  ASSERT_EQ(encodings.size(), ids.size());
  for (size_t i = 0; i < ids.size(); ++i) EXPECT_EQ(encodings[i].ids, ids[i]) << "text " << i;
  const Embeddings batch = model->embed(inputs);
  ASSERT_EQ(batch.count(), static_cast<int64_t>(inputs.size()));
  float worst = 0.0F;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const auto row = static_cast<int64_t>(i);
    const float diff = max_abs_diff(batch.row(row), expected[i]);
    EXPECT_LE(diff, 1e-4F) << "text " << i;
    worst = std::max(worst, diff);
    const Embeddings alone = model->embed(std::span(inputs).subspan(i, 1));
    EXPECT_LE(max_abs_diff(batch.row(row), alone.row(0)), 1e-6F) << "text " << i;
  }
  std::printf("tiny-st6-qwen3 fp32: max abs diff to sentence-transformers %.3g\n", worst);
}

TEST(Qwen3SentenceTransformersParity, PromptsEqualSentenceTransformers) {
  runtime::Engine engine = cpu_engine();
  runtime::EmbedRequest request{.model = folder().string(), .inputs = texts()};
  float worst = expect_rows(engine.embed(request), "embeddings");
  request.prompt_name = "query";
  worst = std::max(worst, expect_rows(engine.embed(request), "embeddings_prompt_query"));
  request.prompt_name = "document";
  worst = std::max(worst, expect_rows(engine.embed(request), "embeddings_prompt_document"));
  request.prompt_name.reset();
  request.prompt = reference().at("query_prompt").get<std::string>();
  worst = std::max(worst, expect_rows(engine.embed(request), "embeddings_prompt_query"));
  std::printf("tiny-st6-qwen3 fp32 with prompts: max abs diff %.3g\n", worst);
}

// The executor batches jobs by token budget; a text longer than the whole budget (600 tokens
// against 64) runs as a batch of its own, and every text still equals encode()'s.
TEST(Qwen3SentenceTransformersParity, TextsLongerThanTheTokenBudgetRunAlone) {
  runtime::EngineConfig config;
  config.default_device = "cpu";
  config.max_batch_tokens = 64;
  runtime::Engine engine(config);
  expect_rows(engine.embed({.model = folder().string(), .inputs = texts()}), "embeddings");
}

// The lowest cosine of PRECISION's embeddings to sentence-transformers' float32 ones, after
// checking that they differ from hades's own float32 embeddings (the precision was really used).
double worst_cosine(LinearPrecision precision) {
  const std::vector<std::string> inputs = texts();
  const auto expected = reference().at("embeddings").get<std::vector<std::vector<float>>>();
  const Embeddings got = EmbeddingModel::load(folder(), {.precision = precision})->embed(inputs);
  const Embeddings fp32 = EmbeddingModel::load(folder())->embed(inputs);
  double worst = 1.0;
  float differs = 0.0F;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const auto row = static_cast<int64_t>(i);
    worst = std::min(worst, test::cosine(got.row(row), expected[i]));
    differs = std::max(differs, max_abs_diff(got.row(row), fp32.row(row)));
  }
  EXPECT_GT(differs, 0.0F) << "the embeddings equal float32's bit for bit";
  std::printf("tiny-st6-qwen3 %s: min cosine to sentence-transformers fp32 %.5f\n",
              std::string(linear_precision_name(precision)).c_str(), worst);
  return worst;
}

TEST(Qwen3SentenceTransformersParity, Int8EmbeddingsStayCloseToFloat32) {
  EXPECT_GE(worst_cosine(LinearPrecision::int8), 0.99);
}

TEST(Qwen3SentenceTransformersParity, Bf16EmbeddingsStayCloseToFloat32) {
  const std::string why = cpu_precision_unavailable(LinearPrecision::bf16);
  if (!why.empty()) GTEST_SKIP() << why;
  EXPECT_GE(worst_cosine(LinearPrecision::bf16), 0.999);
}

}  // namespace
}  // namespace hades
