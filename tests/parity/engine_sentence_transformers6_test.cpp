// Model parity on a folder saved by sentence-transformers 6 (its 6.x module names, no
// max_seq_length beside the Transformer): the embeddings equal SentenceTransformer.encode
// (tests/data/models/tiny-st6-bert-mean-normalize, made by tools/fixtures/gen_st6_fixture.py).
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "engine/runtime.hpp"
#include "hades/error.hpp"
#include "models/embedding_model.hpp"
#include "support/compare.hpp"
#include "support/paths.hpp"

namespace hades {
namespace {

using test::max_abs_diff;

const std::filesystem::path& folder() {
  static const std::filesystem::path dir =
      test::data_dir() / "models" / "tiny-st6-bert-mean-normalize";
  return dir;
}

const nlohmann::json& reference() {
  static const nlohmann::json ref = [] {
    std::ifstream in(folder() / "reference.json");
    return nlohmann::json::parse(in);
  }();
  return ref;
}

TEST(SentenceTransformers6Parity, LoadsWithTheSavedSettings) {
  const std::unique_ptr<EmbeddingModel> model = EmbeddingModel::load(folder());
  EXPECT_EQ(model->max_sequence_length(), reference().at("max_seq_length").get<int64_t>());
  EXPECT_EQ(model->dimension(), 32);
  EXPECT_TRUE(model->normalizes());
  EXPECT_EQ(model->pooling_modes(), std::vector<PoolingMode>{PoolingMode::mean});
}

TEST(SentenceTransformers6Parity, EmbeddingsEqualSentenceTransformersWithin1e5) {
  const std::unique_ptr<EmbeddingModel> model = EmbeddingModel::load(folder());
  const auto texts = reference().at("texts").get<std::vector<std::string>>();
  const auto ids = reference().at("input_ids").get<std::vector<std::vector<int32_t>>>();
  const auto expected = reference().at("embeddings").get<std::vector<std::vector<float>>>();
  const auto encodings = model->tokenize(texts);
  ASSERT_EQ(encodings.size(), ids.size());
  for (size_t i = 0; i < ids.size(); ++i) EXPECT_EQ(encodings[i].ids, ids[i]) << "text " << i;
  const Embeddings batch = model->embed(texts);
  ASSERT_EQ(batch.count(), static_cast<int64_t>(texts.size()));
  for (size_t i = 0; i < texts.size(); ++i) {
    const auto row = static_cast<int64_t>(i);
    EXPECT_LE(max_abs_diff(batch.row(row), expected[i]), 1e-5f) << "text " << i;
    const Embeddings alone = model->embed(std::span(texts).subspan(i, 1));
    EXPECT_LE(max_abs_diff(batch.row(row), alone.row(0)), 1e-6f) << "text " << i;
  }
}

// encode(prompt_name="query") and encode(truncate_dim=16, normalize_embeddings=True), through the
// engine as the service runs them.
TEST(SentenceTransformers6Parity, PromptsAndDimensionsEqualSentenceTransformers) {
  runtime::EngineConfig config;
  config.default_device = "cpu";
  runtime::Engine engine(config);
  runtime::EmbedRequest request{.model = folder().string(),
                                .inputs = reference().at("texts").get<std::vector<std::string>>()};
  request.prompt_name = "query";
  const auto expect_rows = [&](const runtime::EmbeddingResult& got, const char* key) {
    const auto expected = reference().at(key).get<std::vector<std::vector<float>>>();
    ASSERT_EQ(got.values.size(), expected.size() * expected[0].size()) << key;
    for (size_t i = 0; i < expected.size(); ++i) {
      const std::span<const float> row(got.values.data() + i * expected[i].size(),
                                       expected[i].size());
      EXPECT_LE(max_abs_diff(row, expected[i]), 1e-5f) << key << ", text " << i;
    }
  };
  expect_rows(engine.embed(request), "embeddings_prompt_query");
  // The same prompt given as text.
  request.prompt_name.reset();
  request.prompt = "query: ";
  expect_rows(engine.embed(request), "embeddings_prompt_query");
  request.prompt.reset();
  request.dimensions = 16;
  expect_rows(engine.embed(request), "embeddings_truncate_dim_16");
  request.dimensions = 33;
  EXPECT_THROW(engine.embed(request), Error);
  request.dimensions.reset();
  request.prompt_name = "passage";
  try {
    engine.embed(request);
    FAIL() << "an unknown prompt name was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::input_invalid);
    EXPECT_NE(std::string(e.what()).find("document, query"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace hades
