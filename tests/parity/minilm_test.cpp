// Model parity on the real all-MiniLM-L6-v2: embeddings equal to sentence-transformers' encode()
// (tests/data/minilm/reference.json, made by tools/fixtures/gen_model_fixtures.py).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <vector>

#include "hades/error.hpp"
#include "models/embedding_model.hpp"
#include "support/compare.hpp"
#include "support/paths.hpp"

namespace hades {
namespace {

using test::max_abs_diff;

struct Reference {
  std::vector<std::string> texts;
  std::vector<std::vector<int32_t>> input_ids;
  std::vector<std::vector<float>> embeddings;
  nlohmann::json pooling;
};

const Reference& reference() {
  static const Reference ref = [] {
    std::ifstream in(test::data_dir() / "minilm" / "reference.json");
    const nlohmann::json j = nlohmann::json::parse(in);
    Reference r;
    r.texts = j.at("texts").get<std::vector<std::string>>();
    r.input_ids = j.at("input_ids").get<std::vector<std::vector<int32_t>>>();
    r.embeddings = j.at("embeddings").get<std::vector<std::vector<float>>>();
    r.pooling = j.at("pooling");
    return r;
  }();
  return ref;
}

const EmbeddingModel& model() {
  static const std::unique_ptr<EmbeddingModel> m = EmbeddingModel::load(test::minilm_dir());
  return *m;
}

TEST(MiniLmParity, ConfigIsReadAsSentenceTransformersDoes) {
  EXPECT_EQ(model().max_sequence_length(), 256);
  EXPECT_EQ(model().dimension(), 384);
  EXPECT_TRUE(model().normalizes());
  ASSERT_EQ(model().pooling_modes().size(), 1u);
  EXPECT_EQ(model().pooling_modes()[0], PoolingMode::mean);
}

TEST(MiniLmParity, TokenIdsEqualSentenceTransformers) {
  ASSERT_GE(reference().texts.size(), 100u);
  const auto encodings = model().tokenize(reference().texts);
  for (size_t i = 0; i < encodings.size(); ++i) {
    EXPECT_EQ(encodings[i].ids, reference().input_ids[i]) << "text " << i;
  }
}

TEST(MiniLmParity, EmbeddingsEqualSentenceTransformersWithin1e5) {
  const Embeddings e = model().embed(reference().texts);
  ASSERT_EQ(e.count(), static_cast<int64_t>(reference().texts.size()));
  float worst = 0.0f;
  for (int64_t i = 0; i < e.count(); ++i) {
    const float diff = max_abs_diff(e.row(i), reference().embeddings[i]);
    EXPECT_LE(diff, 1e-5f) << "text " << i;
    worst = std::max(worst, diff);
  }
  RecordProperty("max_abs_diff", std::to_string(worst));
  std::printf("all-MiniLM-L6-v2: %lld texts, max abs diff to sentence-transformers %.3g\n",
              static_cast<long long>(e.count()), worst);
}

TEST(MiniLmParity, ABatchEqualsEachTextAloneWithin1e6) {
  EmbedOptions small_batches;
  small_batches.max_batch_tokens = 700;  // several forward passes of mixed sizes
  const Embeddings batch = model().embed(reference().texts);
  const Embeddings grouped = model().embed(reference().texts, small_batches);
  float worst = 0.0f;
  for (size_t i = 0; i < reference().texts.size(); ++i) {
    const Embeddings alone = model().embed(std::span(reference().texts).subspan(i, 1));
    worst = std::max({worst, max_abs_diff(batch.row(static_cast<int64_t>(i)), alone.row(0)),
                      max_abs_diff(grouped.row(static_cast<int64_t>(i)), alone.row(0))});
  }
  EXPECT_LE(worst, 1e-6f);
  std::printf("batch vs alone: max abs diff %.3g\n", worst);
}

TEST(MiniLmParity, PoolingVariantsEqualSentenceTransformers) {
  const auto count = reference().pooling.at("texts_count").get<size_t>();
  const std::vector<std::string> texts(reference().texts.begin(),
                                       reference().texts.begin() + static_cast<long>(count));
  const std::vector<std::pair<std::string, PoolingMode>> variants = {
      {"cls", PoolingMode::cls},
      {"max", PoolingMode::max},
      {"mean_sqrt_len_tokens", PoolingMode::mean_sqrt_len},
      {"lasttoken", PoolingMode::last_token},
      {"mean_unnormalized", PoolingMode::mean},
      {"weightedmean", PoolingMode::weighted_mean},
  };
  for (const auto& [key, mode] : variants) {
    EmbedOptions options;
    options.pooling = mode;
    options.normalize = false;
    const Embeddings e = model().embed(texts, options);
    const auto expected = reference().pooling.at(key).get<std::vector<std::vector<float>>>();
    float worst = 0.0f;
    for (size_t i = 0; i < count; ++i) {
      const float diff = max_abs_diff(e.row(static_cast<int64_t>(i)), expected[i]);
      EXPECT_LE(diff, 1e-5f) << key << ", text " << i;
      worst = std::max(worst, diff);
    }
    std::printf("pooling %s: max abs diff to sentence-transformers %.3g\n", key.c_str(), worst);
  }
}

TEST(MiniLmParity, OverlongInputWithoutTruncationIsAnInputError) {
  std::string long_text;
  for (int i = 0; i < 600; ++i) long_text += " word";
  const std::vector<std::string> texts = {"short", long_text};
  EmbedOptions options;
  options.truncate = false;
  try {
    model().embed(texts, options);
    FAIL() << "an overlong input was accepted without truncation";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::input_invalid);
    EXPECT_NE(std::string(e.what()).find("input 1"), std::string::npos) << e.what();
  }
  EXPECT_EQ(model().embed(texts).count(), 2);
}

}  // namespace
}  // namespace hades
