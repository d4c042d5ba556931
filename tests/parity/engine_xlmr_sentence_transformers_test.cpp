// Model parity on a multilingual-e5-style XLM-RoBERTa saved by sentence-transformers 6 (the Unigram
// tokenizer with a real Precompiled charsmap, mean pooling, Normalize, "query: " / "passage: "
// prompts) and on an XLM-R classifier with the same tokenizer: texts in several scripts, some past
// the positions, equal SentenceTransformer.encode and transformers through the engine
// (tests/data/models/tiny-st6-xlmr-e5 and tiny-xlmr-h16-seqcls-spm, made by
// tools/fixtures/gen_xlmr_st6_fixture.py).
#include <gtest/gtest.h>

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

std::filesystem::path embedder_folder() {
  return test::data_dir() / "models" / "tiny-st6-xlmr-e5";
}

std::filesystem::path classifier_folder() {
  return test::data_dir() / "models" / "tiny-xlmr-h16-seqcls-spm";
}

nlohmann::json read_reference(const std::filesystem::path& folder) {
  std::ifstream in(folder / "reference.json");
  return nlohmann::json::parse(in);
}

const nlohmann::json& embedder_reference() {
  static const nlohmann::json ref = read_reference(embedder_folder());
  return ref;
}

std::vector<std::string> texts() {
  return embedder_reference().at("texts").get<std::vector<std::string>>();
}

runtime::Engine cpu_engine() {
  runtime::EngineConfig config;
  config.default_device = "cpu";
  return runtime::Engine(config);
}

void expect_rows(const runtime::EmbeddingResult& got, const nlohmann::json& reference,
                 const char* key) {
  const auto expected = reference.at(key).get<std::vector<std::vector<float>>>();
  ASSERT_EQ(got.values.size(), expected.size() * expected[0].size()) << key;
  for (size_t i = 0; i < expected.size(); ++i) {
    const std::span<const float> row(got.values.data() + i * expected[i].size(),
                                     expected[i].size());
    EXPECT_LE(max_abs_diff(row, expected[i]), 1e-4f) << key << ", text " << i;
  }
}

TEST(XlmRobertaSentenceTransformersParity, LoadsWithTheSavedSettings) {
  const std::unique_ptr<EmbeddingModel> model = EmbeddingModel::load(embedder_folder());
  EXPECT_EQ(model->max_sequence_length(), embedder_reference().at("max_seq_length").get<int64_t>());
  EXPECT_EQ(model->dimension(), 16);
  EXPECT_TRUE(model->normalizes());
  EXPECT_EQ(model->pooling_modes(), std::vector<PoolingMode>{PoolingMode::mean});
}

TEST(XlmRobertaSentenceTransformersParity, IdsAndEmbeddingsEqualSentenceTransformers) {
  const std::unique_ptr<EmbeddingModel> model = EmbeddingModel::load(embedder_folder());
  const std::vector<std::string> inputs = texts();
  const auto ids = embedder_reference().at("input_ids").get<std::vector<std::vector<int32_t>>>();
  const auto expected =
      embedder_reference().at("embeddings").get<std::vector<std::vector<float>>>();
  const auto encodings = model->tokenize(inputs);
  ASSERT_EQ(encodings.size(), ids.size());
  for (size_t i = 0; i < ids.size(); ++i) EXPECT_EQ(encodings[i].ids, ids[i]) << "text " << i;
  const Embeddings batch = model->embed(inputs);
  ASSERT_EQ(batch.count(), static_cast<int64_t>(inputs.size()));
  for (size_t i = 0; i < inputs.size(); ++i) {
    const auto row = static_cast<int64_t>(i);
    EXPECT_LE(max_abs_diff(batch.row(row), expected[i]), 1e-4f) << "text " << i;
    const Embeddings alone = model->embed(std::span(inputs).subspan(i, 1));
    EXPECT_LE(max_abs_diff(batch.row(row), alone.row(0)), 1e-6f) << "text " << i;
  }
}

TEST(XlmRobertaSentenceTransformersParity, PromptsEqualSentenceTransformers) {
  runtime::Engine engine = cpu_engine();
  runtime::EmbedRequest request{.model = embedder_folder().string(), .inputs = texts()};
  expect_rows(engine.embed(request), embedder_reference(), "embeddings");
  request.prompt_name = "query";
  expect_rows(engine.embed(request), embedder_reference(), "embeddings_prompt_query");
  request.prompt_name = "document";
  expect_rows(engine.embed(request), embedder_reference(), "embeddings_prompt_document");
  request.prompt_name.reset();
  request.prompt = "passage: ";
  expect_rows(engine.embed(request), embedder_reference(), "embeddings_prompt_document");
}

TEST(XlmRobertaSentenceTransformersParity, ClassifierLogitsEqualTransformers) {
  const nlohmann::json reference = read_reference(classifier_folder());
  const auto expected = reference.at("logits").get<std::vector<std::vector<float>>>();
  runtime::Engine engine = cpu_engine();
  const runtime::ClassifyRequest request{.model = classifier_folder().string(), .inputs = texts()};
  const runtime::ClassificationResult batch = engine.classify(request);
  ASSERT_EQ(batch.results.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_LE(max_abs_diff(batch.results[i].logits, expected[i]), 1e-4f) << "text " << i;
    const runtime::ClassificationResult alone =
        engine.classify({.model = request.model, .inputs = {request.inputs[i]}});
    ASSERT_EQ(alone.results.size(), 1U);
    EXPECT_LE(max_abs_diff(batch.results[i].logits, alone.results[0].logits), 1e-6f)
        << "text " << i;
  }
}

}  // namespace
}  // namespace hades
