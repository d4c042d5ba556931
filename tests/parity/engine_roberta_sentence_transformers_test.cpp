// Model parity on an all-distilroberta-v1-style RoBERTa saved by sentence-transformers 6 (the
// byte-level BPE tokenizer with RoBERTa's post-processor, mean pooling, Normalize) and on a RoBERTa
// cross-encoder with the same tokenizer: texts in several scripts, some past the positions, alone
// and after a query, equal SentenceTransformer.encode and transformers through the engine
// (tests/data/models/tiny-st6-roberta and tiny-roberta-h16-seqcls-bpe, made by
// tools/fixtures/gen_roberta_fixtures.py).
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
#include "support/sentence_transformers_parity.hpp"

namespace hades {
namespace {

using test::max_abs_diff;

std::filesystem::path fixture(const char* name) {
  return test::data_dir() / "models" / name;
}

nlohmann::json read_reference(const std::filesystem::path& folder) {
  std::ifstream in(folder / "reference.json");
  return nlohmann::json::parse(in);
}

using Rows = std::vector<std::vector<float>>;

TEST(RobertaSentenceTransformersParity, LoadsAsSaved) {
  const std::filesystem::path folder = fixture("tiny-st6-roberta");
  const std::unique_ptr<EmbeddingModel> model = EmbeddingModel::load(folder);
  EXPECT_EQ(model->max_sequence_length(),
            read_reference(folder).at("max_seq_length").get<int64_t>());
  EXPECT_EQ(model->dimension(), 16);
  EXPECT_TRUE(model->normalizes());
  EXPECT_EQ(model->pooling_modes(), std::vector<PoolingMode>{PoolingMode::mean});
}

TEST(RobertaSentenceTransformersParity, IdsAndEmbeddingsEqualSentenceTransformers) {
  const std::filesystem::path folder = fixture("tiny-st6-roberta");
  const nlohmann::json reference = read_reference(folder);
  const std::unique_ptr<EmbeddingModel> model = EmbeddingModel::load(folder);
  test::expect_encode_parity(*model, reference);
}

// The texts alone and each after the query ("<s> query </s></s> text </s>", truncated
// longest-first), in one batch and one by one.
TEST(RobertaSentenceTransformersParity, CrossEncoderLogitsEqualTransformers) {
  const std::filesystem::path folder = fixture("tiny-roberta-h16-seqcls-bpe");
  const nlohmann::json reference = read_reference(folder);
  const auto texts = reference.at("texts").get<std::vector<std::string>>();
  const std::vector<std::string> queries(texts.size(), reference.at("query").get<std::string>());
  runtime::Engine engine(runtime::EngineConfig{.default_device = "cpu"});
  const std::vector<std::pair<runtime::ClassifyRequest, const char*>> requests = {
      {{.model = folder.string(), .inputs = texts}, "logits"},
      {{.model = folder.string(), .inputs = queries, .pairs = texts}, "pair_logits"}};
  for (const auto& [request, key] : requests) {
    const auto expected = reference.at(key).get<Rows>();
    const runtime::ClassificationResult batch = engine.classify(request);
    ASSERT_EQ(batch.results.size(), expected.size()) << key;
    float worst = 0.0f;
    for (size_t i = 0; i < expected.size(); ++i) {
      const float diff = max_abs_diff(batch.results[i].logits, expected[i]);
      EXPECT_LE(diff, 1e-4f) << key << ", " << i;
      worst = std::max(worst, diff);
      runtime::ClassifyRequest one{.model = request.model, .inputs = {request.inputs[i]}};
      if (!request.pairs.empty()) one.pairs = {request.pairs[i]};
      const runtime::ClassificationResult alone = engine.classify(one);
      ASSERT_EQ(alone.results.size(), 1U);
      EXPECT_LE(max_abs_diff(batch.results[i].logits, alone.results[0].logits), 1e-6f)
          << key << ", " << i;
    }
    std::printf("cross-encoder %s: max abs diff %.3g\n", key, worst);
  }
}

}  // namespace
}  // namespace hades
